"""The daily log line per audit chain: its length and head hash (no patient data).

Kept outside the database, these lines are what a rewritten chain can no longer match:
``audit_verify --expect <table>=<length>:<hash>`` checks that the chain still passes through
each logged head (docs/security.md). Beat runs this once a day (settings, CELERY_BEAT_SCHEDULE).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import connection

from cases.audit import chain

logger = logging.getLogger("cases.audit")


@shared_task(name="cases.audit_log_chain_heads", ignore_result=True)
def audit_log_chain_heads() -> int:
    with connection.cursor() as cursor:
        heads = chain.heads(cursor)
    for head in heads:
        logger.info("audit chain head %s", head)
    return len(heads)
