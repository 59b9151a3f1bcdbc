"""Sidedness is derived from the primary site (pathway-spec R1), never typed in."""

from __future__ import annotations

import pytest

from cases import models
from cases.records.mapping import sidedness_of
from tests.conftest import make_case

pytestmark = pytest.mark.django_db

R1 = {
    "caecum": "right",
    "ascending_colon": "right",
    "hepatic_flexure": "right",
    "transverse_colon": "right",
    "splenic_flexure": "left",
    "descending_colon": "left",
    "sigmoid_colon": "left",
    "rectosigmoid": "left",
    "rectum": "left",
    "unknown": "undetermined",
}


def test_every_site_in_the_vocabulary_has_an_r1_side():
    assert set(R1) == set(models.PrimarySite.values)


@pytest.mark.parametrize(("site", "side"), R1.items())
def test_it_derives_sidedness_from_the_primary_site(site, side):
    case = make_case(primary_site=site)
    case.refresh_from_db()
    assert sidedness_of(case.primary_site) == side


def test_the_referrals_side_never_changes_the_derived_side():
    case = make_case(primary_site="rectum", sidedness_reported="right")
    assert sidedness_of(case.primary_site) == "left"


def test_sidedness_is_not_a_stored_column():
    columns = {f.column for f in models.Case._meta.concrete_fields}
    assert "sidedness" not in columns
    assert "sidedness_reported" in columns
