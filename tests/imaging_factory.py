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


def measured_series(case: models.Case, *, baseline_on: dt.date, follow_up_on: dt.date) -> None:
    """Three targets and a non-target at baseline (100 mm), re-measured to 66 mm (PR, −34 %),
    and a CEA series: a record as large as a real one on every screen that shows imaging."""
    baseline = make_study(case, baseline_on, accession_number="ACC1")
    follow = make_study(case, follow_up_on, accession_number="ACC2", new_lesions=False)
    lesions = [
        make_lesion(baseline, "T1", segment=7),
        make_lesion(baseline, "T2", segment=4),
        make_lesion(baseline, "T3", organ="lung", segment=None),
    ]
    for lesion, before, after in zip(lesions, ("40", "30", "30"), ("26", "20", "20"), strict=True):
        measure(baseline, lesion, before)
        measure(follow, lesion, after)
    nt = make_lesion(baseline, "NT1", kind="non_target", organ="peritoneum", segment=None)
    measure(baseline, nt)
    measure(follow, nt)
    for days, value in ((0, "48"), (28, "30"), (50, "12")):
        models.LabResult.objects.create(
            case=case, test="cea", taken_on=baseline_on + dt.timedelta(days=days),
            value=Decimal(value), unit="ng/mL", reference_high=Decimal(5),
        )  # fmt: skip
