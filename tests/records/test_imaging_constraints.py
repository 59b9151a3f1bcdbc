"""PostgreSQL itself refuses bad imaging, lesion, measurement and laboratory rows.

Each test writes straight to the database (no service, no form) and expects a refusal; a
near-miss good row proves the constraint does not simply refuse everything.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cases import models
from tests.conftest import make_case
from tests.imaging_factory import make_lesion, make_study, measure
from tests.records.test_models_constraints import refused

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture
def baseline(case):
    study = make_study(case, D(2026, 1, 5))
    lesion = make_lesion(study)
    measure(study, lesion, "42")
    return study, lesion


def test_it_rejects_a_size_of_zero_or_less_and_a_size_without_measured(baseline):
    study, lesion = baseline
    follow = make_study(study.case, D(2026, 3, 5))
    assert refused(measure, follow, lesion, "0")
    assert refused(measure, follow, lesion, "-3")
    assert refused(measure, follow, lesion, None, state="measured")
    assert refused(
        models.LesionMeasurement.objects.create,
        study=follow,
        lesion=lesion,
        state="too_small",
        size_mm=Decimal(5),
    )
    assert not refused(measure, follow, lesion, "0.5")


def test_it_rejects_a_follow_up_measurement_of_a_lesion_without_a_baseline_measurement(case):
    study = make_study(case, D(2026, 1, 5))
    lesion = make_lesion(study)  # declared, never measured at its baseline
    follow = make_study(case, D(2026, 3, 5))
    assert refused(measure, follow, lesion, "30")
    measure(study, lesion, "42")
    assert not refused(measure, follow, lesion, "30")


def test_it_rejects_deleting_a_baseline_measurement_that_follow_ups_rest_on(baseline):
    study, lesion = baseline
    follow = make_study(study.case, D(2026, 3, 5))
    measure(follow, lesion, "30")
    base_row = models.LesionMeasurement.objects.get(study=study, lesion=lesion)
    assert refused(base_row.delete)
    # The whole lesion may go, with every measurement of it.
    assert not refused(lesion.delete)


def test_it_rejects_a_follow_up_before_the_baseline_or_on_another_case(baseline):
    study, lesion = baseline
    earlier = make_study(study.case, D(2025, 12, 1))
    assert refused(measure, earlier, lesion, "30")
    elsewhere = make_study(make_case(), D(2026, 3, 5))
    assert refused(measure, elsewhere, lesion, "30")


def test_it_rejects_a_state_that_does_not_suit_the_lesion(baseline):
    study, lesion = baseline
    follow = make_study(study.case, D(2026, 3, 5))
    assert refused(measure, follow, lesion, None, state="progression")  # target
    nt = make_lesion(study, "NT1", kind="non_target", organ="lung", segment=None)
    assert refused(measure, study, nt, "12")  # a non-target is not measured
    measure(study, nt)
    assert refused(measure, follow, nt, None, state="too_small")
    assert not refused(measure, follow, nt, None, state="progression")


def test_it_rejects_a_target_not_measured_at_its_baseline(case):
    study = make_study(case, D(2026, 1, 5))
    lesion = make_lesion(study)
    assert refused(measure, study, lesion, None, state="too_small")


def test_it_rejects_a_lesion_measured_twice_on_one_scan(baseline):
    study, lesion = baseline
    assert refused(measure, study, lesion, "40")


def test_it_rejects_a_segment_outside_the_liver_or_outside_1_to_8(case):
    study = make_study(case, D(2026, 1, 5))
    assert refused(make_lesion, study, "T1", segment=9)
    assert refused(make_lesion, study, "T2", segment=0)
    assert refused(make_lesion, study, "T3", organ="lung", segment=3)
    assert not refused(make_lesion, study, "T4", segment=8)


def test_it_rejects_a_node_not_flagged_nodal_and_a_nodal_liver_lesion(case):
    study = make_study(case, D(2026, 1, 5))
    assert refused(make_lesion, study, "N1", organ="lymph_node", nodal=False)
    assert refused(make_lesion, study, "T1", nodal=True)
    assert refused(make_lesion, study, "")  # a lesion has a label
    make_lesion(study, "T1")
    assert refused(make_lesion, study, "T1", segment=2)  # once per baseline


def test_it_rejects_a_different_response_without_its_reason(case):
    assert refused(make_study, case, D(2026, 3, 5), response_override="stable_disease")
    assert refused(make_study, case, D(2026, 3, 5), response_override_reason="Pseudo-progression")
    assert not refused(
        make_study,
        case,
        D(2026, 3, 5),
        response_override="stable_disease",
        response_override_reason="Flare on PET only",
    )


def test_it_rejects_a_bad_modality_region_or_accession_number(case):
    assert refused(make_study, case, D(2026, 3, 5), modality="xray")
    assert refused(make_study, case, D(2026, 3, 5), body_region="head")
    assert refused(make_study, case, D(2026, 3, 5), accession_number="A1&evil=1")
    make_study(case, D(2026, 3, 5), accession_number="ACC-1")
    assert refused(make_study, case, D(2026, 3, 6), accession_number="ACC-1")
    assert refused(make_study, case, D(2026, 3, 6), new_lesion_sites="lung")


def test_it_rejects_a_negative_lab_value_a_missing_unit_and_an_upside_down_range(case):
    def result(**fields):
        values = {"test": "cea", "taken_on": D(2026, 3, 1), "value": Decimal(4), "unit": "ng/mL"}
        values.update(fields)
        return models.LabResult.objects.create(case=case, **values)

    assert refused(result, value=Decimal("-1"))
    assert refused(result, unit="")
    assert refused(result, test="psa")
    assert refused(result, reference_low=Decimal(10), reference_high=Decimal(5))
    result()
    assert refused(result, value=Decimal(6))  # once per test and day
    assert not refused(result, test="ca19_9", unit="U/mL")
