"""What an outcome letter says: read from the signed-off outcome, in words.

A letter is drawn from the agenda item's screen (``case_screen``: the record, the decisions and
the walk, the attendance and the actions, in one query) and the template the administrator keeps
for its kind of recipient. Every answer, recommendation and overridden hard stop goes through the
walk's labels and the engine's catalogue: no internal code reaches a letter. The PDF is WeasyPrint's
rendering of the same HTML; where WeasyPrint cannot load, the HTML is the letter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.template import Context, Engine
from django.template.loader import render_to_string

from cases.meetings.selectors import CaseScreen, case_screen
from cases.meetings.walk.cards import alert_for
from cases.meetings.walk.labels import AGENT_LABELS, STATUS_LABELS, fmt_date
from cases.models import (
    DecisionPoint,
    LetterTemplate,
    Marker,
    OutcomeLetter,
    RecipientKind,
    Response,
    Stage,
)
from cases.records.mapping import age_on, last_bevacizumab_dose

K = RecipientKind

# The administrator's templates start from these (a kind without a stored template uses them).
# Placeholders: {{ recipient }}, {{ patient_name }}, {{ case_reference }}, {{ meeting_date }}.
DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    K.GP: {
        "salutation": "Dear Doctor",
        "opening": (
            "Your patient {{ patient_name }} was discussed at the colorectal multidisciplinary "
            "team meeting on {{ meeting_date }}. The team's outcome is set out below."
        ),
        "closing": (
            "Please contact the MDT coordinator if anything in this letter is unclear or if "
            "your patient's circumstances have changed."
        ),
    },
    K.REFERRER: {
        "salutation": "Dear Colleague",
        "opening": (
            "Thank you for referring {{ patient_name }}, who was discussed at the colorectal "
            "multidisciplinary team meeting on {{ meeting_date }}. The outcome is below."
        ),
        "closing": "The actions listed above are owned by the named members of the team.",
    },
    K.PATIENT: {
        "salutation": "Dear {{ patient_name }}",
        "opening": (
            "On {{ meeting_date }} a team of specialists who look after people with bowel cancer "
            "met to talk about your care. This letter tells you what they recommended."
        ),
        "closing": (
            "Your specialist nurse or doctor will talk this through with you. Please ring the "
            "number at the top of this letter if you have any questions."
        ),
    },
}

# The question the MDT was asked, by where the case stood on the pathway.
QUESTIONS = {
    Stage.WORKUP: "How should newly referred colorectal cancer with liver metastases be treated?",
    Stage.CONVERSION: (
        "Have the liver metastases become resectable on conversion chemotherapy, and what is "
        "the next step?"
    ),
    Stage.SURGERY_PLANNED: "How and when should surgery for the converted disease go ahead?",
    Stage.POST_OPERATIVE: "What treatment and follow-up are needed after surgery?",
    Stage.LEFT_PATHWAY: "What care is needed now that the conversion pathway has ended?",
}

# A plain-language line per decision point, for the patient's letter.
PLAIN_POINTS = {
    DecisionPoint.DATA_COMPLETENESS: "Test results",
    DecisionPoint.RESECTABILITY: "Can the liver tumours be removed by an operation?",
    DecisionPoint.PRIMARY_MANAGEMENT: "The bowel tumour",
    DecisionPoint.SYSTEMIC_THERAPY: "Chemotherapy and other medicines",
    DecisionPoint.PELVIC_RADIOTHERAPY: "Radiotherapy",
    DecisionPoint.LIVER_SURGERY: "Liver operation",
    DecisionPoint.TIMING: "When an operation can happen",
    DecisionPoint.POSTOPERATIVE: "Treatment after an operation",
    DecisionPoint.OUTCOME: "What happens next",
}


@dataclass
class LetterContent:
    """Everything a letter shows, already in words."""

    kind: str
    kind_label: str
    letterhead: list[str]
    salutation: str
    opening: str
    closing: str
    patient: dict[str, str]
    question: str
    facts: list[tuple[str, str]]
    decisions: list[dict[str, str]]
    overrides: list[dict[str, str]]
    actions: list[dict[str, str]]
    next_reassessment: str
    attendance: list[str]
    quorate: bool | None
    guideline_version: str
    meeting: str
    signed_off: str
    status: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def template_for(kind: str) -> LetterTemplate:
    """The stored template of this kind, or the default (unsaved) one."""
    stored = LetterTemplate.objects.filter(kind=kind).first()
    return stored if stored is not None else template_for_default(kind)


def template_for_default(kind: str) -> LetterTemplate:
    """The default words of this kind (unsaved)."""
    return LetterTemplate(kind=kind, **DEFAULT_TEMPLATES[kind])


# Placeholders only: no tags or filters beyond Django's built-ins, and the context holds plain
# strings, so an edited template cannot reach into the database.
_ENGINE = Engine(autoescape=True)


def fill(text: str, values: dict[str, str]) -> str:
    return _ENGINE.from_string(text).render(Context(values))


def _patient(screen: CaseScreen) -> dict[str, str]:
    patient = screen.case.patient
    return {
        "name": f"{patient.given_name} {patient.family_name}",
        "family_name": patient.family_name,
        "given_name": patient.given_name,
        "date_of_birth": fmt_date(patient.date_of_birth),
        "age": str(age_on(patient.date_of_birth, screen.day)),
        "hospital_number": patient.hospital_number,
        "nhs_number": patient.nhs_number or "—",
        "reference": screen.case.reference,
    }


def _facts(screen: CaseScreen) -> list[tuple[str, str]]:
    """The key facts, each with its date."""
    case = screen.case
    facts = [
        (
            "Primary tumour",
            f"{case.get_primary_site_display()}, diagnosed {fmt_date(case.diagnosed_on)}",
        )
    ]
    if case.ecog is not None:
        when = f" (assessed {fmt_date(case.ecog_assessed_on)})" if case.ecog_assessed_on else ""
        facts.append(("Performance status (ECOG)", f"{case.ecog}{when}"))
    by_marker = {r.marker: r for r in case.molecular_results.all()}
    for marker, label in Marker.choices:
        result = by_marker.get(marker)
        if result is None:
            continue
        value = STATUS_LABELS.get(result.status, "—")
        if result.reported_on:
            value += f" (reported {fmt_date(result.reported_on)})"
        elif result.requested_on:
            value += f" (requested {fmt_date(result.requested_on)})"
        facts.append((label, value))
    courses = sorted(case.treatment_courses.all(), key=lambda c: c.started_on)
    if courses:
        course = courses[-1]
        agents = ", ".join(AGENT_LABELS.get(a, a) for a in course.agents) or "—"
        stopped = f", stopped {fmt_date(course.stopped_on)}" if course.stopped_on else ""
        facts.append(
            ("Current treatment", f"{agents} (started {fmt_date(course.started_on)}{stopped})")
        )
    last_bev = last_bevacizumab_dose(case)
    if last_bev:
        facts.append(("Last bevacizumab dose", fmt_date(last_bev)))
    imaged = [r for r in case.reassessments.all() if r.imaging_performed_on]
    if imaged:
        latest = max(imaged, key=lambda r: r.imaging_performed_on)
        response = Response(latest.response).label if latest.response else "response not recorded"
        facts.append(
            (
                f"Latest reassessment (cycle {latest.cycle})",
                f"imaged {fmt_date(latest.imaging_performed_on)}: {response}",
            )
        )
    return facts


def _first_sentence(text: str) -> str:
    head, dot, _rest = text.partition(". ")
    return head + (dot.strip() or "")


def letter_content(screen: CaseScreen, kind: str, template: LetterTemplate) -> LetterContent:
    item = screen.item
    meeting_date = fmt_date(screen.day)
    patient = _patient(screen)
    values = {
        "recipient": K(kind).label,
        "patient_name": patient["name"],
        "case_reference": patient["reference"],
        "meeting_date": meeting_date,
    }
    decisions, overrides, versions = [], [], set()
    for step in screen.walk.steps:
        d = step.decision
        if d is None:
            continue
        versions.add(str(d.advice_snapshot.get("guideline_version", "")))
        decisions.append(
            {
                "point": PLAIN_POINTS[step.point] if kind == K.PATIENT else step.label,
                "answer": step.answer_text,
                "recommended": step.recommended_text,
                "follows": "yes" if d.follows_recommendation else "",
                "deviation": d.deviation_reason,
            }
        )
        for code in d.overridden_hard_stops:
            overrides.append(
                {
                    "point": step.label,
                    "what": _first_sentence(alert_for(code).text),
                    "reason": d.override_reason,
                }
            )
    actions = [
        {"what": a.description, "owner": str(a.owner), "due": fmt_date(a.due_on)}
        for a in screen.actions or []
    ]
    attendance = [
        f"{a.member} ({a.get_discipline_display()})"
        for a in sorted(screen.attendances or [], key=lambda a: a.discipline)
    ]
    signed = ""
    if item.signed_off_at:
        signed = f"Signed off by {item.signed_off_by} on {fmt_date(item.signed_off_at.date())}"
    return LetterContent(
        kind=kind,
        kind_label=K(kind).label,
        letterhead=list(settings.LETTERHEAD),
        salutation=fill(template.salutation, values),
        opening=fill(template.opening, values),
        closing=fill(template.closing, values),
        patient=patient,
        question=QUESTIONS.get(screen.case.stage, QUESTIONS[Stage.CONVERSION]),
        facts=_facts(screen),
        decisions=decisions,
        overrides=overrides,
        actions=actions,
        next_reassessment=fmt_date(item.next_reassessment_on)
        if item.next_reassessment_on
        else "None scheduled",
        attendance=attendance,
        quorate=item.quorate_at_sign_off,
        guideline_version=", ".join(sorted(v for v in versions if v)) or "—",
        meeting=f"{item.meeting.title}, {meeting_date}",
        signed_off=signed,
    )


def letter_html(screen: CaseScreen, kind: str, template: LetterTemplate | None = None) -> str:
    """The letter as HTML, standalone (its own styles), for the screen, the printer and the PDF."""
    content = letter_content(screen, kind, template or template_for(kind))
    return render_to_string("cases/followup/letter.html", {"letter": content})


def current_letter_html(letter: OutcomeLetter, screen: CaseScreen | None = None) -> str:
    """What the letter says: as checked once it has been checked, else drawn afresh."""
    if letter.checked_html:
        return letter.checked_html
    return letter_html(screen or case_screen(letter.agenda_item_id), letter.kind)


# --- PDF ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pdf:
    content: bytes | None
    problem: str = ""


def pdf_from_html(html: str) -> Pdf:
    """The PDF of a letter, or why there is none (WeasyPrint or its system libraries missing)."""
    try:
        # Imported here: its system libraries (pango) may be missing, and the app must still run.
        from weasyprint import HTML
    except (ImportError, OSError) as error:
        return Pdf(None, f"The PDF renderer (WeasyPrint) could not load: {error}.")
    return Pdf(HTML(string=html).write_pdf())


# --- A sample for the template preview ------------------------------------------------------------


def sample_content(kind: str, template: LetterTemplate) -> LetterContent:
    """A fictional patient's letter, for the administrator's preview (no real record is read)."""
    day = dt.date(2026, 3, 10)
    values = {
        "recipient": K(kind).label,
        "patient_name": "Alex Sample",
        "case_reference": "TB000000",
        "meeting_date": fmt_date(day),
    }
    return LetterContent(
        kind=kind,
        kind_label=K(kind).label,
        letterhead=list(settings.LETTERHEAD),
        salutation=fill(template.salutation, values),
        opening=fill(template.opening, values),
        closing=fill(template.closing, values),
        patient={
            "name": "Alex Sample",
            "family_name": "Sample",
            "given_name": "Alex",
            "date_of_birth": "1 Jan 1960",
            "age": "66",
            "hospital_number": "SAMPLE",
            "nhs_number": "—",
            "reference": "TB000000",
        },
        question=QUESTIONS[Stage.CONVERSION],
        facts=[("Primary tumour", "Rectum, diagnosed 1 Oct 2025")],
        decisions=[
            {
                "point": PLAIN_POINTS[DecisionPoint.OUTCOME]
                if kind == K.PATIENT
                else DecisionPoint.OUTCOME.label,
                "answer": "Continue the pathway: reassess on the engine's date",
                "recommended": "",
                "follows": "yes",
                "deviation": "",
            }
        ],
        overrides=[],
        actions=[
            {
                "what": "Book CT chest, abdomen and pelvis",
                "owner": "Coordinator",
                "due": "24 Mar 2026",
            }
        ],
        next_reassessment="10 May 2026",
        attendance=["Sample member (HPB surgeon)"],
        quorate=True,
        guideline_version="—",
        meeting=f"Colorectal MDT, {fmt_date(day)}",
        signed_off="Sample only: not a real outcome",
    )


def sample_html(kind: str, template: LetterTemplate) -> str:
    return render_to_string(
        "cases/followup/letter.html", {"letter": sample_content(kind, template), "sample": True}
    )
