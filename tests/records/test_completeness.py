"""The minimum dataset check that gates listing a case for the MDT."""

from __future__ import annotations

import datetime as dt

import pytest

from cases import models
from cases.records.completeness import missing_minimum_dataset
from cases.records.selectors import case_clinical_record
from tests.conftest import make_case

D = dt.date
pytestmark = pytest.mark.django_db


def results(case, **statuses):
    for marker, status in statuses.items():
        reported = status not in ("pending", "not_tested")
        models.MolecularResult.objects.create(
            case=case, marker=marker, status=status, requested_on=D(2026, 1, 2),
            reported_on=D(2026, 1, 16) if reported else None,
        )  # fmt: skip


def scan(case, on):
    models.Reassessment.objects.create(case=case, cycle=1, due_on=on, imaging_performed_on=on)


TODAY = D(2026, 3, 1)


def missing(case, today=TODAY):
    return missing_minimum_dataset(case_clinical_record(case_id=case.pk), today=today)


def test_a_complete_case_misses_nothing():
    case = make_case(ecog=1)
    results(case, mmr_msi="pmmr_mss", kras="mutant", nras="not_tested", braf_v600e="wild_type")
    scan(case, D(2026, 2, 1))
    assert missing(case) == []


def test_it_names_everything_that_is_missing():
    case = make_case(ecog=None)
    results(case, mmr_msi="pending", kras="wild_type_exon2_only", nras="wild_type")
    assert missing(case) == [
        "MMR/MSI status",
        "RAS status (KRAS and NRAS, extended testing)",
        "BRAF V600E status",
        "ECOG performance status less than 8 weeks old",
        "Imaging less than 8 weeks old",
    ]


@pytest.mark.parametrize(("age_days", "complete"), [(55, True), (56, False)])
def test_imaging_must_be_less_than_8_weeks_old(age_days, complete):
    case = make_case(ecog=0)
    results(case, mmr_msi="pmmr_mss", kras="wild_type", nras="wild_type", braf_v600e="wild_type")
    today = D(2026, 3, 1)
    scan(case, today - dt.timedelta(days=age_days))
    assert (missing(case, today) == []) is complete
