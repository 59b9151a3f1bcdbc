"""The coordinator's round in a real browser: record a pending KRAS result, watch the case leave
the "pending results" worklist, and list it for the next meeting."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cases import models
from tests.browser.conftest import sign_in
from tests.conftest import make_case, make_patient, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def case_waiting_for_kras() -> models.Case:
    today = timezone.localdate()
    case = make_case(
        patient=make_patient(family_name="Franklin", given_name="Rosalind"),
        diagnosed_on=today - dt.timedelta(days=90),
        ecog=1,
    )
    reported = {"requested_on": today - dt.timedelta(days=30), "reported_on": today}
    for marker, status in (("mmr_msi", "pmmr_mss"), ("nras", "wild_type"),
                           ("braf_v600e", "wild_type")):  # fmt: skip
        models.MolecularResult.objects.create(case=case, marker=marker, status=status, **reported)
    models.MolecularResult.objects.create(
        case=case, marker="kras", status="pending", requested_on=today - dt.timedelta(days=30)
    )
    models.Reassessment.objects.create(
        case=case, cycle=1, due_on=today - dt.timedelta(days=2),
        imaging_performed_on=today - dt.timedelta(days=3), modality="ct",
    )  # fmt: skip
    return case


def test_a_coordinator_records_a_pending_kras_result_and_lists_the_case(page):
    make_user("coordinator", username="casey")
    meeting = models.Meeting.objects.create(
        scheduled_for=timezone.now() + dt.timedelta(days=5), chair=make_user("chair")
    )
    case = case_waiting_for_kras()
    sign_in(page, "casey")

    pending = page.locator("#wl-results-pending")
    assert case.reference in pending.inner_text()
    assert case.reference not in page.locator("#wl-meeting-ready").inner_text()
    assert case.reference in page.locator("#wl-meeting-incomplete").inner_text()

    pending.get_by_role("link", name="Record result").click()
    page.get_by_label("Result").select_option("mutant")
    page.get_by_label("Method").fill("NGS panel, exons 2-4")
    page.get_by_label("Reported on").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    assert "KRAS result saved." in page.locator(".messages").inner_text()

    page.get_by_role("link", name="Home").click()
    page.wait_for_url("**/")
    assert case.reference not in page.locator("#wl-results-pending").inner_text()
    ready = page.locator("#wl-meeting-ready")
    assert case.reference in ready.inner_text()

    ready.get_by_role("button", name=f"List {case.reference}").click()
    page.wait_for_url("**/")
    assert f"{case.reference} listed as item 1" in page.locator(".messages").inner_text()
    assert case.reference not in page.locator("#wl-meeting-ready").inner_text()
    item = models.AgendaItem.objects.get(case=case)
    assert (item.meeting_id, item.position, item.incomplete_reason) == (meeting.pk, 1, "")
    assert models.MolecularResult.objects.get(case=case, marker="kras").status == "mutant"


def test_search_filters_in_place_with_htmx(page):
    make_user("coordinator", username="casey")
    make_case(patient=make_patient(family_name="Curie", given_name="Marie"))
    make_case(patient=make_patient(family_name="Meitner", given_name="Lise"))
    sign_in(page, "casey")
    page.goto("/cases/")
    assert "2 cases" in page.locator("#case-results").inner_text()
    page.get_by_label("Name, hospital or NHS number").fill("meitner")
    # Wait for htmx to swap the results (no page load; CSP forbids string evaluation).
    page.locator("#case-results", has_text="1 case.").wait_for()
    assert "MEITNER" in page.locator("#case-results").inner_text()
    assert "CURIE" not in page.locator("#case-results").inner_text()
    # The address is a real link (reloading shows the same results) without the name in it.
    assert "search=" in page.url
    assert "meitner" not in page.url.lower()
    page.reload()
    assert "MEITNER" in page.locator("#case-results").inner_text()
    assert "CURIE" not in page.locator("#case-results").inner_text()
