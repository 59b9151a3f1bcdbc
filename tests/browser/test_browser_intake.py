"""The coordinator's path from a new referral to a listed case, in a real browser, counting page
loads: the patient looked up first (an existing one is never typed again), patient, case and
referral on one page, every molecular result on one form without leaving the case page, then
the listing. At most 6 page loads (issue 17: it took 15)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cases import models
from tests.browser.conftest import sign_in
from tests.conftest import make_case, make_patient, make_user

pytestmark = pytest.mark.django_db(transaction=True)

MAX_PAGE_LOADS = 6


def _count_page_loads(page) -> list[str]:
    """Every document the tab loads (a form post and its redirect end in one load)."""
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))
    return loads


def test_a_new_referral_becomes_a_listed_case_in_at_most_six_page_loads(page):
    make_user("coordinator", username="casey")
    meeting = models.Meeting.objects.create(
        scheduled_for=timezone.now() + dt.timedelta(days=5), chair=make_user("chair")
    )
    sign_in(page, "casey")
    loads = _count_page_loads(page)
    today = timezone.localdate()

    page.get_by_role("link", name="New case").click()  # 1
    # Look the patient up first: not registered yet, and the number is carried into the form.
    page.get_by_label("Hospital or NHS number").fill("943 476 5919")
    page.get_by_role("button", name="Look up").click()
    page.locator("#patient-lookup", has_text="No patient has the number").wait_for()
    assert page.locator("#id_patient-nhs_number").input_value() == "9434765919"
    page.get_by_label("Hospital number").fill("RX4410")
    page.get_by_label("Family name").fill("Hodgkin")
    page.get_by_label("Given name").fill("Dorothy")
    page.get_by_label("Date of birth").fill("1958-05-12")
    page.get_by_label("Primary site").select_option("rectum")
    page.get_by_label("Date of diagnosis").fill((today - dt.timedelta(days=20)).isoformat())
    page.get_by_label("ECOG performance status").select_option("1")
    page.get_by_label("Source").select_option("hospital")
    page.get_by_label("Referrer").fill("Dr B Khan, colorectal surgery")
    page.get_by_label("Urgency").select_option("urgent")
    page.get_by_label("Question for the MDT").fill("Liver metastases: conversion possible?")
    page.get_by_role("button", name="Create case").click()  # 2
    page.wait_for_url("**/cases/*/")
    case = models.Case.objects.get(patient__hospital_number="RX4410")
    assert case.referrals.get().question == "Liver metastases: conversion possible?"

    # Every molecular result on one form, inside the case page (no page load).
    page.get_by_role("link", name="Enter molecular results").click()
    form = page.locator("#molecular-entry form")
    reported = (today - dt.timedelta(days=2)).isoformat()
    for marker, status in (("mmr_msi", "pmmr_mss"), ("kras", "mutant"), ("nras", "wild_type"),
                           ("braf_v600e", "wild_type")):  # fmt: skip
        form.locator(f"#id_{marker}-status").select_option(status)
        form.locator(f"#id_{marker}-reported_on").fill(reported)
    form.get_by_role("button", name="Save results").click()
    form.wait_for(state="detached")
    page.locator("#molecular tr", has_text="KRAS").get_by_text("Mutant", exact=True).wait_for()
    assert models.MolecularResult.objects.filter(case=case).count() == 4

    page.get_by_role("link", name="List for a meeting…").click()  # 3
    page.get_by_label("Reason for listing without the minimum dataset").fill(
        "Staging CT booked for this week"
    )
    page.get_by_role("button", name="List the case").click()  # 4
    page.wait_for_url(f"**/cases/{case.pk}/")
    assert f"{case.reference} listed as item 1" in page.locator(".messages").inner_text()
    assert models.AgendaItem.objects.get(case=case).meeting_id == meeting.pk

    assert len(loads) <= MAX_PAGE_LOADS, loads
    print(f"page loads from new referral to listed case: {len(loads)}")


def test_an_existing_patient_is_found_by_either_number_and_a_bad_check_digit_is_named(page):
    make_user("coordinator", username="casey")
    known = make_patient(family_name="Lovelace", given_name="Ada", nhs_number="9434765919")
    make_case(patient=known)
    sign_in(page, "casey")
    page.goto("/cases/new/")
    lookup = page.get_by_label("Hospital or NHS number")
    lookup.fill(known.hospital_number)
    page.get_by_role("button", name="Look up").click()
    page.locator("#patient-lookup", has_text="Already registered").wait_for()
    assert "LOVELACE, Ada" in page.locator("#patient-lookup").inner_text()
    lookup.fill("9434765918")
    page.get_by_role("button", name="Look up").click()
    page.locator("#patient-lookup", has_text="not a valid NHS number").wait_for()
    lookup.fill("943 476 5919")
    page.get_by_role("button", name="Look up").click()
    page.locator("#patient-lookup", has_text="Already registered").wait_for()
    page.get_by_role("link", name="New case for this patient").click()
    page.wait_for_url("**/cases/new/?patient=*")
    assert "New case for LOVELACE, Ada" in page.locator("h1").inner_text()
