"""What a walk is made of: cards (steps) with their facts, recommendation lines, alerts and
answer fields; an answer's evaluation; the reassessment plan."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cases.pathway import Advice, advice_to_dict

if TYPE_CHECKING:
    from cases.models import Decision, Reassessment


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
    # "pending" (result awaited), "missing" (needed, not tested), "stale" (too old): stands out
    flag: str = ""
    on: str = ""  # the date the fact was recorded or measured, in words ("—" when unknown)


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    recommended: bool = False


@dataclass(frozen=True)
class Field:
    """One input of a card's answer form; the view builds a Django form from these."""

    name: str
    kind: str  # radio, checkboxes, checkbox, date, number, integer, select
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
    rule_on: dt.date | None = None  # the engine's date (R9), passed or not


@dataclass
class Walk:
    steps: list[Step]
    meeting_day: dt.date
    missing: list[str]
    plan: ReassessmentPlan
    # The engine's advice with every answer so far laid over the record: the dates and codes the
    # case summary shows come from here, never from a sum of its own.
    advice: Advice
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
