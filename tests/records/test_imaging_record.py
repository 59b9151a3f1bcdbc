"""Scans, lesions, measurements and laboratory results arrive with the one-query record, equal,
field by field and type by type, to what prefetch_related loads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cases import models
from cases.records.selectors import case_clinical_record, case_page_record
from tests.imaging_factory import measured_series
from tests.records.test_performance_record import _fields, _same

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("read", [case_clinical_record, case_page_record])
def test_imaging_and_markers_come_with_the_record_in_one_query(
    read, case, django_assert_num_queries
):
    measured_series(case, baseline_on=dt.date(2026, 1, 12), follow_up_on=dt.date(2026, 3, 6))
    models.LabResult.objects.create(
        case=case, test="albumin", taken_on=dt.date(2026, 3, 2), value=Decimal("33.3"),
        unit="g/L", reference_low=Decimal(35), reference_high=Decimal(50),
    )  # fmt: skip
    classic = models.Case.objects.prefetch_related(
        "imaging_studies__baseline_lesions", "imaging_studies__measurements", "lab_results"
    ).get(pk=case.pk)
    with django_assert_num_queries(1):
        record = read(case_id=case.pk)
    with django_assert_num_queries(0):
        _same(list(record.imaging_studies.all()), list(classic.imaging_studies.all()))
        for mine, theirs in zip(
            record.imaging_studies.all(), classic.imaging_studies.all(), strict=True
        ):
            _same(
                sorted(mine.baseline_lesions.all(), key=lambda x: x.pk),
                sorted(theirs.baseline_lesions.all(), key=lambda x: x.pk),
            )
            _same(
                sorted(mine.measurements.all(), key=lambda x: x.pk),
                sorted(theirs.measurements.all(), key=lambda x: x.pk),
            )
            assert all(m.study is mine for m in mine.measurements.all())
        _same(list(record.lab_results.all()), list(classic.lab_results.all()))
        assert _fields(record) == _fields(classic)
    albumin = [r.value for r in record.lab_results.all() if r.test == "albumin"]
    assert str(albumin[0]) == "33.30"
