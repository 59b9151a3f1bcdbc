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


R0_LABELS = {
    "yes": "Yes: all disease can be removed with clear margins",
    "no": "No",
    "not_assessed": "Not yet assessed",
}


EXTRAHEPATIC_LABELS = {
    "none": "None",
    "resectable": "Resectable",
    "unresectable": "Unresectable",
}


EXTENT_LABELS = {
    "minor": "Minor (fewer than 3 segments)",
    "major": "Major (3 or more segments)",
}


def conversion_text(status: str, inputs: Mapping[str, object]) -> str:
    """The conversion status in words, with the reason when the disease is not resectable."""
    label = CONVERSION_LABELS[status]
    if status != "not_resectable":
        return label
    r0 = inputs.get("r0_achievable")
    segments = inputs.get("flr_segments_remaining")
    if r0 is None:
        return f"{label}: R0 not yet assessed by the HPB MDT"
    if r0 is False:
        return f"{label}: R0 resection not achievable"
    if inputs.get("extrahepatic_disease") == "unresectable":
        return f"{label}: unresectable extrahepatic disease"
    if isinstance(segments, int) and segments < 2:
        return f"{label}: fewer than 2 segments would remain"
    return label


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


STATUS_LABELS = {
    **dict(MarkerStatus.choices),
    # The extended-testing wording belongs to RAS; BRAF V600E is simply wild-type.
    "wild_type": "Wild-type",
}


def marker_status_label(marker: str, status: str) -> str:
    """A molecular result in words: "Wild-type (extended: exons 2, 3, 4)" only for RAS."""
    if status == "wild_type" and marker in ("kras", "nras"):
        return dict(MarkerStatus.choices)["wild_type"]
    return STATUS_LABELS.get(status, status)


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
        text = CONVERSION_LABELS.get(answer.get("choice", ""), "—")
        if "r0_achievable" in answer:
            verdict = [f"R0 {R0_LABELS.get(answer['r0_achievable'], '—').split(':')[0].lower()}"]
            if answer.get("flr_percent_slv") is not None:
                verdict.append(f"FLR {fmt_number(answer['flr_percent_slv'])} % SLV")
            if answer.get("flr_segments_remaining") is not None:
                verdict.append(f"{answer['flr_segments_remaining']} segments remaining")
            extra = EXTRAHEPATIC_LABELS.get(answer.get("extrahepatic_disease") or "none", "—")
            verdict.append(f"extrahepatic disease: {extra.lower()}")
            if answer.get("planned_hepatectomy_extent"):
                verdict.append(
                    f"{EXTENT_LABELS[answer['planned_hepatectomy_extent']].lower()} hepatectomy"
                )
            verdict.append(
                "HPB surgeon present" if answer.get("hpb_reviewed") else "no HPB surgeon present"
            )
            text += f" ({'; '.join(verdict)})"
        return text
    if point == P.PRIMARY_MANAGEMENT:
        return PRIMARY_LABELS.get(answer.get("choice", ""), "—")
    if point == P.SYSTEMIC_THERAPY:
        agents = answer.get("agents") or []
        named = ", ".join(AGENT_LABELS.get(a, a) for a in agents) or "No systemic therapy"
        if answer.get("plan") == "continue":
            return f"Continue the current course: {named}"
        if answer.get("plan") == "new":
            return f"New course: {named}"
        return named
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
        text = f"Surgery on {fmt_date(answer.get('target_surgery_date'))}"
        if answer.get("last_bev_planned"):
            text += f"; last bevacizumab dose {fmt_date(answer['last_bev_planned'])}"
        return text
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
        text = OUTCOME_LABELS.get(answer.get("choice", ""), "—")
        if answer.get("next_reassessment_on"):
            text += f"; next reassessment {fmt_date(answer['next_reassessment_on'])}"
            rule = answer.get("rule_next_reassessment_on")
            if rule and answer.get("rule_date_passed"):
                text += f" (the rule date, {fmt_date(rule)}, had passed)"
        return text
    return str(answer)
