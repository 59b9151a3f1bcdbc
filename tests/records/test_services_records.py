"""Record services: clinical checks with clear messages, lost-update protection, the next
reassessment opened by the engine's date rule, and reminders kept in step."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cases import models
from cases.common.services import ConflictError
from cases.meetings import actions
from cases.pathway import add_months
from cases.records import services as records
from tests.conftest import make_case, make_patient

D = dt.date
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
TODAY = D(2026, 3, 10)


@pytest.fixture
def user(users):
    return users["coordinator"]


def messages(error: ValidationError) -> dict[str, list[str]]:
    return {
        field: [str(msg) for e in errs for msg in e] for field, errs in error.error_dict.items()
    }


def refused(call, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        call(**kwargs)
    return messages(info.value)


# --- Permissions -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_roles_without_edit_rights_are_refused_before_anything_is_checked(users, case, role):
    with pytest.raises(PermissionDenied):
        records.case_update(
            user=users[role],
            case_id=case.pk,
            expected_version=case.version,
            primary_site="rectum",
            diagnosed_on=case.diagnosed_on,
        )
    with pytest.raises(PermissionDenied):
        records.molecular_result_record(
            user=users[role], case_id=case.pk, marker="kras", status="mutant", reported_on=TODAY
        )
    assert not models.MolecularResult.objects.exists()


# --- Patient and case ------------------------------------------------------------------------


def test_a_patient_needs_a_unique_hospital_number_and_a_real_date_of_birth(user):
    make_patient(hospital_number="H1")
    errors = refused(
        records.patient_create,
        user=user,
        hospital_number="H1",
        family_name="Doe",
        given_name="Jo",
        date_of_birth=D(2030, 1, 1),
        nhs_number="12345",
    )
    assert errors == {
        "hospital_number": ["Another patient already has this hospital number."],
        "nhs_number": ["An NHS number is ten digits."],
        "date_of_birth": ["Date of birth cannot be in the future (today is 10 Mar 2026)."],
    }


def test_a_case_cannot_be_diagnosed_before_birth_or_in_the_future(user):
    patient = make_patient(date_of_birth=D(1960, 1, 1))
    errors = refused(
        records.case_create,
        user=user,
        patient_id=patient.pk,
        primary_site="rectum",
        diagnosed_on=D(1959, 1, 1),
    )
    assert errors["diagnosed_on"] == ["The diagnosis cannot be before the patient's date of birth."]
    errors = refused(
        records.case_create,
        user=user,
        patient_id=patient.pk,
        primary_site="rectum",
        diagnosed_on=D(2026, 3, 11),
    )
    assert "cannot be in the future" in errors["diagnosed_on"][0]


def test_leaving_the_pathway_needs_a_reason_and_only_then(user, case):
    errors = refused(
        records.case_update,
        user=user,
        case_id=case.pk,
        expected_version=1,
        primary_site="rectum",
        diagnosed_on=case.diagnosed_on,
        stage="left_pathway",
    )
    assert errors == {"exit_reason": ["Say why the case left the pathway."]}
    errors = refused(
        records.case_update,
        user=user,
        case_id=case.pk,
        expected_version=1,
        primary_site="rectum",
        diagnosed_on=case.diagnosed_on,
        stage="conversion",
        exit_reason="died",
    )
    assert errors == {"exit_reason": ["Only a case that left the pathway has an exit reason."]}
    case.refresh_from_db()
    assert (case.stage, case.exit_reason, case.version) == ("conversion", "", 1)


def test_the_diagnosis_cannot_move_after_a_recorded_scan(user, case):
    models.Reassessment.objects.create(
        case=case, cycle=1, due_on=D(2026, 2, 1), imaging_performed_on=D(2026, 2, 1), modality="ct"
    )
    errors = refused(
        records.case_update,
        user=user,
        case_id=case.pk,
        expected_version=1,
        primary_site="rectum",
        diagnosed_on=D(2026, 2, 15),
    )
    assert errors == {
        "diagnosed_on": ["The record has a scan on 1 Feb 2026, before this diagnosis date."]
    }


def test_two_people_editing_a_case_the_second_is_refused_and_nothing_is_overwritten(user, case):
    seen = case.version
    records.case_update(
        user=user,
        case_id=case.pk,
        expected_version=seen,
        primary_site="rectum",
        diagnosed_on=case.diagnosed_on,
        ecog=2,
        stage="conversion",
    )
    with pytest.raises(ConflictError):
        records.case_update(
            user=user,
            case_id=case.pk,
            expected_version=seen,
            primary_site="caecum",
            diagnosed_on=case.diagnosed_on,
            ecog=0,
            stage="conversion",
        )
    case.refresh_from_db()
    assert (case.primary_site, case.ecog, case.version) == ("rectum", 2, seen + 1)


# --- Molecular results -----------------------------------------------------------------------


def test_a_pending_result_needs_its_request_date_and_a_report_needs_its_date(user, case):
    errors = refused(
        records.molecular_result_record, user=user, case_id=case.pk, marker="kras", status="pending"
    )
    assert errors == {"requested_on": ["A pending result needs the date it was requested."]}
    errors = refused(
        records.molecular_result_record,
        user=user,
        case_id=case.pk,
        marker="kras",
        status="mutant",
        requested_on=D(2026, 2, 1),
    )
    assert errors == {"reported_on": ["A reported result needs its report date."]}
    errors = refused(
        records.molecular_result_record,
        user=user,
        case_id=case.pk,
        marker="kras",
        status="mutant",
        requested_on=D(2026, 2, 1),
        reported_on=D(2026, 1, 30),
    )
    assert errors == {"reported_on": ["The report cannot be before the request."]}


def test_a_marker_only_takes_its_own_values(user, case):
    errors = refused(
        records.molecular_result_record,
        user=user,
        case_id=case.pk,
        marker="her2",
        status="pending",
        requested_on=TODAY,
    )
    assert errors == {"status": ["HER2 can be: Amplified, Not amplified, Not tested."]}


def test_a_pending_result_is_later_recorded_as_mutant(user, case):
    pending = records.molecular_result_record(
        user=user, case_id=case.pk, marker="kras", status="pending", requested_on=D(2026, 2, 1)
    )
    chase = models.Reminder.objects.get(case=case, kind=models.ReminderKind.RESULT_OUTSTANDING)
    assert chase.state == models.ReminderState.PENDING  # the pending result is chased
    result = records.molecular_result_record(
        user=user,
        case_id=case.pk,
        marker="kras",
        status="mutant",
        method="NGS panel",
        requested_on=D(2026, 2, 1),
        reported_on=TODAY,
        expected_version=pending.version,
    )
    assert (result.pk, result.status, result.version) == (pending.pk, "mutant", 2)
    chase.refresh_from_db()
    assert chase.state == models.ReminderState.CANCELLED  # reported: nothing left to chase


def test_two_people_entering_the_same_marker_the_second_is_told(user, case):
    records.molecular_result_record(
        user=user,
        case_id=case.pk,
        marker="kras",
        status="mutant",
        requested_on=D(2026, 2, 1),
        reported_on=TODAY,
    )
    with pytest.raises(ConflictError, match="already recorded a KRAS result"):
        records.molecular_result_record(
            user=user,
            case_id=case.pk,
            marker="kras",
            status="wild_type",
            requested_on=D(2026, 2, 1),
            reported_on=TODAY,
        )
    assert models.MolecularResult.objects.get(case=case, marker="kras").status == "mutant"


# --- Reassessments ---------------------------------------------------------------------------


def reassessment(**values):
    base = {"due_on": D(2026, 3, 20)}
    return base | values


def test_a_scan_before_the_diagnosis_and_impossible_liver_figures_are_refused(user):
    case = make_case(diagnosed_on=D(2026, 1, 10))
    errors = refused(
        records.reassessment_create,
        user=user,
        case_id=case.pk,
        **reassessment(
            imaging_performed_on=D(2026, 1, 5),
            modality="ct",
            flr_percent_slv=Decimal("100.5"),
            flr_segments_remaining=9,
        ),
    )
    assert errors == {
        "imaging_performed_on": ["The scan is before the diagnosis (10 Jan 2026)."],
        "flr_percent_slv": ["The future liver remnant is a percentage from 0 to 100."],
        "flr_segments_remaining": ["The liver has 8 segments: enter 0 to 8."],
    }


def test_a_scan_in_the_future_and_a_verdict_before_its_scan_are_refused(user, case):
    errors = refused(
        records.reassessment_create,
        user=user,
        case_id=case.pk,
        **reassessment(imaging_performed_on=D(2026, 3, 11), modality="ct"),
    )
    assert errors == {
        "imaging_performed_on": ["Scan date cannot be in the future (today is 10 Mar 2026)."]
    }
    scan_then_verdict = reassessment(
        imaging_performed_on=D(2026, 3, 5), modality="ct", reassessed_on=D(2026, 3, 4)
    )
    errors = refused(records.reassessment_create, user=user, case_id=case.pk, **scan_then_verdict)
    assert errors == {"reassessed_on": ["The reassessment cannot be before the scan it judged."]}
    errors = refused(
        records.reassessment_create,
        user=user,
        case_id=case.pk,
        **reassessment(imaging_performed_on=D(2026, 3, 5)),
    )
    assert errors == {"modality": ["Say which scan was done."]}


def test_a_year_typed_wrong_is_caught_before_any_date_arithmetic(user, case):
    errors = refused(
        records.reassessment_create,
        user=user,
        case_id=case.pk,
        **reassessment(due_on=D(9999, 12, 31)),
    )
    assert errors == {"due_on": ["Due date is more than three years ahead: check the year."]}


def test_recording_the_reassessment_opens_the_next_cycle_by_the_engine_rule(user):
    case = make_case(diagnosed_on=D(2025, 10, 1))
    cycle = models.Reassessment.objects.create(case=case, cycle=1, due_on=D(2025, 12, 30))
    records.reassessment_update(
        user=user,
        reassessment_id=cycle.pk,
        expected_version=1,
        due_on=cycle.due_on,
        imaging_performed_on=D(2025, 12, 29),
        modality="ct",
        reassessed_on=D(2025, 12, 31),
        hpb_mdt_reviewed=True,
        r0_achievable=False,
    )
    nxt = models.Reassessment.objects.get(case=case, cycle=2)
    # 31 Dec + 2 calendar months = 28 Feb (end-of-month clamp, R9).
    assert nxt.due_on == D(2026, 2, 28) == add_months(D(2025, 12, 31), 2)
    assert nxt.reassessed_on is None


def test_a_stale_reassessment_edit_is_refused_and_nothing_is_written(user, case):
    cycle = models.Reassessment.objects.create(case=case, cycle=1, due_on=D(2026, 3, 20))
    records.reassessment_update(
        user=user,
        reassessment_id=cycle.pk,
        expected_version=1,
        due_on=cycle.due_on,
        imaging_booked_for=D(2026, 3, 18),
    )
    with pytest.raises(ConflictError):
        records.reassessment_update(
            user=user,
            reassessment_id=cycle.pk,
            expected_version=1,
            due_on=cycle.due_on,
            imaging_booked_for=D(2026, 3, 19),
        )
    cycle.refresh_from_db()
    assert cycle.imaging_booked_for == D(2026, 3, 18)


# --- Treatment -------------------------------------------------------------------------------


def test_a_course_must_start_after_diagnosis_and_name_its_backbone_drugs(user):
    case = make_case(diagnosed_on=D(2026, 1, 10))
    errors = refused(
        records.treatment_course_create,
        user=user,
        case_id=case.pk,
        backbone="folfox",
        agents=["fluorouracil", "bevacizumab"],
        started_on=D(2026, 1, 9),
    )
    assert errors == {
        "agents": ["FOLFOX includes oxaliplatin: tick it too."],
        "started_on": ["Treatment cannot start before the diagnosis (10 Jan 2026)."],
    }


def test_the_first_course_opens_reassessment_cycle_1_two_months_after_the_start(user):
    case = make_case(diagnosed_on=D(2026, 1, 10))
    records.treatment_course_create(
        user=user,
        case_id=case.pk,
        backbone="capox",
        agents=["capecitabine", "oxaliplatin", "bevacizumab"],
        started_on=D(2026, 1, 31),
    )
    [cycle] = models.Reassessment.objects.filter(case=case)
    assert (cycle.cycle, cycle.due_on) == (1, D(2026, 3, 31))
    due = models.Reminder.objects.get(case=case, kind=models.ReminderKind.REASSESSMENT_DUE)
    assert due.event_on == D(2026, 3, 31)  # the reminders follow the new cycle


def test_a_course_cannot_be_shortened_past_its_recorded_doses(user, case):
    course = records.treatment_course_create(
        user=user,
        case_id=case.pk,
        backbone="folfox",
        agents=["fluorouracil", "oxaliplatin"],
        started_on=D(2026, 2, 1),
    )
    records.administration_create(
        user=user, course_id=course.pk, agent="oxaliplatin", given_on=D(2026, 3, 1)
    )
    errors = refused(
        records.treatment_course_update,
        user=user,
        course_id=course.pk,
        expected_version=1,
        backbone="folfox",
        agents=["fluorouracil", "oxaliplatin"],
        started_on=D(2026, 2, 1),
        stopped_on=D(2026, 2, 20),
    )
    assert errors == {
        "started_on": [
            "A dose on 1 Mar 2026 would fall outside the course: correct that dose first."
        ]
    }


@pytest.fixture
def bev_course(user, case):
    return records.treatment_course_create(
        user=user,
        case_id=case.pk,
        backbone="folfox",
        agents=["fluorouracil", "oxaliplatin", "bevacizumab"],
        started_on=D(2026, 1, 20),
    )


def test_a_dose_must_belong_to_the_course_and_fall_within_it(user, bev_course):
    errors = refused(
        records.administration_create,
        user=user,
        course_id=bev_course.pk,
        agent="cetuximab",
        given_on=D(2026, 1, 19),
    )
    assert errors == {
        "agent": ["Cetuximab is not part of this course: add it to the course first."],
        "given_on": ["The course started on 20 Jan 2026, after this dose."],
    }
    errors = refused(
        records.administration_create,
        user=user,
        course_id=bev_course.pk,
        agent="bevacizumab",
        given_on=D(2026, 3, 11),
    )
    assert errors == {"given_on": ["Date given cannot be in the future (today is 10 Mar 2026)."]}


def test_bevacizumab_after_a_performed_operation_needs_an_explanation(user, case, bev_course):
    models.Surgery.objects.create(
        case=case,
        kind="one_stage_hepatectomy",
        planned_on=D(2026, 2, 10),
        performed_on=D(2026, 2, 10),
    )
    errors = refused(
        records.administration_create,
        user=user,
        course_id=bev_course.pk,
        agent="bevacizumab",
        given_on=D(2026, 3, 3),
    )
    assert list(errors) == ["note"]
    assert "after the operation on 10 Feb 2026" in errors["note"][0]
    dose = records.administration_create(
        user=user,
        course_id=bev_course.pk,
        agent="bevacizumab",
        given_on=D(2026, 3, 3),
        note="Restarted after surgery, wound healed",
    )
    assert dose.note.startswith("Restarted")
    # Other agents, and bevacizumab before the operation, need no note.
    records.administration_create(
        user=user, course_id=bev_course.pk, agent="oxaliplatin", given_on=D(2026, 3, 3)
    )
    records.administration_create(
        user=user, course_id=bev_course.pk, agent="bevacizumab", given_on=D(2026, 2, 1)
    )


def test_a_dose_recorded_twice_is_refused_with_a_message(user, bev_course):
    records.administration_create(
        user=user, course_id=bev_course.pk, agent="bevacizumab", given_on=D(2026, 2, 3)
    )
    errors = refused(
        records.administration_create,
        user=user,
        course_id=bev_course.pk,
        agent="bevacizumab",
        given_on=D(2026, 2, 3),
    )
    assert errors == {
        "given_on": ["A Bevacizumab dose on 3 Feb 2026 is already recorded for this course."]
    }


def test_correcting_a_dose_date_is_protected_against_lost_updates(user, bev_course):
    dose = records.administration_create(
        user=user, course_id=bev_course.pk, agent="bevacizumab", given_on=D(2026, 2, 3)
    )
    records.administration_update(
        user=user,
        administration_id=dose.pk,
        expected_version=1,
        agent="bevacizumab",
        given_on=D(2026, 2, 4),
    )
    with pytest.raises(ConflictError):
        records.administration_update(
            user=user,
            administration_id=dose.pk,
            expected_version=1,
            agent="bevacizumab",
            given_on=D(2026, 2, 5),
        )
    dose.refresh_from_db()
    assert (dose.given_on, dose.version) == (D(2026, 2, 4), 2)


# --- Radiotherapy and surgery ----------------------------------------------------------------


def test_short_course_radiotherapy_dates_are_checked(user, case):
    errors = refused(
        records.radiotherapy_create,
        user=user,
        case_id=case.pk,
        kind="short_course_5x5",
        started_on=D(2026, 2, 1),
        completed_on=D(2026, 2, 20),
    )
    assert "five fractions over about a week" in errors["completed_on"][0]
    errors = refused(
        records.radiotherapy_create,
        user=user,
        case_id=case.pk,
        kind="long_course_crt",
        started_on=D(2026, 2, 1),
        completed_on=D(2026, 1, 20),
    )
    assert errors == {"completed_on": ["Radiotherapy cannot finish before it started."]}


def test_surgery_facts_are_checked(user, case):
    errors = refused(
        records.surgery_create,
        user=user,
        case_id=case.pk,
        kind="primary_resection",
        performed_on=D(2026, 3, 12),
        margin="r0",
        hepatectomy_extent="major",
        cancel_reason="Unfit",
    )
    assert errors == {
        "hepatectomy_extent": ["Only a liver resection has a hepatectomy extent."],
        "performed_on": ["Date performed cannot be in the future (today is 10 Mar 2026)."],
        "cancelled_on": ["Give the date it was cancelled."],
    }
    errors = refused(
        records.surgery_create,
        user=user,
        case_id=case.pk,
        kind="primary_resection",
        planned_on=D(2026, 4, 1),
        margin="r1",
    )
    assert errors == {
        "margin": ["A margin comes from the pathology of an operation that was performed."]
    }


def test_planned_surgery_inside_the_bevacizumab_interval_is_recorded_not_refused(user, case):
    # The hard stop is for the MDT to see and override; the plan itself is a fact to record.
    surgery = records.surgery_create(
        user=user, case_id=case.pk, kind="one_stage_hepatectomy", planned_on=D(2026, 3, 20)
    )
    assert surgery.pk


# --- Actions ---------------------------------------------------------------------------------


def test_an_action_not_done_needs_a_reason_and_closing_it_is_stamped(user, users, case):
    action = models.Action.objects.create(
        case=case, description="Book MRI", owner=users["clinician"], due_on=TODAY
    )
    errors = refused(
        actions.action_status_set,
        user=user,
        action_id=action.pk,
        expected_version=1,
        status="not_done",
        not_done_reason="  ",
    )
    assert errors == {"not_done_reason": ["Reason is required."]}
    done = actions.action_status_set(
        user=user,
        action_id=action.pk,
        expected_version=1,
        status="not_done",
        not_done_reason="Scanner down",
    )
    assert (done.status, done.not_done_reason, done.completed_at is not None) == (
        "not_done",
        "Scanner down",
        True,
    )
    reopened = actions.action_status_set(
        user=user, action_id=action.pk, expected_version=2, status="open", not_done_reason="ignored"
    )
    assert (reopened.not_done_reason, reopened.completed_at) == ("", None)
