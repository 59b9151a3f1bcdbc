"""A radiologist records a baseline and a reassessment scan in a real browser; the meeting
screen then shows the RECIST response and the CEA chart (axe-core checks each new screen)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases import models
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.conftest import make_user
from tests.meeting_factory import list_case, make_conversion_case, make_meeting

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def imaging_setup():
    chair = make_user("chair", username="chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)
    make_user("clinician", username="radio", discipline=models.Discipline.RADIOLOGIST)
    today = timezone.localdate()
    meeting_day = today + dt.timedelta(days=1)  # the scans are before the meeting
    item = list_case(
        make_meeting(chair, day=meeting_day), make_conversion_case(day=meeting_day), by=chair
    )
    for days, value in ((95, "48"), (60, "30.5"), (6, "12")):
        models.LabResult.objects.create(
            case=item.case, test="cea", taken_on=today - dt.timedelta(days=days),
            value=Decimal(value), unit="ng/mL", reference_high=Decimal(5),
        )  # fmt: skip
    return {"item": item, "today": today}


def _fill_study(page, day: dt.date, accession: str) -> None:
    page.get_by_label("Modality").select_option("ct")
    page.get_by_label("Body region").select_option("chest_abdomen_pelvis")
    page.get_by_label("Scan date").fill(day.isoformat())
    page.get_by_label("Accession number").fill(accession)


def test_a_radiologist_records_two_scans_and_the_meeting_sees_pr_and_the_cea_series(
    page, imaging_setup
):
    item, today = imaging_setup["item"], imaging_setup["today"]
    sign_in(page, "radio")
    page.goto(f"/cases/{item.case_id}/")
    page.get_by_role("link", name="Record a scan").click()
    expect(page.get_by_role("heading", name="New baseline scan")).to_be_visible()
    assert_accessible(page, "baseline scan form")
    _fill_study(page, today - dt.timedelta(days=90), "ACC-B1")
    rows = [("T1", "liver", "7", "40"), ("T2", "liver", "4", "30"), ("T3", "lung", "", "30")]
    for i, (label, organ, segment, size) in enumerate(rows, start=1):
        page.get_by_label(f"Row {i} label").fill(label)
        page.get_by_label(f"Row {i} kind").select_option("target")
        page.get_by_label(f"Row {i} organ").select_option(organ)
        if segment:
            page.get_by_label(f"Row {i} liver segment").select_option(segment)
        page.get_by_label(f"Row {i} size (mm)").fill(size)
    page.get_by_role("button", name="Save scan").click()
    expect(page.get_by_text("Scan recorded.")).to_be_visible()
    expect(page.locator("#imaging")).to_contain_text("Baseline recorded")

    page.get_by_role("link", name="Record a scan").click()
    expect(page.get_by_role("heading", name="Follow-up scan")).to_be_visible()
    assert_accessible(page, "follow-up scan form")
    _fill_study(page, today - dt.timedelta(days=5), "ACC-F1")
    for label, size in (("T1", "26"), ("T2", "20"), ("T3", "20")):
        page.get_by_label(f"{label} state").select_option("measured")
        page.get_by_label(f"{label} size (mm)").fill(size)
    page.get_by_label("New lesions").select_option("no")
    page.get_by_role("button", name="Save scan").click()
    expect(page.get_by_text("Scan recorded.")).to_be_visible()
    expect(page.locator("#imaging .recist-response")).to_have_text("PR")
    assert_accessible(page, "case page with imaging and markers")

    page.goto(f"/agenda/{item.pk}/")
    summary = page.locator("#imaging-summary")
    expect(summary.locator(".recist-response")).to_have_text("PR")
    expect(summary).to_contain_text("\u221234 % from baseline")
    chart = summary.locator("svg.marker-chart")
    expect(chart.locator("circle")).to_have_count(3)
    expect(chart.locator("desc")).to_contain_text("48 ng/mL")
    expect(chart.locator("desc")).to_contain_text("30.5 ng/mL")
    expect(chart.locator("desc")).to_contain_text("12 ng/mL")
    expect(page.locator("svg.timeline-strip .tl-response")).to_have_text("PR \u221234 %")
    assert_accessible(page, "meeting case screen with imaging")
