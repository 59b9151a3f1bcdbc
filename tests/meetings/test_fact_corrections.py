"""Facts corrected in the meeting (issue 18, finding 2): a non-chair cannot clear a hard stop by
editing the fact, a chair's correction that clears one is named on the decision, and the
auditor's override list shows it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from cases import models
from cases.common.services import ConflictError
from cases.meetings import services as svc
from tests.conftest import make_user, signed_in
from tests.meeting_factory import MEETING_DAY, list_case, make_conversion_case, make_meeting

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("_meeting_day"),
]
CETUXIMAB = {"plan": "new", "agents": ["fluorouracil", "oxaliplatin", "cetuximab"]}


@pytest.fixture
def _meeting_day():
    with time_machine.travel(dt.datetime(2026, 3, 10, 10, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def chair():
    return make_user("chair", username="chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)


@pytest.fixture
def clinician():
    return make_user("clinician", username="alex")


@pytest.fixture
def item(chair):
    # Left-sided, KRAS mutant: cetuximab meets the ANTI_EGFR_RAS_MUTANT hard stop.
    return list_case(make_meeting(chair), make_conversion_case(kras="mutant"), by=chair)


def kras(item) -> models.MolecularResult:
    return models.MolecularResult.objects.get(case=item.case, marker="kras")


def answer_cetuximab(user, item):
    return svc.decision_record(
        user=user,
        agenda_item_id=item.pk,
        point="systemic_therapy",
        answer=CETUXIMAB,
        deviation_reason="anti-EGFR chosen by the MDT",
    )


def correct_to_wild_type(user, item):
    return svc.meeting_fact_correct(
        user=user,
        agenda_item_id=item.pk,
        marker="kras",
        status="wild_type",
        reported_on=MEETING_DAY,
        expected_version=kras(item).version,
    )


def test_a_clinicians_correction_of_a_molecular_result_waits_for_the_chair(clinician, item):
    with pytest.raises(ValidationError, match="hard stop"):
        answer_cetuximab(clinician, item)
    correction = correct_to_wild_type(clinician, item)
    # The pen test's step: the fact edit no longer changes the record on its own...
    assert correction.state == models.FactCorrectionState.AWAITING_CHAIR
    assert kras(item).status == "mutant"
    # ...so the same answer is still refused.
    with pytest.raises(ValidationError, match="hard stop"):
        answer_cetuximab(clinician, item)
    assert not models.Decision.objects.filter(agenda_item=item).exists()


def test_the_chairs_confirmation_applies_it_and_the_decision_names_it(chair, clinician, item):
    correction = correct_to_wild_type(clinician, item)
    with pytest.raises(PermissionDenied):
        svc.meeting_fact_confirm(
            user=clinician, agenda_item_id=item.pk, correction_id=correction.pk
        )
    confirmed = svc.meeting_fact_confirm(
        user=chair, agenda_item_id=item.pk, correction_id=correction.pk
    )
    assert (confirmed.state, confirmed.confirmed_by) == ("applied", chair)
    assert kras(item).status == "wild_type"
    decision = answer_cetuximab(clinician, item).decision
    assert decision.overridden_hard_stops == []
    [fact] = decision.corrected_facts
    assert fact["fact"] == "KRAS"
    assert (fact["old"], fact["new"]) == ("Mutant", "Wild-type (extended: exons 2, 3, 4)")
    assert fact["by"] == "Clinician Tester"
    assert fact["confirmed_by"] == "Chair Tester"
    assert fact["hard_stops"] == ["ANTI_EGFR_RAS_MUTANT"]


def test_a_chairs_own_correction_applies_at_once_and_is_named_too(chair, item):
    correction = correct_to_wild_type(chair, item)
    assert correction.state == models.FactCorrectionState.APPLIED
    assert kras(item).status == "wild_type"
    decision = answer_cetuximab(chair, item).decision
    assert [f["hard_stops"] for f in decision.corrected_facts] == [["ANTI_EGFR_RAS_MUTANT"]]


def test_a_correction_that_cleared_no_hard_stop_is_not_named(chair, item):
    correct_to_wild_type(chair, item)
    decision = svc.decision_record(
        user=chair,
        agenda_item_id=item.pk,
        point="systemic_therapy",
        answer={"plan": "new", "agents": ["fluorouracil", "oxaliplatin", "bevacizumab"]},
        deviation_reason="doublet with bevacizumab",
    ).decision
    assert decision.corrected_facts == []


def test_a_confirmation_is_refused_when_the_record_changed_meanwhile(chair, clinician, item):
    correction = correct_to_wild_type(clinician, item)
    svc.meeting_fact_correct(
        user=chair,
        agenda_item_id=item.pk,
        marker="kras",
        status="wild_type_exon2_only",
        reported_on=MEETING_DAY,
        expected_version=kras(item).version,
    )
    with pytest.raises(ConflictError):
        svc.meeting_fact_confirm(user=chair, agenda_item_id=item.pk, correction_id=correction.pk)
    assert kras(item).status == "wild_type_exon2_only"


def test_a_clinicians_bad_correction_is_refused_at_once(clinician, item):
    with pytest.raises(ValidationError, match="future"):
        svc.meeting_fact_correct(
            user=clinician,
            agenda_item_id=item.pk,
            marker="kras",
            status="wild_type",
            reported_on=dt.date(2027, 1, 1),
            expected_version=kras(item).version,
        )
    assert not models.FactCorrection.objects.exists()


def test_the_database_refuses_an_applied_correction_nobody_confirmed(clinician, item):
    with pytest.raises(IntegrityError), transaction.atomic():
        models.FactCorrection.objects.create(
            agenda_item=item,
            marker="kras",
            old_status="mutant",
            new_status="wild_type",
            state="applied",
            requested_by=clinician,
        )


def test_the_screens_from_correction_to_the_auditors_override_list(chair, clinician, item):
    as_clinician = signed_in(clinician)
    response = as_clinician.post(
        f"/agenda/{item.pk}/facts/",
        {
            "marker": "kras",
            "status": "wild_type",
            "reported_on": MEETING_DAY.isoformat(),
            "versions": f"kras:{kras(item).version}",
        },
    )
    assert response.status_code in (200, 302), response.content.decode()[:3000]
    assert kras(item).status == "mutant"
    pending = as_clinician.get(f"/agenda/{item.pk}/facts/pending/").content.decode()
    assert "KRAS" in pending
    assert "Confirm" not in pending  # only the chair confirms
    [correction] = models.FactCorrection.objects.all()
    refused = as_clinician.post(f"/agenda/{item.pk}/facts/{correction.pk}/confirm/")
    assert refused.status_code == 403
    as_chair = signed_in(chair)
    assert "Confirm" in as_chair.get(f"/agenda/{item.pk}/facts/pending/").content.decode()
    as_chair.post(f"/agenda/{item.pk}/facts/{correction.pk}/confirm/")
    assert kras(item).status == "wild_type"
    answer_cetuximab(clinician, item)
    audit = signed_in(make_user("auditor")).get(f"/audit/cases/{item.case_id}/")
    html = audit.content.decode()
    assert "Hard stop cleared by a fact corrected in the meeting" in html
    assert "KRAS changed from Mutant to Wild-type" in html
    assert "ANTI_EGFR_RAS_MUTANT" in html
