"""Sessions in PostgreSQL with a Redis read cache, that keep working when Redis does not answer.

Django's ``cached_db`` store already treats a failed cache read as a miss, but not a failed
cache write on that miss, nor a failed lookup or delete: with Redis down every signed-in page
would fail. Here the database stays the record and the cache is only ever a saving.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.contrib.sessions.backends.db import SessionStore as DBStore

logger = logging.getLogger(__name__)


class SessionStore(CachedDBStore):
    def load(self) -> dict[str, Any]:
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # Redis unavailable: read the database instead
            data = None
        if data is not None:
            return data
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        self._cache_quietly(
            "set", self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date)
        )
        return data

    def exists(self, session_key: str | None) -> bool:
        try:
            if session_key and (self.cache_key_prefix + session_key) in self._cache:
                return True
        except Exception:
            logger.warning("Session cache unavailable; checking the database only")
        return DBStore.exists(self, session_key)

    def delete(self, session_key: str | None = None) -> None:
        DBStore.delete(self, session_key)
        key = session_key or self.session_key
        if key is not None:
            self._cache_quietly("delete", self.cache_key_prefix + key)

    def _cache_quietly(self, operation: str, *args: Any) -> None:
        try:
            getattr(self._cache, operation)(*args)
        except Exception:
            logger.warning("Session cache unavailable (%s skipped)", operation)
