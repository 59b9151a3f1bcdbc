"""Referral import: a FHIR bundle → a matched or new patient and a case for the coordinator.

``bundle_import`` accepts a referral bundle (Patient, Conditions, Observations for the tumour
markers and ECOG) and any bundle ``export`` writes (medications, procedures, imaging and disease
status too). In order:

1. Read: at most ``FHIR_MAX_BUNDLE_BYTES``, JSON, a Bundle that ``fhir.resources`` parses, and
   every resource that claims an mCODE profile satisfies our check of it (validation.py).
2. Interpret every resource into our record, collecting every problem (an unknown code, a
   missing date, a value out of range) rather than stopping at the first.
3. Match the patient: by NHS number, then by hospital number. Two different patients matched
   (one by each number), or a matched patient whose other identifiers, date of birth or family
   name disagree with the bundle, is refused: never a silent duplicate, never a silent merge.
4. Write, in one transaction: the patient if new; a case in work-up with the bundle's record,
   unless the patient has an open case already (then nothing is written and that case is
   named: the coordinator updates it). Reminders follow the new facts in the same transaction.

Any problem refuses the whole bundle with a FHIR ``OperationOutcome`` listing every problem, and
nothing is written. CarePlans (another MDT's outcomes), Organizations and resource types we do
not hold are accepted and left out; the result counts them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import models
from cases.interop import codes
from cases.interop.codes import Code
from cases.interop.tokens import may_import
from cases.interop.validation import Index, Problem, profile_problems, structure_problems
from cases.pathway.labs import LAB_TEST_SPECS
from cases.pathway.staging import tnm_problems
from cases.reminders.planning import reminders_sync_for_case

# --- Outcome -----------------------------------------------------------------------------------


class ImportRefused(Exception):
    """The bundle was refused; nothing was written. ``status`` is the HTTP status to answer."""

    def __init__(self, problems: list[Problem], status: int = 422) -> None:
        super().__init__("; ".join(p.diagnostics for p in problems))
        self.problems = problems
        self.status = status


@dataclass(frozen=True)
class ImportResult:
    patient_id: int
    case_id: int
    case_reference: str
    patient_created: bool
    case_created: bool
    ignored: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {
            "patient": f"Patient/{self.patient_id}",
            "case": self.case_reference,
            "patientCreated": self.patient_created,
            "caseCreated": self.case_created,
            "ignored": self.ignored,
        }


# --- What the bundle says, in our vocabulary ---------------------------------------------------


@dataclass
class Course:
    intent: str = models.Intent.CONVERSION
    backbone: str = ""
    agents: list[str] = field(default_factory=list)
    started_on: dt.date | None = None
    stopped_on: dt.date | None = None
    stop_reason: str = ""
    doses: list[models.AgentAdministration] = field(default_factory=list)
    cycles: dict[int, models.TreatmentCycle] = field(default_factory=dict)


@dataclass
class Referral:
    nhs_number: str = ""
    hospital_number: str = ""
    family_name: str = ""
    given_name: str = ""
    date_of_birth: dt.date | None = None
    primary_site: str = ""
    diagnosed_on: dt.date | None = None
    ecog: int | None = None
    ecog_assessed_on: dt.date | None = None
    results: dict[str, models.MolecularResult] = field(default_factory=dict)
    reassessments: list[models.Reassessment] = field(default_factory=list)
    courses: dict[str, Course] = field(default_factory=dict)
    radiotherapy: list[models.Radiotherapy] = field(default_factory=list)
    surgeries: list[models.Surgery] = field(default_factory=list)
    # TNM staging by kind: {"t": ..., "n": ..., "m": ..., "staged_on": ...}
    stagings: dict[str, dict[str, Any]] = field(default_factory=dict)
    histologies: list[models.Histology] = field(default_factory=list)
    labs: list[models.LabResult] = field(default_factory=list)
    referral: models.Referral | None = None
    # Scans of the record by the fullUrl of their ImagingStudy, and which reassessment (by its
    # index in ``reassessments``) each answers.
    studies: dict[str, models.ImagingStudy] = field(default_factory=dict)
    answered_by: dict[int, str] = field(default_factory=dict)
    ignored: Counter[str] = field(default_factory=Counter)


def _codings(concept: Any) -> list[tuple[str, str]]:
    return [(c.get("system", ""), c.get("code", "")) for c in (concept or {}).get("coding") or []]


def _lookup(concept: Any, *mappings: dict[str, Code]) -> str | None:
    """Our value for a CodeableConcept: the first mapping (ours first) that knows a coding."""
    pairs = _codings(concept)
    for mapping in mappings:
        table = codes.reverse(mapping)
        for pair in pairs:
            if pair in table:
                return table[pair]
    return None


def _has(concept: Any, code: Code) -> bool:
    return (code.system, code.code) in _codings(concept)


def _shown(concept: Any) -> str:
    return ", ".join(f"{s}|{c}" for s, c in _codings(concept)) or "no coding"


class _Reader:
    """Turns resources into a ``Referral``, collecting every problem."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.index = Index(bundle)
        self.entries = bundle.get("entry") or []
        self.problems: list[Problem] = []
        self.referral = Referral()
        self.where = "Bundle"
        self.today = timezone.localdate()

    def problem(self, element: str, message: str, code: str = "invalid") -> None:
        self.problems.append(Problem(code, f"{self.where}.{element}", message))

    def unknown(self, element: str, concept: Any) -> None:
        self.problem(
            element,
            f"Unknown code ({_shown(concept)}): docs/interop.md lists the codes we read.",
            "code-invalid",
        )

    def date(
        self, element: str, value: Any, *, required: bool = True, fact: bool = True
    ) -> dt.date | None:
        """A FHIR date or dateTime as a local date; full dates only. A fact (``fact``) is never
        in the future; a plan may be."""
        if value in (None, ""):
            if required:
                self.problem(element, f"{element} is required.", "required")
            return None
        text = str(value)
        try:
            if "T" in text:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
                day = timezone.localtime(moment).date() if moment.tzinfo else moment.date()
            else:
                day = dt.date.fromisoformat(text)
        except ValueError:
            self.problem(element, f"{element} needs a full date (YYYY-MM-DD).", "value")
            return None
        if fact and day > self.today:
            self.problem(element, f"{element} cannot be in the future.", "value")
        return day

    # --- resources

    def read(self) -> Referral:
        patients = [e for e in self.entries if (e.get("resource") or {}).get("resourceType")
                    == "Patient"]  # fmt: skip
        if len(patients) != 1:
            self.problems.append(
                Problem("required", "Bundle.entry", "A referral has exactly one Patient.")
            )
        readers = {
            "Patient": self.patient,
            "Condition": self.condition,
            "Observation": self.observation,
            "ServiceRequest": self.service_request,
            "MedicationRequest": self.medication_request,
            "MedicationAdministration": self.medication_administration,
            "Procedure": self.procedure,
        }
        for i, entry in enumerate(self.entries):
            resource = entry.get("resource") or {}
            kind = resource.get("resourceType", "")
            self.where = f"Bundle.entry[{i}].resource"
            if kind == "ImagingStudy":
                self.imaging_study(resource, entry.get("fullUrl") or "")
            elif kind in readers:
                readers[kind](resource)
            else:
                self.referral.ignored[kind] += 1
        self.where = "Bundle"
        self.check_stagings()
        if not self.referral.primary_site:
            self.problem("entry", "A referral has a primary cancer Condition.", "required")
        return self.referral

    def patient(self, resource: dict[str, Any]) -> None:
        r = self.referral
        for i, identifier in enumerate(resource.get("identifier") or []):
            system, value = identifier.get("system"), str(identifier.get("value") or "").strip()
            is_mr = _has(identifier.get("type"), codes.MEDICAL_RECORD_NUMBER)
            if system == codes.NHS_NUMBER_SYSTEM:
                r.nhs_number = value.replace(" ", "")
                if not (len(r.nhs_number) == 10 and r.nhs_number.isdigit()):
                    self.problem(f"identifier[{i}]", "An NHS number is ten digits.", "value")
            elif system == settings.HOSPITAL_NUMBER_SYSTEM or (is_mr and not r.hospital_number):
                r.hospital_number = value
                if not value or any(c.isspace() for c in value) or len(value) > 20:
                    self.problem(
                        f"identifier[{i}]",
                        "A hospital number is 1 to 20 characters with no spaces.",
                        "value",
                    )
        if not r.nhs_number and not r.hospital_number:
            self.problem("identifier", "The Patient needs an NHS or hospital number.", "required")
        name = (resource.get("name") or [{}])[0]
        r.family_name = str(name.get("family") or "").strip()
        r.given_name = " ".join(name.get("given") or []).strip()
        if not r.family_name or not r.given_name:
            self.problem("name", "The Patient needs a family and a given name.", "required")
        if len(r.family_name) > 100 or len(r.given_name) > 100:
            self.problem("name", "Names are at most 100 characters.", "value")
        r.date_of_birth = self.date("birthDate", resource.get("birthDate"))

    def condition(self, resource: dict[str, Any]) -> None:
        concept = resource.get("code")
        site = _lookup(concept, codes.PRIMARY_SITE_CONDITION)
        if site is not None:
            if self.referral.primary_site:
                self.problem("code", "A referral has one primary cancer Condition.", "invalid")
            self.referral.primary_site = site
            self.referral.diagnosed_on = self.date("onsetDateTime", resource.get("onsetDateTime"))
            for ext in resource.get("extension") or []:
                if ext.get("url") == codes.EXTENSIONS["histology_report"]:
                    self.histology_report(ext)
        elif not _has(concept, codes.LIVER_METASTASES):
            self.unknown("code", concept)

    def histology_report(self, extension: dict[str, Any]) -> None:
        """One pathology report (our extension; mCODE's histology extension alone says too
        little for a report: no specimen, date or grade)."""
        parts = {e.get("url"): e for e in extension.get("extension") or []}

        def coded(name: str, mapping: dict[str, Code]) -> str | None:
            coding = (parts.get(name) or {}).get("valueCoding")
            value = _lookup({"coding": [coding]} if coding else None, mapping)
            if value is None:
                self.problem(f"extension[histologyReport].{name}", f"{name} is required "
                             "(docs/interop.md lists the codes).", "required")  # fmt: skip
            return value

        specimen = coded("specimen", codes.SPECIMEN_LOCAL)
        kind = coded("type", codes.HISTOLOGY_LOCAL)
        grade = coded("grade", codes.GRADE_LOCAL)
        reported = self.date(
            "extension[histologyReport].reportedOn",
            (parts.get("reportedOn") or {}).get("valueDate"),
        )
        if specimen and kind and grade and reported:
            self.referral.histologies.append(
                models.Histology(
                    specimen=specimen,
                    reported_on=reported,
                    histological_type=kind,
                    grade=grade,
                    mucinous=bool((parts.get("mucinous") or {}).get("valueBoolean")),
                    signet_ring=bool((parts.get("signetRing") or {}).get("valueBoolean")),
                )
            )

    def observation(self, resource: dict[str, Any]) -> None:
        concept = resource.get("code")
        if _has(concept, codes.ECOG):
            self.ecog(resource)
        elif _has(concept, codes.DISEASE_STATUS):
            self.disease_status(resource)
        elif _tnm_part(concept) is not None:
            self.tnm(resource)
        elif _lookup(concept, codes.LAB_TEST_LOCAL, codes.LAB_TEST) is not None:
            self.lab(resource)
        else:
            self.marker(resource)

    def tnm(self, resource: dict[str, Any]) -> None:
        concept = resource.get("code")
        kind, part = _tnm_part(concept)  # type: ignore[misc]
        if part == "stage":
            # The stage group follows from T, N and M (the engine's): not stored.
            self.referral.ignored["Observation (stage group)"] += 1
            return
        value = _lookup(resource.get("valueCodeableConcept"), codes.TNM_CATEGORY_LOCAL)
        allowed = {"T": models.TCategory, "N": models.NCategory, "M": models.MCategory}[part]
        if value is None or value not in allowed.values:
            self.unknown("valueCodeableConcept", resource.get("valueCodeableConcept"))
            return
        staged = self.date("effectiveDateTime", resource.get("effectiveDateTime"))
        staging = self.referral.stagings.setdefault(kind, {})
        if part.lower() in staging:
            self.problem("code", f"Two {part} categories for one {kind} staging.", "invalid")
        staging[part.lower()] = value
        staging["staged_on"] = staging.get("staged_on") or staged

    def check_stagings(self) -> None:
        for kind, staging in self.referral.stagings.items():
            missing = [p.upper() for p in ("t", "n", "m") if p not in staging]
            if missing:
                self.problem("entry", f"The {kind} staging lacks its {', '.join(missing)} "
                             "category.", "required")  # fmt: skip
                continue
            for message in tnm_problems(staging["t"], staging["n"], staging["m"]):
                self.problem("entry", f"The {kind} staging: {message}", "business-rule")

    def lab(self, resource: dict[str, Any]) -> None:
        test = _lookup(resource.get("code"), codes.LAB_TEST_LOCAL, codes.LAB_TEST)
        spec = LAB_TEST_SPECS[test]  # type: ignore[index]
        unit = codes.LAB_UNIT[spec.unit]
        quantity = resource.get("valueQuantity") or {}
        if quantity.get("system") != unit.system or quantity.get("code") != unit.code:
            self.problem("valueQuantity", f"{spec.label} is read in {unit.code} (UCUM).", "value")
            return
        value = _decimal(quantity.get("value"))
        if value is None or value < 0:
            self.problem("valueQuantity.value", "A result is a number from 0 to 9,999,999.",
                         "value")  # fmt: skip
            return
        reference = (resource.get("referenceRange") or [{}])[0]
        taken = self.date("effectiveDateTime", resource.get("effectiveDateTime"))
        if taken is None:
            return
        self.referral.labs.append(
            models.LabResult(
                test=test,
                taken_on=taken,
                value=value,
                unit=spec.unit,
                reference_low=_decimal((reference.get("low") or {}).get("value")),
                reference_high=_decimal((reference.get("high") or {}).get("value")),
            )
        )

    def ecog(self, resource: dict[str, Any]) -> None:
        value = resource.get("valueInteger")
        if not isinstance(value, int) or not 0 <= value <= 4:
            self.problem("valueInteger", "An ECOG score here is 0 to 4.", "value")
            return
        self.referral.ecog = value
        self.referral.ecog_assessed_on = self.date(
            "effectiveDateTime", resource.get("effectiveDateTime"), required=False
        )

    def _marker_of(self, resource: dict[str, Any]) -> str | None:
        concept = resource.get("code")
        marker = _lookup(concept, codes.MARKER_LOCAL, codes.MARKER_TEST)
        if marker is None and _has(concept, codes.GENETIC_VARIANT_ASSESSMENT):
            for component in resource.get("component") or []:
                marker = marker or _lookup(component.get("valueCodeableConcept"), codes.MARKER_GENE)
        if marker is None:
            self.unknown("code", concept)
        return marker

    def marker(self, resource: dict[str, Any]) -> None:
        marker = self._marker_of(resource)
        if marker is None:
            return
        result = self.referral.results.setdefault(
            marker, models.MolecularResult(marker=marker, status="pending")
        )
        if resource.get("status") in ("registered", "preliminary"):
            return  # a result not yet final is a pending test: its request says when
        if resource.get("status") not in ("final", "amended", "corrected"):
            self.problem("status", "A result's status is final, amended or corrected.", "value")
            return
        value = resource.get("valueCodeableConcept")
        status = _lookup(value, codes.MARKER_STATUS_LOCAL) or _answer(marker, value)
        if status is None or status not in models.MARKER_STATUSES[marker]:
            self.unknown("valueCodeableConcept", value)
            return
        result.status = status
        result.reported_on = self.date("effectiveDateTime", resource.get("effectiveDateTime"))
        result.method = str((resource.get("method") or {}).get("text") or "")[:120]
        request = self.index.target((resource.get("basedOn") or [None])[0])
        if request is not None:
            result.requested_on = self.date("basedOn.authoredOn", request.get("authoredOn"))

    def service_request(self, resource: dict[str, Any]) -> None:
        if any(_has(c, codes.PATIENT_REFERRAL) for c in resource.get("category") or []):
            self.referral_request(resource)
            return
        marker = self._marker_of(resource)
        if marker is None:
            return
        requested = self.date("authoredOn", resource.get("authoredOn"))
        result = self.referral.results.setdefault(
            marker, models.MolecularResult(marker=marker, status="pending")
        )
        result.requested_on = result.requested_on or requested

    def imaging_study(self, resource: dict[str, Any], url: str) -> None:
        """A scan of the record (it names its body region with our code); any other
        ImagingStudy is read through the disease status that derives from it."""
        procedures = {"coding": [c for p in resource.get("procedureCode") or []
                                 for c in (p or {}).get("coding") or []]}  # fmt: skip
        region = _lookup(procedures, codes.BODY_REGION_LOCAL)
        if region is None:
            return
        modality = _lookup(procedures, codes.STUDY_MODALITY_LOCAL) or _lookup(
            {"coding": resource.get("modality") or []}, codes.STUDY_MODALITY
        )
        if modality is None:
            self.unknown("modality", {"coding": resource.get("modality") or []})
            return
        accession = next(
            (
                str(i.get("value") or "")
                for i in resource.get("identifier") or []
                if _has(i.get("type"), codes.ACCESSION)
            ),
            "",
        )
        if len(accession) > 40 or not all(c.isalnum() or c in "._-" for c in accession):
            self.problem("identifier", "An accession number is up to 40 letters, digits, "
                         "dots, dashes or underscores.", "value")  # fmt: skip
            return
        report = "\n".join(str(n.get("text") or "") for n in resource.get("note") or [])
        performed = self.date("started", resource.get("started"))
        if performed is None:
            return
        self.referral.studies[url] = models.ImagingStudy(
            modality=modality,
            body_region=region,
            performed_on=performed,
            accession_number=accession,
            report=report.strip(),
        )

    def referral_request(self, resource: dict[str, Any]) -> None:
        """The referral itself: who sent it, when it was received, how urgent, the question."""
        if self.referral.referral is not None:
            self.problem("category", "A bundle holds one referral.", "invalid")
            return
        source = "other"
        for category in resource.get("category") or []:
            source = _lookup(category, codes.REFERRAL_SOURCE_LOCAL) or source
        urgency = {fhir: ours for ours, fhir in codes.REFERRAL_PRIORITY.items()}.get(
            resource.get("priority") or "routine"
        )
        if urgency is None:
            self.problem("priority", "A referral is routine, urgent or asap.", "value")
            return
        referrer = str((resource.get("requester") or {}).get("display") or "").strip()
        question = " ".join(str(n.get("text") or "") for n in resource.get("note") or []).strip()
        if not referrer or len(referrer) > 120:
            self.problem("requester.display", "Name the referrer (up to 120 characters).",
                         "required")  # fmt: skip
        if not question or len(question) > 1000:
            self.problem("note", "The referral's question (up to 1,000 characters) is required.",
                         "required")  # fmt: skip
        received = self.date("authoredOn", resource.get("authoredOn"))
        if received and referrer and question:
            self.referral.referral = models.Referral(
                source=source,
                referrer=referrer[:120],
                received_on=received,
                urgency=urgency,
                question=question[:1000],
            )

    def disease_status(self, resource: dict[str, Any]) -> None:
        judged = self.date("effectiveDateTime", resource.get("effectiveDateTime"))
        value = resource.get("valueCodeableConcept")
        response = _lookup(value, codes.RECIST_RESPONSE)
        if response is None:
            trend = _lookup(value, codes.RESPONSE_TREND)
            # "Improved" alone does not say complete or partial: left for the coordinator.
            response = trend if trend in ("stable_disease", "progressive_disease") else ""
        derived = (resource.get("derivedFrom") or [None])[0]
        study = self.index.target(derived) or {}
        imaged = self.date("derivedFrom.started", study.get("started"), required=False) or judged
        modality = ""
        if study:
            modality = (
                _lookup((study.get("procedureCode") or [None])[0], codes.IMAGING_MODALITY_LOCAL)
                or _lookup({"coding": study.get("modality") or []}, codes.IMAGING_MODALITY)
                or ""
            )
        if judged and imaged and judged < imaged:
            self.problem("effectiveDateTime", "The assessment cannot precede its scan.", "value")
        if isinstance(derived, dict) and derived.get("reference"):
            self.referral.answered_by[len(self.referral.reassessments)] = derived["reference"]
        self.referral.reassessments.append(
            models.Reassessment(
                due_on=imaged,
                imaging_booked_for=imaged,
                imaging_performed_on=imaged,
                reassessed_on=judged,
                modality=modality,
                response=response,
            )
        )

    def _agent(self, resource: dict[str, Any]) -> str | None:
        concept = resource.get("medicationCodeableConcept")
        agent = _lookup(concept, codes.AGENT)
        if agent is None:
            self.unknown("medicationCodeableConcept", concept)
        return agent

    def _intent(self, resource: dict[str, Any]) -> str:
        for ext in resource.get("extension") or []:
            if ext.get("url") == codes.EXTENSIONS["treatment_intent"]:
                concept = ext.get("valueCodeableConcept")
                intent = _lookup(concept, codes.COURSE_INTENT_LOCAL) or (
                    "palliative" if _has(concept, codes.PALLIATIVE) else "conversion"
                )
                return intent
        return models.Intent.CONVERSION

    def medication_request(self, resource: dict[str, Any]) -> None:
        agent = self._agent(resource)
        group = (resource.get("groupIdentifier") or {}).get("value") or resource.get("id", "")
        course = self.referral.courses.setdefault(str(group), Course())
        if agent is not None and agent not in course.agents:
            course.agents.append(agent)
        course.intent = self._intent(resource)
        for category in resource.get("category") or []:
            course.backbone = _lookup(category, codes.BACKBONE_LOCAL) or course.backbone
        bounds = (
            ((resource.get("dosageInstruction") or [{}])[0].get("timing") or {}).get("repeat") or {}
        ).get("boundsPeriod") or {}
        course.started_on = self.date(
            "authoredOn", bounds.get("start") or resource.get("authoredOn")
        )
        course.stopped_on = self.date("boundsPeriod.end", bounds.get("end"), required=False)
        course.stop_reason = str((resource.get("statusReason") or {}).get("text") or "")[:200]

    def medication_administration(self, resource: dict[str, Any]) -> None:
        agent = self._agent(resource)
        given = self.date("effectiveDateTime", resource.get("effectiveDateTime"))
        request = self.index.target(resource.get("request")) or {}
        group = (request.get("groupIdentifier") or {}).get("value") or request.get("id", "")
        if not request:
            self.problem("request", "A dose needs the MedicationRequest it belongs to.", "required")
            return
        cycle = next(
            (
                e.get("valuePositiveInt")
                for e in resource.get("extension") or []
                if e.get("url") == codes.EXTENSIONS["cycle_number"]
            ),
            None,
        )
        note = " ".join(str(n.get("text") or "") for n in resource.get("note") or []).strip()
        recorded = next(
            (
                e
                for e in resource.get("extension") or []
                if e.get("url") == codes.EXTENSIONS["treatment_cycle"]
            ),
            None,
        )
        if recorded is not None:
            if agent and given:
                self.cycle(str(group), recorded, agent, given, note)
            return
        if agent and given:
            self.referral.courses.setdefault(str(group), Course()).doses.append(
                models.AgentAdministration(
                    agent=agent, given_on=given, cycle_number=cycle, note=note[:300]
                )
            )

    def cycle(
        self, group: str, extension: dict[str, Any], agent: str, given: dt.date, note: str
    ) -> None:
        """One agent of a recorded cycle (our extension): the cycle gathers its agents."""
        parts = {e.get("url"): e for e in extension.get("extension") or []}

        def number(name: str) -> int | None:
            value = (parts.get(name) or {}).get("valuePositiveInt")
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        cycle_number = number("number")
        if cycle_number is None:
            self.problem("extension[treatmentCycle].number", "A cycle has its number.", "required")
            return
        course = self.referral.courses.setdefault(group, Course())
        cycle = course.cycles.setdefault(
            cycle_number,
            models.TreatmentCycle(
                number=cycle_number,
                given_on=given,
                agents=[],
                dose_reduction_percent=number("doseReductionPercent"),
                delay_days=number("delayDays"),
                delay_reason=str((parts.get("delayReason") or {}).get("valueString") or "")[:200],
                note=note[:300],
            ),
        )
        if cycle.given_on != given:
            self.problem("effectiveDateTime", f"Cycle {cycle_number}'s agents are given on one "
                         "day.", "value")  # fmt: skip
        if agent not in cycle.agents:
            cycle.agents.append(agent)

    def procedure(self, resource: dict[str, Any]) -> None:
        concept = resource.get("code")
        if _has(concept, codes.RADIOTHERAPY_COURSE):
            self.radiotherapy(resource)
            return
        kind = _lookup(concept, codes.SURGERY_KIND_LOCAL)
        if kind is None:
            self.unknown("code", concept)
            return
        extensions = {e.get("url"): e for e in resource.get("extension") or []}
        planned = extensions.get(codes.EXTENSIONS["planned_on"], {}).get("valueDate")
        cancelled = extensions.get(codes.EXTENSIONS["cancelled_on"], {}).get("valueDate")
        performed = self.date(
            "performedDateTime", resource.get("performedDateTime"), required=False
        )
        planned_on = self.date("extension[plannedDate]", planned, required=False, fact=False)
        if performed is None and planned is None:
            self.problem("performedDateTime", "An operation needs a date.", "required")
        outcome = resource.get("outcome")
        self.referral.surgeries.append(
            models.Surgery(
                kind=kind,
                urgency=_lookup(resource.get("category"), codes.URGENCY_LOCAL) or "elective",
                hepatectomy_extent=_lookup(concept, codes.HEPATECTOMY_EXTENT_LOCAL) or "",
                planned_on=planned_on,
                performed_on=performed,
                margin=_lookup(outcome, codes.MARGIN_LOCAL) or "" if outcome else "",
                cancelled_on=self.date("extension[cancelledDate]", cancelled, required=False),
                cancel_reason=str((resource.get("statusReason") or {}).get("text") or "")[:200],
            )
        )

    def radiotherapy(self, resource: dict[str, Any]) -> None:
        concept = resource.get("code")
        kind = _lookup(concept, codes.RADIOTHERAPY_KIND_LOCAL)
        if kind is None:
            self.problem("code", "Say which pelvic radiotherapy (5 × 5 Gy or long course).",
                         "code-invalid")  # fmt: skip
            return
        period = resource.get("performedPeriod") or {}
        self.referral.radiotherapy.append(
            models.Radiotherapy(
                kind=kind,
                started_on=self.date("performedPeriod.start", period.get("start")),
                completed_on=self.date("performedPeriod.end", period.get("end"), required=False),
            )
        )


def _decimal(value: Any) -> Decimal | None:
    """A FHIR decimal as ours (9 digits, 2 after the point), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
    return number if number.is_finite() and abs(number) < Decimal("10000000") else None


def _tnm_part(concept: Any) -> tuple[str, str] | None:
    """(our staging kind, "T" / "N" / "M" / "stage") for a TNM staging type, else None. The
    kind is ours when the bundle says it (ypTNM), else clinical or pathological."""
    pairs = _codings(concept)
    for (kind, part), code in codes.TNM_TYPE.items():
        if (code.system, code.code) in pairs:
            return _lookup(concept, codes.TNM_KIND_LOCAL) or kind, part
    return None


def _answer(marker: str, value: Any) -> str | None:
    """A result given only as a LOINC answer (a referral from another system)."""
    pairs = set(_codings(value))
    positive = (codes.POSITIVE.system, codes.POSITIVE.code) in pairs
    negative = (codes.NEGATIVE.system, codes.NEGATIVE.code) in pairs
    present = (codes.PRESENT.system, codes.PRESENT.code) in pairs
    absent = (codes.ABSENT.system, codes.ABSENT.code) in pairs
    if marker == "mmr_msi":
        return "dmmr_msi_h" if positive else "pmmr_mss" if negative else None
    if marker == "her2":
        return "amplified" if positive else "not_amplified" if negative else None
    return "mutant" if present else "wild_type" if absent else None


# --- Reading the body --------------------------------------------------------------------------


def read_bundle(raw: bytes) -> dict[str, Any]:
    """The body as a bundle that parses, or ``ImportRefused`` saying every problem found."""
    limit = settings.FHIR_MAX_BUNDLE_BYTES
    if len(raw) > limit:
        raise ImportRefused(
            [Problem("too-long", "", f"The bundle is larger than {limit // (1024 * 1024)} MB.")],
            status=413,
        )
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ImportRefused([Problem("structure", "", f"The body is not valid JSON: {error}.")],
                            status=400) from None  # fmt: skip
    except RecursionError:
        raise ImportRefused([Problem("structure", "", "The JSON is nested too deeply.")],
                            status=400) from None  # fmt: skip
    problems = structure_problems(data)
    if problems:
        raise ImportRefused(problems, status=400)
    if data.get("type") not in ("collection", "transaction", "batch", "document", "message"):
        problems.append(Problem("value", "Bundle.type", "A referral is a collection bundle."))
    problems += profile_problems(data)
    if problems:
        raise ImportRefused(problems)
    return data


# --- Matching and writing ----------------------------------------------------------------------


def _conflict(message: str, code: str = "conflict") -> ImportRefused:
    return ImportRefused([Problem(code, "Bundle.entry.resource.identifier", message)], 409)


def _match_patient(r: Referral) -> models.Patient | None:
    """The one patient the bundle's identifiers name, or None; refused if they disagree."""
    by_nhs = (
        models.Patient.objects.select_for_update().filter(nhs_number=r.nhs_number).first()
        if r.nhs_number
        else None
    )
    by_number = (
        models.Patient.objects.select_for_update().filter(hospital_number=r.hospital_number).first()
        if r.hospital_number
        else None
    )
    if by_nhs and by_number and by_nhs.pk != by_number.pk:
        raise _conflict(
            "The NHS number and the hospital number match two different patients: nothing was "
            "written. The records need reconciling by hand first.",
            "multiple-matches",
        )
    patient = by_nhs or by_number
    if patient is None:
        return None
    mismatched = [
        label
        for label, ours, theirs in (
            ("NHS number", patient.nhs_number, r.nhs_number),
            ("hospital number", patient.hospital_number, r.hospital_number),
            ("date of birth", patient.date_of_birth, r.date_of_birth),
            ("family name", patient.family_name.casefold(), r.family_name.casefold()),
        )
        if ours and theirs and ours != theirs
    ]
    if mismatched:
        raise _conflict(
            f"The bundle matches patient {patient.pk} but its {', '.join(mismatched)} "
            "differ from the record: nothing was written."
        )
    return patient


def _write_case(r: Referral, patient: models.Patient) -> models.Case:
    case = models.Case.objects.create(
        patient=patient,
        primary_site=r.primary_site,
        diagnosed_on=r.diagnosed_on,
        ecog=r.ecog,
        ecog_assessed_on=r.ecog_assessed_on if r.ecog is not None else None,
        stage=models.Stage.WORKUP,
    )
    results = list(r.results.values())
    for result in results:
        result.case = case
    models.MolecularResult.objects.bulk_create(results)
    imaged = sorted(r.reassessments, key=lambda row: row.imaging_performed_on or dt.date.min)
    for cycle, row in enumerate(imaged, start=1):
        row.case, row.cycle = case, cycle
    models.Reassessment.objects.bulk_create(imaged)
    for index, url in r.answered_by.items():
        study = r.studies.get(url)
        if study is not None and study.reassessment is None:
            study.reassessment = r.reassessments[index]
    for study in r.studies.values():
        study.case = case
    models.ImagingStudy.objects.bulk_create(list(r.studies.values()))
    for course_in in sorted(r.courses.values(), key=lambda c: c.started_on or dt.date.min):
        course = models.TreatmentCourse.objects.create(
            case=case,
            intent=course_in.intent,
            backbone=course_in.backbone,
            agents=course_in.agents,
            started_on=course_in.started_on,
            stopped_on=course_in.stopped_on,
            stop_reason=course_in.stop_reason,
        )
        for dose in course_in.doses:
            dose.course = course
        models.AgentAdministration.objects.bulk_create(course_in.doses)
        for cycle in course_in.cycles.values():
            cycle.course = course
        models.TreatmentCycle.objects.bulk_create(
            sorted(course_in.cycles.values(), key=lambda c: c.number)
        )
    for row in [*r.radiotherapy, *r.surgeries]:
        row.case = case
    models.Radiotherapy.objects.bulk_create(r.radiotherapy)
    models.Surgery.objects.bulk_create(r.surgeries)
    if r.referral is not None:
        r.referral.case = case
        r.referral.save()
    for result in r.labs:
        result.case = case
    models.LabResult.objects.bulk_create(r.labs)
    for report in r.histologies:
        report.case = case
    models.Histology.objects.bulk_create(r.histologies)
    models.TnmStaging.objects.bulk_create(
        [models.TnmStaging(case=case, kind=kind, **staging) for kind, staging in r.stagings.items()]
    )
    return case


def _refuse_database_rule(error: IntegrityError) -> ImportRefused:
    # The constraint's name says which rule; the values (patient data) are not repeated.
    name = getattr(getattr(error, "__cause__", None), "diag", None)
    rule = getattr(name, "constraint_name", None) or "a rule of the clinical record"
    return ImportRefused(
        [Problem("business-rule", "Bundle", f"The bundle breaks {rule}: nothing was written.")]
    )


def bundle_import(*, raw: bytes, token: models.ApiToken | None) -> ImportResult:
    """Import one bundle (see the module docstring). ``token`` is the calling system's token
    (None: the operator's command line). Raises ``PermissionDenied`` for a read-only token and
    ``ImportRefused`` for a bundle that is refused; nothing is written then."""
    if token is not None and not may_import(token):
        raise PermissionDenied("This token may read only: importing needs the import scope.")
    data = read_bundle(raw)
    reader = _Reader(data)
    referral = reader.read()
    if reader.problems:
        raise ImportRefused(reader.problems)
    try:
        with transaction.atomic():
            return _write(referral)
    except IntegrityError as error:
        raise _refuse_database_rule(error) from None


def _write(r: Referral) -> ImportResult:
    ignored = dict(sorted(r.ignored.items()))
    patient = _match_patient(r)
    patient_created = patient is None
    if patient is None:
        if not r.hospital_number:
            raise ImportRefused([Problem("required", "Bundle.entry.resource.identifier",
                                         "A new patient needs a hospital number.")])  # fmt: skip
        if r.date_of_birth and r.diagnosed_on and r.diagnosed_on < r.date_of_birth:
            raise ImportRefused([Problem("value", "Condition.onsetDateTime",
                                         "The diagnosis cannot precede the birth.")])  # fmt: skip
        patient = models.Patient.objects.create(
            hospital_number=r.hospital_number,
            nhs_number=r.nhs_number,
            family_name=r.family_name,
            given_name=r.given_name,
            date_of_birth=r.date_of_birth,
        )
    open_case = (
        models.Case.objects.filter(patient=patient)
        .exclude(stage=models.Stage.LEFT_PATHWAY)
        .order_by("-pk")
        .first()
    )
    if open_case is not None:
        return ImportResult(patient.pk, open_case.pk, open_case.reference, False, False, ignored)
    case = _write_case(r, patient)
    reminders_sync_for_case(case_id=case.pk)
    return ImportResult(patient.pk, case.pk, case.reference, patient_created, True, ignored)
