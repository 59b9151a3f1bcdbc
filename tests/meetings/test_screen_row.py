"""The case-in-meeting screen and the agenda item's lock run SQL compiled once a process
(``CompiledRow``): each must load what the ORM would, for the item asked for and no other."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.http import Http404

from cases import models
from cases.meetings import services as svc
from cases.meetings.selectors import case_screen
from cases.meetings.services import lock_open_item_with_decisions
from tests.conftest import make_user
from tests.meeting_factory import (
    attend_all,
    list_case,
    make_conversion_case,
    make_core_members,
    make_meeting,
)
from tests.records.test_performance_record import _fields, _same

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def chair():
    return make_user("chair", username="chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)


@pytest.fixture
def items(chair):
    meeting = make_meeting(chair)
    attend_all(meeting, make_core_members())
    first = list_case(meeting, make_conversion_case(), by=chair)
    second = list_case(meeting, make_conversion_case(kras="wild_type"), by=chair)
    svc.decision_record(
        user=chair, agenda_item_id=first.pk, point="data_completeness", answer={"choice": "proceed"}
    )
    return first, second


@pytest.mark.parametrize("partial", [None, "walk", "outcome", "case-summary"])
def test_the_screen_loads_the_item_its_case_and_meeting_as_the_orm_does(items, partial):
    for item in items:
        classic = models.AgendaItem.objects.select_related(
            "case__patient", "meeting__chair", "signed_off_by"
        ).get(pk=item.pk)
        screen = case_screen(item.pk, partial)
        assert _fields(screen.item) == _fields(classic)
        assert _fields(screen.case) == _fields(classic.case)
        assert _fields(screen.case.patient) == _fields(classic.case.patient)
        assert _fields(screen.item.meeting) == _fields(classic.meeting)
        assert screen.item.signed_off_by is None
        assert not screen.item._state.adding
        assert screen.item._state.db == "default"
        _same(screen.decisions, list(models.Decision.objects.filter(agenda_item=item)))
        if partial is None:
            assert _fields(screen.item.meeting.chair) == _fields(classic.meeting.chair)
            assert screen.item.agenda_order == [i.pk for i in items]


def test_the_screen_of_an_item_that_does_not_exist_is_not_found(items):
    with pytest.raises(Http404):
        case_screen(max(i.pk for i in items) + 1000, "walk")


def test_the_lock_reads_the_item_its_decisions_and_who_recorded_them(items, chair):
    first, second = items
    with transaction.atomic():
        item, decisions = lock_open_item_with_decisions(first.pk)
        assert _fields(item) == _fields(models.AgendaItem.objects.get(pk=first.pk))
        assert item.hpb_present is True  # an HPB surgeon is among the members marked present
        assert item.has_corrected_facts is False
        assert [d.point for d in decisions] == ["data_completeness"]
        assert decisions[0].recorded_by == chair
        assert "_created" in item.committed_versions
        _other, none = lock_open_item_with_decisions(second.pk)
        assert none == []
