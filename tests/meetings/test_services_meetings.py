"""Meeting services: quorum, attendance, agenda order, decisions (append-only, hard stops,
deviations, conflicts), actions, facts corrected in the meeting, and sign-off."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import IntegrityError, connections, transaction

from cases import models
from cases.common.services import ConflictError
from cases.meetings import actions
from cases.meetings import services as svc
from tests.conftest import make_case, make_user
from tests.meeting_factory import (
    MEETING_DAY,
    attend_all,
    list_case,
    make_conversion_case,
    make_core_members,
    make_meeting,
)

pytestmark = [pytest.mark.django_db]
FOLFOXIRI_BEV = ["fluorouracil", "oxaliplatin", "irinotecan", "bevacizumab"]


@pytest.fixture
def chair():
    return make_user("chair", username="chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)


@pytest.fixture
def item(chair):
    meeting = make_meeting(chair)
    return list_case(meeting, make_conversion_case(), by=chair)


NOT_ASSESSED = {
    "r0_achievable": "not_assessed",
    "extrahepatic_disease": "none",
    "choice": "not_resectable",
}


def _answer_all(user, item, **overrides):
    answers = {
        "data_completeness": {"choice": "proceed"},
        "resectability": NOT_ASSESSED,
        "primary_management": {"choice": "no_intervention"},
        "systemic_therapy": {"plan": "new", "agents": FOLFOXIRI_BEV},
        "pelvic_radiotherapy": {"choice": "none"},
        "liver_surgery": {"surgery": "none", "liver_biopsy": False},
        "outcome": {"choice": "continue_pathway", "next_reassessment_on": "2026-05-10"},
    }
    answers.update(overrides)
    for point, answer in answers.items():
        if answer is None:
            continue
        svc.decision_record(user=user, agenda_item_id=item.pk, point=point, answer=answer)


# --- Quorum ------------------------------------------------------------------------------------


def test_a_meeting_is_quorate_only_with_every_core_discipline():
    quorum = svc.quorum_of(["hpb_surgeon", "medical_oncologist", "radiologist"])
    assert not quorum.quorate
    assert quorum.missing == ("Clinical / radiation oncologist",)
    assert svc.quorum_of(
        ["hpb_surgeon", "medical_oncologist", "radiologist", "clinical_oncologist", "pathologist"]
    ).quorate


def test_the_core_disciplines_are_configurable(settings):
    settings.MDT_CORE_DISCIPLINES = ["hpb_surgeon", "pathologist"]
    assert svc.quorum_of(["hpb_surgeon", "pathologist"]).quorate
    settings.MDT_CORE_DISCIPLINES = ["hpb_surgeon", "surgeon_general"]
    with pytest.raises(ImproperlyConfigured, match="surgeon_general"):
        svc.quorum_of([])


# --- Meetings, attendance, agenda ---------------------------------------------------------------


@time_machine.travel(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), tick=False)
def test_a_meeting_needs_a_future_date_and_a_chair(chair):
    coordinator = make_user("coordinator")
    when = dt.datetime(2026, 3, 10, 8, tzinfo=dt.UTC)
    meeting = svc.meeting_create(user=coordinator, scheduled_for=when, chair_id=chair.pk)
    assert meeting.chair == chair
    with pytest.raises(ValidationError) as error:
        svc.meeting_create(
            user=coordinator,
            scheduled_for=dt.datetime(2026, 2, 1, 8, tzinfo=dt.UTC),
            chair_id=coordinator.pk,
        )
    assert set(error.value.message_dict) == {"scheduled_for", "chair"}
    with pytest.raises(PermissionDenied):
        svc.meeting_create(user=make_user("clinician"), scheduled_for=when, chair_id=chair.pk)


def test_recording_a_member_again_changes_their_discipline(chair):
    meeting = make_meeting(chair, opened=False)
    svc.attendance_record(
        user=chair, meeting_id=meeting.pk, member_id=chair.pk, discipline="radiologist"
    )
    svc.attendance_record(
        user=chair, meeting_id=meeting.pk, member_id=chair.pk, discipline="medical_oncologist"
    )
    assert list(meeting.attendances.values_list("discipline", flat=True)) == ["medical_oncologist"]
    # Taking attendance does not open the meeting (observation 7: "In progress" days early).
    meeting.refresh_from_db()
    assert meeting.status == models.MeetingStatus.SCHEDULED
    svc.attendance_remove(user=chair, meeting_id=meeting.pk, member_id=chair.pk)
    assert not meeting.attendances.exists()


def test_the_chair_reorders_the_agenda_in_one_transaction(chair):
    meeting = make_meeting(chair)
    items = [list_case(meeting, make_case(), by=chair) for _ in range(3)]
    svc.agenda_item_move(user=chair, agenda_item_id=items[2].pk, offset=-1)
    order = list(meeting.agenda_items.order_by("position").values_list("pk", flat=True))
    assert order == [items[0].pk, items[2].pk, items[1].pk]
    svc.agenda_reorder(
        user=chair, meeting_id=meeting.pk, item_ids=[items[1].pk, items[0].pk, items[2].pk]
    )
    order = list(meeting.agenda_items.order_by("position").values_list("pk", flat=True))
    assert order == [items[1].pk, items[0].pk, items[2].pk]
    with pytest.raises(ConflictError, match="agenda changed"):
        svc.agenda_reorder(user=chair, meeting_id=meeting.pk, item_ids=[items[0].pk])


def test_deferring_needs_a_reason_and_closes_the_item(chair, item):
    with pytest.raises(ValidationError):
        svc.agenda_item_defer(user=chair, agenda_item_id=item.pk, reason="  ")
    svc.agenda_item_defer(user=chair, agenda_item_id=item.pk, reason="Awaiting MRI")
    with pytest.raises(ConflictError, match="deferred"):
        svc.decision_record(
            user=chair,
            agenda_item_id=item.pk,
            point="data_completeness",
            answer={"choice": "proceed"},
        )


# --- Decisions -----------------------------------------------------------------------------------


def test_a_decision_stores_the_advice_it_was_made_against(chair, item):
    decision = svc.decision_record(
        user=chair,
        agenda_item_id=item.pk,
        point="data_completeness",
        answer={"choice": "proceed"},
    ).decision
    snapshot = decision.advice_snapshot
    assert decision.follows_recommendation
    assert snapshot["inputs"]["kras_status"] == "mutant"
    assert snapshot["guideline_version"]
    assert snapshot["rule_constants"]["flr_min_percent_slv"] == 30
    assert snapshot["recommendation"] == {
        "choice": "proceed",
        "choices": ["proceed"],
        "missing": [],
    }
    assert set(snapshot) >= {"inputs", "guideline_version", "hard_stops", "warnings"}


def test_a_hard_stop_is_refused_without_an_override_reason(chair, item):
    with pytest.raises(ValidationError) as error:
        svc.decision_record(
            user=chair,
            agenda_item_id=item.pk,
            point="pelvic_radiotherapy",
            answer={"choice": "long_course_crt"},
            deviation_reason="local control",
        )
    assert "LONG_COURSE_CRT_UPFRONT" in error.value.message_dict["override_reason"][0]
    assert not models.Decision.objects.exists()


def test_only_the_chair_may_override_a_hard_stop(item):
    clinician = make_user("clinician")
    with pytest.raises(ValidationError) as error:
        svc.decision_record(
            user=clinician,
            agenda_item_id=item.pk,
            point="pelvic_radiotherapy",
            answer={"choice": "long_course_crt"},
            deviation_reason="local control",
            override_reason="threatened margin",
        )
    assert "Only the MDT chair" in error.value.message_dict["override_reason"][0]


def test_the_chair_overrides_a_hard_stop_with_a_reason(chair, item):
    decision = svc.decision_record(
        user=chair,
        agenda_item_id=item.pk,
        point="pelvic_radiotherapy",
        answer={"choice": "long_course_crt"},
        deviation_reason="local control first",
        override_reason="threatened mesorectal fascia",
    ).decision
    assert decision.overridden_hard_stops == ["LONG_COURSE_CRT_UPFRONT"]
    assert decision.override_reason == "threatened mesorectal fascia"
    assert not decision.follows_recommendation
    assert decision.advice_snapshot["hard_stops"] == ["LONG_COURSE_CRT_UPFRONT"]


def test_a_departure_from_the_recommendation_needs_a_reason(chair, item):
    with pytest.raises(ValidationError) as error:
        svc.decision_record(
            user=chair,
            agenda_item_id=item.pk,
            point="systemic_therapy",
            answer={"plan": "continue"},
        )
    assert "departs from the recommendation" in error.value.message_dict["deviation_reason"][0]
    decision = svc.decision_record(
        user=chair,
        agenda_item_id=item.pk,
        point="systemic_therapy",
        answer={"plan": "continue"},
        deviation_reason="Neuropathy risk; triplet declined",
    ).decision
    assert not decision.follows_recommendation


def test_an_answer_outside_the_choices_is_refused(chair, item):
    with pytest.raises(ValidationError) as error:
        svc.decision_record(
            user=chair,
            agenda_item_id=item.pk,
            point="resectability",
            answer={**NOT_ASSESSED, "choice": "maybe"},
        )
    assert "choice" in error.value.message_dict
    with pytest.raises(ValidationError, match="does not apply"):
        svc.decision_record(user=chair, agenda_item_id=item.pk, point="postoperative", answer={})


def test_the_second_first_answer_to_a_point_is_a_conflict_naming_who_answered(chair, item):
    clinician = make_user("clinician", username="drx")
    svc.decision_record(
        user=clinician,
        agenda_item_id=item.pk,
        point="data_completeness",
        answer={"choice": "proceed"},
    )
    with pytest.raises(ConflictError, match="Clinician Tester recorded an answer to this point"):
        svc.decision_record(
            user=chair,
            agenda_item_id=item.pk,
            point="data_completeness",
            answer={"choice": "defer"},
            deviation_reason="wait",
        )
    assert models.Decision.objects.filter(point="data_completeness").count() == 1


def test_the_database_lets_only_one_first_answer_through(chair, item):
    fields = {
        "agenda_item": item,
        "point": "outcome",
        "answer": {"choice": "rediscuss"},
        "advice_snapshot": {},
        "follows_recommendation": True,
        "recorded_by": chair,
    }
    models.Decision.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        models.Decision.objects.create(**fields)


def test_a_correction_supersedes_and_nothing_is_edited_in_place(chair, item):
    first = svc.decision_record(
        user=chair,
        agenda_item_id=item.pk,
        point="resectability",
        answer=NOT_ASSESSED,
    ).decision
    with pytest.raises(ValidationError, match="corrected"):
        svc.decision_correct(
            user=chair,
            agenda_item_id=item.pk,
            point="resectability",
            decision_id=first.pk,
            answer=NOT_ASSESSED,
            correction_reason="",
        )
    second = svc.decision_correct(
        user=chair,
        agenda_item_id=item.pk,
        point="resectability",
        decision_id=first.pk,
        answer={**NOT_ASSESSED, "choice": "resectability_unconfirmed"},
        correction_reason="HPB review not recorded",
        deviation_reason="HPB MDT to review the new scan",
    ).decision
    assert second.supersedes == first
    first.refresh_from_db()
    assert first.answer["choice"] == "not_resectable"
    with pytest.raises(ConflictError, match="corrected this answer"):
        svc.decision_correct(
            user=chair,
            agenda_item_id=item.pk,
            point="resectability",
            decision_id=first.pk,
            answer=NOT_ASSESSED,
            correction_reason="stale",
        )
    # The app's role may not UPDATE decisions; the owner meets the append-only trigger.
    refused = r"permission denied|decision_append_only"
    with pytest.raises(Exception, match=refused), transaction.atomic():
        models.Decision.objects.filter(pk=first.pk).update(
            answer={"choice": "converted_resectable"}
        )


def test_a_correction_cannot_land_on_another_patients_decision(chair, item):
    """The decision to correct must be this item's answer to this point (hazard H04c)."""
    other_item = list_case(item.meeting, make_conversion_case(), by=chair)
    theirs = svc.decision_record(
        user=chair,
        agenda_item_id=other_item.pk,
        point="resectability",
        answer=NOT_ASSESSED,
    ).decision
    with pytest.raises(ValidationError, match="not this case's answer"):
        svc.decision_correct(
            user=chair,
            agenda_item_id=item.pk,
            point="resectability",
            decision_id=theirs.pk,
            answer={"choice": "resectability_unconfirmed"},
            correction_reason="wrong tab",
            deviation_reason="x",
        )
    assert not models.Decision.objects.filter(supersedes=theirs).exists()


def test_a_coordinator_or_auditor_cannot_record_decisions(item):
    for role in ("coordinator", "auditor"):
        with pytest.raises(PermissionDenied):
            svc.decision_record(
                user=make_user(role),
                agenda_item_id=item.pk,
                point="data_completeness",
                answer={"choice": "proceed"},
            )


# --- Facts corrected in the meeting ---------------------------------------------------------


@time_machine.travel(dt.datetime(2026, 3, 10, 10, tzinfo=dt.UTC), tick=False)
def test_a_new_kras_result_reopens_an_answer_that_now_meets_a_hard_stop(chair):
    meeting = make_meeting(chair)
    item = list_case(meeting, make_conversion_case(kras="pending"), by=chair)
    svc.decision_record(
        user=chair,
        agenda_item_id=item.pk,
        point="systemic_therapy",
        answer={"plan": "new", "agents": ["fluorouracil", "oxaliplatin", "panitumumab"]},
        deviation_reason="awaiting RAS; left-sided",
        override_reason="extended RAS panel reported verbally as wild-type",
    )
    kras = models.MolecularResult.objects.get(case=item.case, marker="kras")
    svc.meeting_fact_correct(
        user=chair,
        agenda_item_id=item.pk,
        marker="kras",
        status="mutant",
        reported_on=MEETING_DAY,
        expected_version=kras.version,
    )
    kras.refresh_from_db()
    assert (kras.status, kras.version, kras.requested_on is not None) == ("mutant", 2, True)
    with pytest.raises(ConflictError):  # the version the form carried is now stale
        svc.meeting_fact_correct(
            user=chair,
            agenda_item_id=item.pk,
            marker="kras",
            status="wild_type",
            reported_on=MEETING_DAY,
            expected_version=1,
        )
    with pytest.raises(ValidationError, match="hard stop not overridden"):
        svc.outcome_sign_off(user=chair, agenda_item_id=item.pk)


@time_machine.travel(dt.datetime(2026, 3, 10, 10, tzinfo=dt.UTC), tick=False)
def test_an_impossible_result_date_is_refused(chair, item):
    kras = models.MolecularResult.objects.get(case=item.case, marker="kras")
    with pytest.raises(ValidationError) as error:
        svc.meeting_fact_correct(
            user=chair,
            agenda_item_id=item.pk,
            marker="kras",
            status="wild_type",
            reported_on=dt.date(2027, 1, 1),
            expected_version=kras.version,
        )
    assert "future" in error.value.message_dict["reported_on"][0]
    with pytest.raises(ValidationError, match="HER2 can be"):
        svc.meeting_fact_correct(user=chair, agenda_item_id=item.pk, marker="her2", status="mutant")


# --- Actions -------------------------------------------------------------------------------------


def test_an_action_is_due_on_or_after_the_meeting(chair, item):
    with pytest.raises(ValidationError) as error:
        actions.action_create(
            user=chair,
            agenda_item_id=item.pk,
            description="Book liver MRI",
            owner_id=chair.pk,
            due_on=MEETING_DAY - dt.timedelta(days=1),
        )
    assert "before the meeting" in error.value.message_dict["due_on"][0]
    action = actions.action_create(
        user=chair,
        agenda_item_id=item.pk,
        description="Book liver MRI",
        owner_id=chair.pk,
        due_on=MEETING_DAY + dt.timedelta(days=7),
    )
    assert (action.case_id, action.agenda_item_id) == (item.case_id, item.pk)


# --- Sign-off ------------------------------------------------------------------------------------


def test_sign_off_waits_for_every_applicable_point(chair, item):
    svc.decision_record(
        user=chair, agenda_item_id=item.pk, point="data_completeness", answer={"choice": "proceed"}
    )
    with pytest.raises(ValidationError, match="Resectability"):
        svc.outcome_sign_off(user=chair, agenda_item_id=item.pk)


def test_sign_off_locks_the_outcome_and_schedules_the_engines_reassessment(
    chair, item, monkeypatch
):
    members = make_core_members()
    attend_all(item.meeting, members)
    synced = []
    monkeypatch.setattr(
        svc,
        "reminders_sync_for_case",
        lambda *, case_id: synced.append((case_id, transaction.get_connection().in_atomic_block)),
    )
    _answer_all(chair, item)
    result = svc.outcome_sign_off(user=chair, agenda_item_id=item.pk)

    item.refresh_from_db()
    assert item.signed_off_by == chair
    assert item.quorate_at_sign_off is True
    assert item.status == models.AgendaStatus.DISCUSSED
    assert item.next_reassessment_on == dt.date(2026, 5, 10) == result.next_reassessment_on
    cycles = {r.cycle: r for r in models.Reassessment.objects.filter(case=item.case)}
    assert cycles[2].reassessed_on == MEETING_DAY
    assert cycles[3].due_on == dt.date(2026, 5, 10)
    assert synced == [(item.case_id, True)]
    with pytest.raises(svc.OutcomeLockedError, match="signed off"):
        svc.decision_correct(
            user=chair,
            agenda_item_id=item.pk,
            point="outcome",
            decision_id=models.Decision.objects.get(point="outcome").pk,
            answer={"choice": "rediscuss"},
            correction_reason="late change",
            deviation_reason="x",
        )
    with pytest.raises(svc.OutcomeLockedError):
        svc.outcome_sign_off(user=chair, agenda_item_id=item.pk)


def test_a_non_quorate_sign_off_is_recorded_as_such(chair, item):
    _answer_all(chair, item)
    svc.outcome_sign_off(user=chair, agenda_item_id=item.pk)
    item.refresh_from_db()
    assert item.quorate_at_sign_off is False


def test_leaving_the_pathway_schedules_no_reassessment(chair, item):
    _answer_all(chair, item, outcome=None)
    svc.decision_record(
        user=chair,
        agenda_item_id=item.pk,
        point="outcome",
        answer={"choice": "leave_pathway", "exit_reason": "patient_choice"},
        deviation_reason="Patient declines further chemotherapy",
    )
    result = svc.outcome_sign_off(user=chair, agenda_item_id=item.pk)
    assert result.next_reassessment_on is None
    assert not models.Reassessment.objects.filter(case=item.case, cycle=3).exists()
    assert models.Reassessment.objects.get(case=item.case, cycle=2).reassessed_on is None


def test_only_a_chair_signs_off(item):
    with pytest.raises(PermissionDenied):
        svc.outcome_sign_off(user=make_user("clinician"), agenda_item_id=item.pk)


@pytest.mark.django_db(transaction=True)
def test_two_people_answering_at_the_same_moment_cannot_both_win(chair):
    """Real concurrent transactions: one answer is stored, the other gets the conflict."""
    item = list_case(make_meeting(chair), make_conversion_case(), by=chair)
    other = make_user("clinician", username="racer")
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def answer(user, choice):
        try:
            barrier.wait(timeout=10)
            svc.decision_record(
                user=user,
                agenda_item_id=item.pk,
                point="data_completeness",
                answer={"choice": choice},
                deviation_reason="race",
            )
            outcomes[user.username] = "stored"
        except ConflictError as error:
            outcomes[user.username] = str(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=answer, args=(chair, "proceed")),
        threading.Thread(target=answer, args=(other, "defer")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert list(outcomes.values()).count("stored") == 1
    loser = next(text for text in outcomes.values() if text != "stored")
    assert "recorded an answer to this point" in loser
    assert models.Decision.objects.filter(agenda_item=item).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_write_that_waited_for_the_items_lock_sees_what_the_holder_committed(chair):
    """Real concurrent transactions: the last answer is recorded while the chair's sign-off
    waits for the agenda item's lock. Once the lock is granted the sign-off must see that
    answer: a statement that waited for a lock still reads other tables as they were when it
    started, so the decisions are read in a statement of their own."""
    item = list_case(make_meeting(chair), make_conversion_case(), by=chair)
    _answer_all(chair, item, outcome=None)
    holding, waiting = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def answer_last_point():
        try:
            with transaction.atomic():
                svc.decision_record(
                    user=chair,
                    agenda_item_id=item.pk,
                    point="outcome",
                    answer={"choice": "continue_pathway", "next_reassessment_on": "2026-05-10"},
                )
                holding.set()
                waiting.wait(timeout=10)
                time.sleep(0.5)  # the sign-off is now blocked on the item's row lock
        finally:
            connections.close_all()

    def sign_off():
        try:
            holding.wait(timeout=10)
            waiting.set()
            started = time.monotonic()
            result = svc.outcome_sign_off(user=chair, agenda_item_id=item.pk)
            outcome["waited"] = time.monotonic() - started
            outcome["next"] = result.next_reassessment_on
        except (ValidationError, ConflictError) as error:
            outcome["error"] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=answer_last_point), threading.Thread(target=sign_off)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["waited"] >= 0.3  # it did wait for the lock
    assert outcome["next"] == dt.date(2026, 5, 10)
    item.refresh_from_db()
    assert item.signed_off_at is not None
