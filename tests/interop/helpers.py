"""Shared by the FHIR tests: a case with a signed-off MDT outcome, tokens, requests."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from cases import models
from cases.interop.tokens import api_token_create
from tests.meeting_factory import make_conversion_case, make_meeting

CLINICAL_MODELS = (
    models.Patient,
    models.Case,
    models.MolecularResult,
    models.Reassessment,
    models.TreatmentCourse,
    models.AgentAdministration,
    models.Radiotherapy,
    models.Surgery,
    models.TnmStaging,
    models.Histology,
    models.ImagingStudy,
    models.LabResult,
    models.TreatmentCycle,
    models.Referral,
)


def clinical_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in CLINICAL_MODELS}


def signed_off_case(chair: models.User) -> models.Case:
    """A conversion case discussed at an MDT: its outcome signed off, with a deviation, an
    overridden hard stop, and actions done, not done and open."""
    case = make_conversion_case()
    case.reassessments.filter(cycle=1).update(modality="ct", response="partial_response")
    models.Radiotherapy.objects.create(
        case=case,
        kind="short_course_5x5",
        started_on=dt.date(2025, 12, 1),
        completed_on=dt.date(2025, 12, 5),
    )
    models.Surgery.objects.create(
        case=case, kind="defunctioning_stoma", planned_on=dt.date(2025, 11, 1),
        performed_on=dt.date(2025, 11, 1),
    )  # fmt: skip
    models.TnmStaging.objects.create(
        case=case, kind="clinical", t="T3", n="N1a", m="M1a", staged_on=dt.date(2025, 9, 20)
    )
    models.TnmStaging.objects.create(
        case=case, kind="post_neoadjuvant", t="T2", n="NX", m="M1a",
        staged_on=dt.date(2025, 11, 3),
    )  # fmt: skip
    models.Histology.objects.create(
        case=case, specimen="biopsy", reported_on=dt.date(2025, 9, 12),
        histological_type="adenocarcinoma", grade="low",
    )  # fmt: skip
    models.Histology.objects.create(
        case=case, specimen="resection", reported_on=dt.date(2025, 11, 2),
        histological_type="mucinous_adenocarcinoma", grade="high", mucinous=True,
    )  # fmt: skip
    add_scans(case)
    add_cycles(case)
    models.Referral.objects.create(
        case=case, source="gp", referrer="Dr A. Example, Riverside Surgery",
        received_on=dt.date(2025, 9, 1), urgency="urgent",
        question="Liver-only metastases: resectable after conversion?",
    )  # fmt: skip
    for test, value, unit, high in (
        ("cea", "12.4", "ng/mL", "5"),
        ("platelets", "212", "×10⁹/L", "400"),
    ):
        models.LabResult.objects.create(
            case=case, test=test, taken_on=dt.date(2025, 10, 1), value=Decimal(value), unit=unit,
            reference_high=Decimal(high),
        )  # fmt: skip
    meeting = make_meeting(chair)
    item = models.AgendaItem.objects.create(meeting=meeting, case=case, position=1, listed_by=chair)
    snapshot = {"recommendation": {"recommended_regimen_family": "doublet_bevacizumab"}}
    models.Decision.objects.create(
        agenda_item=item,
        point="systemic_therapy",
        answer={"agents": ["fluorouracil", "oxaliplatin", "cetuximab"]},
        advice_snapshot=snapshot,
        follows_recommendation=False,
        deviation_reason="Patient preference after discussion of toxicity",
        overridden_hard_stops=["ANTI_EGFR_RAS_MUTANT"],
        override_reason="Trial protocol",
        recorded_by=chair,
    )
    models.Decision.objects.create(
        agenda_item=item,
        point="outcome",
        answer={"choice": "continue_pathway"},
        advice_snapshot={"recommendation": {"outcome": "continue_pathway"}},
        follows_recommendation=True,
        recorded_by=chair,
    )
    for status, reason in (("done", ""), ("not_done", "Patient declined"), ("open", "")):
        models.Action.objects.create(
            case=case,
            agenda_item=item,
            description=f"Follow-up {status}",
            owner=chair,
            due_on=dt.date(2026, 3, 20),
            status=status,
            not_done_reason=reason,
        )
    item.signed_off_at = timezone.now()
    item.signed_off_by = chair
    item.next_reassessment_on = dt.date(2026, 5, 10)
    item.save()
    return case


def add_scans(case: models.Case, follow_up_mm: str = "20") -> models.ImagingStudy:
    """A RECIST baseline before treatment (one 50 mm liver target) and the scan of reassessment
    1 measuring it again; returns the follow-up."""
    first = case.reassessments.get(cycle=1)
    baseline = models.ImagingStudy.objects.create(
        case=case, modality="ct", body_region="chest_abdomen_pelvis",
        performed_on=first.imaging_performed_on - dt.timedelta(days=70),
        accession_number="ACC-0001", report="Two liver metastases.",
    )  # fmt: skip
    lesion = models.Lesion.objects.create(
        baseline_study=baseline, label="T1", kind="target", organ="liver", segment=7
    )
    models.LesionMeasurement.objects.create(
        study=baseline, lesion=lesion, state="measured", size_mm=Decimal("50")
    )
    follow_up = models.ImagingStudy.objects.create(
        case=case, reassessment=first, modality="mri", body_region="liver",
        performed_on=first.imaging_performed_on, accession_number="ACC-0002",
    )  # fmt: skip
    models.LesionMeasurement.objects.create(
        study=follow_up, lesion=lesion, state="measured", size_mm=Decimal(follow_up_mm)
    )
    return follow_up


def add_cycles(case: models.Case) -> models.TreatmentCourse:
    """Two recorded cycles of the case's course: the second reduced by 20 % and delayed."""
    course = case.treatment_courses.get()
    models.TreatmentCycle.objects.create(
        course=course, number=1, given_on=course.started_on, agents=list(course.agents)
    )
    models.TreatmentCycle.objects.create(
        course=course, number=2, given_on=course.started_on + dt.timedelta(days=21),
        agents=list(course.agents), dose_reduction_percent=20, delay_days=7,
        delay_reason="Neutropenia",
    )  # fmt: skip
    return course


def demo_cohort(patients: int = 20, seed: int = 11) -> None:
    call_command("demo_data", patients=patients, seed=seed, stdout=StringIO())


def token_client(scope: str = "import", name: str | None = None) -> tuple[Client, str]:
    made = api_token_create(name=name or f"system-{scope}", scope=scope)
    return Client(HTTP_AUTHORIZATION=f"Bearer {made.secret}"), made.token.name


def post_bundle(client: Client, body: Any) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post("/fhir/Bundle", data=data, content_type="application/fhir+json")


def entries_of(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]
