"""What must always hold is enforced by PostgreSQL itself, not only by forms.

Each test writes a bad row straight to the database (``objects.create`` or ``QuerySet.update``,
bypassing model validation) and expects PostgreSQL to refuse it; a near-miss good row proves the
constraint is not simply refusing everything.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from cases import models
from tests.conftest import make_case, make_patient, make_user

D = dt.date


def refused(callable_, *args, **kwargs) -> bool:
    """True when the database refuses the write; the transaction is rolled back either way."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            callable_(*args, **kwargs)
            # Check deferred constraints now: the test's own transaction never commits.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    except DatabaseError:
        return True
    return False


pytestmark = pytest.mark.django_db


def test_it_rejects_ecog_outside_0_to_4(case):
    assert refused(models.Case.objects.filter(pk=case.pk).update, ecog=5)
    assert not refused(models.Case.objects.filter(pk=case.pk).update, ecog=4)


def test_it_rejects_an_unknown_primary_site(case):
    assert refused(models.Case.objects.filter(pk=case.pk).update, primary_site="left_colon")


def test_it_requires_an_exit_reason_exactly_when_the_case_left_the_pathway(case):
    assert refused(models.Case.objects.filter(pk=case.pk).update, stage="left_pathway")
    assert refused(models.Case.objects.filter(pk=case.pk).update, exit_reason="died")
    assert not refused(
        models.Case.objects.filter(pk=case.pk).update, stage="left_pathway", exit_reason="died"
    )


def test_it_rejects_a_malformed_nhs_number_and_a_duplicate_one():
    assert refused(make_patient, nhs_number="12345")
    make_patient(nhs_number="9990000001")
    assert refused(make_patient, nhs_number="9990000001")
    # Blank is allowed more than once: not every patient has one.
    make_patient(nhs_number="")
    make_patient(nhs_number="")


def test_it_rejects_a_duplicate_hospital_number():
    make_patient(hospital_number="H1")
    assert refused(make_patient, hospital_number="H1")


@pytest.mark.parametrize(
    ("marker", "status", "allowed"),
    [
        ("kras", "wild_type_exon2_only", True),
        ("nras", "wild_type_exon2_only", False),
        ("kras", "amplified", False),
        ("her2", "amplified", True),
        ("her2", "pending", False),
        ("mmr_msi", "mutant", False),
        ("mmr_msi", "dmmr_msi_h", True),
        ("braf_v600e", "pmmr_mss", False),
    ],
)
def test_it_only_accepts_the_values_a_marker_can_take(case, marker, status, allowed):
    def create():
        models.MolecularResult.objects.create(
            case=case, marker=marker, status=status, requested_on=D(2026, 1, 2),
            reported_on=D(2026, 1, 20),
        )  # fmt: skip

    assert refused(create) is not allowed


def test_it_keeps_one_result_per_marker(case):
    models.MolecularResult.objects.create(
        case=case, marker="kras", status="pending", requested_on=D(2026, 1, 2)
    )
    assert refused(
        models.MolecularResult.objects.create,
        case=case, marker="kras", status="mutant", reported_on=D(2026, 1, 9),
    )  # fmt: skip


def test_it_requires_dates_on_molecular_results(case):
    # A pending test needs the date it was requested (the 14-day chase counts from it).
    assert refused(
        models.MolecularResult.objects.create, case=case, marker="kras", status="pending"
    )
    # A reported result needs its report date.
    assert refused(models.MolecularResult.objects.create, case=case, marker="kras", status="mutant")
    # A report cannot come before the request.
    assert refused(
        models.MolecularResult.objects.create,
        case=case, marker="kras", status="mutant",
        requested_on=D(2026, 2, 1), reported_on=D(2026, 1, 31),
    )  # fmt: skip
    assert not refused(
        models.MolecularResult.objects.create,
        case=case, marker="kras", status="mutant",
        requested_on=D(2026, 2, 1), reported_on=D(2026, 2, 1),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("flr", "segments", "allowed"),
    [
        (Decimal("100.0"), 8, True),
        (Decimal("0.0"), 0, True),
        (Decimal("100.1"), 4, False),
        (Decimal("-0.1"), 4, False),
        (Decimal("30.0"), 9, False),
    ],
)
def test_it_keeps_flr_between_0_and_100_and_segments_at_most_8(case, flr, segments, allowed):
    def create():
        models.Reassessment.objects.create(
            case=case, cycle=1, due_on=D(2026, 3, 10),
            flr_percent_slv=flr, flr_segments_remaining=segments,
        )  # fmt: skip

    assert refused(create) is not allowed


def test_it_numbers_reassessment_cycles_once_each_from_1(case):
    assert refused(models.Reassessment.objects.create, case=case, cycle=0, due_on=D(2026, 3, 10))
    models.Reassessment.objects.create(case=case, cycle=1, due_on=D(2026, 3, 10))
    assert refused(models.Reassessment.objects.create, case=case, cycle=1, due_on=D(2026, 5, 10))


def test_it_refuses_a_reassessment_dated_before_its_scan(case):
    assert refused(
        models.Reassessment.objects.create,
        case=case, cycle=1, due_on=D(2026, 3, 10),
        imaging_performed_on=D(2026, 3, 9), reassessed_on=D(2026, 3, 8),
    )  # fmt: skip


def test_it_refuses_treatment_and_radiotherapy_that_end_before_they_start(case):
    assert refused(
        models.TreatmentCourse.objects.create,
        case=case, started_on=D(2026, 2, 1), stopped_on=D(2026, 1, 31),
    )  # fmt: skip
    assert refused(
        models.Radiotherapy.objects.create,
        case=case, kind="short_course_5x5", started_on=D(2026, 2, 1), completed_on=D(2026, 1, 30),
    )  # fmt: skip
    assert not refused(
        models.Radiotherapy.objects.create,
        case=case, kind="short_course_5x5", started_on=D(2026, 2, 1), completed_on=D(2026, 2, 5),
    )  # fmt: skip


def test_it_refuses_unknown_agents_in_a_course(case):
    assert refused(
        models.TreatmentCourse.objects.create,
        case=case, started_on=D(2026, 2, 1), agents=["bevacizumab", "aspirin"],
    )  # fmt: skip


def test_it_records_one_dose_of_an_agent_per_day(case):
    course = models.TreatmentCourse.objects.create(case=case, started_on=D(2026, 2, 1))
    models.AgentAdministration.objects.create(
        course=course, agent="bevacizumab", given_on=D(2026, 2, 1)
    )
    assert refused(
        models.AgentAdministration.objects.create,
        course=course, agent="bevacizumab", given_on=D(2026, 2, 1),
    )  # fmt: skip


def test_it_refuses_a_margin_on_an_operation_that_has_not_happened(case):
    assert refused(
        models.Surgery.objects.create,
        case=case, kind="one_stage_hepatectomy", planned_on=D(2026, 6, 1), margin="r0",
    )  # fmt: skip
    assert not refused(
        models.Surgery.objects.create,
        case=case, kind="one_stage_hepatectomy", planned_on=D(2026, 6, 1),
        performed_on=D(2026, 6, 1), margin="r0",
    )  # fmt: skip


def test_it_refuses_surgery_with_no_date_or_cancelled_without_reason(case):
    assert refused(models.Surgery.objects.create, case=case, kind="primary_resection")
    assert refused(
        models.Surgery.objects.create,
        case=case, kind="primary_resection", planned_on=D(2026, 6, 1), cancelled_on=D(2026, 5, 1),
    )  # fmt: skip


@pytest.fixture
def agenda_item(case):
    chair = make_user("chair")
    meeting = models.Meeting.objects.create(scheduled_for="2026-12-01T08:00Z", chair=chair)
    return models.AgendaItem.objects.create(meeting=meeting, case=case, position=1, listed_by=chair)


def test_it_lists_a_case_once_per_meeting(agenda_item):
    assert refused(
        models.AgendaItem.objects.create,
        meeting=agenda_item.meeting, case=agenda_item.case, position=2,
        listed_by=agenda_item.listed_by,
    )  # fmt: skip


def test_it_lets_positions_swap_inside_one_transaction_but_not_collide(agenda_item):
    other = models.AgendaItem.objects.create(
        meeting=agenda_item.meeting, case=make_case(), position=2, listed_by=agenda_item.listed_by
    )
    with transaction.atomic():  # deferred constraint: checked at commit, not per row
        models.AgendaItem.objects.filter(pk=agenda_item.pk).update(position=2)
        models.AgendaItem.objects.filter(pk=other.pk).update(position=1)
    assert refused(models.AgendaItem.objects.filter(pk=other.pk).update, position=2)


def decision(agenda_item, **overrides):
    fields = {
        "agenda_item": agenda_item,
        "point": models.DecisionPoint.SYSTEMIC_THERAPY,
        "answer": {"proposed_agents": ["oxaliplatin", "fluorouracil"]},
        "advice_snapshot": {"guideline_version": "test"},
        "follows_recommendation": True,
        "recorded_by": agenda_item.listed_by,
    }
    fields.update(overrides)
    return models.Decision.objects.create(**fields)


def test_it_needs_a_reason_to_deviate_or_override(agenda_item):
    assert refused(decision, agenda_item, follows_recommendation=False, deviation_reason=" ")
    assert refused(decision, agenda_item, overridden_hard_stops=["ANTI_EGFR_RAS_MUTANT"])
    assert not refused(
        decision, agenda_item, overridden_hard_stops=["BEV_SURGERY_INTERVAL_LT_6_WEEKS"],
        override_reason="Bleeding primary: surgery cannot wait",
    )  # fmt: skip


def test_it_accepts_only_one_first_answer_per_decision_point(agenda_item):
    decision(agenda_item)
    assert refused(decision, agenda_item)


def test_it_lets_a_decision_be_superseded_once_with_a_reason(agenda_item):
    first = decision(agenda_item)
    assert refused(decision, agenda_item, supersedes=first)  # no reason given
    decision(agenda_item, supersedes=first, correction_reason="Wrong regimen recorded")
    assert refused(decision, agenda_item, supersedes=first, correction_reason="Second try")


def test_decisions_cannot_be_edited_or_deleted(agenda_item):
    first = decision(agenda_item)
    assert refused(models.Decision.objects.filter(pk=first.pk).update, deviation_reason="changed")
    assert refused(models.Decision.objects.filter(pk=first.pk).delete)
    assert models.Decision.objects.filter(pk=first.pk, deviation_reason="").exists()


def test_it_needs_a_reason_when_an_action_is_not_done(case):
    owner = make_user("clinician")
    action = models.Action.objects.create(
        case=case, description="Book MRI", owner=owner, due_on=D(2026, 3, 1)
    )
    assert refused(models.Action.objects.filter(pk=action.pk).update, status="not_done")
    assert not refused(
        models.Action.objects.filter(pk=action.pk).update,
        status="not_done",
        not_done_reason="Declined",
    )


def test_it_keeps_reminder_dedupe_keys_unique(case):
    fields = {"kind": "reimaging_due", "case": case, "due_at": "2026-03-01T09:00Z"}
    models.Reminder.objects.create(dedupe_key="reassessment:1:reimaging", **fields)
    assert refused(models.Reminder.objects.create, dedupe_key="reassessment:1:reimaging", **fields)
    assert refused(
        models.Reminder.objects.create, dedupe_key="x", state="sent", **fields
    )  # sent needs sent_at


def test_a_dated_hpb_review_must_be_a_review(case):
    assert refused(
        models.Reassessment.objects.create,
        case=case, cycle=1, due_on=D(2026, 3, 10),
        hpb_mdt_reviewed=False, hpb_reviewed_on=D(2026, 3, 10),
    )  # fmt: skip
    models.Reassessment.objects.create(
        case=case, cycle=1, due_on=D(2026, 3, 10),
        hpb_mdt_reviewed=True, hpb_reviewed_on=D(2026, 3, 10), hpb_reviewers="A, B",
    )  # fmt: skip
