"""Imaging studies with their RECIST 1.1 lesions and measurements, and dated laboratory results
(tumour markers and bloods).

No image is stored: a study carries its accession number, and the viewer link is built from the
setting ``PACS_VIEWER_URL``. The response is never stored as a number typed in: it is computed
from the measurements (``cases/pathway/recist.py``), and a radiologist who reads the scan
differently records the response they give with a reason.
"""

from __future__ import annotations

from typing import Any

import pgtrigger
from django.db import models
from django.db.models import Q

from cases.models.base import Versioned, audited, tracks_data_version
from cases.models.record import Case, Reassessment, Response


class ImagingModality(models.TextChoices):
    CT = "ct", "CT"
    MRI = "mri", "MRI"
    PET_CT = "pet_ct", "PET-CT"
    ULTRASOUND = "ultrasound", "Ultrasound"


class BodyRegion(models.TextChoices):
    CHEST_ABDOMEN_PELVIS = "chest_abdomen_pelvis", "Chest, abdomen and pelvis"
    ABDOMEN_PELVIS = "abdomen_pelvis", "Abdomen and pelvis"
    CHEST = "chest", "Chest"
    LIVER = "liver", "Liver"
    PELVIS = "pelvis", "Pelvis"
    WHOLE_BODY = "whole_body", "Whole body"


@audited()
@tracks_data_version()
class ImagingStudy(Versioned):
    """One scan and its report. A study is a RECIST baseline when lesions are declared on it,
    a follow-up when it re-measures lesions of an earlier baseline."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="imaging_studies")
    # The reassessment cycle this scan answers: its response is fed from the measurements.
    reassessment = models.ForeignKey(
        Reassessment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="imaging_studies",
    )
    modality = models.CharField(max_length=12, choices=ImagingModality.choices)
    body_region = models.CharField(max_length=25, choices=BodyRegion.choices)
    performed_on = models.DateField()
    accession_number = models.CharField(max_length=40, blank=True)
    report = models.TextField(blank=True)
    # None: not assessed (a baseline has nothing to be new against).
    new_lesions = models.BooleanField(null=True, blank=True)
    new_lesion_sites = models.CharField(max_length=200, blank=True)
    # The response a radiologist gives when it differs from the computed one, and why.
    response_override = models.CharField(max_length=20, choices=Response.choices, blank=True)
    response_override_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["case", "performed_on", "id"]
        verbose_name_plural = "imaging studies"
        constraints = [
            models.CheckConstraint(
                condition=Q(modality__in=ImagingModality.values), name="imaging_modality_valid"
            ),
            models.CheckConstraint(
                condition=Q(body_region__in=BodyRegion.values), name="imaging_body_region_valid"
            ),
            models.CheckConstraint(
                condition=Q(response_override__in=["", *Response.values]),
                name="imaging_override_valid",
            ),
            # A different response is only ever recorded with its reason.
            models.CheckConstraint(
                condition=(Q(response_override="") & Q(response_override_reason=""))
                | (~Q(response_override="") & ~Q(response_override_reason="")),
                name="imaging_override_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(new_lesion_sites="") | Q(new_lesions__isnull=False, new_lesions=True),
                name="imaging_new_sites_need_new_lesions",
            ),
            # The accession number goes into the viewer's URL: letters, digits, . _ - only.
            models.CheckConstraint(
                condition=Q(accession_number__regex=r"^[A-Za-z0-9._-]*$"),
                name="imaging_accession_safe",
            ),
            models.UniqueConstraint(
                fields=["case", "accession_number"],
                condition=~Q(accession_number=""),
                name="imaging_accession_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_modality_display()} {self.get_body_region_display().lower()}"


class LesionKind(models.TextChoices):
    TARGET = "target", "Target"
    NON_TARGET = "non_target", "Non-target"


class Organ(models.TextChoices):
    LIVER = "liver", "Liver"
    LUNG = "lung", "Lung"
    LYMPH_NODE = "lymph_node", "Lymph node"
    PERITONEUM = "peritoneum", "Peritoneum"
    PRIMARY = "primary", "Primary tumour (colon or rectum)"
    ADRENAL = "adrenal", "Adrenal"
    BONE = "bone", "Bone"
    OTHER = "other", "Other"


LIVER_SEGMENTS = range(1, 9)  # Couinaud segments I–VIII


@audited()
@tracks_data_version()
class Lesion(Versioned):
    """A lesion declared at a RECIST baseline, re-measured at each follow-up."""

    baseline_study = models.ForeignKey(
        ImagingStudy, on_delete=models.CASCADE, related_name="baseline_lesions"
    )
    label = models.CharField(max_length=10)  # "T1", "NT2": as the radiologist calls it
    kind = models.CharField(max_length=10, choices=LesionKind.choices)
    organ = models.CharField(max_length=12, choices=Organ.choices)
    # Couinaud segment for a liver lesion; nothing for other organs.
    segment = models.PositiveSmallIntegerField(null=True, blank=True)
    site = models.CharField(max_length=100, blank=True)
    # Nodes are measured in short axis and are normal below 10 mm.
    nodal = models.BooleanField(default=False)

    class Meta:
        ordering = ["baseline_study", "kind", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["baseline_study", "label"], name="lesion_label_unique_in_baseline"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=LesionKind.values), name="lesion_kind_valid"
            ),
            models.CheckConstraint(condition=Q(organ__in=Organ.values), name="lesion_organ_valid"),
            models.CheckConstraint(
                condition=Q(nodal=True, organ="lymph_node")
                | Q(nodal=False) & ~Q(organ="lymph_node"),
                name="lesion_nodal_iff_lymph_node",
            ),
            models.CheckConstraint(
                condition=Q(segment__isnull=True)
                | Q(
                    organ="liver",
                    segment__gte=LIVER_SEGMENTS.start,
                    segment__lt=LIVER_SEGMENTS.stop,
                ),
                name="lesion_segment_liver_1_to_8",
            ),
            models.CheckConstraint(condition=~Q(label=""), name="lesion_label_set"),
        ]

    def __str__(self) -> str:
        where = f"segment {self.segment}" if self.segment else self.get_organ_display().lower()
        return f"{self.label} ({where})"


class LesionState(models.TextChoices):
    MEASURED = "measured", "Measured"
    TOO_SMALL = "too_small", "Too small to measure (counts 5 mm)"
    ABSENT = "absent", "Disappeared"
    PRESENT = "present", "Present"
    PROGRESSION = "progression", "Unequivocal progression"
    NOT_EVALUATED = "not_evaluated", "Not evaluated"


TARGET_STATES = ("measured", "too_small", "absent", "not_evaluated")
NON_TARGET_STATES = ("present", "absent", "progression", "not_evaluated")

# Statement triggers that read the statement's rows all at once (a bulk insert of 100,000
# measurements is one set-based check, not 100,000 row checks). For each measurement written:
# its study is a scan of the lesion's own case, not before the lesion's baseline; its state
# suits the lesion's kind; at the baseline a target is measured and a non-target present; a
# follow-up has a baseline measurement of the same lesion (written before, or in the same
# statement). Deleting a baseline measurement that follow-ups rest on fails.
CHECK_MEASUREMENTS = """
    IF EXISTS (
        SELECT 1
        FROM new_rows m
        JOIN cases_lesion les ON les.id = m.lesion_id
        JOIN cases_imagingstudy base ON base.id = les.baseline_study_id
        JOIN cases_imagingstudy scan ON scan.id = m.study_id
        WHERE scan.case_id <> base.case_id
           OR les.kind = 'target'
              AND m.state NOT IN ('measured', 'too_small', 'absent', 'not_evaluated')
           OR les.kind = 'non_target'
              AND m.state NOT IN ('present', 'absent', 'progression', 'not_evaluated')
           OR m.study_id = base.id AND (
                les.kind = 'target' AND m.state <> 'measured'
                OR les.kind = 'non_target' AND m.state <> 'present')
           OR m.study_id <> base.id AND (
                scan.performed_on <= base.performed_on
                OR NOT EXISTS (
                    SELECT 1 FROM cases_lesionmeasurement b
                    WHERE b.study_id = base.id AND b.lesion_id = m.lesion_id))
    ) THEN
        RAISE EXCEPTION 'a lesion measurement without its baseline, on another case''s or an '
            'earlier scan, or in a state its lesion cannot have' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
"""
CHECK_BASELINE_KEPT = """
    IF EXISTS (
        SELECT 1
        FROM old_rows o
        JOIN cases_lesion les ON les.id = o.lesion_id AND les.baseline_study_id = o.study_id
        WHERE EXISTS (SELECT 1 FROM cases_lesionmeasurement f WHERE f.lesion_id = o.lesion_id)
    ) THEN
        RAISE EXCEPTION 'a baseline measurement that follow-up measurements rest on'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
"""


def _measurement_check(name: str, operation: Any) -> pgtrigger.Trigger:
    return pgtrigger.Trigger(
        name=name,
        level=pgtrigger.Statement,
        when=pgtrigger.After,
        operation=operation,
        referencing=pgtrigger.Referencing(new="new_rows"),
        func=CHECK_MEASUREMENTS,
    )


@audited()
@tracks_data_version()
@pgtrigger.register(
    _measurement_check("measurement_insert_rules", pgtrigger.Insert),
    _measurement_check("measurement_update_rules", pgtrigger.Update),
    pgtrigger.Trigger(
        name="measurement_baseline_kept",
        level=pgtrigger.Statement,
        when=pgtrigger.After,
        operation=pgtrigger.Delete,
        referencing=pgtrigger.Referencing(old="old_rows"),
        func=CHECK_BASELINE_KEPT,
    ),
)
class LesionMeasurement(Versioned):
    """A lesion on one scan: its size in millimetres (longest diameter; short axis for a node)
    or what the radiologist saw instead."""

    study = models.ForeignKey(ImagingStudy, on_delete=models.CASCADE, related_name="measurements")
    lesion = models.ForeignKey(Lesion, on_delete=models.CASCADE, related_name="measurements")
    state = models.CharField(max_length=15, choices=LesionState.choices)
    size_mm = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)

    class Meta:
        ordering = ["study", "lesion"]
        constraints = [
            models.UniqueConstraint(fields=["study", "lesion"], name="measurement_once_per_scan"),
            models.CheckConstraint(
                condition=Q(state__in=LesionState.values), name="measurement_state_valid"
            ),
            # A size exactly when measured, and a size is more than nothing and less than a metre.
            models.CheckConstraint(
                condition=Q(
                    state="measured", size_mm__isnull=False, size_mm__gt=0, size_mm__lte=1000
                )
                | (~Q(state="measured") & Q(size_mm__isnull=True)),
                name="measurement_size_positive_iff_measured",
            ),
        ]

    def __str__(self) -> str:
        if self.state == LesionState.MEASURED:
            return f"{self.size_mm} mm"
        return self.get_state_display()


# --- Laboratory results: tumour markers and bloods -------------------------------------------


class LabTest(models.TextChoices):
    CEA = "cea", "CEA"
    CA19_9 = "ca19_9", "CA 19-9"
    BILIRUBIN = "bilirubin", "Bilirubin"
    ALBUMIN = "albumin", "Albumin"
    PLATELETS = "platelets", "Platelets"
    NEUTROPHILS = "neutrophils", "Neutrophils"
    CREATININE = "creatinine", "Creatinine"


@audited()
@tracks_data_version()
class LabResult(Versioned):
    """One dated result, with the unit and the laboratory's reference range it was read with."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="lab_results")
    test = models.CharField(max_length=12, choices=LabTest.choices)
    taken_on = models.DateField()
    value = models.DecimalField(max_digits=9, decimal_places=2)
    unit = models.CharField(max_length=20)
    reference_low = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    reference_high = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["case", "test", "taken_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "test", "taken_on"], name="lab_result_once_a_day"
            ),
            models.CheckConstraint(condition=Q(test__in=LabTest.values), name="lab_test_valid"),
            models.CheckConstraint(condition=Q(value__gte=0), name="lab_value_not_negative"),
            models.CheckConstraint(condition=~Q(unit=""), name="lab_unit_set"),
            models.CheckConstraint(
                condition=Q(reference_low__isnull=True)
                | Q(reference_high__isnull=True)
                | Q(reference_low__lte=models.F("reference_high")),
                name="lab_reference_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_test_display()} {self.value} {self.unit}"
