"""Stored case → guideline-engine inputs, in the vocabulary of pathway-spec §A.1.

The meeting screen, the dashboard and ``manage.py advise`` all speak this one vocabulary. The
mapper builds the plain JSON-shaped dict of A.1 keys (the same thing ``advise`` reads), lets the
MDT's proposal under discussion be laid over it, and validates the result with the engine's own
``parse_facts``, so a stored record can never reach the rules in a shape the command would
refuse.

Expects a case loaded with ``cases.records.selectors.case_clinical_record`` (everything
prefetched), so mapping costs no queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING

from cases.common.constants import rule_constants
from cases.pathway import (
    SITE_SIDEDNESS,
    Advice,
    CaseFacts,
    PrimarySite,
    advise,
    parse_facts,
)

if TYPE_CHECKING:
    from cases.models import Case, Reassessment, Surgery

MARKER_KEYS = {
    "mmr_msi": "mmr_msi_status",
    "kras": "kras_status",
    "nras": "nras_status",
    "braf_v600e": "braf_v600e_status",
    "her2": "her2_status",
}

# The keys an MDT proposes in the meeting (the rest are facts of the record).
PROPOSAL_KEYS = frozenset(
    {
        "proposed_agents",
        "proposed_liver_surgery",
        "liver_biopsy_proposed",
        "primary_resection_proposed",
        "pelvic_rt_proposed",
        "colorectal_stent_proposed",
    }
)

DAYS_PER_MONTH = 365.25 / 12


def sidedness_of(primary_site: str) -> str:
    """R1: derived from the primary site, never typed in."""
    return SITE_SIDEDNESS[PrimarySite(primary_site)].value


def age_on(date_of_birth: dt.date, day: dt.date) -> int:
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - before_birthday


def _latest_verdict(case: Case) -> Reassessment | None:
    """The reassessment whose HPB verdict is current: the newest one with a scan, a verdict or a
    formal review. A new scan with its verdict not yet entered counts as "not reviewed": the
    previous scan's verdict must never stand in for it (stale-result hazard H05)."""
    judged = [
        r
        for r in case.reassessments.all()
        if r.imaging_performed_on or r.reassessed_on or r.hpb_mdt_reviewed
    ]
    return max(judged, key=lambda r: r.cycle, default=None)


def _next_planned_surgery(case: Case) -> Surgery | None:
    planned = [
        s
        for s in case.surgeries.all()
        if s.planned_on and s.performed_on is None and s.cancelled_on is None
    ]
    return min(planned, key=lambda s: s.planned_on, default=None)


def _last_resection_with_margin(case: Case) -> Surgery | None:
    """The last operation with a pathology margin (R14): a later stoma has none."""
    done = [s for s in case.surgeries.all() if s.performed_on and s.margin]
    return max(done, key=lambda s: s.performed_on, default=None)


def _liver_cleared(case: Case) -> bool:
    """Liver disease resected: a completed one-stage, second-stage or synchronous resection
    that left no macroscopic disease (an R2 resection did not clear the liver)."""
    clearing = {"one_stage_hepatectomy", "two_stage_hepatectomy_second", "synchronous_resection"}
    return any(
        s.performed_on and s.kind in clearing and s.margin != "r2" for s in case.surgeries.all()
    )


def last_bevacizumab_dose(case: Case) -> dt.date | None:
    """The last recorded bevacizumab dose: a query over what was given, never a typed field.

    Where a course's cycles are recorded, its bevacizumab doses are the cycles that gave it
    (the cycle service writes their doses too, which the worklists' SQL reads); a dose recorded
    on its own, outside any cycle, counts as well.
    """
    doses = []
    for course in case.treatment_courses.all():
        doses += [c.given_on for c in course.cycles.all() if "bevacizumab" in c.agents]
        doses += [
            a.given_on
            for a in course.administrations.all()
            if a.agent == "bevacizumab" and a.cycle_id is None
        ]
    return max(doses, default=None)


def planned_last_bevacizumab_dose(case: Case) -> dt.date | None:
    """The last bevacizumab dose the MDT planned for a course still running (pathway-spec H2;
    written by the meeting's sign-off, corrected on the course)."""
    planned = [
        c.bevacizumab_last_planned_on
        for c in case.treatment_courses.all()
        if c.stopped_on is None and c.bevacizumab_last_planned_on is not None
    ]
    return max(planned, default=None)


def bevacizumab_interval_start(case: Case) -> dt.date | None:
    """The dose the interval before elective surgery counts from (R10 with H2): the last dose
    given, or the last dose the running plan gives, whichever is later."""
    doses = [d for d in (last_bevacizumab_dose(case), planned_last_bevacizumab_dose(case)) if d]
    return max(doses, default=None)


def _chemo_before(case: Case, surgery_on: dt.date) -> tuple[float, str | None]:
    """Months of systemic therapy given before an operation, and the last backbone used."""
    days = 0
    backbone = None
    for course in sorted(case.treatment_courses.all(), key=lambda c: c.started_on):
        if course.started_on >= surgery_on:
            continue
        end = min(course.stopped_on or surgery_on, surgery_on)
        days += (end - course.started_on).days
        backbone = course.backbone or backbone
    return round(days / DAYS_PER_MONTH, 1), backbone


def case_inputs(case: Case, *, today: dt.date) -> dict[str, object]:
    """The A.1 inputs that the stored record supports, as JSON-shaped values."""
    inputs: dict[str, object] = {
        "age_years": age_on(case.patient.date_of_birth, today),
        "primary_site": case.primary_site,
        "primary_symptom": case.primary_symptom,
    }
    if case.ecog is not None:
        inputs["ecog"] = case.ecog
    if case.sidedness_reported:
        inputs["sidedness_reported"] = case.sidedness_reported
    for result in case.molecular_results.all():
        inputs[MARKER_KEYS[result.marker]] = result.status

    verdict = _latest_verdict(case)
    if verdict is not None:
        inputs["hpb_mdt_reviewed"] = verdict.hpb_mdt_reviewed
        if verdict.r0_achievable is not None:
            inputs["r0_achievable"] = verdict.r0_achievable
        if verdict.flr_percent_slv is not None:
            inputs["flr_percent_slv"] = float(verdict.flr_percent_slv)
        if verdict.flr_segments_remaining is not None:
            inputs["flr_segments_remaining"] = verdict.flr_segments_remaining
        inputs["extrahepatic_disease"] = verdict.extrahepatic_disease
        inputs["pet_complete_metabolic_response"] = verdict.pet_complete_metabolic_response
        inputs["combined_resection_technically_feasible"] = (
            verdict.combined_resection_technically_feasible
        )
        if verdict.planned_hepatectomy_extent:
            inputs["planned_hepatectomy_extent"] = verdict.planned_hepatectomy_extent

    starts = [c.started_on for c in case.treatment_courses.all()]
    if starts:
        inputs["chemo_start_date"] = min(starts).isoformat()
    reassessed = [r.reassessed_on for r in case.reassessments.all() if r.reassessed_on]
    if reassessed:
        inputs["last_reassessment_date"] = max(reassessed).isoformat()
    last_bev = bevacizumab_interval_start(case)
    if last_bev is not None:
        inputs["last_bevacizumab_dose_date"] = last_bev.isoformat()

    planned = _next_planned_surgery(case)
    if planned is not None:
        inputs["planned_surgery_date"] = planned.planned_on.isoformat()
        inputs["planned_surgery_urgency"] = planned.urgency
        inputs["planned_surgery_includes_primary"] = planned.includes_primary
    scrt = [
        rt.completed_on
        for rt in case.radiotherapy.all()
        if rt.kind == "short_course_5x5" and rt.completed_on
    ]
    if scrt:
        inputs["scrt_completion_date"] = max(scrt).isoformat()
    inputs["liver_metastases_cleared"] = _liver_cleared(case)

    performed = _last_resection_with_margin(case)
    if performed is not None:
        inputs["surgical_margin"] = performed.margin
        months, backbone = _chemo_before(case, performed.performed_on)
        inputs["preop_chemo_months_given"] = months
        if backbone:
            inputs["preop_backbone"] = backbone
    return inputs


def facts_for_case(
    case: Case, *, today: dt.date, proposal: Mapping[str, object] | None = None
) -> tuple[dict[str, object], CaseFacts]:
    """Inputs (record + proposal) and the validated facts. Raises ``InputError`` if invalid."""
    inputs = case_inputs(case, today=today)
    if proposal:
        unknown = set(proposal) - PROPOSAL_KEYS
        if unknown:
            raise ValueError(f"not a proposal key: {', '.join(sorted(unknown))}")
        inputs.update(proposal)
    return inputs, parse_facts(inputs)


def advice_for_case(
    case: Case, *, today: dt.date, proposal: Mapping[str, object] | None = None
) -> tuple[dict[str, object], Advice]:
    inputs, facts = facts_for_case(case, today=today, proposal=proposal)
    return inputs, advise(facts, rule_constants())
