"""The scan form (baseline, then follow-up, each one POST), the bloods row, and what the case
page, the meeting screen and the timeline then show."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import models
from tests.conftest import make_user, signed_in
from tests.imaging_factory import measured_series
from tests.meeting_factory import list_case, make_conversion_case, make_meeting

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
NOW = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def radiologist(db):
    return make_user("clinician", username="radiologist", discipline="radiologist")


def baseline_post(**extra):
    data = {
        "modality": "ct",
        "body_region": "chest_abdomen_pelvis",
        "performed_on": "2026-01-12",
        "accession_number": "ACC100",
        "lesion_0_label": "T1", "lesion_0_kind": "target", "lesion_0_organ": "liver",
        "lesion_0_segment": "7", "lesion_0_size": "40",
        "lesion_1_label": "T2", "lesion_1_kind": "target", "lesion_1_organ": "liver",
        "lesion_1_segment": "4", "lesion_1_size": "30",
        "lesion_2_label": "T3", "lesion_2_kind": "target", "lesion_2_organ": "lung",
        "lesion_2_size": "30",
    }  # fmt: skip
    for i in range(3, 8):
        data[f"lesion_{i}_kind"] = "target"
    data.update(extra)
    return data


def follow_up_post(case, sizes, **extra):
    study = models.ImagingStudy.objects.get(case=case, performed_on=dt.date(2026, 1, 12))
    data = {
        "modality": "ct",
        "body_region": "chest_abdomen_pelvis",
        "performed_on": "2026-03-06",
        "new_lesions": "no",
    }
    for lesion in study.baseline_lesions.all():
        data[f"m{lesion.pk}_state"] = "measured"
        data[f"m{lesion.pk}_size"] = sizes[lesion.label]
    data.update(extra)
    return data


def test_a_radiologist_records_a_baseline_then_a_follow_up_and_the_case_page_shows_pr(
    radiologist, case, settings
):
    settings.PACS_VIEWER_URL = "https://pacs.example/viewer?accession={accession}"
    client = signed_in(radiologist)
    url = f"/cases/{case.pk}/scans/new/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Baseline lesions" in page.content.decode()
    assert client.post(url, baseline_post()).status_code == 302
    page = client.get(url)
    assert "Lesions of the baseline of 12 Jan 2026" in page.content.decode()
    response = client.post(url, follow_up_post(case, {"T1": "26", "T2": "20", "T3": "20"}))
    assert response.status_code == 302, response.content.decode()
    html = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-response="PR"' in html
    assert "\u221234 % from baseline" in html
    assert "https://pacs.example/viewer?accession=ACC100" in html
    assert "Liver on 6 Mar 2026" in html


def test_the_form_shows_every_problem_and_saves_nothing(radiologist, case):
    client = signed_in(radiologist)
    url = f"/cases/{case.pk}/scans/new/"
    response = client.post(
        url, baseline_post(performed_on="2026-03-11", lesion_2_organ="liver", lesion_1_size="0")
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "cannot be in the future" in html
    assert "a size is more than 0 mm" in html
    assert not models.ImagingStudy.objects.exists()
    response = client.post(url, baseline_post(lesion_2_organ="liver"))
    assert response.status_code == 422
    assert "at most 2 per organ" in response.content.decode()
    assert not models.ImagingStudy.objects.exists()


def test_a_coordinator_cannot_open_the_scan_form(users, case):
    assert signed_in(users["coordinator"]).get(f"/cases/{case.pk}/scans/new/").status_code == 403


def test_bloods_are_one_post_and_the_cea_chart_draws_the_series(users, case):
    client = signed_in(users["coordinator"])
    url = f"/cases/{case.pk}/bloods/new/"
    for day, cea in (("2026-01-05", "48"), ("2026-02-02", "30.5"), ("2026-03-02", "12")):
        response = client.post(url, {"taken_on": day, "cea": cea, "albumin": "33"})
        assert response.status_code == 302
    assert models.LabResult.objects.filter(case=case).count() == 6
    html = client.get(f"/cases/{case.pk}/").content.decode()
    chart = re.search(r'<svg class="marker-chart".*?</svg>', html, re.S).group(0)
    assert chart.count("<circle") == 3
    assert "5 Jan 2026: 48 ng/mL (high)" in chart
    assert "2 Mar 2026: 12 ng/mL (high)" in chart
    response = client.post(url, {"taken_on": "2026-03-02", "cea": "13"})
    assert response.status_code == 422
    assert "already recorded for this date" in response.content.decode()


def test_the_meeting_screen_and_timeline_show_the_response_and_cea_in_the_same_queries(users):
    """Imaging and markers come with the one-query record: a case with a measured series and a
    CEA series costs the case page and the meeting screen no extra query."""
    chair = make_user("chair")
    meeting = make_meeting(chair)
    plain = list_case(meeting, make_conversion_case(), by=chair)
    imaged = list_case(meeting, make_conversion_case(), by=chair)
    measured_series(imaged.case, baseline_on=dt.date(2026, 1, 12), follow_up_on=dt.date(2026, 3, 6))
    client = signed_in(chair)

    def page(path):
        client.get(path)  # warm per-process caches
        with CaptureQueriesContext(connection) as queries:
            html = client.get(path).content.decode()
        return html, len(queries)

    html, with_imaging = page(f"/agenda/{imaged.pk}/")
    _, without = page(f"/agenda/{plain.pk}/")
    assert with_imaging == without
    summary = re.search(r'id="imaging-summary".*?</div>', html, re.S).group(0)
    assert 'data-response="PR"' in summary
    assert "\u221234 % from baseline" in summary
    assert 'data-points="3"' in summary
    strip = re.search(r'<svg class="timeline timeline-strip".*?</svg>', html, re.S).group(0)
    assert "PR \u221234 %" in strip
    assert strip.count("tl-cea-point") == 3
    html, with_imaging = page(f"/cases/{imaged.case_id}/")
    _, without = page(f"/cases/{plain.case_id}/")
    assert with_imaging == without
    assert 'data-points="3"' in html
