"""The minimum dataset of a stored case (dashboard and meeting): the engine's rule
(``cases/pathway/dataset.py``) applied to a case from ``case_clinical_record``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from cases.common.constants import workflow_constants
from cases.pathway.dataset import missing_minimum_dataset as missing_on_day

if TYPE_CHECKING:
    from cases.models import Case


def missing_minimum_dataset(case: Case, *, today: dt.date) -> list[str]:
    """What is missing on ``today``, in words; an empty list means the case is complete."""
    scans = [r.imaging_performed_on for r in case.reassessments.all() if r.imaging_performed_on]
    return missing_on_day(
        marker_statuses={r.marker: r.status for r in case.molecular_results.all()},
        ecog=case.ecog,
        ecog_assessed_on=case.ecog_assessed_on,
        last_scan_on=max(scans, default=None),
        day=today,
        workflow=workflow_constants(),
    )
