"""A tiny factory for meeting tests: a meeting, its core members, and cases on its agenda.

Agenda items are created directly with the ORM here; in the app the dashboard's
``agenda_item_add`` lists cases (with the 24-hour freeze and the completeness reason).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from cases import models
from tests.conftest import make_case, make_user

CORE = {
    "hpb": models.Discipline.HPB_SURGEON,
    "medonc": models.Discipline.MEDICAL_ONCOLOGIST,
    "radiologist": models.Discipline.RADIOLOGIST,
    "clinonc": models.Discipline.CLINICAL_ONCOLOGIST,
}

MEETING_DAY = dt.date(2026, 3, 10)


def meeting_at(day: dt.date = MEETING_DAY, hour: int = 8) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def make_meeting(
    chair: models.User, *, day: dt.date = MEETING_DAY, opened: bool = True
) -> models.Meeting:
    """A meeting of the colorectal series, opened by its chair at its start (``opened``), so
    that its outcomes can be signed off; ``opened=False`` leaves it scheduled."""
    series, _ = models.MeetingSeries.objects.get_or_create(name="Colorectal MDT")
    opening = {}
    if opened:
        opening = {
            "status": models.MeetingStatus.IN_PROGRESS,
            "opened_at": meeting_at(day),
            "opened_by": chair,
        }
    return models.Meeting.objects.create(
        scheduled_for=meeting_at(day), chair=chair, series=series, **opening
    )


def make_core_members(prefix: str = "") -> dict[str, models.User]:
    return {
        name: make_user("clinician", username=f"{prefix}{name}", discipline=discipline)
        for name, discipline in CORE.items()
    }


def attend_all(meeting: models.Meeting, members: dict[str, models.User]) -> None:
    for member in members.values():
        models.Attendance.objects.create(
            meeting=meeting, member=member, discipline=member.discipline
        )


def list_case(
    meeting: models.Meeting, case: models.Case, *, by: models.User, **fields
) -> models.AgendaItem:
    position = models.AgendaItem.objects.filter(meeting=meeting).count() + 1
    return models.AgendaItem.objects.create(
        meeting=meeting, case=case, position=position, listed_by=by, **fields
    )


def make_conversion_case(
    *,
    day: dt.date = MEETING_DAY,
    kras: str = "mutant",
    primary_site: str = models.PrimarySite.RECTUM,
    imaged_days_before: int | None = 5,
    agents: tuple[str, ...] = ("fluorouracil", "oxaliplatin", "bevacizumab"),
    bev_days_before: int | None = 14,
    **case_fields,
) -> models.Case:
    """A rectal case on conversion chemotherapy with a complete profile and a fresh scan.

    RAS mutant (by default), pMMR, BRAF wild-type, ECOG 1, age 65 at the meeting; chemotherapy
    started four months before; reassessment cycle 1 done two months before; cycle 2 imaged
    ``imaged_days_before`` days before the meeting and not yet reassessed.
    """
    case_fields.setdefault("diagnosed_on", day - dt.timedelta(days=150))
    case = make_case(primary_site=primary_site, **case_fields)
    markers = {
        "mmr_msi": "pmmr_mss",
        "kras": kras,
        "nras": "wild_type",
        "braf_v600e": "wild_type",
        "her2": "not_tested",
    }
    for marker, status in markers.items():
        reported = None if status in models.UNREPORTED_STATUSES else day - dt.timedelta(days=90)
        requested = day - dt.timedelta(days=100) if status == "pending" else None
        models.MolecularResult.objects.create(
            case=case, marker=marker, status=status, reported_on=reported, requested_on=requested
        )
    start = day - dt.timedelta(days=120)
    course = models.TreatmentCourse.objects.create(
        case=case, backbone=models.Backbone.FOLFOX, agents=list(agents), started_on=start
    )
    if bev_days_before is not None:
        models.AgentAdministration.objects.create(
            course=course, agent="bevacizumab", given_on=day - dt.timedelta(days=bev_days_before)
        )
    first = day - dt.timedelta(days=60)
    models.Reassessment.objects.create(
        case=case,
        cycle=1,
        due_on=first,
        imaging_performed_on=first - dt.timedelta(days=3),
        reassessed_on=first,
        response=models.Response.STABLE,
        hpb_mdt_reviewed=True,
        r0_achievable=False,
    )
    models.Reassessment.objects.create(
        case=case,
        cycle=2,
        due_on=day,
        imaging_performed_on=(
            None if imaged_days_before is None else day - dt.timedelta(days=imaged_days_before)
        ),
    )
    return case


def close_meeting(meeting: models.Meeting, *, by: models.User) -> None:
    """Close a meeting directly (the service also checks every case is signed off)."""
    meeting.status = models.MeetingStatus.CLOSED
    meeting.opened_at = meeting.opened_at or meeting.scheduled_for
    meeting.opened_by = meeting.opened_by or by
    meeting.closed_at, meeting.closed_by = timezone.now(), by
    meeting.save()


def answer_as_recommended(step, day: dt.date = MEETING_DAY, **overrides) -> dict:
    """A complete answer to ``step`` that follows its recommendation where it names one.

    Nothing is pre-ticked on a card, so a test chooses explicitly: the recommended choice of each
    radio group, the verdict "R0 not yet assessed, no extrahepatic disease" at resectability
    (with the status that follows), the current course continued (else FOLFOX), a surgery date
    two months ahead and a planned last bevacizumab dose the day after the meeting.
    """
    answer = {k: v for k, v in step.initial.items() if v is not None}
    values = {f.name: [c.value for c in f.choices] for f in step.fields}
    for f in step.fields:
        if answer.get(f.name) not in (None, "") or f.name in overrides:
            continue
        recommended = [c.value for c in f.choices if c.recommended]
        if f.name == "plan":
            answer["plan"] = "continue" if "continue" in values["plan"] else "new"
            if answer["plan"] == "new":
                answer["agents"] = ["fluorouracil", "oxaliplatin"]
        elif f.name == "r0_achievable":
            answer[f.name] = "not_assessed"
        elif f.name == "extrahepatic_disease":
            answer[f.name] = "none"
        elif step.point == "resectability" and f.name == "choice":
            answer[f.name] = "not_resectable"
        elif f.kind == "radio":
            answer[f.name] = (recommended or values[f.name])[0]
        elif f.name == "last_bev_planned":
            answer[f.name] = (day + dt.timedelta(days=1)).isoformat()
        elif f.name == "target_surgery_date":
            answer[f.name] = (day + dt.timedelta(days=60)).isoformat()
    answer.update(overrides)
    if step.point == "outcome":
        if answer.get("choice") != "continue_pathway":
            answer.pop("next_reassessment_on", None)
        elif not answer.get("next_reassessment_on"):
            answer["next_reassessment_on"] = (day + dt.timedelta(days=56)).isoformat()
        if answer.get("choice") == "leave_pathway":
            answer.setdefault("exit_reason", "progression")
    return answer
