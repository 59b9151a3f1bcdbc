"""Pages that list patients, or name one, leave one access-log entry per page view, naming
every case shown (issue 18, finding 7)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import models
from cases.worklists import queries as worklists
from tests.cohort import populate, upcoming_meeting
from tests.conftest import make_case, make_patient, make_user, signed_in

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)


def entries(user, context: str | None = None):
    found = models.CaseAccess.objects.filter(user=user).order_by("id")
    return list(found.filter(context=context) if context else found)


def test_the_case_list_logs_one_entry_naming_every_case_shown():
    cases = [make_case() for _ in range(3)]
    user = make_user("clinician")
    response = signed_in(user).get("/cases/")
    assert response.status_code == 200
    [entry] = entries(user)
    assert entry.context == "case-list"
    assert entry.case_id is None
    assert set(entry.case_ids) >= {case.pk for case in cases}
    assert len(entry.case_ids) == len(response.context["page"].object_list)


def test_a_search_logs_just_the_cases_it_found():
    wanted, other = make_case(), make_case()
    user = make_user("clinician")
    client = signed_in(user)
    client.post("/cases/", {"q": wanted.patient.hospital_number}, follow=True)
    [entry] = entries(user, "case-list")
    assert entry.case_ids == [wanted.pk]
    assert other.pk not in entry.case_ids


def test_the_htmx_results_partial_is_logged_too():
    case = make_case()
    user = make_user("clinician")
    signed_in(user).get("/cases/", headers={"HX-Request": "true", "HX-Target": "case-results"})
    [entry] = entries(user, "case-list")
    assert case.pk in entry.case_ids


def test_a_list_with_nobody_on_it_logs_nothing():
    user = make_user("clinician")
    signed_in(user).post("/cases/", {"q": "TB999999"}, follow=True)
    assert entries(user) == []


def test_the_new_case_page_for_a_known_patient_logs_the_patient():
    patient = make_patient()
    user = make_user("coordinator")
    response = signed_in(user).get(f"/cases/new/?patient={patient.pk}")
    assert response.status_code == 200
    [entry] = entries(user)
    assert (entry.patient_id, entry.context) == (patient.pk, "case-create")


def test_the_new_case_page_for_a_new_patient_logs_nothing():
    user = make_user("coordinator")
    assert signed_in(user).get("/cases/new/").status_code == 200
    assert entries(user) == []


def test_the_auditors_case_list_is_logged():
    case = make_case()
    auditor = make_user("auditor")
    signed_in(auditor).get("/audit/")
    [entry] = entries(auditor, "audit-case-list")
    assert case.pk in entry.case_ids


@pytest.mark.usefixtures("frozen")
def test_the_dashboard_and_a_worklist_log_the_cases_their_rows_show():
    coordinator = make_user("coordinator")
    upcoming_meeting(make_user("chair"))
    populate(6, today=timezone.localdate(), owner=make_user("clinician"))
    client = signed_in(coordinator)
    assert client.get("/").status_code == 200
    [dashboard] = entries(coordinator, "dashboard")
    assert dashboard.case_ids
    spec = worklists.WORKLISTS[0]
    assert client.get(f"/worklists/{spec.slug}/").status_code == 200
    [listed] = entries(coordinator, f"worklist:{spec.slug}")
    assert listed.case_ids
    assert set(listed.case_ids) <= set(models.Case.objects.values_list("pk", flat=True))
    client.get(f"/worklists/{spec.slug}/panel/", headers={"HX-Request": "true"})
    [panel] = entries(coordinator, f"worklist-panel:{spec.slug}")
    assert panel.case_ids


def test_the_auditor_sees_list_entries_under_the_case():
    case = make_case()
    signed_in(make_user("clinician", username="lister")).get("/cases/")
    page = signed_in(make_user("auditor")).get(f"/audit/access/?case={case.pk}")
    html = page.content.decode()
    assert "lister" in html
    assert "case-list" in html


def test_the_database_refuses_an_entry_that_names_nobody():
    user = make_user("clinician")
    with pytest.raises(IntegrityError), transaction.atomic():
        models.CaseAccess.objects.create(user=user, context="case-list")
