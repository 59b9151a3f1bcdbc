"""Writes. Services are the only code that changes clinical data: keyword-only, typed,
``@transaction.atomic``, named ``<entity>_<verb>``. Each checks the user's capability first."""
