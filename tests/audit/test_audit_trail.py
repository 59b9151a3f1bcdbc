"""Every change to clinical data is in the audit trail with who made it, however it was made,
and the trail itself cannot be edited: the database refuses."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pghistory.runtime
import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from cases import models
from cases.audit.access import access_log_record
from cases.security.middleware import AuditContextMiddleware
from tests.conftest import make_case, make_patient, make_user, test_database_url
from tests.imaging_factory import make_lesion, make_study, measure

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 3, 2)


def as_request_by(user, work, path="/cases/1/edit/"):
    """Run ``work`` inside a request by ``user``, through the audit middleware."""
    request = RequestFactory().post(path)
    request.user = user
    result = {}

    def view(request):
        result["value"] = work()
        return HttpResponse()

    AuditContextMiddleware(view)(request)
    return result.get("value")


# One row of each audited model, and a change to make to it.
def _meeting():
    return models.Meeting.objects.create(scheduled_for=timezone.now(), chair=make_user("chair"))


def _course():
    return models.TreatmentCourse.objects.create(
        case=make_case(), started_on=TODAY, backbone="folfox", agents=["fluorouracil"]
    )


def _item():
    return models.AgendaItem.objects.create(
        meeting=_meeting(), case=make_case(), position=1, listed_by=make_user("coordinator")
    )


def _enrolment_link(now):
    return models.EnrolmentLink.objects.create(
        user=make_user("clinician"),
        issued_by=make_user("admin"),
        token_hash=uuid.uuid4().hex * 2,
        created_at=now,
        expires_at=now + dt.timedelta(hours=72),
    )


# For each audited model: how to make one row, a change made with save(), and a change made
# with QuerySet.update() (which bypasses save() and signals: only a trigger sees it).
BUILDERS = {
    "Patient": (make_patient, {"given_name": "Changed"}, {"nhs_number": "9990000001"}),
    "Case": (make_case, {"ecog": 2}, {"stage": "surgery_planned"}),
    "MolecularResult": (
        lambda: models.MolecularResult.objects.create(
            case=make_case(), marker="kras", status="mutant", reported_on=TODAY
        ),
        {"method": "NGS"},
        {"status": "wild_type"},
    ),
    "Reassessment": (
        lambda: models.Reassessment.objects.create(case=make_case(), cycle=1, due_on=TODAY),
        {"imaging_booked_for": TODAY},
        {"response": "partial_response"},
    ),
    "TreatmentCourse": (_course, {"stopped_on": TODAY}, {"backbone": "capox"}),
    "AgentAdministration": (
        lambda: models.AgentAdministration.objects.create(
            course=_course(), agent="bevacizumab", given_on=TODAY
        ),
        {"cycle_number": 3},
        {"given_on": TODAY - dt.timedelta(days=14)},
    ),
    "Radiotherapy": (
        lambda: models.Radiotherapy.objects.create(
            case=make_case(), kind="short_course_5x5", started_on=TODAY
        ),
        {"completed_on": TODAY},
        {"kind": "long_course_crt"},
    ),
    "Surgery": (
        lambda: models.Surgery.objects.create(
            case=make_case(), kind="one_stage_hepatectomy", planned_on=TODAY
        ),
        {"urgency": "emergency"},
        {"planned_on": TODAY + dt.timedelta(days=7)},
    ),
    # Staging, pathology, referral, cycles and toxicities (issue 17).
    "TnmStaging": (
        lambda: models.TnmStaging.objects.create(
            case=make_case(), kind="clinical", t="T3", n="N1a", m="M1a", staged_on=TODAY
        ),
        {"n": "N2a"},
        {"m": "M1b"},
    ),
    "PelvicMri": (
        lambda: models.PelvicMri.objects.create(
            case=make_case(),
            performed_on=TODAY,
            t="T3",
            n="N1",
            crm="clear",
            emvi="negative",
            tumour_height_cm=6,
        ),
        {"emvi": "positive"},
        {"crm": "involved"},
    ),
    "Histology": (
        lambda: models.Histology.objects.create(
            case=make_case(),
            specimen="biopsy",
            reported_on=TODAY,
            histological_type="adenocarcinoma",
            grade="low",
        ),
        {"grade": "high"},
        {"signet_ring": True},
    ),
    "Referral": (
        lambda: models.Referral.objects.create(
            case=make_case(), source="gp", referrer="Dr Jones", received_on=TODAY, question="?"
        ),
        {"urgency": "urgent"},
        {"question": "Resectable?"},
    ),
    "TreatmentCycle": (
        lambda: models.TreatmentCycle.objects.create(
            course=_course(), number=1, given_on=TODAY, agents=["fluorouracil"]
        ),
        {"dose_reduction_percent": 20},
        {"delay_days": 7},
    ),
    "Toxicity": (
        lambda: models.Toxicity.objects.create(
            course=_course(), term="diarrhea", grade=2, noted_on=TODAY
        ),
        {"grade": 3},
        {"term": "nausea"},
    ),
    "Meeting": (_meeting, {"early_open_reason": "Chair away"}, {"title": "Extra MDT"}),
    "MeetingSeries": (
        lambda: models.MeetingSeries.objects.create(name="Upper GI MDT"),
        {"name": "Upper GI MDT (Tuesday)"},
        {"name": "Upper GI MDT (Friday)"},
    ),
    "SeriesMember": (
        lambda: models.SeriesMember.objects.create(
            series=models.MeetingSeries.objects.create(name="HPB MDT"),
            member=make_user("clinician"),
            discipline="radiologist",
        ),
        {"discipline": "pathologist"},
        {"discipline": "hpb_surgeon"},
    ),
    "Attendance": (
        lambda: models.Attendance.objects.create(
            meeting=_meeting(), member=make_user("clinician"), discipline="radiologist"
        ),
        {"discipline": "pathologist"},
        {"discipline": "hpb_surgeon"},
    ),
    "AgendaItem": (
        _item,
        {"incomplete_reason": "BRAF awaited; discussed for the scan result"},
        {"late_reason": "Scan reported late"},
    ),
    "Action": (
        lambda: models.Action.objects.create(
            case=make_case(), description="Book MRI", owner=make_user("clinician"), due_on=TODAY
        ),
        {"status": "done"},
        {"due_on": TODAY + dt.timedelta(days=3)},
    ),
    "Reminder": (
        lambda: models.Reminder.objects.create(
            kind="reimaging_due", case=make_case(), dedupe_key="k1", due_at=timezone.now()
        ),
        {"attempts": 1},
        {"last_error": "Connection refused"},
    ),
    "ReminderAttempt": (
        lambda: models.ReminderAttempt.objects.create(
            reminder=models.Reminder.objects.create(
                kind="reimaging_due",
                case=make_case(),
                dedupe_key=f"k{uuid.uuid4()}",
                due_at=timezone.now(),
            ),
            number=1,
            claim_token=uuid.uuid4(),
            message_id="<m@x>",
            started_at=timezone.now(),
        ),
        {"outcome": "sent"},
        {"error": "451 try again later"},
    ),
    "User": (lambda: make_user("clinician"), {"role": "chair"}, {"is_active": False}),
    "ImagingStudy": (
        lambda: make_study(make_case(), TODAY),
        {"report": "Segment VII lesion smaller."},
        {"accession_number": "ACC9"},
    ),
    "Lesion": (
        lambda: make_lesion(make_study(make_case(), TODAY)),
        {"site": "dome"},
        {"segment": 8},
    ),
    "LesionMeasurement": (
        lambda: (lambda s: measure(s, make_lesion(s), "31"))(make_study(make_case(), TODAY)),
        {"size_mm": 30},
        {"size_mm": 29},
    ),
    "LabResult": (
        lambda: models.LabResult.objects.create(
            case=make_case(), test="cea", taken_on=TODAY, value=12, unit="ng/mL"
        ),
        {"value": 14},
        {"reference_high": 5},
    ),
    "EnrolmentLink": (
        lambda: _enrolment_link(timezone.now()),
        {"token_hash": "f" * 64},
        {"token_hash": "e" * 64},
    ),
    "FactCorrection": (
        lambda: models.FactCorrection.objects.create(
            agenda_item=_item(),
            marker="kras",
            old_status="mutant",
            new_status="wild_type",
            state="awaiting_chair",
            requested_by=make_user("clinician"),
        ),
        {"method": "NGS"},
        {"reported_on": TODAY},
    ),
    "ApiToken": (
        lambda: models.ApiToken.objects.create(
            name=f"system-{uuid.uuid4().hex[:8]}",
            scope="read",
            token_hash=uuid.uuid4().hex * 2,
            prefix="tbfhir_x",
        ),
        {"scope": "import"},
        {"revoked_at": timezone.now()},
    ),
    # After the meeting (cases/followup/).
    "LetterTemplate": (
        lambda: models.LetterTemplate.objects.create(
            kind="patient", salutation="Dear {{ patient_name }}", opening="We met."
        ),
        {"closing": "With best wishes"},
        {"opening": "The team met."},
    ),
    "OutcomeLetter": (
        lambda: (
            lambda item: models.OutcomeLetter.objects.create(
                agenda_item=item, case=item.case, kind="gp"
            )
        )(_item()),
        {"kind": "referrer"},
        {"kind": "patient"},
    ),
    "FollowUp": (
        lambda: (
            lambda item: models.FollowUp.objects.create(
                agenda_item=item,
                case=item.case,
                decision=_decision(item, make_user("chair")),
                kind="scan",
                description="CT chest, abdomen and pelvis",
                planned_on=TODAY,
            )
        )(_item()),
        {"status": "in_progress"},
        {"description": "MRI liver"},
    ),
}


def event_models():
    return [
        model
        for model in apps.get_app_config("cases").get_models()
        if hasattr(model, "pgh_tracked_model")
    ]


# The access log is its own append-only record; the dispatch heartbeat is one operational row
# rewritten every minute, with no clinical content.
# Bookkeeping, not clinical data: the access log (its own record), the dispatcher's heartbeat,
# and the dashboard cache's data versions.
# Searches are kept only for their author's results links (cases/security/search_tokens.py).
NOT_AUDITED = {
    models.CaseAccess,
    models.DispatchHeartbeat,
    models.DataChange,
    models.DataVersion,
    models.SavedSearch,
}


def test_every_model_of_the_app_is_audited():
    """A model added later without @audited fails here (the access log is its own record)."""
    tracked = {model.pgh_tracked_model.__name__ for model in event_models()}
    data_models = {
        model.__name__
        for model in apps.get_app_config("cases").get_models()
        if not hasattr(model, "pgh_tracked_model") and model not in NOT_AUDITED
    }
    assert data_models == tracked
    # Decisions, the API call log and account events are append-only: never changed.
    assert set(BUILDERS) | {"Decision", "ApiAccess", "AccountEvent"} == tracked


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_create_update_bulk_update_and_delete_are_each_recorded_with_the_user(name):
    build, change, bulk_change = BUILDERS[name]
    model = getattr(models, name)
    editor = make_user("chair", username=f"editor-{name.lower()}")

    def work():
        obj = build()
        for field, value in change.items():
            setattr(obj, field, value)
        obj.save()
        model.objects.filter(pk=obj.pk).update(**bulk_change)
        pk = obj.pk
        model.objects.get(pk=pk).delete()
        return pk

    pk = as_request_by(editor, work)
    events = list(model.pgh_event_model.objects.filter(pgh_obj_id=pk).order_by("pgh_id"))
    assert [e.pgh_label for e in events] == ["insert", "update", "update", "delete"]
    assert {e.pgh_context["user"] for e in events} == {editor.pk}
    assert {e.pgh_context["url"] for e in events} == {"/cases/1/edit/"}
    (field, value), (bulk_field, bulk_value) = *change.items(), *bulk_change.items()
    assert getattr(events[1], field) == value  # after the save
    assert getattr(events[2], bulk_field) == bulk_value  # after the bulk update
    assert getattr(events[3], bulk_field) == bulk_value  # the row as it was when deleted


def _decision(item, user, **overrides):
    fields = {
        "agenda_item": item,
        "point": "timing",
        "answer": {"proceed": True},
        "advice_snapshot": {"codes": []},
        "follows_recommendation": True,
        "recorded_by": user,
    }
    fields.update(overrides)
    return models.Decision.objects.create(**fields)


def test_a_decision_is_recorded_with_the_user_and_can_be_neither_edited_nor_deleted():
    chair = make_user("chair")
    item = _item()
    decision = as_request_by(chair, lambda: _decision(item, chair))
    event = models.Decision.pgh_event_model.objects.get(pgh_obj_id=decision.pk)
    assert (event.pgh_label, event.pgh_context["user"]) == ("insert", chair.pk)
    with pytest.raises(DatabaseError), transaction.atomic():
        models.Decision.objects.filter(pk=decision.pk).update(follows_recommendation=False)
    with pytest.raises(DatabaseError), transaction.atomic():
        models.Decision.objects.filter(pk=decision.pk).delete()


@pytest.fixture
def one_of_everything():
    """A row in every audit table (each build writes an insert event) and in the access log."""
    for build, _change, _bulk in BUILDERS.values():
        build()
    chair = make_user("chair")
    _decision(_item(), chair)
    access_log_record(user=chair, case_id=make_case().pk, context="test")
    models.ApiAccess.objects.create(token_name="", method="GET", path="/fhir/", status=401)


@pytest.mark.parametrize(
    "model", [*event_models(), models.CaseAccess], ids=lambda model: model.__name__
)
@pytest.mark.parametrize("statement", ["UPDATE {table} SET id = id", "DELETE FROM {table}"])
def test_the_database_refuses_to_change_or_delete_audit_rows(one_of_everything, model, statement):
    assert model.objects.exists()
    # The app's role has no UPDATE or DELETE on these tables; the owner meets the trigger
    # (tests/audit/test_db_privileges.py).
    with (
        pytest.raises(DatabaseError, match=r"permission denied|Cannot update or delete"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement.format(table=model._meta.db_table))
    with pytest.raises(DatabaseError), transaction.atomic():
        model.objects.update(id=F("id"))


# --- Changes made outside a request are labelled too ----------------------------------------


def test_a_change_made_by_a_background_task_is_labelled_with_the_task():
    from tumourboard.celery import app

    case = make_case()

    @app.task(name="tests.audit_probe")
    def probe(case_id):
        models.Case.objects.filter(pk=case_id).update(ecog=3)

    probe.apply(args=[case.pk])
    event = models.Case.pgh_event_model.objects.filter(pgh_obj_id=case.pk).latest("pgh_id")
    assert event.ecog == 3
    assert event.pgh_context["task"] == "tests.audit_probe"
    # The task's context ends with the task.
    assert not hasattr(pghistory.runtime._tracker, "value")


@pytest.mark.django_db(transaction=True)
def test_a_change_made_by_a_management_command_is_labelled_with_the_command():
    case = make_case()
    url = test_database_url()
    code = f"from cases.models import Case; Case.objects.filter(pk={case.pk}).update(ecog=0)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env=dict(os.environ, DATABASE_URL=url),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    event = models.Case.pgh_event_model.objects.filter(pgh_obj_id=case.pk).latest("pgh_id")
    assert event.ecog == 0
    assert event.pgh_context == {"command": "shell"}


def test_opening_a_case_costs_one_insert(django_assert_num_queries):
    user, case = make_user("clinician"), make_case()
    with django_assert_num_queries(1):
        access_log_record(user=user, case_id=case.pk, context="case-page")
    entry = models.CaseAccess.objects.get()
    assert (entry.user, entry.case_id, entry.context) == (user, case.pk, "case-page")
