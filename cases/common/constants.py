"""The engine's constants as this installation has tuned them: the settings read in one place.

Every rule, worklist, reminder and screen asks here; nothing else reads these settings. The
defaults are the engine's own (cases/pathway/constants.py), so a setting only overrides a rule.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from cases.pathway import RuleConstants, WorkflowConstants


@functools.cache  # built once: a reminder sync asks once per reminder (forgotten below)
def rule_constants() -> RuleConstants:
    """The guideline's tunable constants in force (settings; defaults from pathway-spec §E).
    Every rule, worklist, reminder and screen reads them here: nothing else reads the settings."""
    return RuleConstants(
        flr_min_percent_slv=settings.PATHWAY_FLR_MIN_PERCENT_SLV,
        bev_min_days=settings.PATHWAY_BEV_MIN_DAYS,
        reassess_months=settings.PATHWAY_REASSESS_MONTHS,
    )


@functools.cache
def workflow_constants() -> WorkflowConstants:
    """The MDT workflow's intervals in force (settings; defaults in the engine)."""
    return WorkflowConstants(
        result_chase_days=settings.RESULT_CHASE_DAYS,
        imaging_max_age_days=settings.IMAGING_MAX_AGE_DAYS,
        ecog_max_age_days=settings.ECOG_MAX_AGE_DAYS,
        agenda_freeze_hours=settings.AGENDA_FREEZE_HOURS,
        due_window_days=settings.DUE_SOON_DAYS,
        reimaging_reminder_grace_days=settings.REMINDER_REIMAGING_GRACE_DAYS,
        reassessment_reminder_grace_days=settings.REMINDER_REASSESSMENT_GRACE_DAYS,
        result_chase_grace_days=settings.REMINDER_RESULT_CHASE_GRACE_DAYS,
        action_reminder_grace_days=settings.REMINDER_ACTION_GRACE_DAYS,
        urgent_window_days=settings.REMINDER_URGENT_WINDOW_DAYS,
        letter_send_working_days=settings.LETTER_SEND_WORKING_DAYS,
        referral_to_discussion_days=settings.REPORT_REFERRAL_TO_DISCUSSION_DAYS,
        discussion_to_treatment_days=settings.REPORT_DISCUSSION_TO_TREATMENT_DAYS,
        **{f"followup_{kind}_days": days for kind, days in settings.FOLLOWUP_DAYS.items()},
    )


def bank_holidays() -> frozenset[dt.date]:
    """The configured bank holidays (setting ``BANK_HOLIDAYS``): not working days."""
    return frozenset(settings.BANK_HOLIDAYS)


@receiver(setting_changed)
def _forget_constants(**kwargs: Any) -> None:
    """A setting changed (in the tests): the constants are read again on next use."""
    rule_constants.cache_clear()
    workflow_constants.cache_clear()
