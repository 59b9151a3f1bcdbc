"""Is a bundle well formed FHIR, and does each resource satisfy the mCODE profile it claims?

Two layers:

1. Structure: the whole bundle is parsed with ``fhir.resources`` (its R4B models; the package has
   no R4 module, and R4B differs from R4 in nothing the resources here use). Every problem the
   parser finds is reported, with the element's path.
2. Profiles: one small, explicit checker per mCODE STU4 profile we claim in ``meta.profile``:
   the elements the profile (and the US Core profile under it) requires, and the bindings of the
   codes we use (required and enumerated value sets exactly; intensional SNOMED CT or LOINC
   hierarchies as the code systems they draw from, since checking a hierarchy needs a
   terminology server). This is not a generic StructureDefinition validator, on purpose.

Problems come back as ``Problem`` rows, which ``operation_outcome`` turns into a FHIR
``OperationOutcome`` listing all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from cases.interop import codes
from cases.pathway.labs import LAB_TEST_SPECS

# --- Problems and the OperationOutcome ---------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One issue: its FHIR issue type (``code``), where it is, and what is wrong, in words."""

    code: str
    expression: str
    diagnostics: str
    severity: str = "error"


def operation_outcome(problems: Iterable[Problem]) -> dict[str, Any]:
    issues = [
        {
            "severity": p.severity,
            "code": p.code,
            "diagnostics": p.diagnostics,
            **({"expression": [p.expression]} if p.expression else {}),
        }
        for p in problems
    ]
    return {"resourceType": "OperationOutcome", "issue": issues}


# --- Structure ---------------------------------------------------------------------------------


def _path(location: tuple[Any, ...]) -> str:
    parts = ["Bundle"]
    for item in location:
        if isinstance(item, int):
            parts[-1] += f"[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts)


def structure_problems(data: Any) -> list[Problem]:
    """Every problem ``fhir.resources`` finds when it parses ``data`` as an R4 Bundle."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        return [Problem("structure", "", "The body is not a FHIR Bundle (resourceType Bundle).")]
    try:
        Bundle.model_validate(data)
    except ValidationError as error:
        return [Problem("structure", _path(e["loc"]), f"{e['msg']}.") for e in error.errors()]
    except (ValueError, TypeError, RecursionError) as error:
        return [Problem("structure", "Bundle", f"The bundle cannot be read: {error}.")]
    return []


# --- Profiles ----------------------------------------------------------------------------------

# Bindings of codes we use, as (system, codes) or (system, None) for "any code of the system".
CONDITION_STATUS_TREND = {  # ConditionStatusTrendMaxVS (the max value set of the value)
    "268910001", "359746009", "271299001", "709137006", "550991000124107",
    "551001000124108", "103338009", "103337004", "399409002",
}  # fmt: skip
PROCEDURE_INTENT = {  # ProcedureIntentVS (enumerated)
    "373808002", "363676003", "399707004", "261004008", "129428001", "429892002",
    "360156006", "447295008",
}  # fmt: skip
US_CORE_CONDITION_CATEGORIES = {"problem-list-item", "health-concern", "encounter-diagnosis"}
# ICD-10-CM primary malignant neoplasms (PrimaryCancerDisorderVS) and secondary ones
# (SecondaryCancerDisorderVS: C77-C79, C7B).
PRIMARY_ICD10 = re.compile(r"^C(?!7[7-9]|7B)[0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
SECONDARY_ICD10 = re.compile(r"^C(7[7-9]|7B)(\.[0-9A-Z]{1,4})?$")
BODY_LOCATION_SYSTEMS = {codes.SNOMED, codes.ICDO3}  # CancerBodyLocationVS
TUMOUR_MARKER_CODES = {  # the TumorMarkerTestVS codes we use, and our documented extensions
    (c.system, c.code) for c in codes.MARKER_TEST.values()
} | {(codes.LAB_TEST[t].system, codes.LAB_TEST[t].code) for t in codes.BLOOD_TUMOUR_MARKERS}
# The UCUM unit each laboratory code of ours is reported in.
LAB_UCUM = {
    codes.LAB_TEST[test].code: codes.LAB_UNIT[spec.unit].code
    for test, spec in LAB_TEST_SPECS.items()
}


class _Check:
    """The problems of one resource, each with its path in the bundle."""

    def __init__(self, where: str, resource: dict[str, Any], index: Index) -> None:
        self.where = where
        self.resource = resource
        self.index = index
        self.problems: list[Problem] = []

    def add(self, element: str, message: str, code: str = "invariant") -> None:
        self.problems.append(Problem(code, f"{self.where}.{element}", message))

    def required(self, *elements: str) -> None:
        for element in elements:
            if self.resource.get(element) in (None, "", [], {}):
                self.add(element, f"{element} is required by the profile.", "required")

    def one_of(self, element: str, *choices: str) -> None:
        if not any(self.resource.get(c) not in (None, "", [], {}) for c in choices):
            self.add(element, f"{element} is required by the profile.", "required")

    def not_used(self, *elements: str) -> None:
        for element in elements:
            if element in self.resource:
                self.add(element, f"{element} is not used in this profile.", "invariant")

    def subject_is_patient(self) -> None:
        target = self.index.target(self.resource.get("subject"))
        if target is None or target.get("resourceType") != "Patient":
            self.add("subject", "subject must reference the bundle's Patient.", "required")

    def coded(self, element: str, concept: Any, allowed: Callable[[dict[str, Any]], bool]) -> None:
        codings = (concept or {}).get("coding") or []
        if not any(allowed(c) for c in codings):
            found = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings) or "none"
            self.add(element, f"{element} has no code from the bound value set ({found}).",
                     "code-invalid")  # fmt: skip

    def intent(self) -> None:
        for ext in self.resource.get("extension") or []:
            if ext.get("url") == codes.EXTENSIONS["treatment_intent"]:
                self.coded(
                    "extension[treatmentIntent]",
                    ext.get("valueCodeableConcept"),
                    lambda c: c.get("system") == codes.SNOMED and c.get("code") in PROCEDURE_INTENT,
                )

    def reason(self) -> None:
        if not (self.resource.get("reasonCode") or self.resource.get("reasonReference")):
            self.add("reasonReference", "One of reasonCode or reasonReference is required "
                     "(mcode-reason-required).", "required")  # fmt: skip


class Index:
    """The bundle's resources by fullUrl, to resolve references."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.by_url = {e.get("fullUrl"): e.get("resource") or {} for e in bundle.get("entry") or []}

    def target(self, reference: Any) -> dict[str, Any] | None:
        if not isinstance(reference, dict):
            return None
        return self.by_url.get(reference.get("reference"))


def _is(system: str, code: str | None = None) -> Callable[[dict[str, Any]], bool]:
    return lambda c: c.get("system") == system and (code is None or c.get("code") == code)


def _patient(c: _Check) -> None:
    c.required("identifier", "name", "gender")
    for i, identifier in enumerate(c.resource.get("identifier") or []):
        if not identifier.get("system") or not identifier.get("value"):
            c.add(f"identifier[{i}]", "Each identifier needs a system and a value.", "required")
    for i, name in enumerate(c.resource.get("name") or []):
        if not name.get("family") and not name.get("given"):
            c.add(f"name[{i}]", "A name needs a family or a given name (us-core-6).", "required")


def _condition(c: _Check, pattern: re.Pattern[str]) -> None:
    c.required("clinicalStatus", "verificationStatus", "category", "code")
    c.subject_is_patient()
    for i, category in enumerate(c.resource.get("category") or []):
        c.coded(
            f"category[{i}]",
            category,
            lambda x: (
                x.get("system") == codes.CONDITION_CATEGORY
                and x.get("code") in US_CORE_CONDITION_CATEGORIES
            ),
        )
    c.coded(
        "code",
        c.resource.get("code"),
        lambda x: x.get("system") == codes.ICD10CM and bool(pattern.match(x.get("code") or "")),
    )
    for i, site in enumerate(c.resource.get("bodySite") or []):
        c.coded(f"bodySite[{i}]", site, lambda x: x.get("system") in BODY_LOCATION_SYSTEMS)


ICDO3_MORPHOLOGY = re.compile(r"^[89][0-9]{3}/[0-369]$")


def _primary(c: _Check) -> None:
    _condition(c, PRIMARY_ICD10)
    for ext in c.resource.get("extension") or []:
        if ext.get("url") != codes.EXTENSIONS["histology"]:
            continue
        # HistologyMorphologyBehaviorVS (extensible): an ICD-O-3 morphology is code/behaviour.
        for coding in (ext.get("valueCodeableConcept") or {}).get("coding") or []:
            if coding.get("system") == codes.ICDO3 and not ICDO3_MORPHOLOGY.match(
                coding.get("code") or ""
            ):
                c.add("extension[histologyMorphologyBehavior]",
                      "An ICD-O-3 morphology is written NNNN/B.", "code-invalid")  # fmt: skip


def _secondary(c: _Check) -> None:
    _condition(c, SECONDARY_ICD10)
    c.not_used("stage")
    for ext in c.resource.get("extension") or []:
        if ext.get("url") == codes.EXTENSIONS["related_primary"]:
            target = c.index.target(ext.get("valueReference"))
            profiles = ((target or {}).get("meta") or {}).get("profile") or []
            if codes.PROFILES["primary"] not in profiles:
                c.add("extension[relatedPrimaryCancerCondition]",
                      "must reference a PrimaryCancerCondition.", "invariant")  # fmt: skip


def _tumour_marker(c: _Check) -> None:
    c.required("status", "category", "code")
    c.subject_is_patient()
    c.one_of("effective[x]", "effectiveDateTime", "effectivePeriod")
    c.one_of("value[x]", "valueQuantity", "valueRatio", "valueString", "valueCodeableConcept")
    for key in ("valueBoolean", "valueInteger", "valueRange", "valueDateTime", "valuePeriod"):
        if key in c.resource:
            c.add(key, "value[x] is only Quantity, Ratio, string or CodeableConcept.", "value")
    if not any(
        any(_is(codes.OBSERVATION_CATEGORY, "laboratory")(x) for x in cat.get("coding") or [])
        for cat in c.resource.get("category") or []
    ):
        c.add("category", "A laboratory result carries the category laboratory.", "required")
    c.coded(
        "code",
        c.resource.get("code"),
        lambda x: (x.get("system"), x.get("code")) in TUMOUR_MARKER_CODES,
    )
    _lab_unit(c)


def _lab_unit(c: _Check) -> None:
    """A laboratory result of ours is in its UCUM unit (CEA in ng/mL and so on)."""
    for coding in (c.resource.get("code") or {}).get("coding") or []:
        expected = LAB_UCUM.get(coding.get("code")) if coding.get("system") == codes.LOINC else None
        if expected is None:
            continue
        quantity = c.resource.get("valueQuantity") or {}
        if quantity.get("system") != codes.UCUM or quantity.get("code") != expected:
            c.add("valueQuantity", f"{coding.get('display') or coding.get('code')} is reported "
                  f"in {expected} (UCUM).", "value")  # fmt: skip


def _ecog(c: _Check) -> None:
    c.required("status", "code", "valueInteger")
    c.subject_is_patient()
    c.coded("code", c.resource.get("code"), _is(codes.ECOG.system, codes.ECOG.code))
    value = c.resource.get("valueInteger")
    if isinstance(value, int) and not 0 <= value <= 5:
        c.add("valueInteger", "An ECOG score is 0 to 5.", "value")
    c.not_used("bodySite", "specimen", "device", "hasMember", "component")


def _disease_status(c: _Check) -> None:
    c.required("status", "code", "effectiveDateTime", "valueCodeableConcept")
    c.subject_is_patient()
    c.not_used("specimen", "device", "referenceRange", "hasMember", "component")
    c.coded(
        "code", c.resource.get("code"), _is(codes.DISEASE_STATUS.system, codes.DISEASE_STATUS.code)
    )
    c.coded(
        "valueCodeableConcept",
        c.resource.get("valueCodeableConcept"),
        lambda x: x.get("system") == codes.SNOMED and x.get("code") in CONDITION_STATUS_TREND,
    )
    for ext in c.resource.get("extension") or []:
        if ext.get("url") == codes.EXTENSIONS["evidence_type"]:
            # Required binding to SNOMED CT hierarchies; we use the root "Imaging (procedure)".
            c.coded("extension[evidenceType]", ext.get("valueCodeableConcept"), _is(codes.SNOMED))


def _medication(c: _Check) -> None:
    c.required("status", "medicationCodeableConcept")
    c.subject_is_patient()
    c.coded(
        "medicationCodeableConcept",
        c.resource.get("medicationCodeableConcept"),
        lambda x: x.get("system") in (codes.RXNORM, codes.SNOMED),
    )
    c.reason()
    c.intent()


def _medication_request(c: _Check) -> None:
    _medication(c)
    c.required("intent", "requester", "authoredOn")


def _medication_administration(c: _Check) -> None:
    _medication(c)
    c.one_of("effective[x]", "effectiveDateTime", "effectivePeriod")


def _procedure(c: _Check) -> None:
    c.required("status", "code")
    c.subject_is_patient()
    c.reason()
    c.intent()
    if c.resource.get("status") in ("completed", "in-progress") and not (
        c.resource.get("performedDateTime") or c.resource.get("performedPeriod")
    ):
        c.add("performed[x]", "A completed or ongoing procedure says when (us-core-7).", "required")


def _radiotherapy(c: _Check) -> None:
    _procedure(c)
    c.coded(
        "code",
        c.resource.get("code"),
        _is(codes.RADIOTHERAPY_COURSE.system, codes.RADIOTHERAPY_COURSE.code),
    )
    if "performedDateTime" in c.resource:
        c.add("performedDateTime", "A radiotherapy course is performed over a Period.", "value")


# The LOINC staging types each TNM profile allows (mCODE STU4: ObservationCodes... value sets;
# the later SNOMED CT types are not used here).
TNM_TYPES = {
    "T": {"21905-5", "21899-0", "21911-3"},
    "N": {"21906-3", "21900-6", "21912-1"},
    "M": {"21907-1", "21901-4", "21913-9"},
    "stage": {"21908-9", "21902-2", "21914-7"},
}
TNM_METHODS = {"444256004", "443830009", "897275008", "1269566009"}  # TNMStagingMethodVS


def _tnm(c: _Check, part: str) -> None:
    c.required("status", "code", "effectiveDateTime", "valueCodeableConcept", "method")
    c.subject_is_patient()
    c.not_used("device", "referenceRange", "component")
    if part != "stage":
        c.not_used("hasMember")
    c.coded(
        "code",
        c.resource.get("code"),
        lambda x: x.get("system") == codes.LOINC and x.get("code") in TNM_TYPES[part],
    )
    c.coded(
        "method",
        c.resource.get("method"),
        lambda x: x.get("system") == codes.SNOMED and x.get("code") in TNM_METHODS,
    )
    focus = c.resource.get("focus") or []
    if part == "stage" and len(focus) != 1:
        c.add("focus", "A stage group has exactly one focus (the primary).", "required")
    for i, reference in enumerate(focus):
        target = c.index.target(reference)
        profiles = ((target or {}).get("meta") or {}).get("profile") or []
        if codes.PROFILES["primary"] not in profiles:
            c.add(f"focus[{i}]", "focus must reference a PrimaryCancerCondition.", "invariant")
    for i, reference in enumerate(c.resource.get("hasMember") or []):
        target = c.index.target(reference)
        profiles = set(((target or {}).get("meta") or {}).get("profile") or [])
        if not profiles & {codes.PROFILES[p] for p in ("tnm_t", "tnm_n", "tnm_m")}:
            c.add(f"hasMember[{i}]", "A member is a TNM category Observation.", "invariant")


CHECKERS: dict[str, Callable[[_Check], None]] = {
    codes.PROFILES["patient"]: _patient,
    codes.PROFILES["primary"]: _primary,
    codes.PROFILES["secondary"]: _secondary,
    codes.PROFILES["tumour_marker"]: _tumour_marker,
    codes.PROFILES["ecog"]: _ecog,
    codes.PROFILES["disease_status"]: _disease_status,
    codes.PROFILES["medication_request"]: _medication_request,
    codes.PROFILES["medication_administration"]: _medication_administration,
    codes.PROFILES["surgery"]: _procedure,
    codes.PROFILES["radiotherapy"]: _radiotherapy,
    codes.PROFILES["tnm_t"]: lambda c: _tnm(c, "T"),
    codes.PROFILES["tnm_n"]: lambda c: _tnm(c, "N"),
    codes.PROFILES["tnm_m"]: lambda c: _tnm(c, "M"),
    codes.PROFILES["tnm_stage_group"]: lambda c: _tnm(c, "stage"),
}


def _references(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def profile_problems(bundle: dict[str, Any]) -> list[Problem]:
    """The problems of each resource against the mCODE profiles it claims, and any reference
    that does not resolve inside the bundle (a collection must be self-contained)."""
    index = Index(bundle)
    problems: list[Problem] = []
    urls = [e.get("fullUrl") for e in bundle.get("entry") or []]
    if len(urls) != len(set(urls)):
        problems.append(Problem("duplicate", "Bundle.entry", "Two entries share a fullUrl."))
    for i, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") or {}
        where = f"Bundle.entry[{i}].resource"
        for reference in _references(resource):
            if reference not in index.by_url:
                problems.append(
                    Problem("not-found", where, f"The reference {reference} is not in the bundle.")
                )
        profiles = (resource.get("meta") or {}).get("profile") or []
        if resource.get("resourceType") == "Observation" and not profiles:
            check = _Check(where, resource, index)
            _lab_unit(check)  # bloods claim no profile; their unit is still ours to check
            problems += check.problems
        for profile in profiles:
            checker = CHECKERS.get(profile)
            if checker is None:
                problems.append(
                    Problem("not-supported", f"{where}.meta.profile", f"Unknown profile {profile}.")
                )
                continue
            check = _Check(where, resource, index)
            checker(check)
            problems += check.problems
    return problems


def bundle_problems(data: Any) -> list[Problem]:
    """Structure first; the profile checks only run on a bundle that parses."""
    return structure_problems(data) or profile_problems(data)
