"""The auditor's screens: pick a case, read who changed what (before and after), every override
and deviation, and who opened the patient. Opening a case here is itself logged."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from cases import models
from tests.audit.test_audit_trail import as_request_by
from tests.conftest import make_case, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor_client():
    client = Client(HTTP_HOST="localhost")
    client.force_login(make_user("auditor", username="pat"))
    return client


def text(response) -> str:
    """The page's visible text, tags dropped and spaces squeezed, for readable assertions."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_case_list_finds_a_case_by_reference_hospital_number_or_name(auditor_client):
    case = make_case()
    other = make_case()
    number = case.patient.hospital_number

    def search(query):
        response = auditor_client.post("/audit/", {"q": query}, follow=True)
        assert query.lower() not in response.redirect_chain[-1][0].lower()  # never in the URL
        return text(response)

    for query in (case.reference, number, number.lower(), case.patient.family_name[:5]):
        assert case.reference in search(query), query
    assert other.reference not in search(case.reference)
    assert "No case matches" in search("TB999999")


def test_the_case_page_shows_who_changed_what_with_before_and_after(auditor_client):
    clinician = make_user("clinician", username="alex")
    clinician.first_name, clinician.last_name = "Alex", "Oncologist"
    clinician.save()
    case = as_request_by(clinician, lambda: make_case(ecog=1), path="/cases/new/")
    as_request_by(
        clinician,
        lambda: models.Case.objects.filter(pk=case.pk).update(ecog=2, stage="surgery_planned"),
        path=f"/cases/{case.pk}/edit/",
    )
    page = text(auditor_client.get(f"/audit/cases/{case.pk}/"))
    assert "Alex Oncologist (alex)" in page
    assert f"POST /cases/{case.pk}/edit/" in page
    assert "ECOG 1 2" in page  # field, before, after
    assert "Stage Conversion chemotherapy Converted: surgery planned" in page
    assert f"Case {case.pk} created" in page
    assert f"Case {case.pk} changed" in page


def test_a_change_made_outside_the_application_is_shown_as_such(auditor_client):
    case = make_case(ecog=1)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE cases_case SET ecog = 3 WHERE id = %s", [case.pk])
    page = text(auditor_client.get(f"/audit/cases/{case.pk}/"))
    assert "outside the application (direct database change)" in page
    assert "ECOG 1 3" in page


def test_the_history_covers_the_rows_that_hang_off_the_case(auditor_client):
    case = make_case()
    result = models.MolecularResult.objects.create(
        case=case, marker="kras", status="pending", requested_on=dt.date(2026, 1, 12)
    )
    models.MolecularResult.objects.filter(pk=result.pk).update(
        status="mutant", reported_on=dt.date(2026, 1, 30)
    )
    course = models.TreatmentCourse.objects.create(
        case=case, started_on=dt.date(2026, 2, 1), agents=["oxaliplatin", "bevacizumab"]
    )
    dose = models.AgentAdministration.objects.create(
        course=course, agent="bevacizumab", given_on=dt.date(2026, 2, 1)
    )
    dose_id = dose.pk
    dose.delete()
    page = text(auditor_client.get(f"/audit/cases/{case.pk}/"))
    assert "Status Pending Mutant" in page
    assert "Agents Oxaliplatin, Bevacizumab" in page
    assert f"Agent administration {dose_id} deleted" in page
    assert "Given on 01 Feb 2026" in page


def test_every_override_deviation_and_correction_is_listed(auditor_client):
    chair = make_user("chair", username="morgan")
    case = make_case()
    meeting = models.Meeting.objects.create(scheduled_for=timezone.now(), chair=chair)
    item = models.AgendaItem.objects.create(meeting=meeting, case=case, position=1, listed_by=chair)
    common = {"agenda_item": item, "answer": {}, "advice_snapshot": {}, "recorded_by": chair}
    models.Decision.objects.create(point="systemic_therapy", follows_recommendation=True, **common)
    first = models.Decision.objects.create(
        point="timing",
        follows_recommendation=True,
        overridden_hard_stops=["BEV_INTERVAL_TOO_SHORT"],
        override_reason="Bleeding primary: surgery cannot wait",
        **common,
    )
    models.Decision.objects.create(
        point="timing",
        follows_recommendation=False,
        deviation_reason="Patient preference",
        supersedes=first,
        correction_reason="Date of last dose was wrong",
        **common,
    )
    page = text(auditor_client.get(f"/audit/cases/{case.pk}/"))
    assert "BEV_INTERVAL_TOO_SHORT" in page
    assert "Override: Bleeding primary: surgery cannot wait" in page
    assert "Deviation from the recommendation: Patient preference" in page
    assert "Correction of an earlier decision: Date of last dose was wrong" in page
    assert "Systemic therapy" not in page.split("History of changes")[0]
    flagged = text(auditor_client.get("/audit/", {"flagged": "1"}))
    assert case.reference in flagged


def test_opening_a_case_is_logged_and_the_log_is_shown(auditor_client):
    case = make_case()
    clinician = make_user("clinician", username="alex")
    models.CaseAccess.objects.create(user=clinician, case_id=case.pk, context="case-page")
    page = text(auditor_client.get(f"/audit/cases/{case.pk}/"))
    assert "Who opened this case (2)" in page
    assert "(alex) case-page" in page
    assert models.CaseAccess.objects.filter(user__username="pat", context="audit-case").count() == 1
    log = text(auditor_client.get("/audit/access/", {"user": "alex"}))
    assert case.reference in log
    assert "(pat)" not in log


def test_a_deleted_case_keeps_its_history(auditor_client):
    case = make_case()
    case_id = case.pk
    case.delete()
    response = auditor_client.get(f"/audit/cases/{case_id}/")
    assert response.status_code == 200
    page = text(response)
    assert "This case has been deleted" in page
    assert f"Case {case_id} deleted" in page


def test_an_unknown_case_is_a_404(auditor_client):
    assert auditor_client.get("/audit/cases/424242/").status_code == 404


def test_the_case_page_takes_a_fixed_number_of_queries(
    auditor_client, django_assert_max_num_queries
):
    case = make_case()
    course = models.TreatmentCourse.objects.create(case=case, started_on=dt.date(2026, 2, 1))
    for day in range(1, 29):
        models.AgentAdministration.objects.create(
            course=course, agent="bevacizumab", given_on=dt.date(2026, 2, day)
        )
    with django_assert_max_num_queries(30):
        assert auditor_client.get(f"/audit/cases/{case.pk}/").status_code == 200


def test_bad_query_parameters_do_not_break_the_pages(auditor_client):
    for params in ({"page": "x"}, {"page": "-3"}, {"q": "TB" + "9" * 40}, {"q": "\x00"}):
        assert auditor_client.get("/audit/", params).status_code == 200, params
        assert auditor_client.post("/audit/", params, follow=True).status_code == 200, params
        assert auditor_client.get("/audit/access/", {**params, "user": "\x00"}).status_code == 200


@pytest.mark.parametrize(
    ("role", "audit", "administration"),
    [("auditor", True, False), ("admin", False, True), ("clinician", False, False)],
)
def test_the_navigation_offers_only_the_screens_the_role_may_use(role, audit, administration):
    client = Client(HTTP_HOST="localhost")
    client.force_login(make_user(role))
    html = client.get("/").content.decode()
    assert ('href="/audit/"' in html) == audit
    assert ('href="/admin/"' in html) == administration


def test_a_long_history_is_shown_a_page_at_a_time_oldest_first(auditor_client, monkeypatch):
    from cases.audit import views as audit

    case = make_case(ecog=0)
    for ecog in (1, 2, 3, 4, 1, 2):  # eight events with the patient's and the case's creation
        models.Case.objects.filter(pk=case.pk).update(ecog=ecog)
    monkeypatch.setattr(audit, "HISTORY_PAGE_SIZE", 3)
    first = text(auditor_client.get(f"/audit/cases/{case.pk}/"))
    last = text(auditor_client.get(f"/audit/cases/{case.pk}/?page=3"))
    beyond = auditor_client.get(f"/audit/cases/{case.pk}/?page=99")
    junk = auditor_client.get(f"/audit/cases/{case.pk}/?page=x")
    assert "History of changes (8)" in first
    assert "Changes 1–3 of 8 (page 1 of 3)" in first
    assert f"Case {case.pk} created" in first
    assert "ECOG 4 1" not in first
    assert "Changes 7–8 of 8 (page 3 of 3)" in last
    assert "ECOG 4 1" in last
    assert "ECOG 1 2" in last
    assert f"Case {case.pk} created" not in last
    assert beyond.status_code == 200  # past the end: the last page
    assert "page 3 of 3" in text(beyond)
    assert junk.status_code == 200


def test_the_case_page_shows_the_latest_accesses_and_links_to_all_of_them(auditor_client):
    case, other = make_case(), make_case()
    clinician = make_user("clinician", username="alex")
    for _ in range(25):
        models.CaseAccess.objects.create(user=clinician, case_id=case.pk, context="case-page")
    models.CaseAccess.objects.create(user=clinician, case_id=other.pk, context="case-page")
    response = auditor_client.get(f"/audit/cases/{case.pk}/")
    page = text(response)
    assert "Who opened this case (26)" in page  # with the auditor's own visit
    assert "The 20 most recent are shown; the access log has all 26." in page
    assert f'href="/audit/access/?case={case.pk}"' in response.content.decode()
    log = auditor_client.get("/audit/access/", {"case": str(case.pk)})
    assert log.status_code == 200
    assert text(log).count(case.reference) >= 26
    assert other.reference not in text(log)
    for junk in ("x", "-1", "1" * 40, "\x00"):
        assert auditor_client.get("/audit/access/", {"case": junk}).status_code == 200
