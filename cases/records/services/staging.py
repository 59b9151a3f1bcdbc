"""Staging and pathology of the primary: TNM (AJCC / UICC 8th edition), MRI pelvis of a rectal
primary, and histology. None of them moves a reminder, so none re-plans the case's reminders.

Each entity has a ``_create`` and an ``_update`` service sharing one check; the checks say in
clinical words what the check constraints of ``cases/models/staging.py`` refuse.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from cases import models
from cases.pathway.staging import crm_status_for_distance, tnm_problems
from cases.records.services.checks import (
    Problems,
    check_version,
    fmt,
    local_today,
    save_row,
    update_row,
)
from cases.security.permissions import Capability, require

# The primaries whose local staging is an MRI pelvis.
RECTAL_SITES = (models.PrimarySite.RECTUM, models.PrimarySite.RECTOSIGMOID)

# The diagnosis is confirmed by a biopsy, often after a scan: a staging may predate it by weeks.
BEFORE_DIAGNOSIS_ALLOWED = dt.timedelta(days=92)


def _not_long_before_diagnosis(
    p: Problems, field: str, value: dt.date | None, case: models.Case, what: str
) -> None:
    p.not_before(
        field,
        value,
        case.diagnosed_on - BEFORE_DIAGNOSIS_ALLOWED,
        f"{what} is months before the diagnosis ({fmt(case.diagnosed_on)}): check the date.",
    )


# --- TNM -------------------------------------------------------------------------------------


def _check_tnm(
    p: Problems,
    case: models.Case,
    *,
    staging_id: int | None,
    kind: str,
    t: str,
    n: str,
    m: str,
    staged_on: dt.date | None,
    today: dt.date,
) -> None:
    p.choice("kind", kind, models.TnmKind)
    p.choice("t", t, models.TCategory)
    p.choice("n", n, models.NCategory)
    p.choice("m", m, models.MCategory)
    if not {"t", "n", "m"} & set(p.errors):
        for problem in tnm_problems(t, n, m):
            p.add("n" if "N" in problem.split(" ")[0] else "t", problem)
    p.date("staged_on", staged_on, label="Staging date", today=today, past_only=True, required=True)
    _not_long_before_diagnosis(p, "staged_on", staged_on, case, "The staging")
    if "kind" not in p:
        twin = models.TnmStaging.objects.filter(case=case, kind=kind).exclude(pk=staging_id)
        if twin.exists():
            p.add("kind", f"A {models.TnmKind(kind).label} staging is already recorded: edit it.")


@transaction.atomic
def tnm_staging_create(
    *, user: Any, case_id: int, kind: str, t: str, n: str, m: str, staged_on: dt.date
) -> models.TnmStaging:
    require(user, Capability.EDIT_CASES)
    case = models.Case.objects.get(pk=case_id)
    p = Problems()
    _check_tnm(
        p, case, staging_id=None, kind=kind, t=t, n=n, m=m, staged_on=staged_on, today=local_today()
    )
    p.raise_if_any()
    row = models.TnmStaging(case=case, kind=kind, t=t, n=n, m=m, staged_on=staged_on)
    save_row(row)
    return row


@transaction.atomic
def tnm_staging_update(
    *,
    user: Any,
    staging_id: int,
    expected_version: int,
    kind: str,
    t: str,
    n: str,
    m: str,
    staged_on: dt.date,
) -> models.TnmStaging:
    require(user, Capability.EDIT_CASES)
    row = models.TnmStaging.objects.select_related("case").get(pk=staging_id)
    p = Problems()
    _check_tnm(
        p,
        row.case,
        staging_id=staging_id,
        kind=kind,
        t=t,
        n=n,
        m=m,
        staged_on=staged_on,
        today=local_today(),
    )
    p.raise_if_any()
    update_row(
        models.TnmStaging,
        pk=staging_id,
        expected_version=check_version(expected_version),
        changes={"kind": kind, "t": t, "n": n, "m": m, "staged_on": staged_on},
    )
    return models.TnmStaging.objects.get(pk=staging_id)


# --- MRI pelvis ------------------------------------------------------------------------------


def _check_mri(
    p: Problems,
    case: models.Case,
    *,
    mri_id: int | None,
    performed_on: dt.date | None,
    t: str,
    n: str,
    crm: str,
    crm_distance_mm: Decimal | None,
    emvi: str,
    tumour_height_cm: Decimal | None,
    today: dt.date,
) -> None:
    if case.primary_site not in RECTAL_SITES:
        p.add(
            "performed_on",
            "MRI pelvis staging is recorded for a rectal or rectosigmoid primary; this case's "
            f"primary is {case.get_primary_site_display().lower()}.",
        )
    p.date(
        "performed_on", performed_on, label="MRI date", today=today, past_only=True, required=True
    )
    _not_long_before_diagnosis(p, "performed_on", performed_on, case, "The MRI")
    p.choice("t", t, models.MriT)
    p.choice("n", n, models.MriN)
    p.choice("crm", crm, models.CrmStatus)
    p.choice("emvi", emvi, models.Emvi)
    if crm_distance_mm is not None:
        if crm_distance_mm < 0 or crm_distance_mm >= 1000:
            p.add("crm_distance_mm", "The distance to the fascia is 0 mm or more (under 1 m).")
        elif "crm" not in p and crm_status_for_distance(crm_distance_mm) != crm:
            expected = models.CrmStatus(crm_status_for_distance(crm_distance_mm)).label
            p.add(
                "crm",
                f"At {crm_distance_mm} mm the margin is {expected.lower()}: "
                "correct the status or the distance.",
            )
    if tumour_height_cm is None:
        p.add("tumour_height_cm", "The tumour height from the anal verge is required.")
    elif not Decimal(0) < tumour_height_cm <= Decimal(20):
        p.add(
            "tumour_height_cm",
            "The height from the anal verge is more than 0 and at most 20 cm.",
        )
    if performed_on is not None and "performed_on" not in p:
        twin = models.PelvicMri.objects.filter(case=case, performed_on=performed_on)
        if twin.exclude(pk=mri_id).exists():
            p.add("performed_on", f"An MRI pelvis on {fmt(performed_on)} is already recorded.")


MRI_FIELDS = ("performed_on", "t", "n", "crm", "crm_distance_mm", "emvi", "tumour_height_cm")


@transaction.atomic
def pelvic_mri_create(*, user: Any, case_id: int, **fields: Any) -> models.PelvicMri:
    """Fields: ``MRI_FIELDS``."""
    require(user, Capability.EDIT_CASES)
    case = models.Case.objects.get(pk=case_id)
    fields = {name: fields.get(name) for name in MRI_FIELDS}
    p = Problems()
    _check_mri(p, case, mri_id=None, today=local_today(), **fields)
    p.raise_if_any()
    row = models.PelvicMri(case=case, **fields)
    save_row(row)
    return row


@transaction.atomic
def pelvic_mri_update(
    *, user: Any, mri_id: int, expected_version: int, **fields: Any
) -> models.PelvicMri:
    require(user, Capability.EDIT_CASES)
    row = models.PelvicMri.objects.select_related("case").get(pk=mri_id)
    fields = {name: fields.get(name) for name in MRI_FIELDS}
    p = Problems()
    _check_mri(p, row.case, mri_id=mri_id, today=local_today(), **fields)
    p.raise_if_any()
    update_row(
        models.PelvicMri,
        pk=mri_id,
        expected_version=check_version(expected_version),
        changes=fields,
    )
    return models.PelvicMri.objects.get(pk=mri_id)


# --- Histology -------------------------------------------------------------------------------


def _check_histology(
    p: Problems,
    case: models.Case,
    *,
    histology_id: int | None,
    specimen: str,
    reported_on: dt.date | None,
    histological_type: str,
    grade: str,
    mucinous: bool,
    signet_ring: bool,
    today: dt.date,
) -> None:
    p.choice("specimen", specimen, models.Specimen)
    p.choice("histological_type", histological_type, models.HistologicalType)
    p.choice("grade", grade, models.HistologicalGrade)
    p.date(
        "reported_on", reported_on, label="Report date", today=today, past_only=True, required=True
    )
    _not_long_before_diagnosis(p, "reported_on", reported_on, case, "The report")
    if histological_type == models.HistologicalType.MUCINOUS and not mucinous:
        p.add("mucinous", "A mucinous adenocarcinoma is mucinous: tick it.")
    if histological_type == models.HistologicalType.SIGNET_RING and not signet_ring:
        p.add("signet_ring", "A signet-ring cell carcinoma has signet-ring cells: tick it.")
    if reported_on is not None and "reported_on" not in p and "specimen" not in p:
        twin = models.Histology.objects.filter(
            case=case, specimen=specimen, reported_on=reported_on
        ).exclude(pk=histology_id)
        if twin.exists():
            p.add("reported_on", f"A {specimen} report on {fmt(reported_on)} is already recorded.")


HISTOLOGY_FIELDS = (
    "specimen",
    "reported_on",
    "histological_type",
    "grade",
    "mucinous",
    "signet_ring",
)


@transaction.atomic
def histology_create(*, user: Any, case_id: int, **fields: Any) -> models.Histology:
    """Fields: ``HISTOLOGY_FIELDS``."""
    require(user, Capability.EDIT_CASES)
    case = models.Case.objects.get(pk=case_id)
    fields = {name: fields.get(name) for name in HISTOLOGY_FIELDS}
    fields["mucinous"], fields["signet_ring"] = (
        bool(fields["mucinous"]),
        bool(fields["signet_ring"]),
    )
    p = Problems()
    _check_histology(p, case, histology_id=None, today=local_today(), **fields)
    p.raise_if_any()
    row = models.Histology(case=case, **fields)
    save_row(row)
    return row


@transaction.atomic
def histology_update(
    *, user: Any, histology_id: int, expected_version: int, **fields: Any
) -> models.Histology:
    require(user, Capability.EDIT_CASES)
    row = models.Histology.objects.select_related("case").get(pk=histology_id)
    fields = {name: fields.get(name) for name in HISTOLOGY_FIELDS}
    fields["mucinous"], fields["signet_ring"] = (
        bool(fields["mucinous"]),
        bool(fields["signet_ring"]),
    )
    p = Problems()
    _check_histology(p, row.case, histology_id=histology_id, today=local_today(), **fields)
    p.raise_if_any()
    update_row(
        models.Histology,
        pk=histology_id,
        expected_version=check_version(expected_version),
        changes=fields,
    )
    return models.Histology.objects.get(pk=histology_id)
