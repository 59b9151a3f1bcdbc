"""Optimistic locking: a second editor working from a stale copy is refused, nothing is lost."""

from __future__ import annotations

import pytest

from cases import models
from cases.common.services import ConflictError, update_versioned

pytestmark = pytest.mark.django_db


def test_the_first_save_wins_and_the_second_is_refused(case):
    seen_by_both = case.version
    update_versioned(models.Case, pk=case.pk, expected_version=seen_by_both, changes={"ecog": 2})
    with pytest.raises(ConflictError, match="Nothing was saved"):
        update_versioned(
            models.Case, pk=case.pk, expected_version=seen_by_both, changes={"ecog": 0}
        )
    case.refresh_from_db()
    assert (case.ecog, case.version) == (2, seen_by_both + 1)


def test_saving_from_the_current_version_succeeds(case):
    version = update_versioned(models.Case, pk=case.pk, expected_version=case.version, changes={})
    assert update_versioned(models.Case, pk=case.pk, expected_version=version, changes={"ecog": 3})
