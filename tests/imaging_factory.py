"""Scans with RECIST lesions, written straight to the database (no service) for tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from cases import models


def make_study(case: models.Case, on: dt.date, **fields) -> models.ImagingStudy:
    values = {"modality": "ct", "body_region": "chest_abdomen_pelvis", "performed_on": on}
    values.update(fields)
    return models.ImagingStudy.objects.create(case=case, **values)


def make_lesion(study: models.ImagingStudy, label: str = "T1", **fields) -> models.Lesion:
    values = {"kind": "target", "organ": "liver", "segment": 7}
    values.update(fields)
    if values["organ"] == "lymph_node":
        values.setdefault("nodal", True)
        values["segment"] = None
    return models.Lesion.objects.create(baseline_study=study, label=label, **values)


def measure(
    study: models.ImagingStudy, lesion: models.Lesion, size: str | None = None, state: str = ""
) -> models.LesionMeasurement:
    state = state or ("measured" if size is not None else "present")
    return models.LesionMeasurement.objects.create(
        study=study, lesion=lesion, state=state, size_mm=None if size is None else Decimal(size)
    )
