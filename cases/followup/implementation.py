"""Which signed-off decisions ask for something to happen, and what (read only, no database).

A decision that starts or changes treatment, refers, books surgery, a scan, a biopsy or
radiotherapy gets a follow-up record; one that changes nothing ("no intervention now", "no liver
surgery now", "re-discuss") gets none. The description is the walk's own words for the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cases.meetings.walk.labels import describe_answer, fmt_date
from cases.models import Decision, DecisionPoint, FollowUpKind

P = DecisionPoint
F = FollowUpKind

PRIMARY_KINDS = {
    "defunctioning_stoma": F.SURGERY,
    "colorectal_stent": F.SURGERY,
    "primary_resection": F.SURGERY,
    "emergency_surgery": F.SURGERY,
    "short_course_rt": F.RADIOTHERAPY,
    "endoscopic_haemostasis": F.TREATMENT,
    "transfusion_support": F.TREATMENT,
}


@dataclass(frozen=True)
class Implied:
    decision: Decision
    kind: str
    description: str


def _implied(decision: Decision, next_reassessment: object) -> Iterable[tuple[str, str]]:
    answer = decision.answer or {}
    words = describe_answer(decision.point, answer)
    point = decision.point
    if point == P.RESECTABILITY and answer.get("choice") == "resectability_unconfirmed":
        yield F.REFERRAL, "Refer for HPB MDT review of resectability"
    elif point == P.PRIMARY_MANAGEMENT and answer.get("choice") in PRIMARY_KINDS:
        yield PRIMARY_KINDS[answer["choice"]], words
    elif point == P.SYSTEMIC_THERAPY and answer.get("agents"):
        yield F.TREATMENT, f"Start or continue systemic therapy: {words}"
    elif point == P.PELVIC_RADIOTHERAPY and answer.get("choice") not in (None, "", "none"):
        yield F.RADIOTHERAPY, words
    elif point == P.LIVER_SURGERY:
        if answer.get("surgery") not in (None, "", "none"):
            yield F.SURGERY, f"Book liver surgery: {words}"
        if answer.get("liver_biopsy"):
            yield F.BIOPSY, "Liver biopsy"
    elif point == P.POSTOPERATIVE and answer.get("postop_chemo") == "yes":
        yield F.TREATMENT, words
    elif point == P.OUTCOME and answer.get("choice") == "continue_pathway":
        when = f" by {fmt_date(next_reassessment)}" if next_reassessment else ""
        yield F.SCAN, f"Reassessment imaging{when}"


def follow_ups_implied(
    decisions: Iterable[Decision], *, next_reassessment: object
) -> list[Implied]:
    """The follow-ups the current (not superseded) decisions of a signed-off outcome imply."""
    found = []
    for decision in decisions:
        for kind, description in _implied(decision, next_reassessment):
            found.append(Implied(decision, kind, description[:300]))
    return found
