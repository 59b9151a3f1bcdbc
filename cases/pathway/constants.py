"""Tunable rule constants (section E, F) and the guideline version string that records them."""

import math
from dataclasses import dataclass, fields

# Bump on any change of rule logic, catalogue text or citations. Format: YEAR.MONTH.SERIAL.
GUIDELINE_VERSION = "2026.12.1"


@dataclass(frozen=True, slots=True)
class RuleConstants:
    """The values a unit may tune; the defaults are the specification's (section E)."""

    flr_min_percent_slv: float = 30  # R7: one-stage FLR threshold, % of standard liver volume
    bev_min_days: int = 42  # R10: last bevacizumab dose → elective surgery
    reassess_months: int = 2  # R9: canonical reassessment interval (calendar months)
    reassess_days: int = 56  # R9: alternative 8-week representation
    scrt_max_delay_months: int = 6  # R11: SCRT completion → surgery on the primary
    periop_total_months: float = 6  # R14: total perioperative chemotherapy

    def __post_init__(self) -> None:
        # A mistyped setting must fail at start-up, not bend a clinical rule quietly.
        if not (math.isfinite(self.flr_min_percent_slv) and 0 <= self.flr_min_percent_slv <= 100):
            raise ValueError("flr_min_percent_slv must be a number from 0 to 100")
        if not (math.isfinite(self.periop_total_months) and self.periop_total_months >= 0):
            raise ValueError("periop_total_months must be a finite number ≥ 0")
        for name in ("bev_min_days", "reassess_months", "reassess_days", "scrt_max_delay_months"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number ≥ 0")

    def as_dict(self) -> dict[str, float | int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_CONSTANTS = RuleConstants()


@dataclass(frozen=True, slots=True)
class WorkflowConstants:
    """Intervals of the MDT's own workflow around the guideline: when a result is chased, when
    data are too old to decide on, when the agenda freezes. Not rules of the guideline itself,
    so not part of its version; defined here so that every screen, worklist and reminder reads
    the same value (settings override them, ``cases/records/mapping.py``)."""

    result_chase_days: int = 14  # a result pending more than this is chased (worklist, email)
    imaging_max_age_days: int = 56  # minimum dataset (D21, D22): a scan under 8 weeks old
    ecog_max_age_days: int = 56  # minimum dataset: an ECOG score assessed under 8 weeks ago
    agenda_freeze_hours: int = 24  # the agenda freezes this long before the meeting
    due_window_days: int = 14  # "reassessment due soon": due within this many days
    # Reminder emails stop once what they are about is over (docs/reminders.md, "Expiry"). Each
    # grace is the days after the reminder's clinical date on which it may still go out: the
    # last day it is sent is that date plus the grace; the day after, it expires unsent.
    reimaging_reminder_grace_days: int = 7  # after the reassessment's due date
    reassessment_reminder_grace_days: int = 14  # after the reassessment's due date
    result_chase_grace_days: int = 28  # after the day the result is chased
    action_reminder_grace_days: int = 14  # after the day the action reminder falls due
    # A window closing within this many days is urgent: its reminder goes at once, not in the
    # daily digest.
    urgent_window_days: int = 14
    # After the meeting (docs/after-the-meeting.md): an outcome letter goes out within this many
    # working days of the sign-off; a recommendation of each kind is expected to be carried out
    # within its number of days of the meeting.
    letter_send_working_days: int = 1
    followup_treatment_days: int = 28
    followup_referral_days: int = 21
    followup_surgery_days: int = 35
    followup_scan_days: int = 28
    followup_biopsy_days: int = 21
    followup_radiotherapy_days: int = 28
    # The MDT's own audit targets (the reports count the cases outside them): referral to first
    # discussion, and discussion to the start of treatment (the NHS 31-day standard).
    referral_to_discussion_days: int = 14
    discussion_to_treatment_days: int = 31

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{f.name} must be a whole number ≥ 0")


DEFAULT_WORKFLOW = WorkflowConstants()

# Short tags for the version suffix, one per constant, in field order.
_VERSION_TAGS = {
    "flr_min_percent_slv": "flr",
    "bev_min_days": "bev",
    "reassess_months": "rm",
    "reassess_days": "rd",
    "scrt_max_delay_months": "scrt",
    "periop_total_months": "periop",
}


def _format_number(value: float) -> str:
    # 25 and 25.0 must give the same tag; 25.5 keeps its fraction.
    return f"{value:g}"


def guideline_version(constants: RuleConstants = DEFAULT_CONSTANTS) -> str:
    """The rule-set version, with one `+<tag><value>` suffix per constant that differs from its
    default, in field order: `2026.12.1` with the defaults, `2026.12.1+flr25+bev56` with FLR 25 %
    and 56 days after bevacizumab. Tags: flr, bev, rm (reassess months), rd (reassess days),
    scrt, periop.
    """
    suffix = "".join(
        f"+{tag}{_format_number(getattr(constants, name))}"
        for name, tag in _VERSION_TAGS.items()
        if getattr(constants, name) != getattr(DEFAULT_CONSTANTS, name)
    )
    return GUIDELINE_VERSION + suffix
