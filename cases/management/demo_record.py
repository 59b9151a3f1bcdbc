"""Demo data for staging, pathology, referrals and treatment cycles (issue 17), added to the
cohort that ``manage.py demo_data`` has just written.

It reads the written cases, courses and doses back and adds, with bulk inserts:

- a referral for every case (source, referrer, urgency, the question for the MDT);
- a clinical TNM (valid 8th-edition combinations, metastatic: M1a/b/c), a ypTNM after a
  synchronous resection, a biopsy histology, and an MRI pelvis for each rectal primary;
- (``add_cycles``, called between the courses and their doses) the cycles the doses describe,
  one a dose day, each dose pointed at its cycle before it is written; dose reductions, delays
  and CTCAE toxicities; each course's planned cycles and stop cause.

Each has its own random source, so the rest of the cohort is the same with or without them.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from cases import models
from cases.management.bulk import copy_rows
from cases.pathway.staging import crm_status_for_distance, tnm_problems
from cases.records.services.identifiers import nhs_number_valid

RECTAL = ("rectum", "rectosigmoid")
# Height from the anal verge, in tenths of a cm: low to mid rectum, and the rectosigmoid.
HEIGHT_TENTHS_CM = {"rectum": (20, 100), "rectosigmoid": (110, 150)}

REFERRERS = [
    ("hospital", "Dr A Okafor, colorectal surgery"),
    ("hospital", "Dr M Patel, gastroenterology"),
    ("hospital", "Dr S Lindqvist, acute medicine"),
    ("other_mdt", "Colorectal MDT, district general hospital"),
    ("other_mdt", "Upper GI and HPB MDT, neighbouring trust"),
    ("gp", "Dr R Hughes, Riverside Surgery"),
]
QUESTIONS = [
    "Bilobar liver metastases: is conversion to resection possible?",
    "Synchronous liver metastases: sequence of primary and liver surgery?",
    "Liver-limited disease after chemotherapy: resectable now?",
    "Low rectal primary with liver metastases: pelvic radiotherapy and liver plan?",
    "Please advise on systemic therapy and the resectability of the liver disease.",
]
# CTCAE v5.0 terms common with these regimens, and the grades drawn for them.
DELAY_REASONS = ["Neutropenia", "Diarrhoea", "Patient request"]
TOXICITIES = [
    ("diarrhea", (1, 3)),
    ("nausea", (1, 3)),
    ("fatigue", (1, 3)),
    ("neutrophil_count_decreased", (2, 4)),
    ("peripheral_sensory_neuropathy", (1, 3)),
    ("palmar_plantar_erythrodysesthesia", (1, 3)),
    ("mucositis_oral", (1, 3)),
    ("hypertension", (1, 3)),
    ("rash_acneiform", (1, 3)),
]


def _pick(rng: random.Random, weighted: list[tuple[Any, int]]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def _tnm(rng: random.Random) -> tuple[str, str, str]:
    while True:
        t = _pick(rng, [("T2", 10), ("T3", 50), ("T4a", 22), ("T4b", 12), ("TX", 6)])
        n = _pick(
            rng,
            [("N0", 15), ("N1a", 15), ("N1b", 20), ("N1c", 5), ("N2a", 22), ("N2b", 18),
             ("NX", 5)],
        )  # fmt: skip
        m = _pick(rng, [("M1a", 62), ("M1b", 30), ("M1c", 8)])
        if not tnm_problems(t, n, m):
            return t, n, m


_DEMO_NHS_NUMBERS: list[str] = []
_NEXT_PREFIX = [999_000_000]


def demo_nhs_number(index: int) -> str:
    """The ``index``-th (from 1) NHS number of the 999 range that passes the modulus-11
    check: never issued to real people, yet accepted by the patient lookup and forms."""
    while len(_DEMO_NHS_NUMBERS) < index:
        prefix = _NEXT_PREFIX[0]
        _NEXT_PREFIX[0] += 1
        # At most one check digit fits a prefix (none when the check would be 10).
        _DEMO_NHS_NUMBERS.extend(
            f"{prefix}{d}" for d in "0123456789" if nhs_number_valid(f"{prefix}{d}")
        )
    return _DEMO_NHS_NUMBERS[index - 1]


def write(seed: int, today: date, case_ids: list[int]) -> dict[str, int]:
    """Add the rows above for the cases ``case_ids``; returns the counts written."""
    rng = random.Random(seed + 17)  # noqa: S311 (synthetic data, not security)
    fields = ("pk", "primary_site", "diagnosed_on", "stage")
    cases = list(models.Case.objects.filter(pk__in=case_ids).only(*fields))
    surgeries = {
        s.case_id: s
        for s in models.Surgery.objects.filter(
            case_id__in=case_ids, kind="synchronous_resection", performed_on__isnull=False
        )
    }
    referrals, stagings, mris, histologies = [], [], [], []
    for case in cases:
        source, referrer = rng.choice(REFERRERS)
        referrals.append(
            models.Referral(
                case_id=case.pk,
                source=source,
                referrer=referrer,
                received_on=min(today, case.diagnosed_on + timedelta(days=rng.randint(2, 12))),
                urgency=_pick(rng, [("routine", 55), ("urgent", 42), ("emergency", 3)]),
                question=rng.choice(QUESTIONS),
            )
        )
        t, n, m = _tnm(rng)
        staged = min(today, case.diagnosed_on + timedelta(days=rng.randint(0, 10)))
        stagings.append(
            models.TnmStaging(case_id=case.pk, kind="clinical", t=t, n=n, m=m, staged_on=staged)
        )
        operation = surgeries.get(case.pk)
        if operation is not None:
            yp_t, yp_n, _m = _tnm(rng)
            stagings.append(
                models.TnmStaging(
                    case_id=case.pk,
                    kind="post_neoadjuvant",
                    t=yp_t,
                    n=yp_n,
                    m=m,
                    staged_on=min(today, operation.performed_on + timedelta(days=12)),
                )
            )
        kind = _pick(
            rng,
            [("adenocarcinoma", 84), ("mucinous_adenocarcinoma", 11),
             ("signet_ring_cell_carcinoma", 2), ("medullary_carcinoma", 1),
             ("serrated_adenocarcinoma", 2)],
        )  # fmt: skip
        histologies.append(
            models.Histology(
                case_id=case.pk,
                specimen="biopsy",
                reported_on=case.diagnosed_on,
                histological_type=kind,
                grade=_pick(rng, [("low", 78), ("high", 20), ("not_assessable", 2)]),
                mucinous=kind == "mucinous_adenocarcinoma" or rng.random() < 0.03,
                signet_ring=kind == "signet_ring_cell_carcinoma",
            )
        )
        if case.primary_site in RECTAL:
            distance = Decimal(rng.randint(0, 90)) / 10
            mri_t = {"TX": "T3", "T2": "T2", "T3": "T3", "T4a": "T4a", "T4b": "T4b"}[t]
            mris.append(
                models.PelvicMri(
                    case_id=case.pk,
                    performed_on=min(today, case.diagnosed_on + timedelta(days=rng.randint(0, 9))),
                    t=mri_t,
                    n="N0" if n == "N0" else ("N2" if n.startswith("N2") else "N1"),
                    crm=crm_status_for_distance(distance),
                    crm_distance_mm=distance,
                    emvi=_pick(rng, [("positive", 45), ("negative", 55)]),
                    tumour_height_cm=Decimal(rng.randint(*HEIGHT_TENTHS_CM[case.primary_site]))
                    / 10,
                )
            )
    copy_rows(models.Referral, referrals)
    copy_rows(models.TnmStaging, stagings)
    copy_rows(models.Histology, histologies)
    copy_rows(models.PelvicMri, mris)
    counts = {
        "referrals": len(referrals),
        "TNM stagings": len(stagings),
        "histology reports": len(histologies),
        "MRI pelvis reports": len(mris),
    }
    return counts


def add_cycles(drafted: Iterable[list[tuple[Any, list[Any]]]]) -> dict[str, int]:
    """Cycles for the demo courses just inserted, from the doses about to be: one cycle per dose
    day, each dose pointed at its cycle before it is written (no UPDATE of the doses after);
    reductions, delays and toxicities on some; each course's planned cycles and stop cause.

    ``drafted`` yields each case's ``[(course, doses), …]``.
    """
    pairs = [pair for courses in drafted for pair in courses]
    rng = random.Random(pairs[0][0].pk if pairs else 0)  # noqa: S311 (synthetic data)
    today = timezone.localdate()
    cycles, toxicities, owners = [], [], []
    planned: dict[int, list[int]] = defaultdict(list)
    causes: dict[str, list[int]] = defaultdict(list)
    for course, doses in pairs:
        planned[8 if course.backbone == "capox" else 12].append(course.pk)
        if course.stopped_on is not None:
            cause = "progression" if course.case.stage == "left_pathway" else "surgery"
            causes[cause].append(course.pk)
        by_number: dict[int, list[Any]] = defaultdict(list)
        for dose in doses:
            by_number[dose.cycle_number].append(dose)
        reduction = None
        course_cycles = []
        for number, cycle_doses in sorted(by_number.items()):
            if reduction is None and number >= 3 and rng.random() < 0.06:
                reduction = rng.choice([20, 25])
            delay = number >= 2 and rng.random() < 0.07
            given = {d.agent for d in cycle_doses}
            cycle = models.TreatmentCycle(
                course_id=course.pk,
                number=number,
                given_on=cycle_doses[0].given_on,
                agents=[a for a in models.Agent.values if a in given],
                dose_reduction_percent=reduction,
                delay_days=7 if delay else None,
                delay_reason=rng.choice(DELAY_REASONS) if delay else "",
            )
            course_cycles.append(cycle)
            owners.append((cycle, cycle_doses))
        cycles += course_cycles
        if course_cycles and rng.random() < 0.4:
            for cycle in rng.sample(course_cycles, k=min(2, len(course_cycles))):
                term, (low, high) = rng.choice(TOXICITIES)
                noted = min(today, cycle.given_on + timedelta(days=rng.randint(3, 9)))
                toxicities.append((course.pk, cycle, term, rng.randint(low, high), noted))
    copy_rows(models.TreatmentCycle, cycles, with_pks=True)
    for cycle, cycle_doses in owners:
        for dose in cycle_doses:
            dose.cycle = cycle
    copy_rows(
        models.Toxicity,
        (
            models.Toxicity(course_id=course_id, cycle_id=cycle.pk, term=term, grade=grade,
                            noted_on=noted)
            for course_id, cycle, term, grade, noted in toxicities
        ),
    )  # fmt: skip
    with connection.cursor() as cursor:
        for count, ids in planned.items():
            cursor.execute(
                "UPDATE cases_treatmentcourse SET planned_cycles = %s WHERE id = ANY(%s)",
                [count, ids],
            )
        for cause, ids in causes.items():
            cursor.execute(
                "UPDATE cases_treatmentcourse SET stop_cause = %s WHERE id = ANY(%s)",
                [cause, ids],
            )
    return {"treatment cycles": len(cycles), "toxicities": len(toxicities)}
