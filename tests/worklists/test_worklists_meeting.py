"""Which cases should come to the next meeting, which of them are ready, and the SQL version of
the minimum-dataset check agreeing with the Python one."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone

from cases import models
from cases.meetings.selectors import next_meeting
from cases.records.completeness import missing_minimum_dataset
from cases.records.selectors import case_clinical_record
from cases.worklists import queries as worklists
from tests.conftest import make_case, make_user

D = dt.date
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
NOW = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
TODAY = D(2026, 3, 10)


@pytest.fixture
def meeting():
    chair = make_user("chair")
    return models.Meeting.objects.create(scheduled_for=NOW + dt.timedelta(days=7), chair=chair)


def complete(case, scanned=TODAY - dt.timedelta(days=10)):
    for marker, status in (("mmr_msi", "pmmr_mss"), ("kras", "mutant"),
                           ("braf_v600e", "wild_type")):  # fmt: skip
        models.MolecularResult.objects.create(
            case=case, marker=marker, status=status, requested_on=D(2026, 1, 20),
            reported_on=D(2026, 2, 1),
        )  # fmt: skip
    models.Reassessment.objects.create(
        case=case, cycle=1, due_on=scanned, imaging_performed_on=scanned, modality="ct",
        reassessed_on=scanned,
    )  # fmt: skip


def due(case, on, cycle=2):
    return models.Reassessment.objects.create(case=case, cycle=cycle, due_on=on)


def candidates(meeting):
    return {c.pk for c in worklists.meeting_candidates(meeting, today=TODAY)}


def test_a_case_due_by_the_meeting_day_is_a_candidate_and_one_due_after_is_not(meeting):
    on_time = make_case()
    due(on_time, D(2026, 3, 17))  # the meeting day
    later = make_case()
    due(later, D(2026, 3, 18))
    overdue = make_case()
    due(overdue, D(2026, 3, 1))
    assert candidates(meeting) == {on_time.pk, overdue.pk}


def test_the_dashboard_lists_follow_a_meeting_moved_to_another_day(meeting):
    """The dashboard's candidate SQL is built once per meeting and day (and kept): a meeting
    moved a week later must list the case that falls due in that week."""
    case = make_case()
    due(case, D(2026, 3, 20))  # after the meeting day, the 17th

    def listed() -> set[int]:
        found = worklists.meeting_first_rows(meeting, today=TODAY, limit=8)
        return {row.pk for _count, rows in found.values() for row in rows}

    assert case.pk not in listed()
    meeting.scheduled_for += dt.timedelta(days=7)
    meeting.save()
    assert case.pk in listed()
    assert listed() == candidates(meeting)


def test_a_scan_awaiting_its_verdict_and_a_new_referral_are_candidates(meeting):
    scanned = make_case()
    models.Reassessment.objects.create(
        case=scanned, cycle=1, due_on=D(2026, 5, 1), imaging_performed_on=TODAY, modality="ct"
    )
    new = make_case(stage=models.Stage.WORKUP)
    discussed_before = make_case(stage=models.Stage.WORKUP)
    old = models.Meeting.objects.create(
        scheduled_for=NOW - dt.timedelta(days=7), chair=meeting.chair
    )
    models.AgendaItem.objects.create(meeting=old, case=discussed_before, position=1,
                                listed_by=meeting.chair)  # fmt: skip
    assert candidates(meeting) == {scanned.pk, new.pk}


def test_listed_left_and_operated_cases_are_not_candidates(meeting):
    listed = make_case()
    due(listed, TODAY)
    models.AgendaItem.objects.create(
        meeting=meeting, case=listed, position=1, listed_by=meeting.chair
    )
    gone = make_case(stage=models.Stage.LEFT_PATHWAY, exit_reason="died")
    due(gone, TODAY)
    operated = make_case(stage=models.Stage.POST_OPERATIVE)
    due(operated, TODAY)
    assert candidates(meeting) == set()


def test_ready_and_incomplete_split_the_candidates_and_say_what_is_missing(meeting):
    ready = make_case(ecog=0)
    complete(ready)
    due(ready, TODAY)
    no_ecog = make_case(ecog=None)
    complete(no_ecog)
    due(no_ecog, TODAY)
    assert [c.pk for c in worklists.meeting_ready(meeting, today=TODAY)] == [ready.pk]
    [incomplete] = worklists.meeting_incomplete(meeting, today=TODAY)
    assert incomplete.pk == no_ecog.pk
    assert worklists.missing_from_flags(incomplete) == [
        "ECOG performance status less than 8 weeks old"
    ]


def test_imaging_age_is_judged_on_the_meeting_day(meeting):
    # 52 days old today, 59 days old at next week's meeting: out of date by then.
    case = make_case(ecog=1)
    complete(case, scanned=TODAY - dt.timedelta(days=52))
    due(case, TODAY)
    [row] = worklists.meeting_incomplete(meeting, today=TODAY)
    assert worklists.missing_from_flags(row) == ["Imaging less than 8 weeks old"]


STATUSES = {
    "mmr_msi": [None, "dmmr_msi_h", "pmmr_mss", "pending", "not_tested"],
    "kras": [None, "wild_type", "wild_type_exon2_only", "mutant", "pending", "not_tested"],
    "nras": [None, "wild_type", "mutant", "pending", "not_tested"],
    "braf_v600e": [None, "wild_type", "mutant", "pending", "not_tested"],
}


def test_the_sql_minimum_dataset_agrees_with_the_python_check_on_varied_cases():
    rng = random.Random(5)
    as_of = TODAY
    for _ in range(80):
        case = make_case(ecog=rng.choice([None, 0, 1, 2, 3]))
        for marker, choices in STATUSES.items():
            status = rng.choice(choices)
            if status is None:
                continue
            reported = None if status in ("pending", "not_tested") else D(2026, 1, 5)
            models.MolecularResult.objects.create(
                case=case, marker=marker, status=status, requested_on=D(2026, 1, 2),
                reported_on=reported,
            )  # fmt: skip
        # Scans around the 8-week boundary (55, 56, 57 days), older ones, none, several.
        for cycle in range(1, rng.randint(0, 3) + 1):
            age = rng.choice([1, 30, 55, 56, 57, 120])
            scanned = as_of - dt.timedelta(days=age) if rng.random() < 0.8 else None
            models.Reassessment.objects.create(case=case, cycle=cycle, due_on=as_of,
                                          imaging_performed_on=scanned,
                                          modality="ct" if scanned else "")  # fmt: skip
    rows = worklists.with_minimum_dataset(models.Case.objects.all(), as_of=as_of)
    disagreements = []
    kinds = set()
    for row in rows:
        python = missing_minimum_dataset(case_clinical_record(case_id=row.pk), today=as_of)
        sql = worklists.missing_from_flags(row)
        kinds.add(tuple(python))
        # The mask is never NULL: a NULL would fall off both the ready and incomplete lists.
        if python != sql or row.missing_mask is None or (row.missing_mask == 0) != (not python):
            disagreements.append((row.pk, python, sql))
    assert disagreements == []
    # The sample really was varied: complete cases and many different gaps.
    assert () in kinds
    assert len(kinds) > 10


def test_with_no_meeting_scheduled_the_meeting_lists_are_absent():
    spec = worklists.WORKLISTS_BY_SLUG["meeting-ready"]
    assert next_meeting(now=timezone.now()) is None
    assert worklists.worklist_queryset(spec, today=TODAY, meeting=None) is None


def test_the_next_meeting_stays_next_once_attendance_has_started():
    """A meeting opened before its start is still the next one."""
    chair = make_user("chair")
    soon = models.Meeting.objects.create(
        scheduled_for=timezone.now() + dt.timedelta(hours=2),
        chair=chair,
        status="in_progress",
        opened_at=timezone.now(),
        opened_by=chair,
    )
    models.Meeting.objects.create(scheduled_for=timezone.now() + dt.timedelta(days=7), chair=chair)
    assert next_meeting() == soon
