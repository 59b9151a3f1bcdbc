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


class WalkContext:
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


def without(answers: Mapping[str, Any], point: str) -> dict[str, Any]:
    return {p: a for p, a in answers.items() if p != point}
