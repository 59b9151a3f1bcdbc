"""The engine's recommendation, as a decision stored it, in words (for the exported CarePlan).

A decision keeps the recommendation it was made against in ``advice_snapshot["recommendation"]``
(``cases/meetings/walk/answers.py``, ``_adherence``); this turns it into the card's wording, with
the walk's own labels, so no internal code reaches an outside system.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cases.meetings.walk.labels import (
    BACKBONE_LABELS,
    CONVERSION_LABELS,
    DATA_LABELS,
    LIVER_SURGERY_LABELS,
    OUTCOME_LABELS,
    PELVIC_LABELS,
    PRIMARY_LABELS,
    REGIMEN_LABELS,
    SEQUENCE_LABELS,
    fmt_date,
    fmt_number,
)
from cases.models import DecisionPoint

P = DecisionPoint


def _either(labels: Mapping[str, str], values: Any) -> str:
    return " or ".join(labels.get(v, v) for v in values or [])


def _timing(rec: Mapping[str, Any]) -> str:
    window = []
    if rec.get("earliest_elective_surgery_date"):
        window.append(f"on or after {fmt_date(rec['earliest_elective_surgery_date'])}")
    if rec.get("latest_primary_surgery_date_after_scrt"):
        window.append(f"by {fmt_date(rec['latest_primary_surgery_date_after_scrt'])}")
    return "Surgery " + " and ".join(window) if window else ""


def _postoperative(rec: Mapping[str, Any]) -> str:
    if not rec.get("postop_chemo_recommended"):
        return "No post-operative chemotherapy"
    parts = ["Post-operative chemotherapy"]
    if rec.get("postop_chemo_months") is not None:
        parts.append(f"{fmt_number(rec['postop_chemo_months'])} months")
    if rec.get("postop_backbone"):
        parts.append(BACKBONE_LABELS.get(rec["postop_backbone"], rec["postop_backbone"]))
    return ", ".join(parts)


def _liver(rec: Mapping[str, Any]) -> str:
    text = _either(LIVER_SURGERY_LABELS, rec.get("surgery"))
    sequence = rec.get("recommended_sequence")
    if text and sequence in SEQUENCE_LABELS:
        text += f", {SEQUENCE_LABELS[sequence].lower()}"
    return text


def describe_recommendation(point: str, rec: Mapping[str, Any]) -> str:
    """The recommendation in words; empty when the snapshot holds none for the point."""
    if point == P.DATA_COMPLETENESS:
        return DATA_LABELS.get(rec.get("choice", ""), "")
    if point == P.RESECTABILITY:
        return CONVERSION_LABELS.get(rec.get("conversion_status", ""), "")
    if point == P.PRIMARY_MANAGEMENT:
        return _either(PRIMARY_LABELS, rec.get("choices"))
    if point == P.SYSTEMIC_THERAPY:
        return REGIMEN_LABELS.get(rec.get("recommended_regimen_family", ""), "")
    if point == P.PELVIC_RADIOTHERAPY:
        return _either(PELVIC_LABELS, rec.get("choices"))
    if point == P.LIVER_SURGERY:
        return _liver(rec)
    if point == P.TIMING:
        return _timing(rec)
    if point == P.POSTOPERATIVE:
        return _postoperative(rec)
    if point == P.OUTCOME:
        return OUTCOME_LABELS.get(rec.get("outcome", ""), "")
    return ""
