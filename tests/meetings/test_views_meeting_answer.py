"""An answer is checked against the record read at the start of the request, and the walk drawn
from it, only when no commit has touched the record since (cases/data_version.py); otherwise the
record is read again under the agenda item's lock, checked and drawn from that.

These tests commit for real: inside a test's wrapping transaction the record is always re-read.
"""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import models
from cases.common import data_version
from cases.meetings import services as svc
from cases.meetings.services import meeting_day
from cases.meetings.walk import build_walk
from cases.records.selectors import RecordAsRead, case_clinical_record
from tests.conftest import make_user
from tests.meeting_factory import (
    answer_as_recommended,
    list_case,
    make_conversion_case,
    make_meeting,
)

pytestmark = [pytest.mark.django_db(transaction=True)]
HTMX = {"HX-Request": "true", "HX-Target": "walk"}


@pytest.fixture
def chair() -> models.User:
    return make_user("chair", username="chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)


@pytest.fixture
def item(chair) -> models.AgendaItem:
    return list_case(make_meeting(chair), make_conversion_case(), by=chair, incomplete_reason="x")


def post_first_answer(client, item: models.AgendaItem) -> tuple[str, int]:
    """Answer the first open point as recommended; (the swapped-in walk, record reads)."""
    record = case_clinical_record(case_id=item.case_id)
    step = build_walk(record, [], meeting_day=meeting_day(item.meeting)).current
    data = answer_as_recommended(step)
    data["patient_check"] = record.reference
    url = reverse("cases:decision-record", args=[item.pk, step.point])
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, data, headers=HTMX)
    assert response.status_code == 200
    assert models.Decision.objects.filter(agenda_item=item, point=step.point).exists()
    reads = sum('FROM "cases_molecularresult"' in q["sql"] for q in queries)
    return response.content.decode(), reads


def flr_shown(html: str) -> str:
    """The future liver remnant on the resectability card (the next one after the first)."""
    found = re.search(r"<dt>FLR \(% SLV, one stage\)</dt><dd>([^<]*)", html)
    assert found is not None
    return found.group(1).strip()


def test_with_nothing_changed_the_record_read_before_the_answer_is_drawn(client, chair, item):
    client.force_login(chair)
    walk, reads = post_first_answer(client, item)
    # Read once, before the answer: the lock finds it unchanged, and the walk is drawn from it.
    assert reads == 1
    assert flr_shown(walk) == "—"


def test_a_fact_committed_while_the_answer_was_recorded_is_read_again(
    client, chair, item, monkeypatch
):
    record_decision = svc.decision_record

    def someone_else_edits_first(**kwargs):
        # Committed at once: the latest scan's liver remnant, measured by someone else.
        models.Reassessment.objects.filter(case=item.case_id, cycle=2).update(flr_percent_slv=35)
        return record_decision(**kwargs)

    monkeypatch.setattr(svc, "decision_record", someone_else_edits_first)
    client.force_login(chair)
    walk, reads = post_first_answer(client, item)
    assert reads == 2
    assert "35" in flr_shown(walk)


# --- The service: which record an answer is checked against ---------------------------------

ANTI_EGFR = {"plan": "new", "agents": ["fluorouracil", "oxaliplatin", "panitumumab"]}


def record_as_read(case_id: int) -> RecordAsRead:
    versions = data_version.versions()  # first: the record is never older than its versions
    return RecordAsRead(case_clinical_record(case_id=case_id), versions)


def answer_anti_egfr(chair, item, record: RecordAsRead) -> svc.Answered:
    return svc.decision_record(
        user=chair,
        agenda_item_id=item.pk,
        point="systemic_therapy",
        answer=ANTI_EGFR,
        deviation_reason="left-sided, RAS wild-type",
        record=record,
    )


@pytest.fixture
def wild_type_item(chair) -> models.AgendaItem:
    case = make_conversion_case(kras="wild_type")
    return list_case(make_meeting(chair), case, by=chair, incomplete_reason="x")


def test_a_ras_result_committed_after_the_page_was_read_stops_anti_egfr(chair, wild_type_item):
    """Hazard H05f: the stale record (RAS wild-type) would let panitumumab through."""
    stale = record_as_read(wild_type_item.case_id)
    models.MolecularResult.objects.filter(case=wild_type_item.case_id, marker="kras").update(
        status="mutant"
    )
    with pytest.raises(ValidationError) as refused:
        answer_anti_egfr(chair, wild_type_item, stale)
    assert "ANTI_EGFR_RAS_MUTANT" in refused.value.message_dict["override_reason"][0]
    assert not models.Decision.objects.exists()


def test_with_nothing_committed_since_the_record_read_is_the_one_checked(chair, wild_type_item):
    as_read = record_as_read(wild_type_item.case_id)
    answered = answer_anti_egfr(chair, wild_type_item, as_read)
    assert answered.record is as_read.case
    assert answered.decisions == [answered.decision]
    assert answered.decision.advice_snapshot["hard_stops"] == []


def test_a_record_read_inside_a_transaction_is_read_again(chair, wild_type_item):
    as_read = RecordAsRead(case_clinical_record(case_id=wild_type_item.case_id), None)
    answered = answer_anti_egfr(chair, wild_type_item, as_read)
    assert answered.record is not as_read.case
    assert answered.record.pk == as_read.case.pk


def test_an_answer_refused_on_a_newer_fact_is_shown_against_that_fact(
    client, chair, wild_type_item, monkeypatch
):
    record_decision = svc.decision_record

    def ras_reported_mutant_first(**kwargs):
        models.MolecularResult.objects.filter(case=wild_type_item.case_id, marker="kras").update(
            status="mutant"
        )
        return record_decision(**kwargs)

    monkeypatch.setattr(svc, "decision_record", ras_reported_mutant_first)
    client.force_login(chair)
    url = reverse("cases:decision-record", args=[wild_type_item.pk, "systemic_therapy"])
    data = {
        "patient_check": wild_type_item.case.reference,
        "plan": "new",
        "agents": ANTI_EGFR["agents"],
        "deviation_reason": "left-sided, RAS wild-type",
    }
    response = client.post(url, data, headers=HTMX)
    assert response.status_code == 422
    body = response.content.decode()
    # The card's alerts come from the committed record, not from the page's older reading.
    assert 'Hard stop <span class="code">ANTI_EGFR_RAS_MUTANT</span>' in body
    assert not models.Decision.objects.exists()
