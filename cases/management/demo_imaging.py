"""Demo scans with measured RECIST lesions, and CEA and blood series, for the demo cohort.

Called once from ``demo_data`` after the cases and their reassessments exist. Each treated case
gets a baseline scan before its first course (two liver targets, sometimes a node or a lung
target, a few non-target liver lesions) and a follow-up scan for each reassessment that was
imaged, measured to match the reassessment's response where the series allows it. The response
is then computed by the pure RECIST function, and a reassessment whose drawn response the
measurements cannot give takes the computed one: the demo never contradicts its own scans.
CEA follows the tumour at every scan (with noise); a full blood row goes with the baseline
and the latest scan.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from cases import models
from cases.management.bulk import copy_rows
from cases.pathway import recist
from cases.pathway.labs import LAB_TEST_SPECS

_RESPONSE_OF = {
    recist.Response.CR: "complete_response",
    recist.Response.PR: "partial_response",
    recist.Response.SD: "stable_disease",
    recist.Response.NON_CR_NON_PD: "stable_disease",
    recist.Response.PD: "progressive_disease",
}


@dataclass
class _Planned:
    """One case's scans before they are written (pks are filled in by bulk_create)."""

    studies: list[models.ImagingStudy] = field(default_factory=list)
    lesions: list[models.Lesion] = field(default_factory=list)
    # (study index, lesion index, state, size)
    measurements: list[tuple[int, int, str, Decimal | None]] = field(default_factory=list)


def _lab(case: models.Case, test: str, day: date, value: float) -> models.LabResult:
    spec = LAB_TEST_SPECS[test]
    return models.LabResult(
        case=case,
        test=test,
        taken_on=day,
        value=Decimal(str(round(max(value, 0.0), 1))),
        unit=spec.unit,
        reference_low=spec.low,
        reference_high=spec.high,
    )


def _bloods(rng: random.Random, case: models.Case, day: date) -> list[models.LabResult]:
    return [
        _lab(case, "bilirubin", day, rng.gauss(11, 5)),
        _lab(case, "albumin", day, rng.gauss(38, 4)),
        _lab(case, "platelets", day, rng.gauss(250, 80)),
        _lab(case, "neutrophils", day, rng.gauss(4.2, 1.8)),
        _lab(case, "creatinine", day, rng.gauss(80, 18)),
    ]


def _fraction(rng: random.Random, response: str, nadir: float) -> float:
    """The sum's fraction of baseline that gives ``response``, given the nadir so far."""
    if response == "partial_response":
        high = min(0.66, nadir * 1.15)
        return rng.uniform(max(0.25, high - 0.2), high)
    if response == "progressive_disease":
        return max(nadir * 1.35, nadir + 0.15)
    high = min(1.12, nadir * 1.15)  # stable: within +20 % of the nadir
    return rng.uniform(min(0.75, high), high)


def _case_scans(
    rng: random.Random, case: models.Case, start: date, cycles: list[models.Reassessment]
) -> tuple[_Planned, recist.Series]:
    plan = _Planned()
    baseline_day = start - timedelta(days=rng.randint(4, 14))
    plan.studies.append(
        models.ImagingStudy(
            case=case,
            modality="ct",
            body_region="chest_abdomen_pelvis",
            performed_on=baseline_day,
            accession_number=f"DEMO{case.pk:07d}01",
            report="Bilobar liver metastases; baseline for RECIST 1.1.",
        )
    )
    segments = rng.sample(range(1, 9), k=5)
    targets = [("T1", "liver", segments[0], rng.randint(25, 65)),
               ("T2", "liver", segments[1], rng.randint(14, 45))]  # fmt: skip
    extra = rng.random()
    if extra < 0.25:
        targets.append(("T3", "lymph_node", None, rng.randint(15, 24)))
    elif extra < 0.4:
        targets.append(("T3", "lung", None, rng.randint(10, 18)))
    non_targets = [(f"NT{i + 1}", segments[2 + i]) for i in range(rng.randint(0, 3))]
    for label, organ, segment, size in targets:
        plan.lesions.append(
            models.Lesion(
                label=label,
                kind="target",
                organ=organ,
                segment=segment,
                nodal=organ == "lymph_node",
            )
        )
        plan.measurements.append((0, len(plan.lesions) - 1, "measured", Decimal(size)))
    for label, segment in non_targets:
        plan.lesions.append(
            models.Lesion(label=label, kind="non_target", organ="liver", segment=segment)
        )
        plan.measurements.append((0, len(plan.lesions) - 1, "present", None))
    assessments = [
        recist.Assessment(
            assessed_on=baseline_day,
            target_mm={str(i): Decimal(t[3]) for i, t in enumerate(targets)},
            non_target={
                str(len(targets) + i): recist.NonTargetStatus.PRESENT
                for i in range(len(non_targets))
            },
        )
    ]
    nadir = 1.0
    for cycle in cycles:
        day = cycle.imaging_performed_on
        if day is None or day <= assessments[-1].assessed_on:
            continue
        response = cycle.response or "stable_disease"
        new = response == "progressive_disease" and rng.random() < 0.5
        fraction = _fraction(rng, "stable_disease" if new else response, nadir)
        nadir = min(nadir, fraction)
        study_index = len(plan.studies)
        plan.studies.append(
            models.ImagingStudy(
                case=case,
                reassessment=cycle,
                modality="ct" if cycle.modality != "mri_liver" else "mri",
                body_region="chest_abdomen_pelvis" if cycle.modality != "mri_liver" else "liver",
                performed_on=day,
                accession_number=f"DEMO{case.pk:07d}{study_index + 1:02d}",
                new_lesions=new,
                new_lesion_sites="New segment lesion" if new else "",
            )
        )
        sizes: dict[str, Any] = {}
        for i, (_label, _organ, _segment, size) in enumerate(targets):
            mm = round(size * fraction * rng.uniform(0.9, 1.1))
            if mm < 5:
                plan.measurements.append((study_index, i, "too_small", None))
                sizes[str(i)] = recist.Unmeasured.TOO_SMALL
            else:
                plan.measurements.append((study_index, i, "measured", Decimal(mm)))
                sizes[str(i)] = Decimal(mm)
        statuses = {}
        for j in range(len(non_targets)):
            gone = fraction < 0.5 and rng.random() < 0.4
            plan.measurements.append((study_index, len(targets) + j,
                                      "absent" if gone else "present", None))  # fmt: skip
            statuses[str(len(targets) + j)] = (
                recist.NonTargetStatus.ABSENT if gone else recist.NonTargetStatus.PRESENT
            )
        assessments.append(
            recist.Assessment(
                assessed_on=day, target_mm=sizes, non_target=statuses, new_lesions=new
            )
        )
    series = recist.Series(
        lesions=tuple(
            recist.Lesion(
                id=str(i),
                kind=recist.LesionKind(lesion.kind),
                organ=lesion.organ,
                nodal=lesion.nodal,
            )
            for i, lesion in enumerate(plan.lesions)
        ),
        assessments=tuple(assessments),
    )
    return plan, series


def load(seed: int, today: date, drafts: list[Any]) -> dict[str, int]:
    """Write scans, lesions, measurements and laboratory results for ``drafts`` (cases and
    reassessments already saved); correct a drawn response the measurements cannot give."""
    rng = random.Random(seed + 17)  # noqa: S311 (synthetic data, not security)
    plans: list[_Planned] = []
    labs: list[models.LabResult] = []
    corrected: list[models.Reassessment] = []
    for draft in drafts:
        case = draft.case
        starts = [course.started_on for course, _doses in draft.courses]
        if not starts:
            continue
        cycles = sorted(draft.reassessments, key=lambda r: r.cycle)
        plan, series = _case_scans(rng, case, min(starts), cycles)
        result = recist.assess_series(series)
        for study, timepoint in zip(plan.studies[1:], result.timepoints, strict=True):
            feed = _RESPONSE_OF.get(timepoint.overall_response, "")
            if study.reassessment.response != feed:
                study.reassessment.response = feed
                corrected.append(study.reassessment)
        plans.append(plan)
        cea = rng.lognormvariate(3.2, 1.2) if rng.random() < 0.8 else rng.uniform(1, 4.5)
        base_sum = result.baseline_sum_mm or Decimal(1)
        scan_days = [plan.studies[0].performed_on] + [s.performed_on for s in plan.studies[1:]]
        fractions = [1.0] + [float((t.sum_mm or base_sum) / base_sum) for t in result.timepoints]
        for day, fraction in zip(scan_days, fractions, strict=True):
            labs.append(_lab(case, "cea", day, cea * fraction**1.4 * rng.uniform(0.85, 1.15)))
        # A full blood row before treatment and with the latest scan (what the MDT looks at).
        labs += _bloods(rng, case, scan_days[0])
        if len(scan_days) > 1:
            labs += _bloods(rng, case, scan_days[-1])
    copy_rows(models.ImagingStudy, (s for p in plans for s in p.studies), with_pks=True)
    for plan in plans:
        for lesion in plan.lesions:
            lesion.baseline_study = plan.studies[0]
    copy_rows(models.Lesion, (x for p in plans for x in p.lesions), with_pks=True)
    measurements = [
        models.LesionMeasurement(
            study=plan.studies[s], lesion=plan.lesions[i], state=state, size_mm=size
        )
        for plan in plans
        for s, i, state, size in plan.measurements
    ]
    copy_rows(models.LesionMeasurement, measurements)
    copy_rows(models.LabResult, labs)
    models.Reassessment.objects.bulk_update(corrected, ["response"], batch_size=2000)
    return {
        "imaging studies": sum(len(p.studies) for p in plans),
        "lesions": sum(len(p.lesions) for p in plans),
        "lesion measurements": len(measurements),
        "laboratory results": len(labs),
    }
