"""What each card shows: the facts it uses, the engine's recommendation with its explanation
and citations, and the fields of its answer form."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from cases.common.constants import workflow_constants
from cases.meetings.walk.context import WalkContext, without
from cases.meetings.walk.labels import (
    BACKBONE_LABELS,
    CONVERSION_LABELS,
    DATA_LABELS,
    EXTENT_LABELS,
    EXTRAHEPATIC_LABELS,
    LIVER_SURGERY_LABELS,
    OUTCOME_LABELS,
    PELVIC_LABELS,
    PRIMARY_LABELS,
    R0_LABELS,
    REGIMEN_LABELS,
    SEQUENCE_LABELS,
    SHORT_STATUS,
    YES_NO,
    conversion_text,
    fmt_date,
    fmt_number,
    marker_status_label,
)
from cases.meetings.walk.parts import Alert, Choice, Citation, Fact, Field, Line, Step
from cases.meetings.walk.plan import reassessment_plan
from cases.meetings.walk.points import (
    P,
    bevacizumab_recent_or_planned,
    current_course,
    data_recommended,
    liver_recommendation,
    pelvic_recommended,
    primary_recommended,
    recommended_outcome,
    sequencing_asked,
)
from cases.models import Agent, Backbone, ExitReason, Marker, PrimarySite, PrimarySymptom
from cases.pathway import CODES, HARD_STOP_CODES, AlertCode, citation_label
from cases.pathway.catalogue import RECOMMENDATIONS, recommendation_key
from cases.pathway.dataset import ecog_current, imaging_current

if TYPE_CHECKING:
    from cases.models import Case, Decision, Reassessment

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
        value = SHORT_STATUS.get(status) or marker_status_label(marker, status)
        if status == "wild_type" and marker in ("kras", "nras"):
            value += " (exons 2–4)"
        on = ""
        if result and status == "pending" and result.requested_on:
            on = f"requested {fmt_date(result.requested_on)}"
        elif result and result.reported_on:
            on = f"reported {fmt_date(result.reported_on)}"
        elif status != "not_tested":
            on = "date not recorded"
        flag = ""
        if status == "pending":
            flag = "pending"
        elif status == "not_tested" and marker != "her2":
            flag = "missing"
        facts.append(Fact(label, value, f"{marker}_status", flag=flag, on=on))
    return facts


def course_text(course: object) -> str:
    return str(course)


def _recommended_choices(
    values: Mapping[str, str], recommended: Iterable[str]
) -> tuple[Choice, ...]:
    rec = set(recommended)
    return tuple(Choice(v, label, v in rec) for v, label in values.items())


def ecog_fact(ctx: WalkContext) -> Fact:
    case = ctx.case
    if case.ecog is None:
        return Fact("ECOG", "—", "ecog", flag="missing")
    current = ecog_current(case.ecog, case.ecog_assessed_on, ctx.meeting_day, workflow_constants())
    on = f"assessed {fmt_date(case.ecog_assessed_on)}" if case.ecog_assessed_on else "undated"
    return Fact("ECOG", str(case.ecog), "ecog", flag="" if current else "stale", on=on)


def scan_fact(ctx: WalkContext) -> Fact:
    scans = [r for r in ctx.case.reassessments.all() if r.imaging_performed_on]
    latest = max(scans, key=lambda r: r.imaging_performed_on, default=None)
    if latest is None:
        return Fact("Latest liver imaging", "None", flag="missing")
    day = latest.imaging_performed_on
    current = imaging_current(day, ctx.meeting_day, workflow_constants())
    value = f"Cycle {latest.cycle}" + (
        f": {latest.get_response_display()}" if latest.response else ""
    )
    return Fact(
        "Latest liver imaging",
        value,
        flag="" if current else "stale",
        on=f"scanned {fmt_date(day)}",
    )


def _data_completeness(ctx: WalkContext, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(ctx.answers)
    recommended = data_recommended(ctx)
    facts = [
        Fact("Primary site", PrimarySite(ctx.case.primary_site).label, "primary_site"),
        Fact("Sidedness (derived)", str(advice.sidedness).capitalize()),
        *(
            [Fact("Sidedness (referral)", ctx.case.sidedness_reported, "sidedness_reported")]
            if ctx.case.sidedness_reported
            else []
        ),
        *marker_facts(ctx.case),
        ecog_fact(ctx),
        scan_fact(ctx),
    ]
    missing = "; ".join(ctx.missing)
    lines = [
        Line(
            "Minimum dataset",
            "Complete" if not ctx.missing else f"Missing: {missing}",
            "MMR/MSI, RAS (extended), BRAF V600E, and an ECOG score and imaging under "
            f"{workflow_constants().imaging_max_age_days // 7} weeks old on the meeting day are "
            "needed before a definitive decision; otherwise decide provisionally or defer.",
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
        recommended_text=" or ".join(DATA_LABELS[r] for r in recommended),
        fields=[
            Field(
                "choice",
                "radio",
                "The MDT's view of the data",
                _recommended_choices(DATA_LABELS, recommended),
            )
        ],
        initial={},
        alerts=[],
    )


def _verdict_row(ctx: WalkContext) -> Reassessment | None:
    """The reassessment whose HPB verdict the record holds (as the mapping reads it)."""
    judged = [
        r
        for r in ctx.case.reassessments.all()
        if r.imaging_performed_on or r.reassessed_on or r.hpb_mdt_reviewed
    ]
    return max(judged, key=lambda r: r.cycle, default=None)


def verdict_date_text(row: Reassessment | None) -> str:
    if row is None:
        return ""
    if row.hpb_reviewed_on:
        by = f" by {row.hpb_reviewers}" if row.hpb_reviewers else ""
        return f"HPB review in the MDT of {fmt_date(row.hpb_reviewed_on)}{by}"
    if row.reassessed_on:
        return f"reassessed {fmt_date(row.reassessed_on)}"
    if row.imaging_performed_on:
        return f"scan of {fmt_date(row.imaging_performed_on)}, no verdict yet"
    return ""


def _reassessment_facts(
    ctx: WalkContext, answers: Mapping[str, object] | None = None
) -> list[Fact]:
    """The liver facts, each with its date; ``answers``: the verdict given in this meeting."""
    record = ctx.advise(answers)[0] if answers is not None else ctx.record
    row = _verdict_row(ctx)
    in_meeting = answers is not None and "r0_achievable" in (
        answers.get(P.RESECTABILITY) or {}  # type: ignore[union-attr]
    )
    on = f"this meeting, {fmt_date(ctx.meeting_day)}" if in_meeting else verdict_date_text(row)
    facts = [scan_fact(ctx)]
    r0 = record.get("r0_achievable")
    facts += [
        Fact(
            "HPB MDT reviewed",
            "Yes" if record.get("hpb_mdt_reviewed") else "No",
            "hpb_mdt_reviewed",
            on=on,
        ),
        Fact(
            "R0 achievable",
            "Not assessed" if r0 is None else ("Yes" if r0 else "No"),
            "r0_achievable",
            on=on,
        ),
        Fact(
            "FLR (% SLV, one stage)",
            fmt_number(record.get("flr_percent_slv")),
            "flr_percent_slv",
            on=on,
        ),
        Fact(
            "Segments remaining",
            fmt_number(record.get("flr_segments_remaining")),
            "flr_segments_remaining",
            on=on,
        ),
        Fact(
            "Extrahepatic disease",
            EXTRAHEPATIC_LABELS.get(str(record.get("extrahepatic_disease", "none")), "—"),
            "extrahepatic_disease",
            on=on,
        ),
    ]
    if record.get("planned_hepatectomy_extent"):
        facts.append(
            Fact(
                "Planned hepatectomy",
                EXTENT_LABELS[str(record["planned_hepatectomy_extent"])],
                "planned_hepatectomy_extent",
                on=on,
            )
        )
    if record.get("pet_complete_metabolic_response"):
        facts.append(
            Fact("PET complete metabolic response", "Yes", "pet_complete_metabolic_response", on=on)
        )
    return facts


def _resectability(ctx: WalkContext, decision: Decision | None) -> Step:
    inputs, advice = ctx.advise(without(ctx.answers, P.RESECTABILITY))
    status = str(advice.conversion_status)
    lines = [
        _line(
            "Conversion status on the record",
            "conversion_status",
            status,
            conversion_text(status, inputs),
        ),
        Line(
            "The verdict in this meeting",
            "HPB MDT review" if ctx.hpb_present else "No HPB surgeon recorded present",
            "The verdict entered below is laid over the record for every later point. It counts "
            "as an HPB MDT review when a hepatobiliary surgeon is recorded present; on sign-off "
            "it is stored as the case's HPB review, dated the meeting day.",
        ),
    ]
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
    fields = [
        Field(
            "r0_achievable", "radio", "R0 achievable (HPB surgeon's judgement)", _plain(R0_LABELS)
        ),
        Field(
            "flr_percent_slv",
            "number",
            "FLR after a one-stage resection (% of standard liver volume)",
            required=False,
            min_value=0,
            max_value=100,
            help="Leave empty if not measured.",
        ),
        Field(
            "flr_segments_remaining",
            "integer",
            "Contiguous segments remaining",
            required=False,
            min_value=0,
            max_value=8,
        ),
        Field("extrahepatic_disease", "radio", "Extrahepatic disease", _plain(EXTRAHEPATIC_LABELS)),
        Field(
            "planned_hepatectomy_extent",
            "select",
            "Planned hepatectomy extent",
            _plain(EXTENT_LABELS),
            required=False,
        ),
        Field(
            "combined_resection",
            "checkbox",
            "A simultaneous resection with the primary is technically feasible",
            required=False,
        ),
        Field(
            "choice",
            "radio",
            "The MDT's resectability verdict",
            _recommended_choices(CONVERSION_LABELS, []),
            help="The engine judges the status from the verdict above; a different answer is a "
            "deviation and needs a reason.",
        ),
    ]
    return Step(
        point=P.RESECTABILITY,
        label=P.RESECTABILITY.label,
        number=0,
        facts=_reassessment_facts(ctx),
        lines=lines,
        recommended_text="The status that follows from the HPB verdict given here "
        f"(on the record: {conversion_text(status, inputs)})",
        fields=fields,
        initial={},
        alerts=[],
    )


def _plain(values: Mapping[str, str]) -> tuple[Choice, ...]:
    return tuple(Choice(v, label) for v, label in values.items())


def _primary_management(ctx: WalkContext, decision: Decision | None) -> Step:
    inputs, advice = ctx.advise(without(ctx.answers, P.PRIMARY_MANAGEMENT))
    symptom = ctx.case.primary_symptom
    rec = primary_recommended(advice)
    bev = bevacizumab_recent_or_planned(ctx)
    if bev:
        # A stent is best avoided with bevacizumab (BEV_WITH_COLORECTAL_STENT): never
        # "recommended" then, and its label says why.
        rec = [v for v in rec if v != "colorectal_stent"] or rec
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
            Fact("Conversion status", conversion_text(str(advice.conversion_status), inputs)),
            *([Fact("Bevacizumab", bev)] if bev else []),
        ],
        lines=lines,
        recommended_text=" or ".join(PRIMARY_LABELS[v] for v in rec),
        fields=[
            Field(
                "choice",
                "radio",
                "What the MDT decides for the primary",
                tuple(
                    Choice(
                        v,
                        f"{label} (caution: bevacizumab)"
                        if bev and v == "colorectal_stent"
                        else label,
                        v in rec,
                    )
                    for v, label in PRIMARY_LABELS.items()
                ),
            )
        ],
        initial={},
        alerts=[],
    )


def _systemic_therapy(ctx: WalkContext, decision: Decision | None) -> Step:
    _inputs, advice = ctx.advise(without(ctx.answers, P.SYSTEMIC_THERAPY))
    family = str(advice.recommended_regimen_family)
    course = current_course(ctx)
    record = ctx.record
    facts = [
        Fact("Age", str(record.get("age_years", "—")), "age_years", on=fmt_date(ctx.meeting_day)),
        ecog_fact(ctx),
        Fact("Sidedness (derived)", str(advice.sidedness).capitalize()),
        *marker_facts(ctx.case),
        Fact(
            "Current regimen",
            course_text(course) if course else "None",
            "",
            on=f"since {fmt_date(course.started_on)}" if course else "",
        ),
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
    plans = {
        **({"continue": f"Continue the current course ({course_text(course)})"} if course else {}),
        "new": "Start a new course with the agents ticked below",
        "none": "No systemic therapy now",
    }
    return Step(
        point=P.SYSTEMIC_THERAPY,
        label=P.SYSTEMIC_THERAPY.label,
        number=0,
        facts=facts,
        lines=lines,
        recommended_text=REGIMEN_LABELS[family],
        fields=[
            Field("plan", "radio", "Treatment plan", _plain(plans)),
            Field(
                "agents",
                "checkboxes",
                "Agents of a new course",
                tuple(Choice(v, label) for v, label in Agent.choices),
                required=False,
            ),
        ],
        initial={},
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
        Fact("Conversion status", conversion_text(str(advice.conversion_status), _inputs)),
        Fact(
            "Liver metastases cleared",
            "Yes" if ctx.record.get("liver_metastases_cleared") else "No",
            "liver_metastases_cleared",
        ),
        *([Fact("Short course completed", fmt_date(scrt), "scrt_completion_date")] if scrt else []),
    ]
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
        initial={},
        alerts=[],
    )


def _liver_surgery(ctx: WalkContext, decision: Decision | None) -> Step:
    others = without(ctx.answers, P.LIVER_SURGERY)
    inputs, advice = ctx.advise(others)
    surgeries, sequence = liver_recommendation(advice)
    status = str(advice.conversion_status)
    lines = [
        _line("Conversion status", "conversion_status", status, conversion_text(status, inputs))
    ]
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
        facts=_reassessment_facts(ctx, others),
        lines=lines,
        recommended_text=text,
        fields=fields,
        initial={"liver_biopsy": False},
        alerts=[],
    )


def _timing(ctx: WalkContext, decision: Decision | None) -> Step:
    others = without(ctx.answers, P.TIMING)
    _inputs, advice = ctx.advise(others)
    record = ctx.record
    urgency = str(record.get("planned_surgery_urgency", "elective"))
    ask_last_bev = ctx.bevacizumab_planned(others) and urgency == "elective"
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
            "Last bevacizumab dose given",
            fmt_date(record.get("last_bevacizumab_dose_date")),
            "last_bevacizumab_dose_date",
        ),
        *(
            [Fact("Bevacizumab in the plan", "Continues: the plan must give its last dose")]
            if ask_last_bev
            else []
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
        recommended_text=(
            ("Surgery " + " and ".join(window) if window else "No constraint")
            + ("; counted from the last bevacizumab dose the plan gives" if ask_last_bev else "")
        ),
        fields=[
            *(
                [
                    Field(
                        "last_bev_planned",
                        "date",
                        "Last bevacizumab dose before surgery (planned)",
                        min_value=ctx.meeting_day,
                        max_value=ctx.meeting_day + dt.timedelta(days=MAX_SURGERY_DAYS_AHEAD),
                        help="The plan continues bevacizumab: surgery is counted from this dose.",
                    )
                ]
                if ask_last_bev
                else []
            ),
            Field(
                "target_surgery_date",
                "date",
                "Date the MDT sets for surgery",
                min_value=ctx.meeting_day,
                max_value=ctx.meeting_day + dt.timedelta(days=MAX_SURGERY_DAYS_AHEAD),
                help="Signing off books the operation on the case record on this date.",
            ),
        ],
        initial={"target_surgery_date": record.get("planned_surgery_date")},
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
        initial={},
        alerts=[],
    )


def _outcome(ctx: WalkContext, decision: Decision | None) -> Step:
    rec = recommended_outcome(ctx)
    rule = reassessment_plan(ctx, "continue_pathway")
    inputs, advice = ctx.advise(ctx.answers)
    passed = rule.rule_on is not None and rule.rule_on <= ctx.meeting_day
    lines = [
        Line(
            "Recommended outcome",
            OUTCOME_LABELS[rec],
            "From the answers above: surgery when a liver operation or resection of the primary "
            "was decided, otherwise the next 2-monthly reassessment.",
        )
    ]
    if rule.rule_on:
        entry = RECOMMENDATIONS["next_reassessment_date"]
        lines.append(
            Line(
                "Next reassessment (rule date)",
                fmt_date(rule.rule_on.isoformat())
                + (" (passed: the MDT sets the date)" if passed else ""),
                f"{entry.text} Anchor: {rule.anchor_text}.",
                citations(entry.citations),
            )
        )
    else:
        lines.append(Line("Next reassessment", "No rule date", rule.note))
    default = rule.rule_on.isoformat() if rule.rule_on and not passed else None
    help_text = (
        f"The rule date ({fmt_date(rule.rule_on)}) has passed: enter a date on or after the "
        "meeting day."
        if passed
        else "Pre-filled with the rule date; needed when the pathway continues."
    )
    return Step(
        point=P.OUTCOME,
        label=P.OUTCOME.label,
        number=0,
        facts=[
            Fact("Conversion status", conversion_text(str(advice.conversion_status), inputs)),
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
        fields=[
            Field("choice", "radio", "Outcome", _recommended_choices(OUTCOME_LABELS, [rec])),
            Field(
                "next_reassessment_on",
                "date",
                "Next reassessment (if the pathway continues)",
                required=False,
                min_value=ctx.meeting_day,
                max_value=ctx.meeting_day + dt.timedelta(days=MAX_SURGERY_DAYS_AHEAD),
                help=help_text,
            ),
            Field(
                "exit_reason",
                "select",
                "Reason for leaving the pathway (if it does)",
                _plain(dict(ExitReason.choices)),
                required=False,
            ),
        ],
        initial={"next_reassessment_on": default},
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
