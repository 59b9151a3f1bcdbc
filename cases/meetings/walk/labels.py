"""The words a card uses for the engine's codes and for the MDT's answers: no internal code
ever reaches a screen, a printout or a letter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from cases.models import Agent, Backbone, DecisionPoint, MarkerStatus, PelvicRadiotherapy

P = DecisionPoint

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


def fmt_date(value: object) -> str:
    """A date (or ISO text) as "7 Mar 2026"; a dash when there is none."""
    if not value:
        return "—"
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return f"{day.day} {day:%b %Y}"


def fmt_number(value: object) -> str:
    return "—" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


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
        return f"Surgery on {fmt_date(answer.get('target_surgery_date'))}"
    if point == P.POSTOPERATIVE:
        if answer.get("postop_chemo") != "yes":
            return "No post-operative chemotherapy"
        parts = ["Post-operative chemotherapy"]
        if answer.get("months") is not None:
            parts.append(f"{fmt_number(answer['months'])} months")
        if answer.get("backbone"):
            parts.append(BACKBONE_LABELS.get(answer["backbone"], answer["backbone"]))
        return ", ".join(parts)
    if point == P.OUTCOME:
        return OUTCOME_LABELS.get(answer.get("choice", ""), "—")
    return str(answer)
