"""The MDT's audit: each figure one SQL statement over a date range (no Python loops over rows).

Every figure states its definition, numerator and denominator; an empty range gives "no data",
never a division by zero (``NULLIF`` in SQL, ``share`` here). The statements run on the
``reporting`` database (a read replica, setting ``REPORTING_DATABASE_URL``) when it is
configured, else on the main database. Rule numbers come from the engine's constants in force
(``rule_constants``, ``workflow_constants``) as parameters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connections

from cases.common.constants import rule_constants, workflow_constants
from cases.meetings.selectors import core_disciplines
from cases.meetings.walk.cards import alert_for
from cases.models import (
    DecisionPoint,
    Discipline,
    FollowUpStatus,
    NotDoneReason,
    PelvicRadiotherapy,
    Surgery,
)

# The literature's conversion rate in liver-limited disease, shown as a reference line (about a
# third of patients: DESIGN.md §1 and the source guidance).
LITERATURE_CONVERSION_PERCENT = 30
# "Core member or cover at two thirds of meetings" (UK MDT guidance).
ATTENDANCE_SHARE_NUMERATOR, ATTENDANCE_SHARE_DENOMINATOR = 2, 3


def reporting_alias() -> str:
    return "reporting" if "reporting" in settings.DATABASES else "default"


def _rows(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connections[reporting_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def share(numerator: int | None, denominator: int | None) -> float | None:
    """numerator / denominator as a percentage; None (shown "no data") when nothing was counted."""
    if not denominator:
        return None
    return 100 * (numerator or 0) / denominator


@dataclass
class Figure:
    slug: str
    title: str
    definition: str
    numerator_label: str
    denominator_label: str
    numerator: int | None
    denominator: int | None
    headers: list[str]
    rows: list[list[Any]]
    # (label, value) bars of the chart; value None for "no data"
    bars: list[tuple[str, float | None]] = field(default_factory=list)
    chart_unit: str = "%"
    reference: float | None = None
    reference_label: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def value(self) -> float | None:
        return share(self.numerator, self.denominator)

    @property
    def empty(self) -> bool:
        return not self.denominator


def _params(start: dt.date, end: dt.date, **extra: Any) -> dict[str, Any]:
    return {"start": start, "end": end, "tz": settings.TIME_ZONE, **extra}


# Days of the meeting, the sign-off and the entry into the pathway, in local time.
MEETING_DAY = "(m.scheduled_for AT TIME ZONE %(tz)s)::date"
ENTRY_DAY = "(c.created_at AT TIME ZONE %(tz)s)::date"
CURRENT_DECISION = "NOT EXISTS (SELECT 1 FROM cases_decision s WHERE s.supersedes_id = d.id)"


# --- Conversion ------------------------------------------------------------------------------


CONVERSION_SQL = """
WITH cohort AS (
    SELECT c.id, date_trunc('month', (c.created_at AT TIME ZONE %(tz)s)::date)::date AS month
    FROM cases_case c
    WHERE (c.created_at AT TIME ZONE %(tz)s)::date BETWEEN %(start)s AND %(end)s
), converted AS (
    SELECT ai.case_id FROM cases_decision d
    JOIN cases_agendaitem ai ON ai.id = d.agenda_item_id
    WHERE d.point = 'resectability' AND d.answer->>'choice' = 'converted_resectable'
      AND ai.signed_off_at IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM cases_decision s WHERE s.supersedes_id = d.id)
), resected AS (
    SELECT case_id FROM cases_surgery
    WHERE kind = ANY(%(liver_kinds)s) AND performed_on IS NOT NULL
)
SELECT month, count(*),
       count(*) FILTER (WHERE id IN (SELECT case_id FROM converted)
                          AND id IN (SELECT case_id FROM resected))
FROM cohort GROUP BY month ORDER BY month
"""


def conversion(start: dt.date, end: dt.date) -> Figure:
    rows = _rows(CONVERSION_SQL, _params(start, end, liver_kinds=list(Surgery.LIVER_KINDS)))
    entered = sum(r[1] for r in rows)
    converted = sum(r[2] for r in rows)
    return Figure(
        slug="conversion",
        title="Conversion rate",
        definition=(
            "Patients whose liver disease the MDT judged converted to resectable (signed-off "
            "outcome) and who then had a liver resection, over the patients who entered the "
            "pathway in the range; cohorts by month of entry."
        ),
        numerator_label="converted and resected",
        denominator_label="entered the pathway",
        numerator=converted,
        denominator=entered,
        headers=["Month of entry", "Entered", "Converted and resected", "Rate (%)"],
        rows=[[f"{m:%b %Y}", n, k, _pct(share(k, n))] for m, n, k in rows],
        bars=[(f"{m:%b %Y}", share(k, n)) for m, n, k in rows],
        reference=LITERATURE_CONVERSION_PERCENT,
        reference_label=f"about {LITERATURE_CONVERSION_PERCENT} % in the literature",
    )


# --- Times -----------------------------------------------------------------------------------

TIMES_SQL = """
WITH referral AS (
    SELECT c.id,
           min((m.scheduled_for AT TIME ZONE %(tz)s)::date)
               - coalesce(r.received_on, (c.created_at AT TIME ZONE %(tz)s)::date) AS days,
           %(discussion_target)s AS target
    FROM cases_case c
    JOIN cases_agendaitem ai ON ai.case_id = c.id AND ai.signed_off_at IS NOT NULL
    JOIN cases_meeting m ON m.id = ai.meeting_id
    LEFT JOIN cases_referral r ON r.case_id = c.id  -- at most one (referral_one_per_case)
    GROUP BY c.id, r.received_on
    HAVING min((m.scheduled_for AT TIME ZONE %(tz)s)::date) BETWEEN %(start)s AND %(end)s
), treatment AS (
    SELECT ai.id, min(t.started_on) - min((m.scheduled_for AT TIME ZONE %(tz)s)::date) AS days,
           %(treatment_target)s AS target
    FROM cases_agendaitem ai
    JOIN cases_meeting m ON m.id = ai.meeting_id
    JOIN cases_decision d ON d.agenda_item_id = ai.id AND d.point = 'systemic_therapy'
         AND jsonb_array_length(coalesce(d.answer->'agents', '[]'::jsonb)) > 0
         AND NOT EXISTS (SELECT 1 FROM cases_decision s WHERE s.supersedes_id = d.id)
    JOIN cases_treatmentcourse t ON t.case_id = ai.case_id
         AND t.started_on >= (m.scheduled_for AT TIME ZONE %(tz)s)::date
    WHERE ai.signed_off_at IS NOT NULL
      AND (m.scheduled_for AT TIME ZONE %(tz)s)::date BETWEEN %(start)s AND %(end)s
    GROUP BY ai.id
), bevacizumab AS (
    SELECT s.id, s.performed_on - max(a.given_on) AS days, %(bev_days)s AS target
    FROM cases_surgery s
    JOIN cases_treatmentcourse t ON t.case_id = s.case_id
    JOIN cases_agentadministration a ON a.course_id = t.id AND a.agent = 'bevacizumab'
         AND a.given_on <= s.performed_on
    WHERE s.performed_on BETWEEN %(start)s AND %(end)s AND s.urgency = 'elective'
    GROUP BY s.id
), scrt AS (
    SELECT s.id, s.performed_on - max(r.completed_on) AS days,
           (max(r.completed_on) + make_interval(months => %(scrt_months)s)) < s.performed_on
               AS late
    FROM cases_surgery s
    JOIN cases_radiotherapy r ON r.case_id = s.case_id AND r.kind = %(scrt)s
         AND r.completed_on <= s.performed_on
    WHERE s.performed_on BETWEEN %(start)s AND %(end)s AND s.kind = ANY(%(primary_kinds)s)
    GROUP BY s.id
)
SELECT 'referral', count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY days),
       percentile_cont(0.25) WITHIN GROUP (ORDER BY days),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY days),
       count(*) FILTER (WHERE days > target) FROM referral
UNION ALL
SELECT 'treatment', count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY days),
       percentile_cont(0.25) WITHIN GROUP (ORDER BY days),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY days),
       count(*) FILTER (WHERE days > target) FROM treatment
UNION ALL
SELECT 'bevacizumab', count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY days),
       percentile_cont(0.25) WITHIN GROUP (ORDER BY days),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY days),
       count(*) FILTER (WHERE days < target) FROM bevacizumab
UNION ALL
SELECT 'scrt', count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY days),
       percentile_cont(0.25) WITHIN GROUP (ORDER BY days),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY days),
       count(*) FILTER (WHERE late) FROM scrt
"""


def times(start: dt.date, end: dt.date) -> Figure:
    rules, workflow = rule_constants(), workflow_constants()
    params = _params(
        start,
        end,
        discussion_target=workflow.referral_to_discussion_days,
        treatment_target=workflow.discussion_to_treatment_days,
        bev_days=rules.bev_min_days,
        scrt_months=rules.scrt_max_delay_months,
        scrt=PelvicRadiotherapy.SHORT_COURSE_5X5.value,
        primary_kinds=list(Surgery.PRIMARY_KINDS),
    )
    found = {r[0]: r[1:] for r in _rows(TIMES_SQL, params)}
    names = {
        "referral": (
            "Referral → first discussion",
            f"over {workflow.referral_to_discussion_days} days",
        ),
        "treatment": (
            "Discussion → start of treatment",
            f"over {workflow.discussion_to_treatment_days} days",
        ),
        "bevacizumab": (
            "Last bevacizumab → elective surgery",
            f"under {rules.bev_min_days} days",
        ),
        "scrt": (
            "Short-course radiotherapy → surgery on the primary",
            f"over {rules.scrt_max_delay_months} months",
        ),
    }
    rows, bars = [], []
    counted = outside = 0
    for key, (label, rule) in names.items():
        n, median, q1, q3, out = found.get(key, (0, None, None, None, 0))
        counted += n
        outside += out or 0
        rows.append([label, n, _days(median), _days(q1), _days(q3), f"{out or 0} ({rule})"])
        bars.append((label, None if median is None else float(median)))
    return Figure(
        slug="times",
        title="Times along the pathway",
        definition=(
            "Days from the referral (the date it was received; without a referral, the case's "
            "entry into the pathway) to the first signed-off discussion; "
            "from a signed-off discussion that chose systemic therapy to the start of the next "
            "course; from the last bevacizumab dose to elective surgery; from completion of "
            "short-course radiotherapy to surgery on the primary. Each interval counted in the "
            "range by its end (discussion, or surgery) date, except treatment (by discussion)."
        ),
        numerator_label="intervals outside the guideline or target",
        denominator_label="intervals measured",
        numerator=outside,
        denominator=counted,
        headers=[
            "Interval",
            "Count",
            "Median (days)",
            "Lower quartile",
            "Upper quartile",
            "Outside the guideline",
        ],
        rows=rows,
        bars=bars,
        chart_unit=" days",
    )


# --- Guideline concordance and overrides -------------------------------------------------------

DECISIONS_SQL = """
SELECT d.point, count(*), count(*) FILTER (WHERE d.follows_recommendation)
FROM cases_decision d
JOIN cases_agendaitem ai ON ai.id = d.agenda_item_id AND ai.signed_off_at IS NOT NULL
JOIN cases_meeting m ON m.id = ai.meeting_id
WHERE (m.scheduled_for AT TIME ZONE %(tz)s)::date BETWEEN %(start)s AND %(end)s
    AND NOT EXISTS (SELECT 1 FROM cases_decision s WHERE s.supersedes_id = d.id)
GROUP BY d.point
"""


def concordance(start: dt.date, end: dt.date) -> Figure:
    found = {r[0]: (r[1], r[2]) for r in _rows(DECISIONS_SQL, _params(start, end))}
    rows, bars = [], []
    for point, label in DecisionPoint.choices:
        total, followed = found.get(point, (0, 0))
        if not total:
            continue
        rows.append([label, total, followed, _pct(share(followed, total))])
        bars.append((label, share(followed, total)))
    return Figure(
        slug="concordance",
        title="Guideline concordance",
        definition=(
            "Decisions of signed-off outcomes (meetings in the range, corrections counted once) "
            "that followed the guideline's recommendation, by decision point."
        ),
        numerator_label="decisions that followed the recommendation",
        denominator_label="decisions",
        numerator=sum(r[2] for r in rows),
        denominator=sum(r[1] for r in rows),
        headers=["Decision point", "Decisions", "Followed", "Share (%)"],
        rows=rows,
        bars=bars,
    )


OVERRIDES_SQL = """
WITH o AS (SELECT code, count(*), array_agg(DISTINCT d.override_reason ORDER BY d.override_reason)
FROM cases_decision d
CROSS JOIN LATERAL unnest(d.overridden_hard_stops) AS code
JOIN cases_agendaitem ai ON ai.id = d.agenda_item_id AND ai.signed_off_at IS NOT NULL
JOIN cases_meeting m ON m.id = ai.meeting_id
WHERE (m.scheduled_for AT TIME ZONE %(tz)s)::date BETWEEN %(start)s AND %(end)s
    AND NOT EXISTS (SELECT 1 FROM cases_decision s WHERE s.supersedes_id = d.id)
GROUP BY code ORDER BY count(*) DESC, code
), t AS (SELECT count(*) FILTER (WHERE cardinality(d.overridden_hard_stops) > 0), count(*)
FROM cases_decision d
JOIN cases_agendaitem ai ON ai.id = d.agenda_item_id AND ai.signed_off_at IS NOT NULL
JOIN cases_meeting m ON m.id = ai.meeting_id
WHERE (m.scheduled_for AT TIME ZONE %(tz)s)::date BETWEEN %(start)s AND %(end)s
    AND NOT EXISTS (SELECT 1 FROM cases_decision s WHERE s.supersedes_id = d.id)
)
SELECT o.*, t.* FROM t LEFT JOIN o ON true
"""


def _hard_stop_words(code: str) -> str:
    try:
        text = alert_for(code).text
    except ValueError:
        return "A hard stop no longer in the guideline"
    head, _dot, _rest = text.partition(". ")
    return head.rstrip(".") + "."


def overrides(start: dt.date, end: dt.date) -> Figure:
    params = _params(start, end)
    found = _rows(OVERRIDES_SQL, params)
    with_override, decisions = (found[0][3], found[0][4]) if found else (0, 0)
    rows = [
        [_hard_stop_words(code), n, "; ".join(r for r in reasons if r)]
        for code, n, reasons, _w, _t in found
        if code is not None
    ]
    return Figure(
        slug="overrides",
        title="Hard stops overridden",
        definition=(
            "Decisions of signed-off outcomes (meetings in the range) that overrode one or more "
            "of the guideline's hard stops, over all their decisions; each hard stop in words, "
            "with the reasons the MDT recorded."
        ),
        numerator_label="decisions overriding a hard stop",
        denominator_label="decisions",
        numerator=with_override,
        denominator=decisions,
        headers=["Hard stop", "Overrides", "Reasons recorded"],
        rows=rows,
        bars=[(row[0][:60], float(row[1])) for row in rows],
        chart_unit="",
        notes=[f"{code}" for code, *_rest in found if code is not None],
    )


# --- Implementation ------------------------------------------------------------------------------

IMPLEMENTATION_SQL = """
SELECT status, not_done_reason, count(*) FROM cases_followup
WHERE planned_on BETWEEN %(start)s AND %(end)s
GROUP BY status, not_done_reason
"""


def implementation(start: dt.date, end: dt.date) -> Figure:
    found = _rows(IMPLEMENTATION_SQL, _params(start, end))
    total = sum(n for _s, _r, n in found)
    by_status = dict.fromkeys(FollowUpStatus.values, 0)
    by_reason = dict.fromkeys(NotDoneReason.values, 0)
    for status, reason, n in found:
        by_status[status] += n
        if reason:
            by_reason[reason] += n
    still_open = by_status[FollowUpStatus.PLANNED] + by_status[FollowUpStatus.IN_PROGRESS]
    rows = [
        ["Done", by_status[FollowUpStatus.DONE], _pct(share(by_status["done"], total))],
        *[
            [f"Not done: {label}", by_reason[reason], _pct(share(by_reason[reason], total))]
            for reason, label in NotDoneReason.choices
        ],
        ["Still open (planned or in progress)", still_open, _pct(share(still_open, total))],
    ]
    return Figure(
        slug="implementation",
        title="Recommendations carried out",
        definition=(
            "Signed-off recommendations that ask for something to happen (meetings in the "
            "range): done, not done (by reason) or still open, over all of them."
        ),
        numerator_label="done",
        denominator_label="recommendations followed up",
        numerator=by_status[FollowUpStatus.DONE],
        denominator=total,
        headers=["Status", "Recommendations", "Share (%)"],
        rows=rows,
        bars=[(row[0], share(row[1], total)) for row in rows if row[1]],
    )


# --- Attendance ----------------------------------------------------------------------------------

ATTENDANCE_SQL = """
WITH meetings AS (
    SELECT m.id FROM cases_meeting m
    WHERE (m.scheduled_for AT TIME ZONE %(tz)s)::date BETWEEN %(start)s AND %(end)s
      AND m.scheduled_for <= now()
), present AS (
    SELECT a.meeting_id, a.member_id, a.discipline FROM cases_attendance a
    WHERE a.meeting_id IN (SELECT id FROM meetings)
), quorate AS (
    SELECT count(*) AS n FROM (
        SELECT m.id FROM meetings m LEFT JOIN present p ON p.meeting_id = m.id
        GROUP BY m.id
        HAVING coalesce(array_agg(p.discipline::text) FILTER (WHERE p.discipline IS NOT NULL),
                        '{}') @> %(core)s::text[]
    ) q
)
SELECT 'discipline', d.discipline, NULL, count(DISTINCT p.meeting_id),
       (SELECT count(*) FROM meetings), (SELECT n FROM quorate)
FROM unnest(%(core)s::text[]) AS d(discipline)
LEFT JOIN present p ON p.discipline = d.discipline
GROUP BY d.discipline
UNION ALL
SELECT 'member', u.discipline, concat_ws(' ', u.first_name, u.last_name, '(' || u.username || ')'),
       count(DISTINCT p.meeting_id), (SELECT count(*) FROM meetings), (SELECT n FROM quorate)
FROM cases_user u
LEFT JOIN present p ON p.member_id = u.id
WHERE u.discipline = ANY(%(core)s::text[]) AND (u.is_active OR p.member_id IS NOT NULL)
GROUP BY u.id
"""


def attendance(start: dt.date, end: dt.date) -> Figure:
    core = list(core_disciplines())
    found = _rows(ATTENDANCE_SQL, _params(start, end, core=core))
    meetings = found[0][4] if found else 0
    quorate = found[0][5] if found else 0
    labels = dict(Discipline.choices)
    rows, bars = [], []
    low = 0
    for kind, discipline, member, attended, _m, _q in sorted(
        found, key=lambda r: (r[0] != "discipline", labels.get(r[1], r[1]), r[2] or "")
    ):
        pct = share(attended, meetings)
        below = (
            meetings > 0
            and attended * ATTENDANCE_SHARE_DENOMINATOR < meetings * ATTENDANCE_SHARE_NUMERATOR
        )
        who = labels.get(discipline, discipline) if kind == "discipline" else member
        what = "Discipline (member or cover)" if kind == "discipline" else labels.get(discipline)
        if kind == "discipline":
            bars.append((who, pct))
            low += below
        rows.append([who, what, attended, meetings, _pct(pct), "below two thirds" if below else ""])
    return Figure(
        slug="attendance",
        title="Attendance and quorum",
        definition=(
            "Meetings held in the range at which each core discipline (any member, or cover) and "
            "each core member was present; flagged below two thirds of meetings. Quorate "
            "meetings had every core discipline present."
        ),
        numerator_label="quorate meetings",
        denominator_label="meetings held",
        numerator=quorate,
        denominator=meetings,
        headers=["Who", "Discipline", "Meetings attended", "Meetings held", "Share (%)", "Flag"],
        rows=rows,
        bars=bars,
        reference=100 * ATTENDANCE_SHARE_NUMERATOR / ATTENDANCE_SHARE_DENOMINATOR,
        reference_label="two thirds of meetings",
        notes=[f"{low} core discipline(s) below two thirds"] if low else [],
    )


# --- Reminders -----------------------------------------------------------------------------------

REMINDERS_SQL = """
SELECT count(*),
       count(*) FILTER (WHERE state = 'sent'),
       count(*) FILTER (WHERE state = 'failed'),
       count(*) FILTER (WHERE state = 'cancelled'),
       count(*) FILTER (WHERE state IN ('pending', 'sending')),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - due_at) / 60)
           FILTER (WHERE state = 'sent')
FROM cases_reminder
WHERE (due_at AT TIME ZONE %(tz)s)::date BETWEEN %(start)s AND %(end)s
"""


def reminders(start: dt.date, end: dt.date) -> Figure:
    total, sent, failed, expired, waiting, median = _rows(REMINDERS_SQL, _params(start, end))[0]
    rows = [
        ["Sent", sent, _pct(share(sent, total))],
        ["Failed", failed, _pct(share(failed, total))],
        ["Expired (no longer needed before they went out)", expired, _pct(share(expired, total))],
        ["Still to go", waiting, _pct(share(waiting, total))],
    ]
    return Figure(
        slug="reminders",
        title="Reminder emails",
        definition=(
            "Reminders due in the range: sent, failed, expired (cancelled because the facts "
            "changed before they were due) or still to go; the median delay is from the due "
            "time to the mail server's acceptance, over the sent ones."
        ),
        numerator_label="sent",
        denominator_label="reminders due",
        numerator=sent,
        denominator=total,
        headers=["Outcome", "Reminders", "Share (%)"],
        rows=rows,
        bars=[(row[0].split(" (")[0], share(row[1], total)) for row in rows],
        notes=[
            "Median delay: no data"
            if median is None
            else f"Median delay: {float(median):.1f} minutes"
        ],
    )


# --- All of them ---------------------------------------------------------------------------------

REPORTS = {
    "conversion": conversion,
    "times": times,
    "concordance": concordance,
    "overrides": overrides,
    "implementation": implementation,
    "attendance": attendance,
    "reminders": reminders,
}


def _pct(value: float | None) -> str:
    return "no data" if value is None else f"{value:.1f}"


def _days(value: float | None) -> str:
    return "no data" if value is None else f"{float(value):g}"
