"""Scans: the study, its RECIST baseline lesions or the re-measurement of them, and the response
the measurements give, fed to the reassessment the scan answers."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from cases import models
from cases.pathway import recist
from cases.records.imaging import REASSESSMENT_RESPONSE, recist_view
from cases.records.selectors import case_clinical_record
from cases.records.services.checks import (
    Problems,
    check_version,
    fmt,
    local_today,
    save_row,
    update_row,
)
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, require

ACCESSION_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,40}")
MAX_MM = Decimal(1000)
# The reassessment's modality for a scan (only the kinds the reassessment knows).
REASSESSMENT_MODALITY = {"ct": "ct", "mri": "mri_liver", "pet_ct": "pet_ct"}


@dataclass(frozen=True)
class NewLesion:
    """A lesion declared at a baseline scan, with its size (targets only)."""

    label: str
    kind: str
    organ: str
    size_mm: Decimal | None = None
    segment: int | None = None
    site: str = ""


@dataclass(frozen=True)
class Remeasure:
    """A baseline lesion on a follow-up scan."""

    lesion_id: int
    state: str
    size_mm: Decimal | None = None


def _check_size(p: Problems, field: str, size: Decimal | None, *, label: str) -> None:
    if size is None:
        p.add(field, f"{label}: give the size in millimetres.")
    elif not Decimal(0) < size <= MAX_MM:
        p.add(field, f"{label}: a size is more than 0 mm and at most {MAX_MM} mm.")


def _check_baseline(p: Problems, lesions: list[NewLesion]) -> None:
    seen: set[str] = set()
    sound: list[NewLesion] = []  # the lesions without a problem of their own
    for index, lesion in enumerate(lesions):
        field = f"lesion_{index}"
        before = len(p.errors.get(field, []))
        name = lesion.label or f"Lesion {index + 1}"
        if not lesion.label.strip():
            p.add(field, f"{name}: give it a label, e.g. T1.")
        elif lesion.label in seen:
            p.add(field, f"{name}: another lesion of this scan has the same label.")
        seen.add(lesion.label)
        if lesion.kind not in models.LesionKind.values:
            p.add(field, f"{name}: say whether it is a target or a non-target lesion.")
        if lesion.organ not in models.Organ.values:
            p.add(field, f"{name}: say which organ it is in.")
        if lesion.segment is not None and (
            lesion.organ != models.Organ.LIVER or lesion.segment not in models.LIVER_SEGMENTS
        ):
            p.add(field, f"{name}: a segment is a liver segment from 1 to 8.")
        if lesion.kind == models.LesionKind.TARGET:
            _check_size(p, field, lesion.size_mm, label=name)
        elif lesion.size_mm is not None:
            p.add(field, f"{name}: a non-target lesion is not measured; leave its size empty.")
        if len(p.errors.get(field, [])) == before:
            sound.append(lesion)
    # RECIST's own baseline rules (5 targets, 2 per organ, 10 mm, nodes 15 mm short axis).
    series = recist.Series(
        lesions=tuple(
            recist.Lesion(
                id=lesion.label,
                kind=recist.LesionKind(lesion.kind),
                organ=lesion.organ,
                nodal=lesion.organ == models.Organ.LYMPH_NODE,
            )
            for lesion in sound
        ),
        assessments=(
            recist.Assessment(
                assessed_on=dt.date(2000, 1, 1),  # any date: only the baseline is checked
                target_mm={
                    lesion.label: lesion.size_mm
                    for lesion in sound
                    if lesion.kind == models.LesionKind.TARGET and lesion.size_mm is not None
                },
            ),
        ),
    )
    for problem in recist.series_problems(series) if sound else []:
        label = problem.field.rsplit(".", 1)[-1]
        index = next((i for i, lesion in enumerate(lesions) if lesion.label == label), None)
        if index is None:  # about the series as a whole, or a field of a lesion by position
            position = re.search(r"lesions\[(\d+)\]", problem.field)
            if position is not None:
                index = lesions.index(sound[int(position.group(1))])
        where = f"lesion_{index}" if index is not None else "lesions"
        name = lesions[index].label if index is not None else ""
        p.add(where, f"{name}: {problem.message}." if name else f"{problem.message}.")


def _check_follow_up(
    p: Problems,
    baseline: models.ImagingStudy | None,
    measurements: list[Remeasure],
    performed_on: dt.date | None,
    taken_days: set[dt.date],
) -> None:
    if baseline is None:
        p.add("lesions", "There is no baseline scan to measure against: record the baseline first.")
        return
    lesions = {lesion.pk: lesion for lesion in baseline.baseline_lesions.all()}
    if performed_on is not None:
        if performed_on <= baseline.performed_on:
            p.add(
                "performed_on",
                f"A follow-up scan comes after its baseline ({fmt(baseline.performed_on)}).",
            )
        elif performed_on in taken_days:
            p.add(
                "performed_on",
                "Another scan of this day is already measured: record the lesions on that one.",
            )
    for m in measurements:
        lesion = lesions.get(m.lesion_id)
        field = f"measure_{m.lesion_id}"
        if lesion is None:
            p.add("lesions", "A lesion measured here was not declared at the baseline.")
            continue
        allowed = models.TARGET_STATES if lesion.kind == "target" else models.NON_TARGET_STATES
        if m.state not in allowed:
            p.add(field, f"{lesion.label}: choose one of the states offered.")
        elif m.state == models.LesionState.MEASURED:
            _check_size(p, field, m.size_mm, label=lesion.label)
        elif m.size_mm is not None:
            p.add(field, f"{lesion.label}: a size goes with “measured” only.")


def _check_study(p: Problems, case: models.Case, values: dict[str, Any], today: dt.date) -> None:
    p.date("performed_on", values["performed_on"], label="Scan date", today=today, past_only=True,
           required=True)  # fmt: skip
    p.choice("modality", values["modality"], models.ImagingModality)
    p.choice("body_region", values["body_region"], models.BodyRegion)
    accession = values["accession_number"]
    if accession and not ACCESSION_PATTERN.fullmatch(accession):
        p.add("accession_number", "An accession number is letters, digits, dots, dashes or _.")
    elif accession and case.imaging_studies.filter(accession_number=accession).exists():
        p.add("accession_number", "A scan with this accession number is already recorded.")
    p.text("report", values["report"], label="Report", max_length=20000, required=False)


@transaction.atomic
def imaging_study_record(
    *,
    user: Any,
    case_id: int,
    modality: str,
    body_region: str,
    performed_on: dt.date | None,
    accession_number: str = "",
    report: str = "",
    reassessment_id: int | None = None,
    baseline_lesions: list[NewLesion] | None = None,
    measurements: list[Remeasure] | None = None,
    new_lesions: bool | None = None,
    new_lesion_sites: str = "",
    response_override: str = "",
    response_override_reason: str = "",
) -> models.ImagingStudy:
    """Record a scan: a plain report, a RECIST baseline (``baseline_lesions``), or a follow-up
    re-measuring the current baseline's lesions (``measurements``).

    1. ``require`` the imaging capability; lock the case, so two scans recorded at once are
       measured against the same series;
    2. check the scan, the lesions and their sizes (RECIST's baseline rules included);
    3. write the study, its lesions and measurements;
    4. compute the response over the whole series; a response the radiologist gives instead
       needs a reason (and a radiologist); the transaction is undone if not;
    5. feed the response (and the scan date) to the reassessment the scan answers, and bring
       the case's reminders in line.
    """
    require(user, Capability.RECORD_IMAGING)
    case = models.Case.objects.select_for_update().get(pk=case_id)
    baseline_lesions = list(baseline_lesions or [])
    measurements = list(measurements or [])
    accession_number = accession_number.strip()
    values = {
        "modality": modality,
        "body_region": body_region,
        "performed_on": performed_on,
        "accession_number": accession_number,
        "report": report,
    }
    p = Problems()
    _check_study(p, case, values, local_today())
    reassessment = None
    if reassessment_id is not None:
        reassessment = models.Reassessment.objects.filter(pk=reassessment_id, case=case).first()
        if reassessment is None:
            p.add("reassessment", "That reassessment is not one of this case's.")
    if baseline_lesions and measurements:
        p.add("lesions", "A scan either declares a new baseline or re-measures the current one.")
    record = case_clinical_record(case_id=case_id)
    current = recist_view(record)
    if baseline_lesions:
        _check_baseline(p, baseline_lesions)
        if new_lesions is not None or new_lesion_sites:
            p.add(
                "new_lesions", "A baseline has no new lesions: it is what later scans compare with."
            )
    elif measurements:
        taken = {scan.study.performed_on for scan in current.scans} if current else set()
        _check_follow_up(
            p, current.baseline if current else None, measurements, performed_on, taken
        )
        if new_lesions is None:
            p.add("new_lesions", "Say whether the scan shows new lesions.")
    if new_lesion_sites and new_lesions is not True:
        p.add("new_lesion_sites", "Sites of new lesions go with “new lesions: yes”.")
    if response_override or response_override_reason:
        if not measurements:
            p.add("response_override", "A response is given on a follow-up scan with measurements.")
        _check_override(p, user, response_override, response_override_reason)
    p.raise_if_any()

    study = models.ImagingStudy(
        case=case,
        reassessment=reassessment,
        new_lesions=new_lesions if measurements else None,
        new_lesion_sites=new_lesion_sites.strip(),
        response_override=response_override,
        response_override_reason=response_override_reason.strip(),
        **values,
    )
    save_row(study)
    if baseline_lesions:
        _write_baseline(study, baseline_lesions)
    for m in measurements:
        save_row(
            models.LesionMeasurement(
                study=study, lesion_id=m.lesion_id, state=m.state, size_mm=m.size_mm
            )
        )
    scan = recist_view(case_clinical_record(case_id=case_id))
    scan_response = scan.for_study(study.pk) if scan else None
    if (
        response_override
        and scan_response is not None
        and scan_response.computed is not None
        and response_override == REASSESSMENT_RESPONSE.get(scan_response.computed)
    ):
        # Undone with the transaction: nothing of the scan is kept.
        raise ValidationError(
            {"response_override": "That is the computed response: leave this empty."}
        )
    if reassessment is not None:
        _feed_reassessment(reassessment, study, scan_response)
    reminders_sync_for_case(case_id=case_id)
    return study


def _check_override(p: Problems, user: Any, response: str, reason: str) -> None:
    if response and response not in models.Response.values:
        p.add("response_override", f"“{response}” is not one of the allowed values.")
    if response and not reason.strip():
        p.add("response_override_reason", "Say why the response differs from the measurements.")
    if reason.strip() and not response:
        p.add("response_override", "Choose the response you give, or leave the reason empty.")
    if len(reason) > 300:
        p.add("response_override_reason", "The reason must be at most 300 characters.")
    if response and getattr(user, "discipline", "") != models.Discipline.RADIOLOGIST:
        p.add(
            "response_override",
            "Only a radiologist may record a response different from the measurements.",
        )


def _write_baseline(study: models.ImagingStudy, lesions: list[NewLesion]) -> None:
    for lesion in lesions:
        row = models.Lesion(
            baseline_study=study,
            label=lesion.label.strip(),
            kind=lesion.kind,
            organ=lesion.organ,
            segment=lesion.segment,
            site=lesion.site.strip(),
            nodal=lesion.organ == models.Organ.LYMPH_NODE,
        )
        save_row(row)
        target = lesion.kind == models.LesionKind.TARGET
        save_row(
            models.LesionMeasurement(
                study=study,
                lesion=row,
                state=models.LesionState.MEASURED if target else models.LesionState.PRESENT,
                size_mm=lesion.size_mm if target else None,
            )
        )


def _feed_reassessment(
    reassessment: models.Reassessment, study: models.ImagingStudy, scan: Any
) -> None:
    """The scan answers this reassessment: its date, modality and response go there."""
    current = models.Reassessment.objects.select_for_update().get(pk=reassessment.pk)
    changes: dict[str, Any] = {}
    if current.imaging_performed_on is None:
        changes["imaging_performed_on"] = study.performed_on
    if not current.modality and study.modality in REASSESSMENT_MODALITY:
        changes["modality"] = REASSESSMENT_MODALITY[study.modality]
    if scan is not None and not scan.is_baseline:
        changes["response"] = scan.reassessment_response
    if changes:
        update_row(
            models.Reassessment,
            pk=current.pk,
            expected_version=check_version(current.version),
            changes=changes,
        )


def scan_response_for_reassessment(case: models.Case, reassessment_id: int) -> Any:
    """The measured follow-up scan that answers this reassessment (the latest), or None."""
    view = recist_view(case)
    if view is None:
        return None
    answering = [s for s in view.follow_ups if s.study.reassessment_id == reassessment_id]
    return answering[-1] if answering else None


def check_response_against_scan(p: Problems, *, reassessment_id: int, response: str) -> None:
    """A reassessment answered by a measured scan takes that scan's response: a different one
    is recorded on the scan, by a radiologist, with a reason (never typed over here)."""
    if not models.ImagingStudy.objects.filter(reassessment_id=reassessment_id).exists():
        return
    reassessment = models.Reassessment.objects.get(pk=reassessment_id)
    scan = scan_response_for_reassessment(
        case_clinical_record(case_id=reassessment.case_id), reassessment_id
    )
    if scan is None or response == scan.reassessment_response:
        return
    given = (
        models.Response(scan.reassessment_response).label if scan.reassessment_response else "none"
    )
    p.add(
        "response",
        f"The measured scan of {fmt(scan.study.performed_on)} gives “{given}”. A radiologist "
        "records a different response on the scan, with the reason.",
    )
