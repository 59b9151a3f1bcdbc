"""A cohort in which every case appears on every worklist, written with bulk inserts: the query
count tests compare 10 cases with 200."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from cases import models

_serial = itertools.count(1)


def populate(n: int, *, today: dt.date, owner: models.User) -> list[models.Case]:
    """``n`` conversion cases, each with a row on every worklist (half complete, half not)."""
    numbers = [next(_serial) for _ in range(n)]
    patients = models.Patient.objects.bulk_create(
        models.Patient(
            hospital_number=f"Q{k:07d}",
            family_name=f"Family{k}",
            given_name="Sam",
            date_of_birth=dt.date(1961, 2, 3),
        )
        for k in numbers
    )
    cases = models.Case.objects.bulk_create(
        models.Case(
            patient=p,
            primary_site="rectum",
            diagnosed_on=today - dt.timedelta(days=300),
            ecog=1 if i % 2 else None,
            stage=models.Stage.CONVERSION,
            responsible_clinician=owner,
        )
        for i, p in enumerate(patients)
    )
    results, cycles, courses, rts, ops, actions = [], [], [], [], [], []
    for i, case in enumerate(cases):
        reported = {"requested_on": today - dt.timedelta(days=40), "reported_on": today}
        results += [
            models.MolecularResult(case=case, marker="mmr_msi", status="pmmr_mss", **reported),
            models.MolecularResult(case=case, marker="nras", status="wild_type", **reported),
            models.MolecularResult(case=case, marker="braf_v600e", status="wild_type", **reported),
            models.MolecularResult(
                case=case,
                marker="kras",
                status="pending",
                requested_on=today - dt.timedelta(days=20),
            ),
        ]
        cycles += [
            models.Reassessment(
                case=case,
                cycle=1,
                due_on=today - dt.timedelta(days=20),
                imaging_performed_on=today - dt.timedelta(days=20),
                modality="ct",
                reassessed_on=today - dt.timedelta(days=18),
            ),
            models.Reassessment(
                case=case,
                cycle=2,
                due_on=today + dt.timedelta(days=i % 10 - 3),
                imaging_booked_for=today if i % 3 == 0 else None,
            ),
        ]
        courses.append(
            models.TreatmentCourse(
                case=case,
                backbone="folfox",
                agents=["fluorouracil", "oxaliplatin", "bevacizumab"],
                started_on=today - dt.timedelta(days=100),
            )
        )
        rts.append(
            models.Radiotherapy(
                case=case,
                kind="short_course_5x5",
                started_on=today - dt.timedelta(days=204),
                completed_on=today - dt.timedelta(days=200),
            )
        )
        ops += [
            models.Surgery(
                case=case, kind="one_stage_hepatectomy", planned_on=today + dt.timedelta(days=20)
            ),
            models.Surgery(
                case=case, kind="primary_resection", planned_on=today + dt.timedelta(days=30)
            ),
        ]
        actions.append(
            models.Action(
                case=case, description="Book MRI", owner=owner, due_on=today - dt.timedelta(days=2)
            )
        )
    models.MolecularResult.objects.bulk_create(results)
    models.Reassessment.objects.bulk_create(cycles)
    models.TreatmentCourse.objects.bulk_create(courses)
    models.AgentAdministration.objects.bulk_create(
        models.AgentAdministration(
            course=course, agent="bevacizumab", given_on=today - dt.timedelta(days=10)
        )
        for course in courses
    )
    models.Radiotherapy.objects.bulk_create(rts)
    models.Surgery.objects.bulk_create(ops)
    models.Action.objects.bulk_create(actions)
    # The cases with an ECOG also have their KRAS result: they are complete, the others not.
    models.MolecularResult.objects.filter(case__in=cases[1::2], marker="kras").update(
        status="mutant", reported_on=today
    )
    return cases


def upcoming_meeting(chair: models.User, *, days: int = 7) -> models.Meeting:
    return models.Meeting.objects.create(
        scheduled_for=timezone.now() + dt.timedelta(days=days), chair=chair
    )
