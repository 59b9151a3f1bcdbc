"""What each card shows: the facts it uses, the engine's recommendation with its explanation
and citations, and the fields of its answer form."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from cases.meetings.walk.context import WalkContext, without
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
    SHORT_STATUS,
    STATUS_LABELS,
    YES_NO,
    fmt_date,
    fmt_number,
)
from cases.meetings.walk.parts import Alert, Choice, Citation, Fact, Field, Line, Step
from cases.meetings.walk.plan import reassessment_plan
from cases.meetings.walk.points import (
    P,
    current_course,
    liver_recommendation,
    pelvic_recommended,
    primary_recommended,
    recommended_outcome,
    sequencing_asked,
)
from cases.models import Agent, Backbone, Marker, PrimarySite, PrimarySymptom
from cases.pathway import CODES, HARD_STOP_CODES, AlertCode, citation_label
from cases.pathway.catalogue import RECOMMENDATIONS, recommendation_key

if TYPE_CHECKING:
    from cases.models import Case, Decision

MAX_SURGERY_DAYS_AHEAD = 730  # a surgery date further ahead than two years is a typing error


POSTOP_MAX_MONTHS = 12


def citations(ids: Iterable[str]) -> tuple[Citation, ...]:
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
        citations=citations(entry.citations),
    )


def _line(title: str, output: str, value: object, shown: str) -> Line:
    """A recommendation line with the catalogue's explanation of that output value."""
    entry = RECOMMENDATIONS.get(recommendation_key(output, value)) or RECOMMENDATIONS.get(output)
    if entry is None:
        return Line(title, shown)
    return Line(title, shown, entry.text, citations(entry.citations))


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
            value += f" (requested {fmt_date(result.requested_on)})"
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


def _data_completeness(ctx: WalkContext, decision: Decision | None) -> Step:
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
            citations(["D22", "D21"]),
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


def _reassessment_facts(ctx: WalkContext) -> list[Fact]:
    record = ctx.record
    latest = max(ctx.case.reassessments.all(), key=lambda r: r.cycle, default=None)
    facts = []
    if latest is not None:
        facts.append(
            Fact(
                f"Latest scan (cycle {latest.cycle})",
                fmt_date(latest.imaging_performed_on)
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
        Fact(
            "FLR (% SLV, one stage)", fmt_number(record.get("flr_percent_slv")), "flr_percent_slv"
        ),
        Fact(
            "Segments remaining",
            fmt_number(record.get("flr_segments_remaining")),
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


def _resectability(ctx: WalkContext, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(without(ctx.answers, P.RESECTABILITY))
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


def _primary_management(ctx: WalkContext, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(without(ctx.answers, P.PRIMARY_MANAGEMENT))
    symptom = ctx.case.primary_symptom
    rec = primary_recommended(advice)
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
                citations(["D1", "D11", "C22"]),
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


def _systemic_therapy(ctx: WalkContext, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(without(ctx.answers, P.SYSTEMIC_THERAPY))
    family = str(advice.recommended_regimen_family)
    course = current_course(ctx)
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


def _pelvic_radiotherapy(ctx: WalkContext, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(without(ctx.answers, P.PELVIC_RADIOTHERAPY))
    rec = pelvic_recommended(ctx)
    lines = [
        Line(
            "Pelvic radiotherapy without an alert",
            ", ".join(PELVIC_LABELS[v] for v in rec),
            "Long-course chemoradiotherapy is not given while liver metastases are in place; "
            "treatment of an asymptomatic primary waits until the metastases convert.",
            citations(["D23", "D11"]),
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
        *([Fact("Short course completed", fmt_date(scrt), "scrt_completion_date")] if scrt else []),
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


def _liver_surgery(ctx: WalkContext, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(without(ctx.answers, P.LIVER_SURGERY))
    surgeries, sequence = liver_recommendation(advice)
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
    if sequencing_asked(ctx, advice):
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


def _timing(ctx: WalkContext, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(without(ctx.answers, P.TIMING))
    record = ctx.record
    lines = []
    if advice.earliest_elective_surgery_date:
        lines.append(
            _line(
                "Earliest elective surgery",
                "earliest_elective_surgery_date",
                None,
                fmt_date(advice.earliest_elective_surgery_date.isoformat()),
            )
        )
    if advice.latest_primary_surgery_date_after_scrt:
        lines.append(
            _line(
                "Latest surgery on the primary after SCRT",
                "latest_primary_surgery_date_after_scrt",
                None,
                fmt_date(advice.latest_primary_surgery_date_after_scrt.isoformat()),
            )
        )
    facts = [
        Fact(
            "Last bevacizumab dose",
            fmt_date(record.get("last_bevacizumab_dose_date")),
            "last_bevacizumab_dose_date",
        ),
        Fact(
            "Planned surgery", fmt_date(record.get("planned_surgery_date")), "planned_surgery_date"
        ),
        Fact(
            "Urgency",
            str(record.get("planned_surgery_urgency", "elective")).capitalize(),
            "planned_surgery_urgency",
        ),
        Fact(
            "Short course completed",
            fmt_date(record.get("scrt_completion_date")),
            "scrt_completion_date",
        ),
    ]
    earliest = advice.earliest_elective_surgery_date
    planned = record.get("planned_surgery_date")
    initial = planned or (max(earliest, ctx.meeting_day).isoformat() if earliest else None)
    window = []
    if earliest:
        window.append(f"on or after {fmt_date(earliest.isoformat())}")
    if advice.latest_primary_surgery_date_after_scrt:
        window.append(
            f"by {fmt_date(advice.latest_primary_surgery_date_after_scrt)} "
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


def _postoperative(ctx: WalkContext, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(without(ctx.answers, P.POSTOPERATIVE))
    record = ctx.record
    facts = [
        Fact("Margin", str(record.get("surgical_margin", "—")).upper(), "surgical_margin"),
        Fact(
            "Chemotherapy before surgery (months)",
            fmt_number(record.get("preop_chemo_months_given")),
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
        lines.append(
            _line("Months", "postop_chemo_months", None, fmt_number(advice.postop_chemo_months))
        )
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
                f", {fmt_number(advice.postop_chemo_months)} months"
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


def _outcome(ctx: WalkContext, decision: Decision | None) -> Step:
    rec = recommended_outcome(ctx)
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
                fmt_date(plan.next_on.isoformat()),
                f"{entry.text} Anchor: {plan.anchor_text}.",
                citations(entry.citations),
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
                fmt_date(ctx.record.get("last_reassessment_date")),
                "last_reassessment_date",
            ),
            Fact(
                "Chemotherapy started",
                fmt_date(ctx.record.get("chemo_start_date")),
                "chemo_start_date",
            ),
        ],
        lines=lines,
        recommended_text=OUTCOME_LABELS[rec],
        fields=[Field("choice", "radio", "Outcome", _recommended_choices(OUTCOME_LABELS, [rec]))],
        initial={"choice": rec},
        alerts=[],
    )


BUILDERS = {
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
