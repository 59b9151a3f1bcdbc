"""Listing a case on a meeting: end of the agenda, never twice, frozen 24 hours before, and a
reason for listing late or without the minimum dataset."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from cases import models
from cases.meetings.agenda import agenda_item_add
from tests.conftest import make_case
from tests.meeting_factory import close_meeting

D = dt.date
pytestmark = [pytest.mark.django_db]
MEETING_AT = dt.datetime(2026, 3, 17, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def meeting(users):
    return models.Meeting.objects.create(scheduled_for=MEETING_AT, chair=users["chair"])


def complete_case():
    case = make_case(ecog=1, diagnosed_on=D(2026, 1, 5))
    for marker, status in (("mmr_msi", "pmmr_mss"), ("kras", "wild_type"), ("nras", "wild_type"),
                           ("braf_v600e", "wild_type")):  # fmt: skip
        models.MolecularResult.objects.create(
            case=case,
            marker=marker,
            status=status,
            requested_on=D(2026, 1, 6),
            reported_on=D(2026, 1, 20),
        )
    models.Reassessment.objects.create(case=case, cycle=1, due_on=D(2026, 3, 9),
                                  imaging_performed_on=D(2026, 3, 9), modality="ct")  # fmt: skip
    return case


def at(when):
    return time_machine.travel(when, tick=False)


def errors_of(info) -> dict[str, list[str]]:
    return {k: [str(x) for e in v for x in e] for k, v in info.value.error_dict.items()}


def test_cases_are_appended_to_the_end_of_the_agenda(users, meeting):
    with at(MEETING_AT - dt.timedelta(days=3)):
        items = [
            agenda_item_add(user=users["coordinator"], meeting_id=meeting.pk,
                            case_id=complete_case().pk)
            for _ in range(3)
        ]  # fmt: skip
    assert [item.position for item in items] == [1, 2, 3]
    assert items[0].listed_by == users["coordinator"]
    assert (items[0].late_reason, items[0].incomplete_reason) == ("", "")


def test_a_case_already_listed_is_refused_with_a_clear_message(users, meeting):
    case = complete_case()
    with at(MEETING_AT - dt.timedelta(days=3)):
        agenda_item_add(user=users["coordinator"], meeting_id=meeting.pk, case_id=case.pk)
        with pytest.raises(ValidationError) as info:
            agenda_item_add(user=users["clinician"], meeting_id=meeting.pk, case_id=case.pk)
    assert errors_of(info) == {
        "case": [f"{case.reference} is already on the agenda of this meeting (item 1). It was "
                 "not listed twice."]
    }  # fmt: skip
    assert models.AgendaItem.objects.count() == 1


@pytest.mark.parametrize(
    ("before", "late"),
    [(dt.timedelta(hours=24, minutes=1), False), (dt.timedelta(hours=24), True),
     (dt.timedelta(hours=2), True)],
)  # fmt: skip
def test_the_agenda_freezes_24_hours_before_the_meeting(users, meeting, before, late):
    case = complete_case()
    with at(MEETING_AT - before):
        if late:
            with pytest.raises(ValidationError) as info:
                agenda_item_add(user=users["coordinator"], meeting_id=meeting.pk, case_id=case.pk)
            assert list(errors_of(info)) == ["late_reason"]
            assert "The agenda froze at" in errors_of(info)["late_reason"][0]
            item = agenda_item_add(user=users["coordinator"], meeting_id=meeting.pk,
                                   case_id=case.pk, late_reason="Urgent: obstruction")  # fmt: skip
            assert item.late_reason == "Urgent: obstruction"
        else:
            item = agenda_item_add(user=users["coordinator"], meeting_id=meeting.pk,
                                   case_id=case.pk, late_reason="not needed")  # fmt: skip
            assert item.late_reason == ""


def test_an_incomplete_case_needs_a_reason_that_names_what_is_missing(users, meeting):
    case = make_case(ecog=None)
    with at(MEETING_AT - dt.timedelta(days=3)):
        with pytest.raises(ValidationError) as info:
            agenda_item_add(user=users["coordinator"], meeting_id=meeting.pk, case_id=case.pk)
        message = errors_of(info)["incomplete_reason"][0]
        assert message.startswith("Missing: MMR/MSI status; RAS status")
        assert "ECOG performance status" in message
        reason = "Symptomatic primary: decide on a stoma now"
        item = agenda_item_add(
            user=users["coordinator"], meeting_id=meeting.pk, case_id=case.pk,
            incomplete_reason=reason,
        )  # fmt: skip
    assert item.incomplete_reason == reason


def test_late_and_incomplete_are_reported_together_and_nothing_is_listed(users, meeting):
    with at(MEETING_AT - dt.timedelta(hours=3)), pytest.raises(ValidationError) as info:
        agenda_item_add(user=users["coordinator"], meeting_id=meeting.pk,
                        case_id=make_case().pk, late_reason="  ")  # fmt: skip
    assert set(errors_of(info)) == {"late_reason", "incomplete_reason"}
    assert not models.AgendaItem.objects.exists()


def test_a_closed_meeting_and_unknown_ids_are_refused(users, meeting):
    case = complete_case()
    with pytest.raises(ValidationError, match="does not exist"):
        agenda_item_add(user=users["coordinator"], meeting_id=meeting.pk + 99, case_id=case.pk)
    with pytest.raises(ValidationError, match="does not exist"):
        agenda_item_add(user=users["coordinator"], meeting_id=meeting.pk, case_id=case.pk + 99)
    close_meeting(meeting, by=users["coordinator"])
    with pytest.raises(ValidationError, match="closed"):
        agenda_item_add(user=users["coordinator"], meeting_id=meeting.pk, case_id=case.pk)


def test_an_overlong_reason_is_refused(users, meeting):
    with at(MEETING_AT - dt.timedelta(days=3)), pytest.raises(ValidationError) as info:
        agenda_item_add(user=users["coordinator"], meeting_id=meeting.pk,
                        case_id=make_case().pk, incomplete_reason="x" * 301)  # fmt: skip
    assert errors_of(info) == {"incomplete_reason": ["Keep the reason to 300 characters."]}


@pytest.mark.parametrize(("role", "allowed"), [("clinician", True), ("auditor", False),
                                               ("admin", False)])  # fmt: skip
def test_listing_needs_the_list_cases_capability(users, meeting, role, allowed):
    case = complete_case()
    with at(MEETING_AT - dt.timedelta(days=3)):
        if allowed:
            agenda_item_add(user=users[role], meeting_id=meeting.pk, case_id=case.pk)
        else:
            with pytest.raises(PermissionDenied):
                agenda_item_add(user=users[role], meeting_id=meeting.pk, case_id=case.pk)
    assert models.AgendaItem.objects.exists() is allowed
