"""What every card of one case's walk shares: the stored record as engine inputs, the MDT's
answers so far (laid over the record as its proposal), and the engine's advice, computed once
per combination."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cases.common.constants import rule_constants
from cases.models import DecisionPoint, Surgery
from cases.pathway import Advice, advise, parse_facts
from cases.records.completeness import missing_minimum_dataset
from cases.records.mapping import case_inputs

if TYPE_CHECKING:
    from cases.models import Case, Decision

P = DecisionPoint


def current_decisions(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """The answer in force for each point: the one nothing has superseded."""
    decisions = list(decisions)
    superseded = {d.supersedes_id for d in decisions if d.supersedes_id}
    return {d.point: d for d in decisions if d.pk not in superseded}


R0_VALUES = {"yes": True, "no": False, "not_assessed": None}


def verdict_facts(answer: Mapping[str, Any]) -> dict[str, object]:
    """The HPB verdict given at the resectability point, as A.1 facts (None: not given).

    An answer recorded before the verdict was asked in the meeting carries none of it: then the
    record's verdict stands.
    """
    if "r0_achievable" not in answer:
        return {}
    return {
        "hpb_mdt_reviewed": bool(answer.get("hpb_reviewed")),
        "r0_achievable": R0_VALUES.get(answer["r0_achievable"]),
        "flr_percent_slv": answer.get("flr_percent_slv"),
        "flr_segments_remaining": answer.get("flr_segments_remaining"),
        "extrahepatic_disease": answer.get("extrahepatic_disease") or "none",
        "planned_hepatectomy_extent": answer.get("planned_hepatectomy_extent") or None,
        "combined_resection_technically_feasible": bool(answer.get("combined_resection")),
    }


def proposal_from(answers: Mapping[str, Mapping[str, Any]]) -> dict[str, object]:
    """What the answers so far make true, in walk order: the MDT's proposal (A.1 proposal
    keys) and the facts the meeting itself established (the HPB verdict at the resectability
    point). A value of None removes the record's fact (a verdict that left the FLR unmeasured)."""
    proposal: dict[str, object] = {}
    resectability = answers.get(P.RESECTABILITY)
    if resectability:
        proposal.update(verdict_facts(resectability))
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


class WalkContext:
    """Everything the cards share, computed once per walk (engine calls are memoised)."""

    def __init__(
        self,
        case: Case,
        decisions: Sequence[Decision],
        meeting_day: dt.date,
        *,
        hpb_present: bool = False,
    ) -> None:
        self.case = case
        self.meeting_day = meeting_day
        # A hepatobiliary surgeon is recorded present: the meeting is an HPB MDT review.
        self.hpb_present = hpb_present
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
        merged = {**self.record, **proposal_from(answers), **self._planned_bev(answers)}
        merged.update(what_if or {})
        # G4: only r0_achievable may be null; another None means "not known": leave it out.
        inputs = {k: v for k, v in merged.items() if v is not None or k == "r0_achievable"}
        key = repr(sorted(inputs.items()))
        if key not in self._cache:
            self._cache[key] = (inputs, advise(parse_facts(inputs), self.constants))
        return self._cache[key]

    def bevacizumab_planned(self, answers: Mapping[str, Mapping[str, Any]]) -> bool:
        """The plan under discussion gives bevacizumab: the systemic therapy answer, or (before
        it is answered) the current course."""
        systemic = answers.get(P.SYSTEMIC_THERAPY)
        if systemic is not None:
            return "bevacizumab" in (systemic.get("agents") or [])
        return any(
            "bevacizumab" in c.agents and c.stopped_on is None
            for c in self.case.treatment_courses.all()
        )

    def _planned_bev(self, answers: Mapping[str, Mapping[str, Any]]) -> dict[str, object]:
        """H2: a plan that continues bevacizumab before elective surgery counts the interval
        from its planned last dose (the timing answer gives it), when later than the last given."""
        planned = (answers.get(P.TIMING) or {}).get("last_bev_planned")
        if not planned or not self.bevacizumab_planned(answers):
            return {}
        given = self.record.get("last_bevacizumab_dose_date")
        return {"last_bevacizumab_dose_date": max(str(given or planned), str(planned))}

    @property
    def deferred(self) -> bool:
        return self.answers.get(P.DATA_COMPLETENESS, {}).get("choice") == "defer"


def without(answers: Mapping[str, Any], point: str) -> dict[str, Any]:
    return {p: a for p, a in answers.items() if p != point}
