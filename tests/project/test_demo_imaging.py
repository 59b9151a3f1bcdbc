"""The demo cohort's scans are measured RECIST series whose responses are the reassessments'."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection

from cases import models
from cases.audit import db_roles
from cases.records.imaging import REASSESSMENT_RESPONSE, marker_chart, recist_view
from cases.records.selectors import case_clinical_record

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def cohort(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("demo_data", patients=150, seed=11, stdout=StringIO())
        yield models.Case.objects.all()
        with db_roles.as_owner(), connection.cursor() as cursor:
            tables = ", ".join(
                model._meta.db_table for model in apps.get_app_config("cases").get_models()
            )
            cursor.execute(f"TRUNCATE {tables} CASCADE")


def test_every_treated_case_has_a_measured_baseline_and_a_cea_series(cohort):
    treated = cohort.filter(treatment_courses__isnull=False).distinct()
    assert treated.count() > 50
    for case in treated[:40]:
        record = case_clinical_record(case_id=case.pk)
        view = recist_view(record)
        assert view is not None
        assert not view.problems
        assert 2 <= len([r for r in view.rows if r.lesion.kind == "target"]) <= 3
        assert marker_chart(record, "cea") is not None


def test_each_imaged_reassessment_carries_the_response_its_scan_computes(cohort):
    seen = set()
    for case in cohort.filter(imaging_studies__reassessment__isnull=False).distinct()[:60]:
        view = recist_view(case_clinical_record(case_id=case.pk))
        for scan in view.follow_ups:
            reassessment = models.Reassessment.objects.get(pk=scan.study.reassessment_id)
            assert reassessment.response == REASSESSMENT_RESPONSE.get(scan.computed, "")
            seen.add(scan.computed_code)
    assert {"PR", "SD", "PD"} <= seen
