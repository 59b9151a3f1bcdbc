"""A case as a FHIR R4 ``Bundle`` (type ``collection``) with mCODE STU4 profiles.

Reads only: the case arrives loaded by ``case_page_record`` (ONE query: the record, its agenda
items, decisions and actions), so exporting a case costs one query whatever its size. Every code
comes from ``cases/interop/codes.py``; docs/interop.md lists them.

What is exported (resource ids are stable: a UUID derived from the case and the row, so two
exports of an unchanged case are identical):

- ``Patient`` (CancerPatient): NHS number, hospital number (type MR), name, date of birth;
- ``Condition`` PrimaryCancerCondition (site as ICD-10-CM and ICD-O-3 topography) and
  SecondaryCancerCondition (the liver metastases every case on this pathway has);
- per molecular result with a request date, a ``ServiceRequest`` (the test asked for); per
  reported result, a TumorMarkerTest ``Observation``. A pending or not-tested result is never an
  Observation: pending is the active request alone, not tested is nothing;
- ECOG ``Observation``; per reassessment with a scan, an ``ImagingStudy`` and a
  CancerDiseaseStatus ``Observation`` (with the RECIST response when the record has one);
- per course and agent a ``MedicationRequest``, per dose a ``MedicationAdministration``;
- ``Procedure`` per radiotherapy course and per operation (planned, done or cancelled);
- one ``CarePlan`` per signed-off MDT outcome: the decisions with the recommendation, the
  actions with their follow-up status, deviations and overrides as notes;
- one ``Organization``, the MDT, which requests the treatment and authors the plans.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.utils import timezone

from cases import models
from cases.interop import codes
from cases.interop.codes import codeable
from cases.interop.recommendations import describe_recommendation
from cases.meetings.walk.cards import alert_for
from cases.meetings.walk.context import current_decisions
from cases.meetings.walk.labels import describe_answer, fmt_date
from cases.pathway.staging import stage_group
from cases.records.imaging import RecistView, recist_view
from cases.records.selectors import case_page_record, case_page_records

FHIR_JSON = "application/fhir+json"
_NAMESPACE = uuid.UUID("5b0f3c1e-7a44-4d8e-9f0b-2a6c1d3e4f50")
MDT_NAME = "Colorectal MDT"


def _iso(day: dt.date | dt.datetime | None) -> str | None:
    if day is None:
        return None
    if isinstance(day, dt.datetime):
        return timezone.localtime(day).isoformat(timespec="seconds")
    return day.isoformat()


def _drop_empty(resource: dict[str, Any]) -> dict[str, Any]:
    """FHIR forbids empty elements: leave out None, empty strings, lists and objects. (Written
    for speed: it runs over every element of every exported resource.)"""
    clean = {}
    for key, value in resource.items():
        kind = type(value)
        if kind is dict:
            value = _drop_empty(value)
            if not value:
                continue
        elif kind is list:
            kept = []
            for item in value:
                if type(item) is dict:
                    item = _drop_empty(item)
                    if item:
                        kept.append(item)
                elif item is not None and item != "" and item != []:
                    kept.append(item)
            if not kept:
                continue
            value = kept
        elif value is None or value == "":
            continue
        clean[key] = value
    return clean


class _Builder:
    """Collects the entries of one bundle; ``ref(key)`` names a resource before it is added."""

    def __init__(self, case: models.Case) -> None:
        self.case = case
        self.entries: list[dict[str, Any]] = []
        self._ids: dict[str, str] = {}

    def id_for(self, key: str) -> str:
        found = self._ids.get(key)
        if found is None:
            # The patient and the MDT are the same resources in every case of the patient.
            scope = {"patient": f"patient-{self.case.patient_id}", "mdt": "mdt"}.get(key)
            found = self._ids[key] = str(uuid.uuid5(_NAMESPACE, scope or f"{self.case.pk}:{key}"))
        return found

    def ref(self, key: str) -> dict[str, str]:
        return {"reference": f"urn:uuid:{self.id_for(key)}"}

    def add(self, key: str, resource: dict[str, Any], profile: str | None = None) -> None:
        resource_id = self.id_for(key)
        body: dict[str, Any] = {"resourceType": resource.pop("resourceType"), "id": resource_id}
        if profile:
            body["meta"] = {"profile": [profile]}
        body.update(resource)
        self.entries.append({"fullUrl": f"urn:uuid:{resource_id}", "resource": _drop_empty(body)})


# --- Patient, MDT, conditions ------------------------------------------------------------------


def _patient(b: _Builder) -> None:
    patient = b.case.patient
    identifiers = []
    if patient.nhs_number:
        identifiers.append({"system": codes.NHS_NUMBER_SYSTEM, "value": patient.nhs_number})
    identifiers.append(
        {
            "use": "usual",
            "type": codeable(codes.MEDICAL_RECORD_NUMBER),
            "system": settings.HOSPITAL_NUMBER_SYSTEM,
            "value": patient.hospital_number,
        }
    )
    b.add(
        "patient",
        {
            "resourceType": "Patient",
            "identifier": identifiers,
            "name": [{"family": patient.family_name, "given": [patient.given_name]}],
            # The record holds no sex or gender: US Core requires the element, so it says so.
            "gender": "unknown",
            "birthDate": _iso(patient.date_of_birth),
        },
        codes.PROFILES["patient"],
    )


def _organization(b: _Builder) -> None:
    b.add("mdt", {"resourceType": "Organization", "active": True, "name": MDT_NAME})


def _condition_base(b: _Builder) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "clinicalStatus": codeable(codes.CLINICAL_ACTIVE),
        "verificationStatus": codeable(codes.VERIFICATION_CONFIRMED),
        "category": [codeable(codes.PROBLEM_LIST_ITEM)],
        "subject": b.ref("patient"),
        "onsetDateTime": _iso(b.case.diagnosed_on),
    }


def _histology_report(report: models.Histology) -> dict[str, Any]:
    def part(url: str, **value: Any) -> dict[str, Any]:
        return {"url": url, **value}

    return {
        "url": codes.EXTENSIONS["histology_report"],
        "extension": [
            part("specimen", valueCoding=codes.SPECIMEN_LOCAL[report.specimen].coding()),
            part("reportedOn", valueDate=_iso(report.reported_on)),
            part(
                "type",
                valueCoding=codes.HISTOLOGY_LOCAL[report.histological_type].coding(),
            ),
            part("grade", valueCoding=codes.GRADE_LOCAL[report.grade].coding()),
            part("mucinous", valueBoolean=report.mucinous),
            part("signetRing", valueBoolean=report.signet_ring),
        ],
    }


def _histology(case: models.Case) -> list[dict[str, Any]]:
    """mCODE's histology extension from the latest report; every report in full as ours."""
    reports = sorted(case.histologies.all(), key=lambda h: (h.reported_on, h.pk))
    if not reports:
        return []
    latest = reports[-1].histological_type
    return [
        {
            "url": codes.EXTENSIONS["histology"],
            "valueCodeableConcept": codeable(
                codes.HISTOLOGY.get(latest),
                codes.HISTOLOGY_LOCAL[latest],
                text=codes.HISTOLOGY_LOCAL[latest].display,
            ),
        },
        *[_histology_report(report) for report in reports],
    ]


def _conditions(b: _Builder) -> None:
    site = b.case.primary_site
    body = codes.PRIMARY_SITE_BODY.get(site)
    primary = _condition_base(b)
    primary["code"] = codeable(codes.PRIMARY_SITE_CONDITION[site])
    primary["bodySite"] = [codeable(body)] if body else []
    primary["extension"] = _histology(b.case)
    b.add("primary", primary, codes.PROFILES["primary"])
    secondary = _condition_base(b)
    secondary["extension"] = [
        {"url": codes.EXTENSIONS["related_primary"], "valueReference": b.ref("primary")}
    ]
    secondary["code"] = codeable(codes.LIVER_METASTASES)
    secondary["bodySite"] = [codeable(codes.LIVER)]
    b.add("secondary", secondary, codes.PROFILES["secondary"])


# --- TNM staging ------------------------------------------------------------------------------

_TNM_PARTS = (("T", "t", "tnm_t"), ("N", "n", "tnm_n"), ("M", "m", "tnm_m"))


def _staging(b: _Builder) -> None:
    """Per staging, T, N and M category Observations and, when the categories place the tumour
    in one, the AJCC stage group (the engine's) with the three as members."""
    for staging in sorted(b.case.tnm_stagings.all(), key=lambda s: (s.staged_on, s.pk)):
        kind = codes.TNM_TYPE_OF_KIND[staging.kind]
        prefix = models.TNM_PREFIX[staging.kind]
        common = {
            "resourceType": "Observation",
            "status": "final",
            "subject": b.ref("patient"),
            "focus": [b.ref("primary")],
            "effectiveDateTime": _iso(staging.staged_on),
            "method": codeable(codes.AJCC_8TH),
        }
        members = []
        for part, field_name, profile in _TNM_PARTS:
            value = getattr(staging, field_name)
            key = f"tnm:{staging.kind}:{part}"
            members.append(b.ref(key))
            b.add(
                key,
                {
                    **common,
                    "code": codeable(
                        codes.TNM_TYPE[(kind, part)], codes.TNM_KIND_LOCAL[staging.kind]
                    ),
                    "valueCodeableConcept": codeable(
                        codes.TNM_CATEGORY_LOCAL[value], text=f"{prefix}{value}"
                    ),
                },
                codes.PROFILES[profile],
            )
        group = stage_group(staging.t, staging.n, staging.m)
        if group is None:
            continue
        b.add(
            f"tnm:{staging.kind}:stage",
            {
                **common,
                "code": codeable(
                    codes.TNM_TYPE[(kind, "stage")], codes.TNM_KIND_LOCAL[staging.kind]
                ),
                "valueCodeableConcept": codeable(
                    codes.STAGE_GROUP_LOCAL[group], text=codes.STAGE_GROUP_LOCAL[group].display
                ),
                "hasMember": members,
            },
            codes.PROFILES["tnm_stage_group"],
        )


# --- Tumour markers and ECOG -------------------------------------------------------------------


def _marker_code(marker: str) -> dict[str, Any]:
    return codeable(
        codes.MARKER_TEST[marker],
        codes.MARKER_LOCAL[marker],
        text=codes.MARKER_LOCAL[marker].display,
    )


def _markers(b: _Builder) -> None:
    order = list(codes.MARKER_TEST)
    for result in sorted(b.case.molecular_results.all(), key=lambda r: order.index(r.marker)):
        reported = result.status not in models.UNREPORTED_STATUSES
        request_key = f"marker-request:{result.marker}"
        if result.requested_on is not None:
            b.add(
                request_key,
                {
                    "resourceType": "ServiceRequest",
                    "status": "completed" if reported else "active",
                    "intent": "order",
                    "code": _marker_code(result.marker),
                    "subject": b.ref("patient"),
                    "authoredOn": _iso(result.requested_on),
                    "reasonReference": [b.ref("primary")],
                },
            )
        if not reported:
            continue
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "extension": [
                {"url": codes.EXTENSIONS["related_condition"], "valueReference": b.ref("primary")}
            ],
            "basedOn": [b.ref(request_key)] if result.requested_on else [],
            "status": "final",
            "category": [codeable(codes.LAB)],
            "code": _marker_code(result.marker),
            "subject": b.ref("patient"),
            "effectiveDateTime": _iso(result.reported_on),
            "valueCodeableConcept": codeable(
                codes.MARKER_RESULT[result.status],
                codes.MARKER_STATUS_LOCAL[result.status],
                text=codes.MARKER_STATUS_LOCAL[result.status].display,
            ),
            "method": {"text": result.method},
        }
        gene = codes.MARKER_GENE.get(result.marker)
        if gene is not None:
            observation["component"] = [
                {
                    "code": codeable(codes.GENE_STUDIED),
                    "valueCodeableConcept": codeable(gene),
                }
            ]
        b.add(f"marker:{result.marker}", observation, codes.PROFILES["tumour_marker"])


def _labs(b: _Builder) -> None:
    order = list(codes.LAB_TEST)
    results = sorted(b.case.lab_results.all(), key=lambda r: (order.index(r.test), r.taken_on))
    for result in results:
        marker = result.test in codes.BLOOD_TUMOUR_MARKERS
        unit = codes.LAB_UNIT.get(result.unit)
        reference = {
            "low": _quantity(result.reference_low, result.unit, unit),
            "high": _quantity(result.reference_high, result.unit, unit),
        }
        b.add(
            f"lab:{result.test}:{result.taken_on}",
            {
                "resourceType": "Observation",
                "extension": [
                    {
                        "url": codes.EXTENSIONS["related_condition"],
                        "valueReference": b.ref("primary"),
                    }
                ]
                if marker
                else [],
                "status": "final",
                "category": [codeable(codes.LAB)],
                "code": codeable(
                    codes.LAB_TEST[result.test],
                    codes.LAB_TEST_LOCAL[result.test],
                    text=codes.LAB_TEST_LOCAL[result.test].display,
                ),
                "subject": b.ref("patient"),
                "effectiveDateTime": _iso(result.taken_on),
                "valueQuantity": _quantity(result.value, result.unit, unit),
                "referenceRange": [reference] if any(reference.values()) else [],
            },
            codes.PROFILES["tumour_marker"] if marker else None,
        )


def _quantity(value: Any, shown: str, unit: codes.Code | None) -> dict[str, Any] | None:
    """A Quantity in UCUM (the unit as shown, alone, when it has no UCUM code here)."""
    if value is None:
        return None
    quantity: dict[str, Any] = {"value": float(value), "unit": shown}
    if unit is not None:
        quantity.update(system=unit.system, code=unit.code)
    return quantity


def _ecog(b: _Builder) -> None:
    if b.case.ecog is None:
        return
    b.add(
        "ecog",
        {
            "resourceType": "Observation",
            "status": "final",
            "category": [codeable(codes.SURVEY)],
            "code": codeable(codes.ECOG),
            "subject": b.ref("patient"),
            "effectiveDateTime": _iso(b.case.ecog_assessed_on),
            "valueInteger": b.case.ecog,
        },
        codes.PROFILES["ecog"],
    )


# --- Reassessments: imaging and disease status --------------------------------------------------


def _studies(b: _Builder) -> dict[int, str]:
    """One ImagingStudy per scan of the record; {reassessment pk: the key of its scan}."""
    answering: dict[int, str] = {}
    for study in sorted(b.case.imaging_studies.all(), key=lambda s: (s.performed_on, s.pk)):
        key = f"study:{study.pk}"
        if study.reassessment_id is not None:
            answering.setdefault(study.reassessment_id, key)
        b.add(
            key,
            {
                "resourceType": "ImagingStudy",
                "identifier": [
                    {
                        "type": codeable(codes.ACCESSION),
                        "system": codes.ACCESSION_NUMBER_SYSTEM,
                        "value": study.accession_number,
                    }
                ]
                if study.accession_number
                else [],
                "status": "available",
                "modality": [codes.STUDY_MODALITY[study.modality].coding()],
                "subject": b.ref("patient"),
                "started": _iso(study.performed_on),
                "procedureCode": [
                    codeable(codes.STUDY_MODALITY_LOCAL[study.modality]),
                    codeable(codes.BODY_REGION_LOCAL[study.body_region]),
                ],
                "reasonReference": [b.ref("secondary")],
                "description": str(study),
                "note": [{"text": study.report}] if study.report else [],
            },
        )
    return answering


def _response(row: models.Reassessment, key: str | None, view: RecistView | None) -> str:
    """The response of a reassessment: RECIST's, computed by the record from its scan's
    measurements (or the radiologist's own with its reason), else the one recorded."""
    if key is not None and view is not None:
        scan = next((s for s in view.follow_ups if f"study:{s.study.pk}" == key), None)
        if scan is not None and scan.reassessment_response:
            return scan.reassessment_response
    return row.response


def _reassessments(b: _Builder) -> None:
    answering = _studies(b)
    view = recist_view(b.case)
    for row in sorted(b.case.reassessments.all(), key=lambda r: r.cycle):
        if row.imaging_performed_on is None:
            continue
        study_key = answering.get(row.pk)
        if study_key is None:
            # No scan of the record answers it: the reassessment's own scan date and modality.
            study_key = f"imaging:{row.cycle}"
            modality = codes.IMAGING_MODALITY.get(row.modality)
            b.add(
                study_key,
                {
                    "resourceType": "ImagingStudy",
                    "status": "available",
                    "modality": [modality.coding()] if modality else [],
                    "subject": b.ref("patient"),
                    "started": _iso(row.imaging_performed_on),
                    "procedureCode": [codeable(codes.IMAGING_MODALITY_LOCAL[row.modality])]
                    if row.modality
                    else [],
                    "reasonReference": [b.ref("secondary")],
                    "description": f"Reassessment {row.cycle}",
                },
            )
        response = _response(row, answering.get(row.pk), view)
        b.add(
            f"disease-status:{row.cycle}",
            {
                "resourceType": "Observation",
                "extension": [
                    {
                        "url": codes.EXTENSIONS["evidence_type"],
                        "valueCodeableConcept": codeable(codes.EVIDENCE_IMAGING),
                    }
                ],
                "status": "final",
                "code": codeable(codes.DISEASE_STATUS),
                "subject": b.ref("patient"),
                "focus": [b.ref("primary"), b.ref("secondary")],
                "effectiveDateTime": _iso(row.reassessed_on or row.imaging_performed_on),
                "valueCodeableConcept": codeable(
                    codes.RESPONSE_TREND[response],
                    codes.RECIST_RESPONSE.get(response),
                    text=models.Response(response).label if response else "",
                ),
                "derivedFrom": [b.ref(study_key)],
            },
            codes.PROFILES["disease_status"],
        )


# --- Treatment ---------------------------------------------------------------------------------


def _intent_extension(intent: str) -> dict[str, Any]:
    return {
        "url": codes.EXTENSIONS["treatment_intent"],
        "valueCodeableConcept": codeable(
            codes.COURSE_INTENT[intent], codes.COURSE_INTENT_LOCAL[intent]
        ),
    }


def _treatment(b: _Builder) -> None:
    courses = sorted(b.case.treatment_courses.all(), key=lambda c: (c.started_on, c.pk))
    for number, course in enumerate(courses, start=1):
        group = {"system": codes.COURSE_GROUP.system, "value": str(number)}
        backbone = codes.BACKBONE_LOCAL.get(course.backbone)
        for agent in course.agents:
            b.add(
                f"course:{number}:{agent}",
                {
                    "resourceType": "MedicationRequest",
                    "extension": [_intent_extension(course.intent)],
                    "status": "completed" if course.stopped_on else "active",
                    "statusReason": {"text": course.stop_reason},
                    "intent": "order",
                    "category": [codeable(backbone)] if backbone else [],
                    "medicationCodeableConcept": codeable(codes.AGENT[agent]),
                    "subject": b.ref("patient"),
                    "authoredOn": _iso(course.started_on),
                    "requester": b.ref("mdt"),
                    "reasonReference": [b.ref("primary")],
                    "groupIdentifier": group,
                    "dosageInstruction": [
                        {
                            "timing": {
                                "repeat": {
                                    "boundsPeriod": {
                                        "start": _iso(course.started_on),
                                        "end": _iso(course.stopped_on),
                                    }
                                }
                            }
                        }
                    ],
                },
                codes.PROFILES["medication_request"],
            )
        for dose in course.administrations.all():
            extensions = [_intent_extension(course.intent)]
            if dose.cycle_number is not None:
                extensions.append(
                    {"url": codes.EXTENSIONS["cycle_number"], "valuePositiveInt": dose.cycle_number}
                )
            b.add(
                f"dose:{number}:{dose.agent}:{dose.given_on}",
                {
                    "resourceType": "MedicationAdministration",
                    "extension": extensions,
                    "status": "completed",
                    "medicationCodeableConcept": codeable(codes.AGENT[dose.agent]),
                    "subject": b.ref("patient"),
                    "effectiveDateTime": _iso(dose.given_on),
                    "reasonReference": [b.ref("primary")],
                    "request": b.ref(f"course:{number}:{dose.agent}")
                    if dose.agent in course.agents
                    else None,
                    "note": [{"text": dose.note}] if dose.note else [],
                },
                codes.PROFILES["medication_administration"],
            )
        _cycles(b, number, course)


def _cycle_extension(cycle: models.TreatmentCycle) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"url": "number", "valuePositiveInt": cycle.number}]
    if cycle.dose_reduction_percent is not None:
        parts.append(
            {"url": "doseReductionPercent", "valuePositiveInt": cycle.dose_reduction_percent}
        )
    if cycle.delay_days is not None:
        parts.append({"url": "delayDays", "valuePositiveInt": cycle.delay_days})
    if cycle.delay_reason:
        parts.append({"url": "delayReason", "valueString": cycle.delay_reason})
    return {"url": codes.EXTENSIONS["treatment_cycle"], "extension": parts}


def _cycles(b: _Builder, number: int, course: models.TreatmentCourse) -> None:
    """Per recorded cycle, one MedicationAdministration per agent given on its day 1."""
    backbone = codes.BACKBONE_LOCAL.get(course.backbone)
    for cycle in sorted(course.cycles.all(), key=lambda c: c.number):
        for agent in cycle.agents:
            b.add(
                f"cycle:{number}:{cycle.number}:{agent}",
                {
                    "resourceType": "MedicationAdministration",
                    "extension": [_intent_extension(course.intent), _cycle_extension(cycle)],
                    "status": "completed",
                    "category": codeable(backbone) if backbone else None,
                    "medicationCodeableConcept": codeable(codes.AGENT[agent]),
                    "subject": b.ref("patient"),
                    "effectiveDateTime": _iso(cycle.given_on),
                    "reasonReference": [b.ref("primary")],
                    "request": b.ref(f"course:{number}:{agent}")
                    if agent in course.agents
                    else None,
                    "note": [{"text": cycle.note}] if cycle.note else [],
                },
                codes.PROFILES["medication_administration"],
            )


def _radiotherapy(b: _Builder) -> None:
    courses = sorted(b.case.radiotherapy.all(), key=lambda r: (r.started_on, r.pk))
    for number, course in enumerate(courses, start=1):
        b.add(
            f"radiotherapy:{number}",
            {
                "resourceType": "Procedure",
                "extension": [
                    {
                        "url": codes.EXTENSIONS["treatment_intent"],
                        "valueCodeableConcept": codeable(codes.CURATIVE),
                    }
                ],
                "status": "completed" if course.completed_on else "in-progress",
                "code": codeable(
                    codes.RADIOTHERAPY_COURSE,
                    codes.RADIOTHERAPY_KIND_LOCAL[course.kind],
                    text=codes.RADIOTHERAPY_KIND_LOCAL[course.kind].display,
                ),
                "subject": b.ref("patient"),
                "performedPeriod": {
                    "start": _iso(course.started_on),
                    "end": _iso(course.completed_on),
                },
                "reasonReference": [b.ref("primary")],
            },
            codes.PROFILES["radiotherapy"],
        )


def _surgery_status(surgery: models.Surgery) -> str:
    if surgery.performed_on:
        return "completed"
    return "not-done" if surgery.cancelled_on else "preparation"


def _surgeries(b: _Builder) -> None:
    def when(s: models.Surgery) -> tuple[dt.date, int]:
        return (s.performed_on or s.planned_on or dt.date.max, s.pk)

    for number, surgery in enumerate(sorted(b.case.surgeries.all(), key=when), start=1):
        kind = codes.SURGERY_KIND_LOCAL[surgery.kind]
        extent = codes.HEPATECTOMY_EXTENT_LOCAL.get(surgery.hepatectomy_extent)
        extensions = [
            {
                "url": codes.EXTENSIONS["treatment_intent"],
                "valueCodeableConcept": codeable(codes.CURATIVE),
            }
        ]
        if surgery.planned_on:
            extensions.append(
                {"url": codes.EXTENSIONS["planned_on"], "valueDate": _iso(surgery.planned_on)}
            )
        if surgery.cancelled_on:
            extensions.append(
                {"url": codes.EXTENSIONS["cancelled_on"], "valueDate": _iso(surgery.cancelled_on)}
            )
        margin = codes.MARGIN_LOCAL.get(surgery.margin)
        b.add(
            f"surgery:{number}",
            {
                "resourceType": "Procedure",
                "extension": extensions,
                "status": _surgery_status(surgery),
                "statusReason": {"text": surgery.cancel_reason},
                "category": codeable(codes.URGENCY_LOCAL[surgery.urgency]),
                "code": codeable(kind, extent, text=kind.display),
                "subject": b.ref("patient"),
                "performedDateTime": _iso(surgery.performed_on),
                "reasonReference": [b.ref("primary"), b.ref("secondary")]
                if surgery.includes_liver
                else [b.ref("primary")],
                "outcome": codeable(margin, text=margin.display) if margin else None,
            },
            codes.PROFILES["surgery"],
        )


# --- Referral ---------------------------------------------------------------------------------


def _referral(b: _Builder) -> None:
    """What brought the case to the MDT: a ServiceRequest for an MDT discussion."""
    for referral in b.case.referrals.all():
        b.add(
            "referral",
            {
                "resourceType": "ServiceRequest",
                # The referral stands while the case is under the MDT.
                "status": "active",
                "intent": "order",
                "category": [
                    codeable(
                        codes.PATIENT_REFERRAL,
                        codes.REFERRAL_SOURCE_LOCAL[referral.source],
                        text=f"Referral from {referral.get_source_display()}",
                    )
                ],
                "priority": codes.REFERRAL_PRIORITY[referral.urgency],
                "code": codeable(codes.MDT_DISCUSSION),
                "subject": b.ref("patient"),
                "authoredOn": _iso(referral.received_on),
                "requester": {"display": referral.referrer},
                "performer": [b.ref("mdt")],
                "reasonReference": [b.ref("primary")],
                "note": [{"text": referral.question}],
            },
        )


# --- MDT outcomes ------------------------------------------------------------------------------


def _decision_activity(decision: models.Decision) -> dict[str, Any]:
    label = models.DecisionPoint(decision.point).label
    answer = describe_answer(decision.point, decision.answer)
    recommended = describe_recommendation(
        decision.point, decision.advice_snapshot.get("recommendation") or {}
    )
    text = f"{label}: {answer}"
    if recommended:
        text += f" (recommended: {recommended})"
    return {
        "detail": {
            "code": {"text": label},
            # What became of the decision is the follow-up record's to say (meeting work).
            "status": "unknown",
            "description": text,
        }
    }


def _action_activity(action: models.Action) -> dict[str, Any]:
    return {
        "detail": {
            "status": codes.ACTION_STATUS[action.status],
            "statusReason": {"text": action.not_done_reason},
            "description": action.description,
            "scheduledPeriod": {"end": _iso(action.due_on)},
        }
    }


def _decision_notes(decisions: Iterable[models.Decision]) -> list[dict[str, str]]:
    notes = []
    for decision in decisions:
        label = models.DecisionPoint(decision.point).label
        if decision.overridden_hard_stops:
            stops = "; ".join(alert_for(code).text for code in decision.overridden_hard_stops)
            notes.append(
                {
                    "text": f"{label}: hard stop overridden ({stops}). Reason: "
                    f"{decision.override_reason}"
                }
            )
        if not decision.follows_recommendation:
            notes.append(
                {
                    "text": f"{label}: departs from the recommendation. Reason: "
                    f"{decision.deviation_reason}"
                }
            )
    return notes


def _care_plans(b: _Builder) -> None:
    signed = sorted(
        (item for item in b.case.agenda_items.all() if item.signed_off_at is not None),
        key=lambda item: item.signed_off_at,
    )
    actions = list(b.case.actions.all())
    for index, item in enumerate(signed):
        decisions = sorted(
            current_decisions(item.decisions.all()).values(),
            key=lambda d: list(models.DecisionPoint.values).index(d.point),
        )
        day = timezone.localtime(item.meeting.scheduled_for).date()
        summary = [f"MDT outcome of the meeting on {fmt_date(day)}."]
        if item.next_reassessment_on:
            summary.append(f"Next reassessment on {fmt_date(item.next_reassessment_on)}.")
        if item.quorate_at_sign_off is False:
            summary.append("The meeting was not quorate at sign-off.")
        b.add(
            f"careplan:{item.pk}",
            {
                "resourceType": "CarePlan",
                "status": "active" if index == len(signed) - 1 else "completed",
                "intent": "plan",
                "category": [codeable(codes.MDT_OUTCOME)],
                "title": f"MDT outcome, {fmt_date(day)}",
                "description": " ".join(summary),
                "subject": b.ref("patient"),
                "created": _iso(item.signed_off_at),
                "author": b.ref("mdt"),
                "addresses": [b.ref("primary"), b.ref("secondary")],
                "activity": [_decision_activity(d) for d in decisions]
                + [_action_activity(a) for a in actions if a.agenda_item_id == item.pk],
                "note": _decision_notes(decisions),
            },
        )


# --- The bundle --------------------------------------------------------------------------------


def case_entries(case: models.Case) -> list[dict[str, Any]]:
    """The bundle entries of one case loaded with ``case_page_record`` (no query)."""
    b = _Builder(case)
    _patient(b)
    _organization(b)
    _conditions(b)
    _staging(b)
    _markers(b)
    _labs(b)
    _ecog(b)
    _reassessments(b)
    _treatment(b)
    _radiotherapy(b)
    _surgeries(b)
    _referral(b)
    _care_plans(b)
    return b.entries


def bundle(entries: list[dict[str, Any]], *, identifier: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": _iso(timezone.now())},
        "type": "collection",
        "timestamp": _iso(timezone.now()),
        "entry": entries,
    }
    if identifier:
        body["identifier"] = {"system": codes.CASE_REFERENCE_SYSTEM, "value": identifier}
    return body


def case_bundle(*, case_id: int) -> dict[str, Any]:
    """One case as a Bundle: one query. Raises ``Case.DoesNotExist``."""
    case = case_page_record(case_id=case_id)
    return bundle(case_entries(case), identifier=case.reference)


EXPORT_BATCH = 100


def case_bundles(*, case_ids: list[int]) -> Iterator[dict[str, Any]]:
    """The bundles of many cases, in order: one query per ``EXPORT_BATCH`` cases."""
    for start in range(0, len(case_ids), EXPORT_BATCH):
        for case in case_page_records(case_ids=case_ids[start : start + EXPORT_BATCH]):
            yield bundle(case_entries(case), identifier=case.reference)


def patient_bundle(*, patient_id: int) -> dict[str, Any]:
    """Every case of one patient in one Bundle: one query per case. The Patient and the MDT
    have the same ids in every case's entries, so they appear once."""
    cases = models.Case.objects.filter(patient_id=patient_id).order_by("pk")
    case_ids = list(cases.values_list("pk", flat=True))
    if not case_ids:
        raise models.Patient.DoesNotExist
    entries: dict[str, dict[str, Any]] = {}
    for case_id in case_ids:
        for entry in case_entries(case_page_record(case_id=case_id)):
            entries.setdefault(entry["fullUrl"], entry)
    return bundle(list(entries.values()))
