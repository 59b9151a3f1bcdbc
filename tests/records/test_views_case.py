"""Case search, the case page, and the entry forms: messages in place, concurrent edits refused
with the user's input kept, and no 500 for any input."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import models
from cases.records.selectors import case_search
from cases.records.views.search import SEARCH_PAGE_ROWS, _results_page
from tests.conftest import make_case, make_patient, make_user

D = dt.date
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
HTMX = {"HX-Request": "true", "HX-Target": "case-results"}


@pytest.fixture
def coordinator(client):
    user = make_user("coordinator")
    client.force_login(user)
    return user


def full_record():
    """A case with one of everything (and the ids the forms need)."""
    case = make_case(diagnosed_on=D(2025, 10, 1))
    course = models.TreatmentCourse.objects.create(
        case=case, backbone="folfox", agents=["fluorouracil", "oxaliplatin", "bevacizumab"],
        started_on=D(2025, 10, 20),
    )  # fmt: skip
    dose = models.AgentAdministration.objects.create(course=course, agent="bevacizumab",
                                                given_on=D(2025, 11, 3))  # fmt: skip
    cycle = models.Reassessment.objects.create(case=case, cycle=1, due_on=D(2026, 3, 20))
    rt = models.Radiotherapy.objects.create(
        case=case, kind="short_course_5x5", started_on=D(2026, 1, 5), completed_on=D(2026, 1, 9)
    )
    op = models.Surgery.objects.create(
        case=case, kind="primary_resection", planned_on=D(2026, 4, 1)
    )
    action = models.Action.objects.create(
        case=case, description="Book MRI", owner=make_user("clinician"), due_on=D(2026, 3, 1)
    )
    models.MolecularResult.objects.create(case=case, marker="kras", status="pending",
                                     requested_on=D(2025, 10, 5))  # fmt: skip
    return {"case": case, "course": course, "dose": dose, "cycle": cycle, "rt": rt, "op": op,
            "action": action}  # fmt: skip


# --- Search ----------------------------------------------------------------------------------


def test_search_by_name_hospital_number_and_nhs_number(client, coordinator):
    ada = make_case(
        patient=make_patient(
            family_name="Lovelace",
            given_name="Ada",
            hospital_number="RX123",
            nhs_number="9434765919",
        )
    )
    make_case(patient=make_patient(family_name="Babbage", given_name="Charles"))
    for query in ("lovelace", "ADA love", "rx123", "943 476 5919"):
        response = client.post("/cases/", {"q": query}, follow=True)
        html = response.content.decode()
        assert ada.reference in html, query
        assert "BABBAGE" not in html, query
        # The results URL carries a token, never the name or number searched for.
        url = response.redirect_chain[-1][0]
        assert "search=" in url
        assert query.split()[0].lower() not in url.lower(), url


def test_a_search_link_works_again_in_the_same_session_only(client, coordinator):
    make_case(patient=make_patient(family_name="Lovelace"))
    make_case(patient=make_patient(family_name="Babbage"))
    url = client.post("/cases/", {"q": "lovelace"}).headers["Location"]
    assert "1 case." in client.get(url).content.decode()  # reload, Back, a bookmark
    client.force_login(make_user("coordinator"))  # another session: the token means nothing
    assert "2 cases." in client.get(url).content.decode()


def test_filters_by_stage_and_clinician_and_paginates_with_real_links(client, coordinator):
    doctor = make_user("clinician")
    for _ in range(30):
        make_case(responsible_clinician=doctor)
    make_case(stage=models.Stage.WORKUP)
    page1 = client.get("/cases/", {"stage": "conversion", "clinician": doctor.pk})
    html = page1.content.decode()
    assert "30 cases, page 1 of 2" in html
    assert f'href="?stage=conversion&amp;clinician={doctor.pk}&amp;page=2"' in html
    page2 = client.get("/cases/", {"stage": "conversion", "clinician": doctor.pk, "page": 2})
    assert page2.content.decode().count("/cases/") >= 5


def test_htmx_filtering_returns_only_the_results(client, coordinator):
    make_case()
    response = client.post("/cases/", {"q": "sentinelworth"}, headers=HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="case-results"')
    assert "<form" not in html
    assert "1 case." in html
    # The address bar gets the token URL, without the name.
    assert "search=" in response["HX-Push-Url"]
    assert "sentinel" not in response["HX-Push-Url"].lower()


@pytest.mark.parametrize(
    "params",
    [{"stage": "nonsense"}, {"clinician": "abc"}, {"clinician": "9" * 30}, {"page": "-1"},
     {"page": "9" * 40}, {"q": "x" * 500}, {"q": "\x00"}],
)  # fmt: skip
def test_bad_search_parameters_never_fail(client, coordinator, params):
    make_case()
    assert client.get("/cases/", params).status_code == 200
    assert client.post("/cases/", params, follow=True).status_code == 200


@pytest.mark.parametrize("cases", [0, 55])
def test_a_results_page_is_the_page_the_paginator_gives(cases):
    """The results page (ids and total in one pass) is exactly ``Paginator.get_page``'s."""
    for _ in range(cases):
        make_case()
    found = case_search()
    for number in [None, "1", "2", "3", "4", "0", "-1", "x", "2.5", " 2 ", "9" * 40]:
        ours = _results_page(found, number)
        theirs = Paginator(found, SEARCH_PAGE_ROWS).get_page(number)
        assert ours.number == theirs.number, number
        assert ours.paginator.count == theirs.paginator.count == cases, number
        assert [c.pk for c in ours] == [c.pk for c in theirs], number
        assert [c.next_due for c in ours] == [c.next_due for c in theirs], number


# --- The case page ---------------------------------------------------------------------------


def test_the_case_page_shows_summary_profile_timeline_and_history(client, coordinator):
    record = full_record()
    case = record["case"]
    html = client.get(f"/cases/{case.pk}/").content.decode()
    logged = models.CaseAccess.objects.filter(case_id=case.pk).values_list("user_id", "context")
    assert list(logged) == [(coordinator.pk, "case-page")]
    assert "derived side: left" in html  # sidedness is derived from the rectum, never typed
    kras = re.search(r'<tr class="row-warn">\s*<th scope="row">KRAS</th>.*?</tr>', html, re.S)
    assert 'badge-warn">Pending' in kras.group(0)  # pending stands out
    assert 'class="timeline"' in html
    for text in ("Diagnosis", "FOLFOX + bevacizumab started", "Dose: Bevacizumab",
                 "Short course 5 × 5 Gy completed", "Resection of the primary planned",
                 "Action for", "KRAS requested"):  # fmt: skip
        assert text in html, text


def test_the_case_page_runs_a_fixed_number_of_queries(client, coordinator):
    small = full_record()["case"]
    big = full_record()["case"]
    course = big.treatment_courses.get()
    models.AgentAdministration.objects.bulk_create(
        models.AgentAdministration(course=course, agent="oxaliplatin",
                              given_on=D(2025, 10, 20) + dt.timedelta(days=d))
        for d in range(0, 120, 2)
    )  # fmt: skip
    counts = []
    for case in (small, big):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/cases/{case.pk}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_an_auditor_reads_the_case_but_cannot_edit_and_an_admin_cannot_read(client):
    case = full_record()["case"]
    client.force_login(make_user("auditor"))
    html = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Edit case" not in html
    assert client.get(f"/cases/{case.pk}/edit/").status_code == 403
    assert client.post(f"/cases/{case.pk}/edit/", {"ecog": "0"}).status_code == 403
    client.force_login(make_user("admin"))
    assert client.get(f"/cases/{case.pk}/").status_code == 403


def test_unknown_cases_and_other_cases_records_are_404(client, coordinator):
    mine, other = full_record(), full_record()
    c = mine["case"].pk
    for url in (f"/cases/{c}/reassessments/{other['cycle'].pk}/",
                f"/cases/{c}/courses/{other['course'].pk}/",
                f"/cases/{c}/courses/{other['course'].pk}/doses/new/",
                f"/cases/{c}/doses/{other['dose'].pk}/",
                f"/cases/{c}/radiotherapy/{other['rt'].pk}/",
                f"/cases/{c}/surgery/{other['op'].pk}/",
                f"/cases/{c}/actions/{other['action'].pk}/status/",
                f"/cases/{c}/molecular/egfr/", "/cases/999999/",
                f"/cases/{'9' * 25}/", f"/cases/{c}/surgery/{'9' * 25}/"):  # fmt: skip
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"version": 1}).status_code in (404, 405), url


# --- Entry forms -----------------------------------------------------------------------------


def new_case_form(**overrides):
    data = {
        "patient-hospital_number": "RX900", "patient-family_name": "Hopper",
        "patient-given_name": "Grace", "patient-date_of_birth": "1956-12-09",
        "case-primary_site": "rectum", "case-primary_symptom": "none",
        "case-diagnosed_on": "2026-02-01", "case-stage": "workup",
    }  # fmt: skip
    return data | overrides


def test_a_coordinator_creates_a_patient_and_case(client, coordinator):
    response = client.post("/cases/new/", new_case_form(**{"case-ecog": "1"}))
    case = models.Case.objects.get(patient__hospital_number="RX900")
    assert response["Location"] == f"/cases/{case.pk}/"
    assert (case.ecog, case.stage) == (1, "workup")


def test_a_case_that_fails_its_checks_leaves_no_orphan_patient(client, coordinator):
    response = client.post("/cases/new/", new_case_form(**{"case-diagnosed_on": "1950-01-01"}))
    assert response.status_code == 422
    assert b"The diagnosis cannot be before the patient&#x27;s date of birth." in response.content
    assert not models.Patient.objects.filter(hospital_number="RX900").exists()


def test_a_pending_result_is_recorded_then_reported_through_the_form(client, coordinator):
    case = make_case()
    url = f"/cases/{case.pk}/molecular/kras/"
    refused = client.post(url, {"status": "pending"})
    assert refused.status_code == 422
    assert b"A pending result needs the date it was requested." in refused.content
    client.post(url, {"status": "pending", "requested_on": "2026-02-01"})
    form = client.get(url).content.decode()
    assert 'name="version" value="1"' in form
    client.post(url, {"status": "mutant", "requested_on": "2026-02-01",
                      "reported_on": "2026-03-02", "version": "1"})  # fmt: skip
    result = models.MolecularResult.objects.get(case=case, marker="kras")
    assert (result.status, result.version) == ("mutant", 2)


def test_impossible_liver_figures_get_clinical_messages(client, coordinator):
    record = full_record()
    url = f"/cases/{record['case'].pk}/reassessments/{record['cycle'].pk}/"
    response = client.post(
        url,
        {
            "version": "1",
            "due_on": "2026-03-20",
            "imaging_performed_on": "2025-09-01",
            "modality": "ct",
            "flr_percent_slv": "140",
            "flr_segments_remaining": "9",
            "extrahepatic_disease": "none",
            "r0_achievable": "unknown",
        },
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert html.count("The future liver remnant is a percentage from 0 to 100.") == 1
    assert "The liver has 8 segments: enter 0 to 8." in html
    # The service's clinical check after the form's own: not reached while the form is invalid;
    # fix the figures and the scan date problem is reported next to its field.
    response = client.post(url, {"version": "1", "due_on": "2026-03-20",
                                 "imaging_performed_on": "2025-09-01", "modality": "ct",
                                 "flr_percent_slv": "35", "extrahepatic_disease": "none",
                                 "r0_achievable": "unknown"})  # fmt: skip
    assert "The scan is before the diagnosis (1 Oct 2025)." in response.content.decode()


def test_a_bevacizumab_dose_after_surgery_asks_for_the_note_in_the_form(client, coordinator):
    record = full_record()
    case, course = record["case"], record["course"]
    models.Surgery.objects.create(case=case, kind="defunctioning_stoma", planned_on=D(2026, 1, 2),
                             performed_on=D(2026, 1, 2))  # fmt: skip
    url = f"/cases/{case.pk}/courses/{course.pk}/doses/new/"
    response = client.post(url, {"agent": "bevacizumab", "given_on": "2026-02-20"})
    assert response.status_code == 422
    assert b"Bevacizumab after the operation on 2 Jan 2026" in response.content
    ok = client.post(url, {"agent": "bevacizumab", "given_on": "2026-02-20",
                           "note": "Stoma only; oncologist restarted after review"})  # fmt: skip
    assert ok.status_code == 302


def test_two_people_editing_the_same_case_the_second_is_told_and_keeps_their_input(client):
    case = make_case(ecog=1)
    first, second = make_user("coordinator"), make_user("clinician")
    both_saw = {"version": str(case.version), "primary_site": "rectum",
                "primary_symptom": "none", "diagnosed_on": "2026-01-10",
                "stage": "conversion"}  # fmt: skip
    client.force_login(first)
    assert client.post(f"/cases/{case.pk}/edit/", both_saw | {"ecog": "2"}).status_code == 302
    client.force_login(second)
    response = client.post(
        f"/cases/{case.pk}/edit/", both_saw | {"ecog": "3", "primary_symptom": "bleeding"}
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "Not saved: someone else changed this record" in html
    assert '<option value="bleeding" selected>' in html  # the second user's input is kept
    case.refresh_from_db()
    assert (case.ecog, case.primary_symptom, case.version) == (2, "none", 2)


def test_a_refused_patient_edit_does_not_show_its_input_as_the_record(client):
    case = make_case()
    patient = case.patient
    editor = make_user("coordinator")
    client.force_login(editor)
    stale = {
        "version": str(patient.version - 1 if patient.version > 1 else 99),
        "hospital_number": "OTHER123", "family_name": "Wrongname", "given_name": "X",
        "date_of_birth": "1960-05-17", "nhs_number": "",
    }  # fmt: skip
    response = client.post(f"/cases/{case.pk}/patient/", stale)
    html = response.content.decode()
    assert response.status_code == 409
    header = re.search(r"← [^<]*", html).group(0)  # the case line above the form
    assert patient.hospital_number in header
    assert "OTHER123" not in header
    assert 'value="OTHER123"' in html  # the user's input is kept in the form


def test_marking_an_action_not_done_needs_the_reason(client, coordinator):
    record = full_record()
    url = f"/cases/{record['case'].pk}/actions/{record['action'].pk}/status/?next=dashboard"
    refused = client.post(url, {"version": "1", "status": "not_done"})
    assert b"Reason is required." in refused.content
    done = client.post(url, {"version": "1", "status": "not_done", "not_done_reason": "Unwell"})
    assert done["Location"] == "/"


# --- No input makes a 500 --------------------------------------------------------------------

GARBAGE = ["", "zzz", "9" * 30, "-1", "0", "2026-02-30", "99999-01-01", "0001-01-01",
           "\x00", "x" * 5000, "NaN", "1e400", "[]"]  # fmt: skip


# One field at a time: the values most likely to slip past a form into a service.
PER_FIELD = ["", "zzz", "9" * 30, "0001-01-01", "\x00"]


def form_urls(record, other):
    c, course = record["case"].pk, record["course"].pk
    return {
        "/cases/new/": new_case_form(),
        f"/cases/new/?patient={record['case'].patient_id}": {
            "case-primary_site": "rectum", "case-primary_symptom": "none",
            "case-diagnosed_on": "2026-02-01", "case-stage": "workup"},
        f"/cases/{c}/edit/": {"version": "1", "primary_site": "rectum", "primary_symptom": "none",
                              "diagnosed_on": "2025-10-01", "stage": "conversion", "ecog": "1",
                              "responsible_clinician": "", "coordinator": ""},
        f"/cases/{c}/patient/": {"version": "1", "hospital_number": "Z1", "family_name": "A",
                                 "given_name": "B", "date_of_birth": "1950-01-01"},
        f"/cases/{c}/molecular/nras/": {"status": "mutant", "requested_on": "2026-01-01",
                                        "reported_on": "2026-01-02"},
        f"/cases/{c}/molecular/kras/": {"status": "mutant", "requested_on": "2025-10-05",
                                        "reported_on": "2026-01-02", "version": "1"},
        f"/cases/{c}/reassessments/new/": {"due_on": "2026-05-01", "extrahepatic_disease": "none",
                                           "r0_achievable": "unknown"},
        f"/cases/{c}/reassessments/{record['cycle'].pk}/": {
            "version": "1", "due_on": "2026-03-20", "imaging_performed_on": "2026-03-01",
            "modality": "ct", "reassessed_on": "2026-03-02", "extrahepatic_disease": "none",
            "flr_percent_slv": "31.5", "flr_segments_remaining": "3", "r0_achievable": "true"},
        f"/cases/{c}/courses/new/": {"intent": "conversion", "backbone": "capox",
                                     "agents": ["capecitabine", "oxaliplatin"],
                                     "started_on": "2026-03-01"},
        f"/cases/{c}/courses/{course}/": {"version": "1", "intent": "conversion",
                                          "backbone": "folfox",
                                          "agents": ["fluorouracil", "oxaliplatin", "bevacizumab"],
                                          "started_on": "2025-10-20"},
        f"/cases/{c}/courses/{course}/doses/new/": {"agent": "oxaliplatin",
                                                    "given_on": "2026-01-05", "cycle_number": "3"},
        f"/cases/{c}/doses/{record['dose'].pk}/": {"version": "1", "agent": "bevacizumab",
                                                   "given_on": "2025-11-04"},
        f"/cases/{c}/radiotherapy/new/": {"kind": "long_course_crt", "started_on": "2026-02-01"},
        f"/cases/{c}/radiotherapy/{record['rt'].pk}/": {"version": "1", "kind": "short_course_5x5",
                                                        "started_on": "2026-01-05",
                                                        "completed_on": "2026-01-09"},
        f"/cases/{c}/surgery/new/": {"kind": "one_stage_hepatectomy", "urgency": "elective",
                                     "planned_on": "2026-05-01"},
        f"/cases/{c}/surgery/{record['op'].pk}/": {"version": "1", "kind": "primary_resection",
                                                   "urgency": "elective",
                                                   "planned_on": "2026-04-02"},
        f"/cases/{c}/actions/{record['action'].pk}/status/": {"version": "1", "status": "done"},
        f"/cases/{c}/list/": {"meeting": str(other["meeting"].pk), "incomplete_reason": "why"},
    }  # fmt: skip


def test_no_form_input_causes_a_server_error(client, coordinator):
    record, other = full_record(), full_record()
    other["meeting"] = models.Meeting.objects.create(
        scheduled_for=dt.datetime(2026, 3, 17, 9, 0, tzinfo=dt.UTC), chair=make_user("chair")
    )
    statuses = set()
    for url, valid in form_urls(record, other).items():
        assert client.get(url).status_code == 200, url
        # Nothing at all, then every field garbage at once, then one garbage field at a time.
        attempts = [{}] + [dict.fromkeys(valid, junk) for junk in GARBAGE]
        attempts += [valid | {field: junk} for field in valid for junk in PER_FIELD]
        attempts += [valid | {"version": str(other["dose"].version + 5)}]
        for data in attempts:
            response = client.post(url, data)
            statuses.add(response.status_code)
            assert response.status_code < 500, (url, data)
    assert statuses <= {200, 302, 404, 409, 422}
