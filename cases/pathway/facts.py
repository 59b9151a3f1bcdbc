"""`CaseFacts`: one case snapshot in the specification's A.1 vocabulary.

Each field carries its A.1 default. Where A.1 gives none, the default is `None` ("not given"),
except booleans, which default to `False` (G2); `r0_achievable` alone keeps `None` for "not
assessed". Numbers and dates are `None` when missing, and every comparison with a missing value is
false (G3).
"""

from dataclasses import dataclass, fields
from datetime import date

from .vocabulary import (
    Agent,
    Backbone,
    BrafStatus,
    ExtrahepaticDisease,
    HepatectomyExtent,
    Her2Status,
    KrasStatus,
    LiverSurgery,
    MmrStatus,
    NrasStatus,
    PelvicRt,
    PrimarySite,
    PrimarySymptom,
    ReportedSidedness,
    SurgeryUrgency,
    SurgicalMargin,
)


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """The inputs of A.1, in the specification's order."""

    age_years: int | None = None
    ecog: int | None = None
    primary_site: PrimarySite = PrimarySite.UNKNOWN
    sidedness_reported: ReportedSidedness | None = None
    mmr_msi_status: MmrStatus = MmrStatus.NOT_TESTED
    kras_status: KrasStatus = KrasStatus.NOT_TESTED
    nras_status: NrasStatus = NrasStatus.NOT_TESTED
    braf_v600e_status: BrafStatus = BrafStatus.NOT_TESTED
    her2_status: Her2Status = Her2Status.NOT_TESTED
    primary_symptom: PrimarySymptom = PrimarySymptom.NONE
    hpb_mdt_reviewed: bool = False
    r0_achievable: bool | None = None
    flr_percent_slv: float | None = None
    flr_segments_remaining: int | None = None
    extrahepatic_disease: ExtrahepaticDisease = ExtrahepaticDisease.NONE
    pet_complete_metabolic_response: bool = False
    combined_resection_technically_feasible: bool = False
    planned_hepatectomy_extent: HepatectomyExtent | None = None
    proposed_agents: frozenset[Agent] = frozenset()
    proposed_liver_surgery: LiverSurgery = LiverSurgery.NONE
    liver_biopsy_proposed: bool = False
    primary_resection_proposed: bool = False
    pelvic_rt_proposed: PelvicRt = PelvicRt.NONE
    liver_metastases_cleared: bool = False
    colorectal_stent_proposed: bool = False
    chemo_start_date: date | None = None
    last_reassessment_date: date | None = None
    last_bevacizumab_dose_date: date | None = None
    planned_surgery_date: date | None = None
    planned_surgery_urgency: SurgeryUrgency = SurgeryUrgency.ELECTIVE
    planned_surgery_includes_primary: bool = False
    scrt_completion_date: date | None = None
    surgical_margin: SurgicalMargin | None = None
    preop_chemo_months_given: float | None = None
    preop_backbone: Backbone | None = None


# The A.1 keys, in order: the JSON contract accepts exactly these.
FACT_KEYS: tuple[str, ...] = tuple(f.name for f in fields(CaseFacts))
