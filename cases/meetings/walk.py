"""The decision walk of the MDT meeting (DESIGN.md §2): which decision points apply to a case, in
order, and everything a point's card shows: the facts it uses, the engine's recommendation with
its explanation and citations, the hard stops and warnings that belong to it, and the answer form.

Pure: no queries. It works on a case loaded with ``case_clinical_record``, the agenda item's
decisions (already loaded) and the day of the meeting, which is "today" for every rule (age,
imaging recency, the reassessment anchor), so a past meeting replays the same way.

How an answer reaches the engine
    The answers recorded so far form the MDT's *proposal* (pathway-spec A.1 proposal keys), laid
    over the stored record in walk order, later points winning:
    - primary tumour management: ``primary_resection`` → ``primary_resection_proposed``,
      ``colorectal_stent`` → ``colorectal_stent_proposed``, ``short_course_rt`` →
      ``pelvic_rt_proposed = short_course_5x5`` (the pelvic radiotherapy answer, if given, wins);
    - systemic therapy: the ticked agents → ``proposed_agents``;
    - pelvic radiotherapy: → ``pelvic_rt_proposed``;
    - liver surgery: → ``proposed_liver_surgery`` and ``liver_biopsy_proposed``;
    - timing: the surgery date the MDT sets is tried as ``planned_surgery_date`` (a what-if on
      the record, stored in the decision's snapshot; the operation itself is booked elsewhere).

Which points apply (in this order; "deferred" means the data-completeness answer was "defer"):
    1. data completeness and molecular profile: always;
    2. resectability: unless deferred or the liver disease is already cleared;
    3. primary tumour management: unless deferred or the primary has been resected;
    4. systemic therapy: unless deferred;
    5. pelvic radiotherapy: unless deferred; rectal primary still in place;
    6. liver surgery strategy and sequencing: unless deferred or the liver is cleared; the
       sequencing question appears only when the disease is converted, surgery is proposed and
       the primary is still in place;
    7. timing: unless deferred; a last bevacizumab dose and a surgery (planned on the record or
       proposed now), or a short-course RT completion and a surgery that includes the primary;
    8. post-operative plan: unless deferred; the last operation has a margin and no treatment
       course has started since it;
    9. outcome and next reassessment: always.

Which card an alert belongs to: ``CODE_POINTS`` below. Only the hard stops of the point being
answered can block that answer (so a bevacizumab-interval stop from the record blocks the timing
answer, not the systemic therapy answer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from cases.models import (
    Agent,
    Backbone,
    DecisionPoint,
    Marker,
    MarkerStatus,
    PelvicRadiotherapy,
    PrimarySite,
    PrimarySymptom,
    Surgery,
)
from cases.pathway import (
    CODES,
    HARD_STOP_CODES,
    Advice,
    AlertCode,
    advice_to_dict,
    advise,
    citation_label,
    parse_facts,
)
from cases.pathway.catalogue import RECOMMENDATIONS, recommendation_key
from cases.records.completeness import missing_minimum_dataset
from cases.records.mapping import case_inputs, rule_constants

if TYPE_CHECKING:
    from cases.models import Case, Decision, Reassessment, TreatmentCourse

P = DecisionPoint
A = AlertCode
POINT_ORDER: tuple[str, ...] = tuple(P.values)

# --- Which card each alert code belongs to ------------------------------------------------------

POINT_CODES: dict[str, tuple[str, ...]] = {
    # The facts themselves.
    P.DATA_COMPLETENESS: (
        A.MMR_STATUS_REQUIRED,
        A.RAS_STATUS_REQUIRED,
        A.BRAF_STATUS_REQUIRED,
        A.RAS_TESTING_INCOMPLETE_KRAS_EXON2_ONLY,
        A.SIDEDNESS_CONFLICT,
    ),
    P.RESECTABILITY: (A.FLR_BELOW_THRESHOLD_TWO_STAGE_OR_PVE, A.PET_CMR_RESECT_ORIGINAL_SITES),
    # Raised by resection of the primary or by pelvic RT: it belongs to both cards.
    P.PRIMARY_MANAGEMENT: (A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED,),
    # The proposed agents.
    P.SYSTEMIC_THERAPY: (
        A.ANTI_EGFR_RAS_MUTANT,
        A.ANTI_EGFR_RAS_UNKNOWN,
        A.ANTI_EGFR_RIGHT_SIDED,
        A.ANTI_EGFR_SIDEDNESS_UNDETERMINED,
        A.ANTI_EGFR_BRAF_V600E,
        A.DUAL_BIOLOGIC,
        A.IMMUNOTHERAPY_NOT_INDICATED_PMMR,
        A.IMMUNOTHERAPY_MMR_UNCONFIRMED,
        A.TRIPLET_NOT_APPROPRIATE,
        A.PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION,
        A.PEMBROLIZUMAB_ECOG2_OUTSIDE_TRIAL,
        A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB,
        A.ANTI_EGFR_BRAF_STATUS_UNKNOWN,
        A.ANTI_EGFR_WITH_CAPECITABINE,
        A.HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE,
        A.IMMUNOTHERAPY_PREFERRED_DMMR,
        A.TRIPLET_OUTSIDE_TRIBE_CRITERIA,
        A.BEV_WITH_COLORECTAL_STENT,
        A.BEV_CAUTION_BLEEDING_OR_PERFORATION,
    ),
    P.PELVIC_RADIOTHERAPY: (A.LONG_COURSE_CRT_UPFRONT, A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED),
    P.LIVER_SURGERY: (
        A.DEBULKING_NOT_PERMITTED,
        A.FLR_INADEQUATE,
        A.EXTRAHEPATIC_DISEASE_UNRESECTABLE,
        A.HPB_MDT_REVIEW_REQUIRED,
        A.LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION,
        A.SIMULTANEOUS_MAJOR_HEPATECTOMY_AND_RECTAL_RESECTION,
    ),
    # The bevacizumab interval and the SCRT window: the surgery date.
    P.TIMING: (
        A.BEV_SURGERY_INTERVAL_LT_6_WEEKS,
        A.BEV_RECENT_EMERGENCY_SURGERY,
        A.SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS,
    ),
    P.POSTOPERATIVE: (
        A.R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED,
        A.R2_RESIDUAL_DISEASE_NOT_CURATIVE,
        A.PREOP_CHEMO_EXCEEDS_6_MONTHS,
    ),
}
CODE_POINTS: dict[str, tuple[str, ...]] = {
    str(code): tuple(p for p, codes in POINT_CODES.items() if code in codes)
    for codes in POINT_CODES.values()
    for code in codes
}

# --- Labels -----------------------------------------------------------------------------------

REGIMEN_LABELS = {
    "pembrolizumab": "Pembrolizumab (first line for dMMR / MSI-H)",
    "folfoxiri_bevacizumab": "FOLFOXIRI + bevacizumab",
    "doublet_anti_egfr": "FOLFOX or FOLFIRI + cetuximab or panitumumab",
    "doublet_bevacizumab": "FOLFOX, CAPOX or FOLFIRI + bevacizumab",
    "doublet_chemotherapy_pending_biomarkers": (
        "Doublet chemotherapy (FOLFOX, CAPOX or FOLFIRI) without a biologic until results arrive"
    ),
    "no_intensive_therapy_mdt_review": "No intensive therapy: MDT review",
}
CONVERSION_LABELS = {
    "converted_resectable": "Converted: resectable",
    "not_resectable": "Not resectable",
    "resectability_unconfirmed": "Resectability unconfirmed (needs HPB MDT review)",
}
LIVER_SURGERY_LABELS = {
    "none": "No liver surgery now",
    "one_stage_hepatectomy": "One-stage hepatectomy",
    "two_stage_hepatectomy": "Two-stage hepatectomy (with PVE if needed)",
}
SEQUENCE_LABELS = {
    "liver_first": "Liver first",
    "primary_first_staged": "Primary first, staged",
    "synchronous_resection": "Synchronous resection",
}
PRIMARY_LABELS = {
    "no_intervention": "No intervention on the primary now",
    "defunctioning_stoma": "Defunctioning stoma",
    "colorectal_stent": "Colorectal stent",
    "primary_resection": "Resection of the primary",
    "short_course_rt": "Short-course radiotherapy (5 × 5 Gy)",
    "endoscopic_haemostasis": "Endoscopic haemostasis",
    "transfusion_support": "Transfusion support",
    "emergency_surgery": "Emergency surgery",
}
DATA_LABELS = {
    "proceed": "Data complete: decide today",
    "proceed_provisional": "Decide today provisionally; chase the outstanding results",
    "defer": "Defer the case until the data are complete",
}
OUTCOME_LABELS = {
    "continue_pathway": "Continue the pathway: reassess on the engine's date",
    "proceed_to_surgery": "Proceed to surgery (no further conversion reassessment)",
    "rediscuss": "Re-discuss at a later meeting (nothing scheduled now)",
    "leave_pathway": "Leave the conversion pathway",
}
YES_NO = {"yes": "Yes", "no": "No"}

AGENT_LABELS = dict(Agent.choices)
BACKBONE_LABELS = dict(Backbone.choices)
PELVIC_LABELS = {"none": "No pelvic radiotherapy now", **dict(PelvicRadiotherapy.choices)}
STATUS_LABELS = dict(MarkerStatus.choices)

SHORT_STATUS = {"wild_type": "Wild-type", "wild_type_exon2_only": "Wild-type (exon 2 only)"}

ANTI_EGFR = {"cetuximab", "panitumumab"}
CHECKPOINT_INHIBITORS = {"pembrolizumab", "nivolumab", "ipilimumab"}
FLUOROPYRIMIDINE = {"fluorouracil", "capecitabine"}
CYTOTOXIC_PARTNER = {"oxaliplatin", "irinotecan"}
MAX_SURGERY_DAYS_AHEAD = 730  # a surgery date further ahead than two years is a typing error
POSTOP_MAX_MONTHS = 12


# --- What a card is made of ---------------------------------------------------------------------


@dataclass(frozen=True)
class Citation:
    id: str
    label: str


@dataclass(frozen=True)
class Alert:
    code: str
    hard: bool
    text: str
    citations: tuple[Citation, ...]


@dataclass(frozen=True)
class Line:
    """One line of the recommendation: what the engine says, why, and where that comes from."""

    title: str
    value: str
    text: str = ""
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    key: str = ""  # the A.1 key it comes from, if any
    flag: str = ""  # "pending" (result awaited) or "missing" (needed, not tested): stands out


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    recommended: bool = False


@dataclass(frozen=True)
class Field:
    """One input of a card's answer form; the view builds a Django form from these."""

    name: str
    kind: str  # radio, checkboxes, checkbox, date, number, select
    label: str
    choices: tuple[Choice, ...] = ()
    required: bool = True
    help: str = ""
    min_value: Any = None
    max_value: Any = None


@dataclass
class Step:
    point: str
    label: str
    number: int
    facts: list[Fact]
    lines: list[Line]
    recommended_text: str
    fields: list[Field]
    initial: dict[str, Any]
    alerts: list[Alert]  # the point's alerts for the answer shown (recorded, or pre-filled)
    decision: Decision | None = None
    # Superseded answers, oldest first, each with its answer in words.
    history: list[tuple[Decision, str]] = field(default_factory=list)
    unresolved: list[Alert] = field(default_factory=list)  # hard stops the answer no longer covers
    answer_text: str = ""

    @property
    def answered(self) -> bool:
        return self.decision is not None

    @property
    def needs_answer(self) -> bool:
        return self.decision is None or bool(self.unresolved)

    @property
    def hard_stops(self) -> list[Alert]:
        return [a for a in self.alerts if a.hard]

    @property
    def warnings(self) -> list[Alert]:
        return [a for a in self.alerts if not a.hard]

    @property
    def dom_id(self) -> str:
        return f"card-{self.point}"


@dataclass(frozen=True)
class Evaluation:
    """An answer tried against the engine: the advice it meets and whether it follows it."""

    point: str
    answer: dict[str, Any]
    inputs: dict[str, object]
    advice: Advice
    hard_stops: tuple[str, ...]  # the point's hard stops
    warnings: tuple[str, ...]  # the point's warnings
    follows: bool
    recommendation: dict[str, Any]

    def snapshot(self) -> dict[str, Any]:
        """What the decision stores: enough to replay it (inputs, rule version, codes)."""
        full = advice_to_dict(self.advice)
        return {
            "inputs": self.inputs,
            "guideline_version": self.advice.guideline_version,
            "hard_stops": list(self.hard_stops),
            "warnings": list(self.warnings),
            "all_hard_stops": full["hard_stops"],
            "all_warnings": full["warnings"],
            "recommendation": self.recommendation,
            "rule_constants": full["rule_constants"],
        }


@dataclass(frozen=True)
class ReassessmentPlan:
    """What signing off will schedule (and what the outcome card shows before it)."""

    outcome: str
    next_on: dt.date | None
    anchor: dt.date | None
    anchor_text: str
    performed: Reassessment | None  # the open reassessment this meeting completes
    reschedule: Reassessment | None  # an open, not yet imaged reassessment to move
    note: str


@dataclass
class Walk:
    steps: list[Step]
    meeting_day: dt.date
    missing: list[str]
    plan: ReassessmentPlan
    superseded_ids: set[int] = field(default_factory=set)

    @property
    def current(self) -> Step | None:
        """The first point still needing an answer: the card whose form is open."""
        return next((s for s in self.steps if s.needs_answer), None)

    @property
    def complete(self) -> bool:
        return self.current is None

    def step(self, point: str) -> Step | None:
        return next((s for s in self.steps if s.point == point), None)

    @property
    def points(self) -> list[str]:
        return [s.point for s in self.steps]


class AnswerError(ValueError):
    """An answer that is not valid for the card: names the field and says what is wrong."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


# --- Reading decisions ---------------------------------------------------------------------------


def current_decisions(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """The answer in force for each point: the one nothing has superseded."""
    decisions = list(decisions)
    superseded = {d.supersedes_id for d in decisions if d.supersedes_id}
    return {d.point: d for d in decisions if d.pk not in superseded}


def proposal_from(answers: Mapping[str, Mapping[str, Any]]) -> dict[str, object]:
    """The MDT's proposal (A.1 proposal keys) formed by the answers, in walk order."""
    proposal: dict[str, object] = {}
    primary = answers.get(P.PRIMARY_MANAGEMENT)
    if primary:
        choice = primary.get("choice")
        if choice == "primary_resection":
            proposal["primary_resection_proposed"] = True
        elif choice == "colorectal_stent":
            proposal["colorectal_stent_proposed"] = True
        elif choice == "short_course_rt":
            proposal["pelvic_rt_proposed"] = "short_course_5x5"
    systemic = answers.get(P.SYSTEMIC_THERAPY)
    if systemic is not None:
        proposal["proposed_agents"] = list(systemic.get("agents", []))
    pelvic = answers.get(P.PELVIC_RADIOTHERAPY)
    if pelvic:
        proposal["pelvic_rt_proposed"] = pelvic["choice"]
    liver = answers.get(P.LIVER_SURGERY)
    if liver:
        proposal["proposed_liver_surgery"] = liver["surgery"]
        proposal["liver_biopsy_proposed"] = bool(liver.get("liver_biopsy"))
    return proposal


def _backbone(agents: set[str]) -> str | None:
    """The cytotoxic backbone the A.2 families are made of: FOLFOX, CAPOX, FOLFIRI, FOLFOXIRI."""
    fluoropyrimidines = agents & FLUOROPYRIMIDINE
    partners = agents & CYTOTOXIC_PARTNER
    if fluoropyrimidines == {"fluorouracil"} and partners == CYTOTOXIC_PARTNER:
        return "folfoxiri"
    if len(fluoropyrimidines) != 1 or len(partners) != 1:
        return None
    pair = (*fluoropyrimidines, *partners)
    return BACKBONES.get(pair)


BACKBONES = {
    ("fluorouracil", "oxaliplatin"): "folfox",
    ("fluorouracil", "irinotecan"): "folfiri",
    ("capecitabine", "oxaliplatin"): "capox",
}


def regimen_family_of(agents: Iterable[str]) -> str | None:
    """The recommended-regimen family (A.2) a set of agents belongs to (None: none of them).

    Checkpoint inhibitors alone count as the pembrolizumab family: nivolumab with ipilimumab is an
    accepted alternative in dMMR disease (seed statement 3). Anti-EGFR doublets are FOLFOX or
    FOLFIRI only (capecitabine is not a partner for anti-EGFR, seed statement 2).
    """
    a = set(agents)
    if not a:
        return None
    if a <= CHECKPOINT_INHIBITORS:
        return "pembrolizumab"
    backbone = _backbone(a)
    biologics = a - FLUOROPYRIMIDINE - CYTOTOXIC_PARTNER
    if backbone == "folfoxiri":
        return "folfoxiri_bevacizumab" if biologics == {"bevacizumab"} else None
    if backbone is None:
        return None
    if not biologics:
        return "doublet_chemotherapy_pending_biomarkers"
    if biologics == {"bevacizumab"}:
        return "doublet_bevacizumab"
    if len(biologics) == 1 and biologics <= ANTI_EGFR and backbone != "capox":
        return "doublet_anti_egfr"
    return None


# --- The walk --------------------------------------------------------------------------------


class _Context:
    """Everything the cards share, computed once per walk (engine calls are memoised)."""

    def __init__(self, case: Case, decisions: Sequence[Decision], meeting_day: dt.date) -> None:
        self.case = case
        self.meeting_day = meeting_day
        self.record = case_inputs(case, today=meeting_day)
        self.constants = rule_constants()
        self.missing = missing_minimum_dataset(case, today=meeting_day)
        self.decisions = list(decisions)
        self.current = current_decisions(self.decisions)
        self.answers = {point: d.answer for point, d in self.current.items()}
        surgeries = list(case.surgeries.all())
        self.primary_resected = any(
            s.performed_on and s.kind in Surgery.PRIMARY_KINDS for s in surgeries
        )
        performed = [s for s in surgeries if s.performed_on]
        # The post-operative plan follows the last resection with a margin (a later stoma has
        # none and must not hide it).
        with_margin = [s for s in performed if s.margin]
        self.last_operation = max(with_margin, key=lambda s: s.performed_on, default=None)
        self._cache: dict[str, tuple[dict[str, object], Advice]] = {}

    def advise(
        self,
        answers: Mapping[str, Mapping[str, Any]],
        what_if: Mapping[str, object] | None = None,
    ) -> tuple[dict[str, object], Advice]:
        inputs = {**self.record, **proposal_from(answers), **(what_if or {})}
        key = repr(sorted(inputs.items()))
        if key not in self._cache:
            self._cache[key] = (inputs, advise(parse_facts(inputs), self.constants))
        return self._cache[key]

    @property
    def deferred(self) -> bool:
        return self.answers.get(P.DATA_COMPLETENESS, {}).get("choice") == "defer"


def build_walk(case: Case, decisions: Sequence[Decision], *, meeting_day: dt.date) -> Walk:
    """The applicable points, in order, each with its card's content and its recorded answer."""
    ctx = _Context(case, decisions, meeting_day)
    steps: list[Step] = []
    superseded = {d.supersedes_id for d in ctx.decisions if d.supersedes_id}
    for point in POINT_ORDER:
        if not applies(ctx, point):
            continue
        step = _step(ctx, point, len(steps) + 1)
        step.history = [
            (d, describe_answer(point, d.answer))
            for d in sorted(ctx.decisions, key=lambda d: d.pk)
            if d.point == point and d.pk in superseded
        ]
        steps.append(step)
    outcome = ctx.answers.get(P.OUTCOME, {}).get("choice")
    plan = reassessment_plan(ctx, outcome or _recommended_outcome(ctx))
    return Walk(
        steps=steps,
        meeting_day=meeting_day,
        missing=ctx.missing,
        plan=plan,
        superseded_ids={pk for pk in superseded if pk},
    )


def applies(ctx: _Context, point: str) -> bool:
    record = ctx.record
    if point in (P.DATA_COMPLETENESS, P.OUTCOME):
        return True
    if ctx.deferred:
        return False
    cleared = bool(record.get("liver_metastases_cleared"))
    if point == P.RESECTABILITY:
        return not cleared
    if point == P.PRIMARY_MANAGEMENT:
        return not ctx.primary_resected
    if point == P.SYSTEMIC_THERAPY:
        return True
    if point == P.PELVIC_RADIOTHERAPY:
        return record.get("primary_site") == PrimarySite.RECTUM and not ctx.primary_resected
    if point == P.LIVER_SURGERY:
        return not cleared
    if point == P.TIMING:
        return _timing_applies(ctx)
    if point == P.POSTOPERATIVE:
        return _postoperative_applies(ctx)
    raise ValueError(f"unknown decision point {point!r}")


def _surgery_proposed(ctx: _Context) -> tuple[bool, bool]:
    """(a surgery is proposed in this meeting, it includes the primary)."""
    liver = ctx.answers.get(P.LIVER_SURGERY, {})
    primary = ctx.answers.get(P.PRIMARY_MANAGEMENT, {}).get("choice")
    liver_op = liver.get("surgery") in ("one_stage_hepatectomy", "two_stage_hepatectomy")
    with_primary = (
        liver_op and liver.get("sequence") in ("primary_first_staged", "synchronous_resection")
    ) or primary == "primary_resection"
    return liver_op or primary == "primary_resection", with_primary


def _timing_applies(ctx: _Context) -> bool:
    record = ctx.record
    proposed, proposed_with_primary = _surgery_proposed(ctx)
    planned = "planned_surgery_date" in record
    any_surgery = planned or proposed
    with_primary = bool(record.get("planned_surgery_includes_primary")) or proposed_with_primary
    bev = "last_bevacizumab_dose_date" in record
    scrt = "scrt_completion_date" in record
    return (bev and any_surgery) or (scrt and with_primary)


def _postoperative_applies(ctx: _Context) -> bool:
    operation = ctx.last_operation
    if "surgical_margin" not in ctx.record or operation is None:
        return False
    return not any(c.started_on >= operation.performed_on for c in ctx.case.treatment_courses.all())


# --- One card ------------------------------------------------------------------------------------


def _citations(ids: Iterable[str]) -> tuple[Citation, ...]:
    out = []
    for cid in ids:
        try:
            out.append(Citation(cid, citation_label(cid)))
        except KeyError:
            out.append(Citation(cid, cid))
    return tuple(out)


def alert_for(code: str) -> Alert:
    entry = CODES[AlertCode(code)]
    return Alert(
        code=code,
        hard=code in HARD_STOP_CODES,
        text=entry.text,
        citations=_citations(entry.citations),
    )


def _line(title: str, output: str, value: object, shown: str) -> Line:
    """A recommendation line with the catalogue's explanation of that output value."""
    entry = RECOMMENDATIONS.get(recommendation_key(output, value)) or RECOMMENDATIONS.get(output)
    if entry is None:
        return Line(title, shown)
    return Line(title, shown, entry.text, _citations(entry.citations))


def point_codes(point: str, advice: Advice) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(hard stops, warnings) of ``advice`` that belong to ``point``."""
    stops = tuple(str(c) for c in advice.hard_stops if point in CODE_POINTS.get(c, ()))
    warns = tuple(str(c) for c in advice.warnings if point in CODE_POINTS.get(c, ()))
    return stops, warns


def _step(ctx: _Context, point: str, number: int) -> Step:
    builder = _BUILDERS[point]
    decision = ctx.current.get(point)
    step = builder(ctx, decision)
    step.number = number
    step.decision = decision
    shown = decision.answer if decision else step.initial
    evaluation = evaluate(ctx, point, shown) if _complete(step, shown) else None
    if evaluation is None:
        _inputs, advice = ctx.advise(_without(ctx.answers, point))
        stops, warns = point_codes(point, advice)
    else:
        stops, warns = evaluation.hard_stops, evaluation.warnings
    step.alerts = [alert_for(c) for c in (*stops, *warns)]
    if decision is not None:
        covered = set(decision.overridden_hard_stops)
        step.unresolved = [alert_for(c) for c in stops if c not in covered]
        step.answer_text = describe_answer(point, decision.answer)
    return step


def _without(answers: Mapping[str, Any], point: str) -> dict[str, Any]:
    return {p: a for p, a in answers.items() if p != point}


def _complete(step: Step, answer: Mapping[str, Any]) -> bool:
    """Whether a pre-filled answer is complete enough to try against the engine."""
    try:
        check_answer(step, dict(answer))
    except AnswerError:
        return False
    return True


def _fmt_date(value: object) -> str:
    """A date (or ISO text) as "7 Mar 2026"; a dash when there is none."""
    if not value:
        return "—"
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return f"{day.day} {day:%b %Y}"


def marker_facts(case: Case) -> list[Fact]:
    """The molecular profile, marker by marker; pending and missing results are flagged."""
    by_marker = {r.marker: r for r in case.molecular_results.all()}
    facts = []
    for marker, label in Marker.choices:
        result = by_marker.get(marker)
        status = result.status if result else "not_tested"
        value = SHORT_STATUS.get(status) or STATUS_LABELS.get(status, status)
        if status == "wild_type" and marker in ("kras", "nras"):
            value += " (exons 2–4)"
        if result and status == "pending" and result.requested_on:
            value += f" (requested {_fmt_date(result.requested_on)})"
        flag = ""
        if status == "pending":
            flag = "pending"
        elif status == "not_tested" and marker != "her2":
            flag = "missing"
        facts.append(Fact(label, value, f"{marker}_status", flag=flag))
    return facts


def _recommended_choices(
    values: Mapping[str, str], recommended: Iterable[str]
) -> tuple[Choice, ...]:
    rec = set(recommended)
    return tuple(Choice(v, label, v in rec) for v, label in values.items())


def _data_completeness(ctx: _Context, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(ctx.answers)
    rec = "proceed_provisional" if ctx.missing else "proceed"
    facts = [
        Fact("Primary site", PrimarySite(ctx.case.primary_site).label, "primary_site"),
        Fact("Sidedness (derived)", str(advice.sidedness).capitalize()),
        *(
            [Fact("Sidedness (referral)", ctx.case.sidedness_reported, "sidedness_reported")]
            if ctx.case.sidedness_reported
            else []
        ),
        *marker_facts(ctx.case),
        Fact(
            "ECOG",
            "—" if ctx.case.ecog is None else str(ctx.case.ecog),
            "ecog",
            flag="missing" if ctx.case.ecog is None else "",
        ),
    ]
    missing = "; ".join(ctx.missing)
    lines = [
        Line(
            "Minimum dataset",
            "Complete" if not ctx.missing else f"Missing: {missing}",
            "MMR/MSI, RAS (extended), BRAF V600E, ECOG and imaging under 8 weeks old are needed "
            "before a definitive decision.",
            _citations(["D22", "D21"]),
        ),
        _line(
            "Regimen provisional",
            "regimen_provisional",
            advice.regimen_provisional,
            "Yes" if advice.regimen_provisional else "No",
        ),
    ]
    return Step(
        point=P.DATA_COMPLETENESS,
        label=P.DATA_COMPLETENESS.label,
        number=0,
        facts=facts,
        lines=lines,
        recommended_text=DATA_LABELS[rec],
        fields=[
            Field(
                "choice",
                "radio",
                "The MDT's view of the data",
                _recommended_choices(DATA_LABELS, [rec]),
            )
        ],
        initial={"choice": rec},
        alerts=[],
    )


def _reassessment_facts(ctx: _Context) -> list[Fact]:
    record = ctx.record
    latest = max(ctx.case.reassessments.all(), key=lambda r: r.cycle, default=None)
    facts = []
    if latest is not None:
        facts.append(
            Fact(
                f"Latest scan (cycle {latest.cycle})",
                _fmt_date(latest.imaging_performed_on)
                + (f", {latest.get_response_display()}" if latest.response else ""),
            )
        )
    r0 = record.get("r0_achievable")
    facts += [
        Fact(
            "HPB MDT reviewed",
            "Yes" if record.get("hpb_mdt_reviewed") else "No",
            "hpb_mdt_reviewed",
        ),
        Fact(
            "R0 achievable",
            "Not assessed" if r0 is None else ("Yes" if r0 else "No"),
            "r0_achievable",
        ),
        Fact("FLR (% SLV, one stage)", _num(record.get("flr_percent_slv")), "flr_percent_slv"),
        Fact(
            "Segments remaining",
            _num(record.get("flr_segments_remaining")),
            "flr_segments_remaining",
        ),
        Fact(
            "Extrahepatic disease",
            str(record.get("extrahepatic_disease", "none")).capitalize(),
            "extrahepatic_disease",
        ),
    ]
    if record.get("pet_complete_metabolic_response"):
        facts.append(
            Fact("PET complete metabolic response", "Yes", "pet_complete_metabolic_response")
        )
    return facts


def _num(value: object) -> str:
    return "—" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _resectability(ctx: _Context, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(_without(ctx.answers, P.RESECTABILITY))
    status = str(advice.conversion_status)
    lines = [_line("Conversion status", "conversion_status", status, CONVERSION_LABELS[status])]
    if advice.hepatectomy_strategy is not None:
        strategy = str(advice.hepatectomy_strategy)
        lines.append(
            _line(
                "Hepatectomy strategy",
                "hepatectomy_strategy",
                strategy,
                LIVER_SURGERY_LABELS.get(strategy, "Not applicable"),
            )
        )
    return Step(
        point=P.RESECTABILITY,
        label=P.RESECTABILITY.label,
        number=0,
        facts=_reassessment_facts(ctx),
        lines=lines,
        recommended_text=CONVERSION_LABELS[status],
        fields=[
            Field(
                "choice",
                "radio",
                "The MDT's resectability verdict (HPB-led)",
                _recommended_choices(CONVERSION_LABELS, [status]),
            )
        ],
        initial={"choice": status},
        alerts=[],
    )


def _primary_recommended(advice: Advice) -> list[str]:
    options = [str(o) for o in advice.symptomatic_primary_options]
    return options or ["no_intervention"]


def _primary_management(ctx: _Context, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(_without(ctx.answers, P.PRIMARY_MANAGEMENT))
    symptom = ctx.case.primary_symptom
    rec = _primary_recommended(advice)
    if advice.symptomatic_primary_options:
        lines = [
            _line(
                "Option for a symptomatic primary",
                "symptomatic_primary_options",
                o,
                PRIMARY_LABELS[str(o)],
            )
            for o in advice.symptomatic_primary_options
        ]
    else:
        lines = [
            Line(
                "Asymptomatic primary",
                PRIMARY_LABELS["no_intervention"],
                "Start systemic therapy at once and leave an asymptomatic primary in place while "
                "the metastases are not converted; it is dealt with in the surgical sequence.",
                _citations(["D1", "D11", "C22"]),
            )
        ]
    return Step(
        point=P.PRIMARY_MANAGEMENT,
        label=P.PRIMARY_MANAGEMENT.label,
        number=0,
        facts=[
            Fact("Primary site", PrimarySite(ctx.case.primary_site).label, "primary_site"),
            Fact("Symptoms", PrimarySymptom(symptom).label, "primary_symptom"),
            Fact("Conversion status", CONVERSION_LABELS[str(advice.conversion_status)]),
        ],
        lines=lines,
        recommended_text=" or ".join(PRIMARY_LABELS[v] for v in rec),
        fields=[
            Field(
                "choice",
                "radio",
                "What the MDT decides for the primary",
                _recommended_choices(PRIMARY_LABELS, rec),
            )
        ],
        initial={"choice": rec[0]},
        alerts=[],
    )


def _current_course(ctx: _Context) -> TreatmentCourse | None:
    open_courses = [c for c in ctx.case.treatment_courses.all() if c.stopped_on is None]
    return max(open_courses, key=lambda c: c.started_on, default=None)


def _systemic_therapy(ctx: _Context, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(_without(ctx.answers, P.SYSTEMIC_THERAPY))
    family = str(advice.recommended_regimen_family)
    course = _current_course(ctx)
    record = ctx.record
    facts = [
        Fact("Age", str(record.get("age_years", "—")), "age_years"),
        Fact("ECOG", "—" if ctx.case.ecog is None else str(ctx.case.ecog), "ecog"),
        Fact("Sidedness (derived)", str(advice.sidedness).capitalize()),
        *marker_facts(ctx.case),
        Fact("Current regimen", str(course) if course else "None", ""),
    ]
    lines = [
        _line("Recommended regimen", "recommended_regimen_family", family, REGIMEN_LABELS[family]),
        _line(
            "Provisional",
            "regimen_provisional",
            advice.regimen_provisional,
            "Yes: results outstanding" if advice.regimen_provisional else "No",
        ),
        _line(
            "Triplet (FOLFOXIRI) eligible",
            "triplet_eligible",
            advice.triplet_eligible,
            "Yes" if advice.triplet_eligible else "No",
        ),
    ]
    initial_agents = list(course.agents) if course else []
    return Step(
        point=P.SYSTEMIC_THERAPY,
        label=P.SYSTEMIC_THERAPY.label,
        number=0,
        facts=facts,
        lines=lines,
        recommended_text=REGIMEN_LABELS[family],
        fields=[
            Field(
                "agents",
                "checkboxes",
                "Agents (tick none for no systemic therapy)",
                tuple(Choice(v, label) for v, label in Agent.choices),
                required=False,
                help="Pre-filled with the current regimen.",
            )
        ],
        initial={"agents": initial_agents},
        alerts=[],
    )


def _pelvic_recommended(ctx: _Context) -> list[str]:
    """The pelvic choices that add no alert of their own.

    Compared with "none" rather than with no alert at all: the deferral warning can already be
    raised by the primary-management answer, and that must not make every pelvic choice wrong.
    """
    others = _without(ctx.answers, P.PELVIC_RADIOTHERAPY)

    def codes(value: str) -> set[str]:
        answer = {**others, P.PELVIC_RADIOTHERAPY: {"choice": value}}
        return set(point_codes(P.PELVIC_RADIOTHERAPY, ctx.advise(answer)[1]))

    baseline = codes("none")
    return [value for value in PELVIC_LABELS if not codes(value) - baseline]


def _pelvic_radiotherapy(ctx: _Context, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(_without(ctx.answers, P.PELVIC_RADIOTHERAPY))
    rec = _pelvic_recommended(ctx)
    lines = [
        Line(
            "Pelvic radiotherapy without an alert",
            ", ".join(PELVIC_LABELS[v] for v in rec),
            "Long-course chemoradiotherapy is not given while liver metastases are in place; "
            "treatment of an asymptomatic primary waits until the metastases convert.",
            _citations(["D23", "D11"]),
        )
    ]
    if "short_course_rt" in [str(o) for o in advice.symptomatic_primary_options]:
        lines.append(
            _line(
                "Option for a symptomatic primary",
                "symptomatic_primary_options",
                "short_course_rt",
                PRIMARY_LABELS["short_course_rt"],
            )
        )
    scrt = ctx.record.get("scrt_completion_date")
    facts = [
        Fact("Primary site", PrimarySite(ctx.case.primary_site).label, "primary_site"),
        Fact("Symptoms", PrimarySymptom(ctx.case.primary_symptom).label, "primary_symptom"),
        Fact("Conversion status", CONVERSION_LABELS[str(advice.conversion_status)]),
        Fact(
            "Liver metastases cleared",
            "Yes" if ctx.record.get("liver_metastases_cleared") else "No",
            "liver_metastases_cleared",
        ),
        *(
            [Fact("Short course completed", _fmt_date(scrt), "scrt_completion_date")]
            if scrt
            else []
        ),
    ]
    primary_choice = ctx.answers.get(P.PRIMARY_MANAGEMENT, {}).get("choice")
    initial = "short_course_5x5" if primary_choice == "short_course_rt" else rec[0]
    return Step(
        point=P.PELVIC_RADIOTHERAPY,
        label=P.PELVIC_RADIOTHERAPY.label,
        number=0,
        facts=facts,
        lines=lines,
        recommended_text=" or ".join(PELVIC_LABELS[v] for v in rec),
        fields=[
            Field(
                "choice", "radio", "Pelvic radiotherapy", _recommended_choices(PELVIC_LABELS, rec)
            )
        ],
        initial={"choice": initial},
        alerts=[],
    )


def _liver_recommendation(advice: Advice) -> tuple[list[str], str | None]:
    """(recommended liver operations, recommended sequence or None)."""
    if str(advice.conversion_status) != "converted_resectable":
        return ["none"], None
    strategy = advice.hepatectomy_strategy
    surgeries = (
        [str(strategy)]
        if strategy is not None and str(strategy) != "not_applicable"
        else ["one_stage_hepatectomy", "two_stage_hepatectomy"]
    )
    sequence = str(advice.recommended_sequence)
    return surgeries, (None if sequence == "not_applicable" else sequence)


def _sequencing_asked(ctx: _Context, advice: Advice) -> bool:
    return str(advice.conversion_status) == "converted_resectable" and not ctx.primary_resected


def _liver_surgery(ctx: _Context, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(_without(ctx.answers, P.LIVER_SURGERY))
    surgeries, sequence = _liver_recommendation(advice)
    status = str(advice.conversion_status)
    lines = [_line("Conversion status", "conversion_status", status, CONVERSION_LABELS[status])]
    if advice.hepatectomy_strategy is not None:
        strategy = str(advice.hepatectomy_strategy)
        lines.append(
            _line(
                "Hepatectomy strategy",
                "hepatectomy_strategy",
                strategy,
                LIVER_SURGERY_LABELS.get(strategy, "Not applicable"),
            )
        )
    elif status == "converted_resectable":
        lines.append(Line("Hepatectomy strategy", "Undetermined until the FLR is measured"))
    fields = [
        Field(
            "surgery",
            "radio",
            "Liver surgery",
            _recommended_choices(LIVER_SURGERY_LABELS, surgeries),
        ),
        Field(
            "liver_biopsy",
            "checkbox",
            "Liver biopsy proposed",
            required=False,
            help="Only after HPB MDT discussion.",
        ),
    ]
    if _sequencing_asked(ctx, advice):
        options = [str(o) for o in advice.sequencing_options]
        for option in options:
            lines.append(
                _line("Sequencing option", "sequencing_options", option, SEQUENCE_LABELS[option])
            )
        if sequence:
            lines.append(
                _line(
                    "Recommended sequence",
                    "recommended_sequence",
                    sequence,
                    SEQUENCE_LABELS[sequence],
                )
            )
        fields.append(
            Field(
                "sequence",
                "radio",
                "Sequence of the operations (if surgery is proposed)",
                tuple(Choice(v, SEQUENCE_LABELS[v], v == sequence) for v in options),
                required=False,
            )
        )
    text = " or ".join(LIVER_SURGERY_LABELS[s] for s in surgeries)
    if sequence:
        text += f", {SEQUENCE_LABELS[sequence].lower()}"
    return Step(
        point=P.LIVER_SURGERY,
        label=P.LIVER_SURGERY.label,
        number=0,
        facts=_reassessment_facts(ctx),
        lines=lines,
        recommended_text=text,
        fields=fields,
        initial={"surgery": surgeries[0], "liver_biopsy": False, "sequence": sequence},
        alerts=[],
    )


def _timing_what_if(ctx: _Context, target: str) -> dict[str, object]:
    _proposed, proposed_with_primary = _surgery_proposed(ctx)
    record = ctx.record
    return {
        "planned_surgery_date": target,
        "planned_surgery_urgency": record.get("planned_surgery_urgency", "elective"),
        "planned_surgery_includes_primary": bool(record.get("planned_surgery_includes_primary"))
        or proposed_with_primary,
    }


def _timing(ctx: _Context, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(_without(ctx.answers, P.TIMING))
    record = ctx.record
    lines = []
    if advice.earliest_elective_surgery_date:
        lines.append(
            _line(
                "Earliest elective surgery",
                "earliest_elective_surgery_date",
                None,
                _fmt_date(advice.earliest_elective_surgery_date.isoformat()),
            )
        )
    if advice.latest_primary_surgery_date_after_scrt:
        lines.append(
            _line(
                "Latest surgery on the primary after SCRT",
                "latest_primary_surgery_date_after_scrt",
                None,
                _fmt_date(advice.latest_primary_surgery_date_after_scrt.isoformat()),
            )
        )
    facts = [
        Fact(
            "Last bevacizumab dose",
            _fmt_date(record.get("last_bevacizumab_dose_date")),
            "last_bevacizumab_dose_date",
        ),
        Fact(
            "Planned surgery", _fmt_date(record.get("planned_surgery_date")), "planned_surgery_date"
        ),
        Fact(
            "Urgency",
            str(record.get("planned_surgery_urgency", "elective")).capitalize(),
            "planned_surgery_urgency",
        ),
        Fact(
            "Short course completed",
            _fmt_date(record.get("scrt_completion_date")),
            "scrt_completion_date",
        ),
    ]
    earliest = advice.earliest_elective_surgery_date
    planned = record.get("planned_surgery_date")
    initial = planned or (max(earliest, ctx.meeting_day).isoformat() if earliest else None)
    window = []
    if earliest:
        window.append(f"on or after {_fmt_date(earliest.isoformat())}")
    if advice.latest_primary_surgery_date_after_scrt:
        window.append(
            f"by {_fmt_date(advice.latest_primary_surgery_date_after_scrt)} "
            "if it includes the primary"
        )
    return Step(
        point=P.TIMING,
        label=P.TIMING.label,
        number=0,
        facts=facts,
        lines=lines,
        recommended_text="Surgery " + " and ".join(window) if window else "No constraint",
        fields=[
            Field(
                "target_surgery_date",
                "date",
                "Date the MDT sets for surgery",
                min_value=ctx.meeting_day,
                max_value=ctx.meeting_day + dt.timedelta(days=MAX_SURGERY_DAYS_AHEAD),
                help="The operation is booked on the case record; this is the date the MDT agrees.",
            )
        ],
        initial={"target_surgery_date": initial},
        alerts=[],
    )


def _postoperative(ctx: _Context, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(_without(ctx.answers, P.POSTOPERATIVE))
    record = ctx.record
    facts = [
        Fact("Margin", str(record.get("surgical_margin", "—")).upper(), "surgical_margin"),
        Fact(
            "Chemotherapy before surgery (months)",
            _num(record.get("preop_chemo_months_given")),
            "preop_chemo_months_given",
        ),
        Fact(
            "Backbone before surgery",
            BACKBONE_LABELS.get(str(record.get("preop_backbone")), "—"),
            "preop_backbone",
        ),
    ]
    lines = []
    if advice.postop_chemo_recommended is not None:
        lines.append(
            _line(
                "Post-operative chemotherapy",
                "postop_chemo_recommended",
                advice.postop_chemo_recommended,
                "Recommended" if advice.postop_chemo_recommended else "Not needed",
            )
        )
    if advice.postop_chemo_months is not None:
        lines.append(_line("Months", "postop_chemo_months", None, _num(advice.postop_chemo_months)))
    elif advice.postop_chemo_recommended:
        lines.append(Line("Months", "MDT decision"))
    if advice.postop_backbone is not None:
        lines.append(
            _line("Backbone", "postop_backbone", None, BACKBONE_LABELS[str(advice.postop_backbone)])
        )
    rec_chemo = advice.postop_chemo_recommended
    text = (
        "MDT decision"
        if rec_chemo is None
        else (
            "Post-operative chemotherapy"
            + (
                f", {_num(advice.postop_chemo_months)} months"
                if advice.postop_chemo_months is not None
                else ""
            )
            + (
                f", {BACKBONE_LABELS[str(advice.postop_backbone)]}"
                if advice.postop_backbone
                else ""
            )
            if rec_chemo
            else "No post-operative chemotherapy"
        )
    )
    months = advice.postop_chemo_months
    return Step(
        point=P.POSTOPERATIVE,
        label=P.POSTOPERATIVE.label,
        number=0,
        facts=facts,
        lines=lines,
        recommended_text=text,
        fields=[
            Field(
                "postop_chemo",
                "radio",
                "Post-operative chemotherapy",
                _recommended_choices(
                    YES_NO, [] if rec_chemo is None else ["yes" if rec_chemo else "no"]
                ),
            ),
            Field(
                "months",
                "number",
                "Months",
                required=False,
                min_value=0,
                max_value=POSTOP_MAX_MONTHS,
                help="Leave empty if the MDT sets no duration.",
            ),
            Field(
                "backbone",
                "select",
                "Backbone",
                tuple(Choice(v, label) for v, label in Backbone.choices),
                required=False,
            ),
        ],
        initial={
            "postop_chemo": None if rec_chemo is None else ("yes" if rec_chemo else "no"),
            "months": months,
            "backbone": str(advice.postop_backbone) if advice.postop_backbone else None,
        },
        alerts=[],
    )


def _recommended_outcome(ctx: _Context) -> str:
    if ctx.deferred:
        return "rediscuss"
    liver = ctx.answers.get(P.LIVER_SURGERY, {}).get("surgery")
    primary = ctx.answers.get(P.PRIMARY_MANAGEMENT, {}).get("choice")
    if liver in ("one_stage_hepatectomy", "two_stage_hepatectomy") or primary in (
        "primary_resection",
        "emergency_surgery",
    ):
        return "proceed_to_surgery"
    return "continue_pathway"


def _outcome(ctx: _Context, decision: Decision | None) -> Step:
    rec = _recommended_outcome(ctx)
    chosen = (decision.answer.get("choice") if decision else None) or rec
    plan = reassessment_plan(ctx, chosen)
    _inputs, advice = ctx.advise(ctx.answers)
    lines = [
        Line(
            "Recommended outcome",
            OUTCOME_LABELS[rec],
            "From the answers above: surgery when a liver operation or resection of the primary "
            "was decided, otherwise the next 2-monthly reassessment.",
        )
    ]
    if plan.next_on:
        entry = RECOMMENDATIONS["next_reassessment_date"]
        lines.append(
            Line(
                "Next reassessment",
                _fmt_date(plan.next_on.isoformat()),
                f"{entry.text} Anchor: {plan.anchor_text}.",
                _citations(entry.citations),
            )
        )
    else:
        lines.append(Line("Next reassessment", "None scheduled", plan.note))
    return Step(
        point=P.OUTCOME,
        label=P.OUTCOME.label,
        number=0,
        facts=[
            Fact("Conversion status", CONVERSION_LABELS[str(advice.conversion_status)]),
            Fact(
                "Last reassessment",
                _fmt_date(ctx.record.get("last_reassessment_date")),
                "last_reassessment_date",
            ),
            Fact(
                "Chemotherapy started",
                _fmt_date(ctx.record.get("chemo_start_date")),
                "chemo_start_date",
            ),
        ],
        lines=lines,
        recommended_text=OUTCOME_LABELS[rec],
        fields=[Field("choice", "radio", "Outcome", _recommended_choices(OUTCOME_LABELS, [rec]))],
        initial={"choice": rec},
        alerts=[],
    )


_BUILDERS = {
    P.DATA_COMPLETENESS: _data_completeness,
    P.RESECTABILITY: _resectability,
    P.PRIMARY_MANAGEMENT: _primary_management,
    P.SYSTEMIC_THERAPY: _systemic_therapy,
    P.PELVIC_RADIOTHERAPY: _pelvic_radiotherapy,
    P.LIVER_SURGERY: _liver_surgery,
    P.TIMING: _timing,
    P.POSTOPERATIVE: _postoperative,
    P.OUTCOME: _outcome,
}


# --- Answers: validation, evaluation, description -------------------------------------------------


def check_answer(step: Step, answer: dict[str, Any]) -> dict[str, Any]:
    """The answer in canonical form, or ``AnswerError`` naming the field that is wrong."""
    clean: dict[str, Any] = {}
    for f in step.fields:
        value = answer.get(f.name)
        allowed = {c.value for c in f.choices}
        if f.kind in ("radio", "select"):
            if value in (None, ""):
                if f.required:
                    raise AnswerError(f.name, f"Choose one: {f.label.lower()}.")
                clean[f.name] = None
            elif value not in allowed:
                raise AnswerError(
                    f.name, f"“{value}” is not one of the choices for {f.label.lower()}."
                )
            else:
                clean[f.name] = value
        elif f.kind == "checkboxes":
            values = list(value or [])
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise AnswerError(f.name, f"Not a choice: {', '.join(map(str, unknown))}.")
            clean[f.name] = [c.value for c in f.choices if c.value in values]  # canonical order
        elif f.kind == "checkbox":
            clean[f.name] = bool(value)
        elif f.kind == "date":
            clean[f.name] = _check_date(f, value)
        elif f.kind == "number":
            clean[f.name] = _check_number(f, value)
    if step.point == P.LIVER_SURGERY:
        _check_sequence(step, clean)
    return clean


def _check_date(f: Field, value: object) -> str | None:
    if value in (None, ""):
        if f.required:
            raise AnswerError(f.name, f"Enter the {f.label.lower()}.")
        return None
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        raise AnswerError(f.name, f"“{value}” is not a date (use YYYY-MM-DD).") from None
    if f.min_value and day < f.min_value:
        raise AnswerError(
            f.name, f"The date cannot be before {_fmt_date(f.min_value.isoformat())} (the meeting)."
        )
    if f.max_value and day > f.max_value:
        raise AnswerError(
            f.name,
            f"The date cannot be after {_fmt_date(f.max_value.isoformat())}: check the year.",
        )
    return day.isoformat()


def _check_number(f: Field, value: object) -> float | None:
    if value in (None, ""):
        if f.required:
            raise AnswerError(f.name, f"Enter the {f.label.lower()}.")
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise AnswerError(f.name, f"“{value}” is not a number.") from None
    if not number.is_finite() or number < f.min_value or number > f.max_value:
        raise AnswerError(f.name, f"{f.label} must be between {f.min_value} and {f.max_value}.")
    return float(number)


def _check_sequence(step: Step, clean: dict[str, Any]) -> None:
    asked = any(f.name == "sequence" for f in step.fields)
    if not asked:
        clean["sequence"] = None
        return
    if clean["surgery"] == "none":
        clean["sequence"] = None
    elif not clean.get("sequence"):
        raise AnswerError("sequence", "Choose the sequence of the operations.")


def evaluate(ctx: _Context, point: str, answer: Mapping[str, Any]) -> Evaluation:
    """Try ``answer`` at ``point`` with the other answers in force: codes and adherence."""
    answers = {**ctx.answers, point: dict(answer)}
    what_if = None
    if point == P.TIMING and answer.get("target_surgery_date"):
        what_if = _timing_what_if(ctx, answer["target_surgery_date"])
    inputs, advice = ctx.advise(answers, what_if)
    stops, warns = point_codes(point, advice)
    follows, recommendation = _adherence(ctx, point, answer, advice, bool(stops or warns))
    return Evaluation(point, dict(answer), inputs, advice, stops, warns, follows, recommendation)


def _adherence(
    ctx: _Context, point: str, answer: Mapping[str, Any], advice: Advice, alerted: bool
) -> tuple[bool, dict[str, Any]]:
    """(does the answer follow the recommendation, the recommendation as stored)."""
    if point == P.DATA_COMPLETENESS:
        rec = "proceed_provisional" if ctx.missing else "proceed"
        return answer["choice"] == rec, {"choice": rec, "missing": ctx.missing}
    if point == P.RESECTABILITY:
        base = ctx.advise(_without(ctx.answers, point))[1]
        status = str(base.conversion_status)
        return answer["choice"] == status, {
            "conversion_status": status,
            "hepatectomy_strategy": base.hepatectomy_strategy and str(base.hepatectomy_strategy),
        }
    if point == P.PRIMARY_MANAGEMENT:
        rec = _primary_recommended(advice)
        return answer["choice"] in rec, {"choices": rec}
    if point == P.SYSTEMIC_THERAPY:
        family = str(advice.recommended_regimen_family)
        agents = answer.get("agents", [])
        if family == "no_intensive_therapy_mdt_review":
            follows = not set(agents) & CYTOTOXIC_PARTNER
        else:
            follows = regimen_family_of(agents) == family
        return follows, {
            "recommended_regimen_family": family,
            "regimen_provisional": advice.regimen_provisional,
            "triplet_eligible": advice.triplet_eligible,
            "answer_family": regimen_family_of(agents),
        }
    if point == P.PELVIC_RADIOTHERAPY:
        rec = _pelvic_recommended(ctx)
        return answer["choice"] in rec, {"choices": rec}
    if point == P.LIVER_SURGERY:
        surgeries, sequence = _liver_recommendation(advice)
        follows = answer["surgery"] in surgeries and (
            answer["surgery"] == "none"
            or not answer.get("sequence")
            or answer["sequence"] == sequence
        )
        return follows, {
            "conversion_status": str(advice.conversion_status),
            "hepatectomy_strategy": advice.hepatectomy_strategy
            and str(advice.hepatectomy_strategy),
            "surgery": surgeries,
            "recommended_sequence": sequence,
            "sequencing_options": [str(o) for o in advice.sequencing_options],
        }
    if point == P.TIMING:
        return not alerted, {
            "earliest_elective_surgery_date": _iso(advice.earliest_elective_surgery_date),
            "latest_primary_surgery_date_after_scrt": _iso(
                advice.latest_primary_surgery_date_after_scrt
            ),
        }
    if point == P.POSTOPERATIVE:
        return _postop_follows(answer, advice), {
            "postop_chemo_recommended": advice.postop_chemo_recommended,
            "postop_chemo_months": advice.postop_chemo_months,
            "postop_backbone": advice.postop_backbone and str(advice.postop_backbone),
        }
    if point == P.OUTCOME:
        rec = _recommended_outcome(ctx)
        plan = reassessment_plan(ctx, answer["choice"])
        return answer["choice"] == rec, {
            "outcome": rec,
            "next_reassessment_date": _iso(plan.next_on),
            "anchor": _iso(plan.anchor),
        }
    raise ValueError(f"unknown decision point {point!r}")


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _postop_follows(answer: Mapping[str, Any], advice: Advice) -> bool:
    recommended = advice.postop_chemo_recommended
    chemo = answer.get("postop_chemo") == "yes"
    if recommended is not None and chemo != recommended:
        return False
    if not chemo:
        return True
    months = advice.postop_chemo_months
    if months is not None and answer.get("months") is not None and answer["months"] != months:
        return False
    backbone = advice.postop_backbone
    return not (backbone and answer.get("backbone") and answer["backbone"] != str(backbone))


def evaluate_answer(
    case: Case,
    decisions: Sequence[Decision],
    *,
    meeting_day: dt.date,
    point: str,
    answer: Mapping[str, Any],
) -> tuple[Step, dict[str, Any], Evaluation]:
    """Validate ``answer`` for ``point`` and try it: (the card, the clean answer, evaluation).

    Raises ``AnswerError`` when the point does not apply or the answer is not valid for it.
    """
    ctx = _Context(case, decisions, meeting_day)
    if point not in POINT_ORDER or not applies(ctx, point):
        raise AnswerError("", "This decision point does not apply to this case any more.")
    step = _BUILDERS[point](ctx, ctx.current.get(point))
    clean = check_answer(step, dict(answer))
    return step, clean, evaluate(ctx, point, clean)


def plan_for(
    case: Case, decisions: Sequence[Decision], *, meeting_day: dt.date
) -> ReassessmentPlan:
    """The reassessment plan for the outcome in force (sign-off schedules exactly this)."""
    ctx = _Context(case, decisions, meeting_day)
    outcome = ctx.answers.get(P.OUTCOME, {}).get("choice") or _recommended_outcome(ctx)
    return reassessment_plan(ctx, outcome)


def reassessment_plan(ctx: _Context, outcome: str) -> ReassessmentPlan:
    """The next reassessment date and what signing off will change (the anchor rule).

    Anchor rule (pathway-spec R9, re-anchored on the actual reassessment): if the case has an
    open reassessment whose scan was done on or before the meeting day, this meeting *is* that
    reassessment: sign-off marks it reassessed on the meeting day and the engine counts the next
    one from the meeting day. Otherwise the engine's own anchor stands (the last reassessment,
    else the start of chemotherapy). Only "continue the pathway" schedules a reassessment;
    surgery, leaving the pathway and re-discussion schedule none (the surgery and the next
    meeting are booked on the record, so no reassessment reminder runs meanwhile).
    """
    open_rows = [r for r in ctx.case.reassessments.all() if r.reassessed_on is None]
    imaged = [
        r for r in open_rows if r.imaging_performed_on and r.imaging_performed_on <= ctx.meeting_day
    ]
    performed = max(imaged, key=lambda r: r.cycle, default=None)
    waiting = [r for r in open_rows if r is not performed and not r.imaging_performed_on]
    reschedule = max(waiting, key=lambda r: r.cycle, default=None)
    if outcome not in ("continue_pathway", "proceed_to_surgery"):
        note = {
            "rediscuss": "The case is to be re-discussed; no reassessment is scheduled now.",
            "leave_pathway": "The case leaves the conversion pathway; no reassessment.",
        }.get(outcome, "")
        return ReassessmentPlan(outcome, None, None, "", None, None, note)
    if outcome == "proceed_to_surgery":
        return ReassessmentPlan(
            outcome,
            None,
            ctx.meeting_day if performed else None,
            "",
            performed,
            None,
            "The case proceeds to surgery; no further conversion reassessment is scheduled.",
        )
    what_if = {"last_reassessment_date": ctx.meeting_day.isoformat()} if performed else None
    inputs, advice = ctx.advise(ctx.answers, what_if)
    anchor_key = (
        "last_reassessment_date" if "last_reassessment_date" in inputs else "chemo_start_date"
    )
    anchor_value = inputs.get(anchor_key)
    anchor = dt.date.fromisoformat(str(anchor_value)) if anchor_value else None
    if performed is not None:
        text = (
            f"this meeting ({_fmt_date(ctx.meeting_day)}), "
            f"reassessing the scan of cycle {performed.cycle}"
        )
    elif anchor_key == "last_reassessment_date" and anchor:
        text = f"the last reassessment on {_fmt_date(anchor.isoformat())}"
    elif anchor:
        text = f"the start of chemotherapy on {_fmt_date(anchor.isoformat())}"
    else:
        text = ""
    note = (
        ""
        if advice.next_reassessment_date
        else "No date yet: chemotherapy has not started and no reassessment has been done."
    )
    return ReassessmentPlan(
        outcome, advice.next_reassessment_date, anchor, text, performed, reschedule, note
    )


def describe_answer(point: str, answer: Mapping[str, Any]) -> str:
    """The answer in words, for the card, the outcome and the printed page."""
    if point == P.DATA_COMPLETENESS:
        return DATA_LABELS.get(answer.get("choice", ""), "—")
    if point == P.RESECTABILITY:
        return CONVERSION_LABELS.get(answer.get("choice", ""), "—")
    if point == P.PRIMARY_MANAGEMENT:
        return PRIMARY_LABELS.get(answer.get("choice", ""), "—")
    if point == P.SYSTEMIC_THERAPY:
        agents = answer.get("agents") or []
        return ", ".join(AGENT_LABELS.get(a, a) for a in agents) or "No systemic therapy"
    if point == P.PELVIC_RADIOTHERAPY:
        return PELVIC_LABELS.get(answer.get("choice", ""), "—")
    if point == P.LIVER_SURGERY:
        text = LIVER_SURGERY_LABELS.get(answer.get("surgery", ""), "—")
        if answer.get("sequence"):
            text += f", {SEQUENCE_LABELS[answer['sequence']].lower()}"
        if answer.get("liver_biopsy"):
            text += "; liver biopsy"
        return text
    if point == P.TIMING:
        return f"Surgery on {_fmt_date(answer.get('target_surgery_date'))}"
    if point == P.POSTOPERATIVE:
        if answer.get("postop_chemo") != "yes":
            return "No post-operative chemotherapy"
        parts = ["Post-operative chemotherapy"]
        if answer.get("months") is not None:
            parts.append(f"{_num(answer['months'])} months")
        if answer.get("backbone"):
            parts.append(BACKBONE_LABELS.get(answer["backbone"], answer["backbone"]))
        return ", ".join(parts)
    if point == P.OUTCOME:
        return OUTCOME_LABELS.get(answer.get("choice", ""), "—")
    return str(answer)
