"""The controlled vocabulary of the pathway specification (sections A.1, A.2 and A.3).

Every enumeration is a `StrEnum`, so a member compares equal to its JSON string and serialises as
itself. Member order follows the specification's tables: output lists and alert lists are sorted
by that order, which keeps every answer deterministic.
"""

from enum import StrEnum

# ---------------------------------------------------------------------------------------------
# A.1 inputs
# ---------------------------------------------------------------------------------------------


class PrimarySite(StrEnum):
    CAECUM = "caecum"
    ASCENDING_COLON = "ascending_colon"
    HEPATIC_FLEXURE = "hepatic_flexure"
    TRANSVERSE_COLON = "transverse_colon"
    SPLENIC_FLEXURE = "splenic_flexure"
    DESCENDING_COLON = "descending_colon"
    SIGMOID_COLON = "sigmoid_colon"
    RECTOSIGMOID = "rectosigmoid"
    RECTUM = "rectum"
    UNKNOWN = "unknown"


class ReportedSidedness(StrEnum):
    """Sidedness as written on the referral: only ever compared, never decided on (R1)."""

    LEFT = "left"
    RIGHT = "right"


class MmrStatus(StrEnum):
    DMMR_MSI_H = "dmmr_msi_h"
    PMMR_MSS = "pmmr_mss"
    PENDING = "pending"
    NOT_TESTED = "not_tested"


class KrasStatus(StrEnum):
    WILD_TYPE = "wild_type"
    WILD_TYPE_EXON2_ONLY = "wild_type_exon2_only"
    MUTANT = "mutant"
    PENDING = "pending"
    NOT_TESTED = "not_tested"


class NrasStatus(StrEnum):
    WILD_TYPE = "wild_type"
    MUTANT = "mutant"
    PENDING = "pending"
    NOT_TESTED = "not_tested"


class BrafStatus(StrEnum):
    WILD_TYPE = "wild_type"
    MUTANT = "mutant"
    PENDING = "pending"
    NOT_TESTED = "not_tested"


class Her2Status(StrEnum):
    AMPLIFIED = "amplified"
    NOT_AMPLIFIED = "not_amplified"
    NOT_TESTED = "not_tested"


class PrimarySymptom(StrEnum):
    NONE = "none"
    OBSTRUCTION = "obstruction"
    IMPENDING_OBSTRUCTION = "impending_obstruction"
    BLEEDING = "bleeding"
    PERFORATION = "perforation"
    PAIN_TENESMUS = "pain_tenesmus"
    FISTULA = "fistula"


class ExtrahepaticDisease(StrEnum):
    NONE = "none"
    RESECTABLE = "resectable"
    UNRESECTABLE = "unresectable"


class HepatectomyExtent(StrEnum):
    MINOR = "minor"
    MAJOR = "major"


class Agent(StrEnum):
    FLUOROURACIL = "fluorouracil"
    CAPECITABINE = "capecitabine"
    OXALIPLATIN = "oxaliplatin"
    IRINOTECAN = "irinotecan"
    BEVACIZUMAB = "bevacizumab"
    CETUXIMAB = "cetuximab"
    PANITUMUMAB = "panitumumab"
    PEMBROLIZUMAB = "pembrolizumab"
    NIVOLUMAB = "nivolumab"
    IPILIMUMAB = "ipilimumab"
    ENCORAFENIB = "encorafenib"


class LiverSurgery(StrEnum):
    NONE = "none"
    ONE_STAGE_HEPATECTOMY = "one_stage_hepatectomy"
    TWO_STAGE_HEPATECTOMY = "two_stage_hepatectomy"


class PelvicRt(StrEnum):
    NONE = "none"
    SHORT_COURSE_5X5 = "short_course_5x5"
    LONG_COURSE_CRT = "long_course_crt"


class SurgeryUrgency(StrEnum):
    ELECTIVE = "elective"
    EMERGENCY = "emergency"


class SurgicalMargin(StrEnum):
    R0 = "r0"
    R1 = "r1"
    R2 = "r2"


class Backbone(StrEnum):
    FOLFOX = "folfox"
    CAPOX = "capox"
    FOLFIRI = "folfiri"
    FOLFOXIRI = "folfoxiri"


# ---------------------------------------------------------------------------------------------
# A.2 outputs
# ---------------------------------------------------------------------------------------------


class Sidedness(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    UNDETERMINED = "undetermined"


class RegimenFamily(StrEnum):
    PEMBROLIZUMAB = "pembrolizumab"
    FOLFOXIRI_BEVACIZUMAB = "folfoxiri_bevacizumab"
    DOUBLET_ANTI_EGFR = "doublet_anti_egfr"
    DOUBLET_BEVACIZUMAB = "doublet_bevacizumab"
    DOUBLET_CHEMOTHERAPY_PENDING_BIOMARKERS = "doublet_chemotherapy_pending_biomarkers"
    NO_INTENSIVE_THERAPY_MDT_REVIEW = "no_intensive_therapy_mdt_review"


class ConversionStatus(StrEnum):
    CONVERTED_RESECTABLE = "converted_resectable"
    NOT_RESECTABLE = "not_resectable"
    RESECTABILITY_UNCONFIRMED = "resectability_unconfirmed"


class HepatectomyStrategy(StrEnum):
    ONE_STAGE_HEPATECTOMY = "one_stage_hepatectomy"
    TWO_STAGE_HEPATECTOMY = "two_stage_hepatectomy"
    NOT_APPLICABLE = "not_applicable"


class SequencingOption(StrEnum):
    LIVER_FIRST = "liver_first"
    PRIMARY_FIRST_STAGED = "primary_first_staged"
    SYNCHRONOUS_RESECTION = "synchronous_resection"


class RecommendedSequence(StrEnum):
    LIVER_FIRST = "liver_first"
    PRIMARY_FIRST_STAGED = "primary_first_staged"
    NOT_APPLICABLE = "not_applicable"


class SymptomaticPrimaryOption(StrEnum):
    DEFUNCTIONING_STOMA = "defunctioning_stoma"
    COLORECTAL_STENT = "colorectal_stent"
    PRIMARY_RESECTION = "primary_resection"
    SHORT_COURSE_RT = "short_course_rt"
    ENDOSCOPIC_HAEMOSTASIS = "endoscopic_haemostasis"
    TRANSFUSION_SUPPORT = "transfusion_support"
    EMERGENCY_SURGERY = "emergency_surgery"


# ---------------------------------------------------------------------------------------------
# A.3 alert codes, and how an explanation is classed
# ---------------------------------------------------------------------------------------------


class Severity(StrEnum):
    HARD_STOP = "hard_stop"
    WARNING = "warning"
    INFO = "info"


class ExplanationKind(StrEnum):
    HARD_STOP = "hard_stop"
    WARNING = "warning"
    RECOMMENDATION = "recommendation"


class AlertCode(StrEnum):
    """Every A.3 code, hard stops first, each table in the specification's row order."""

    # Hard stops
    ANTI_EGFR_RAS_MUTANT = "ANTI_EGFR_RAS_MUTANT"
    ANTI_EGFR_RAS_UNKNOWN = "ANTI_EGFR_RAS_UNKNOWN"
    ANTI_EGFR_RIGHT_SIDED = "ANTI_EGFR_RIGHT_SIDED"
    ANTI_EGFR_SIDEDNESS_UNDETERMINED = "ANTI_EGFR_SIDEDNESS_UNDETERMINED"
    ANTI_EGFR_BRAF_V600E = "ANTI_EGFR_BRAF_V600E"
    DUAL_BIOLOGIC = "DUAL_BIOLOGIC"
    IMMUNOTHERAPY_NOT_INDICATED_PMMR = "IMMUNOTHERAPY_NOT_INDICATED_PMMR"
    IMMUNOTHERAPY_MMR_UNCONFIRMED = "IMMUNOTHERAPY_MMR_UNCONFIRMED"
    TRIPLET_NOT_APPROPRIATE = "TRIPLET_NOT_APPROPRIATE"
    BEV_SURGERY_INTERVAL_LT_6_WEEKS = "BEV_SURGERY_INTERVAL_LT_6_WEEKS"
    LONG_COURSE_CRT_UPFRONT = "LONG_COURSE_CRT_UPFRONT"
    DEBULKING_NOT_PERMITTED = "DEBULKING_NOT_PERMITTED"
    FLR_INADEQUATE = "FLR_INADEQUATE"
    EXTRAHEPATIC_DISEASE_UNRESECTABLE = "EXTRAHEPATIC_DISEASE_UNRESECTABLE"
    HPB_MDT_REVIEW_REQUIRED = "HPB_MDT_REVIEW_REQUIRED"
    LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION = "LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION"
    # Warnings
    MMR_STATUS_REQUIRED = "MMR_STATUS_REQUIRED"
    RAS_STATUS_REQUIRED = "RAS_STATUS_REQUIRED"
    BRAF_STATUS_REQUIRED = "BRAF_STATUS_REQUIRED"
    RAS_TESTING_INCOMPLETE_KRAS_EXON2_ONLY = "RAS_TESTING_INCOMPLETE_KRAS_EXON2_ONLY"
    SIDEDNESS_CONFLICT = "SIDEDNESS_CONFLICT"
    PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION = "PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION"
    PEMBROLIZUMAB_ECOG2_OUTSIDE_TRIAL = "PEMBROLIZUMAB_ECOG2_OUTSIDE_TRIAL"
    BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB = "BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB"
    ANTI_EGFR_BRAF_STATUS_UNKNOWN = "ANTI_EGFR_BRAF_STATUS_UNKNOWN"
    ANTI_EGFR_WITH_CAPECITABINE = "ANTI_EGFR_WITH_CAPECITABINE"
    HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE = "HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE"
    IMMUNOTHERAPY_PREFERRED_DMMR = "IMMUNOTHERAPY_PREFERRED_DMMR"
    TRIPLET_OUTSIDE_TRIBE_CRITERIA = "TRIPLET_OUTSIDE_TRIBE_CRITERIA"
    BEV_WITH_COLORECTAL_STENT = "BEV_WITH_COLORECTAL_STENT"
    BEV_CAUTION_BLEEDING_OR_PERFORATION = "BEV_CAUTION_BLEEDING_OR_PERFORATION"
    BEV_RECENT_EMERGENCY_SURGERY = "BEV_RECENT_EMERGENCY_SURGERY"
    FLR_BELOW_THRESHOLD_TWO_STAGE_OR_PVE = "FLR_BELOW_THRESHOLD_TWO_STAGE_OR_PVE"
    PET_CMR_RESECT_ORIGINAL_SITES = "PET_CMR_RESECT_ORIGINAL_SITES"
    PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED = "PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED"
    SIMULTANEOUS_MAJOR_HEPATECTOMY_AND_RECTAL_RESECTION = (
        "SIMULTANEOUS_MAJOR_HEPATECTOMY_AND_RECTAL_RESECTION"
    )
    SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS = "SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS"
    R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED = "R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED"
    R2_RESIDUAL_DISEASE_NOT_CURATIVE = "R2_RESIDUAL_DISEASE_NOT_CURATIVE"
    PREOP_CHEMO_EXCEEDS_6_MONTHS = "PREOP_CHEMO_EXCEEDS_6_MONTHS"


# The first warning row of A.3 splits the enumeration into its two tables.
_FIRST_WARNING = tuple(AlertCode).index(AlertCode.MMR_STATUS_REQUIRED)
HARD_STOP_CODES: tuple[AlertCode, ...] = tuple(AlertCode)[:_FIRST_WARNING]
WARNING_CODES: tuple[AlertCode, ...] = tuple(AlertCode)[_FIRST_WARNING:]

# ---------------------------------------------------------------------------------------------
# Value sets the rules share
# ---------------------------------------------------------------------------------------------

# R1: the transverse colon counts as right (conservative: right blocks anti-EGFR); the rectum is
# always left (C4, C26).
SITE_SIDEDNESS: dict[PrimarySite, Sidedness] = {
    PrimarySite.CAECUM: Sidedness.RIGHT,
    PrimarySite.ASCENDING_COLON: Sidedness.RIGHT,
    PrimarySite.HEPATIC_FLEXURE: Sidedness.RIGHT,
    PrimarySite.TRANSVERSE_COLON: Sidedness.RIGHT,
    PrimarySite.SPLENIC_FLEXURE: Sidedness.LEFT,
    PrimarySite.DESCENDING_COLON: Sidedness.LEFT,
    PrimarySite.SIGMOID_COLON: Sidedness.LEFT,
    PrimarySite.RECTOSIGMOID: Sidedness.LEFT,
    PrimarySite.RECTUM: Sidedness.LEFT,
    PrimarySite.UNKNOWN: Sidedness.UNDETERMINED,
}

ANTI_EGFR_AGENTS = frozenset({Agent.CETUXIMAB, Agent.PANITUMUMAB})
CHECKPOINT_INHIBITORS = frozenset({Agent.PEMBROLIZUMAB, Agent.NIVOLUMAB, Agent.IPILIMUMAB})
TRIPLET_AGENTS = frozenset({Agent.OXALIPLATIN, Agent.IRINOTECAN})  # FOLFOXIRI (A.1, X3)

MMR_UNRESOLVED = frozenset({MmrStatus.PENDING, MmrStatus.NOT_TESTED})
BRAF_UNRESOLVED = frozenset({BrafStatus.PENDING, BrafStatus.NOT_TESTED})
LIVER_SURGERY_PROPOSED = frozenset(  # L1
    {LiverSurgery.ONE_STAGE_HEPATECTOMY, LiverSurgery.TWO_STAGE_HEPATECTOMY}
)
BEV_BLEEDING_RISK_SYMPTOMS = frozenset({PrimarySymptom.BLEEDING, PrimarySymptom.PERFORATION})

# R12: options per symptom, in the order the specification lists them.
SYMPTOM_OPTIONS: dict[PrimarySymptom, tuple[SymptomaticPrimaryOption, ...]] = {
    PrimarySymptom.NONE: (),  # P2
    PrimarySymptom.OBSTRUCTION: (
        SymptomaticPrimaryOption.DEFUNCTIONING_STOMA,
        SymptomaticPrimaryOption.COLORECTAL_STENT,
        SymptomaticPrimaryOption.PRIMARY_RESECTION,
    ),
    PrimarySymptom.IMPENDING_OBSTRUCTION: (
        SymptomaticPrimaryOption.DEFUNCTIONING_STOMA,
        SymptomaticPrimaryOption.COLORECTAL_STENT,
        SymptomaticPrimaryOption.SHORT_COURSE_RT,
    ),
    PrimarySymptom.BLEEDING: (
        SymptomaticPrimaryOption.SHORT_COURSE_RT,
        SymptomaticPrimaryOption.ENDOSCOPIC_HAEMOSTASIS,
        SymptomaticPrimaryOption.TRANSFUSION_SUPPORT,
        SymptomaticPrimaryOption.PRIMARY_RESECTION,
    ),
    PrimarySymptom.PERFORATION: (SymptomaticPrimaryOption.EMERGENCY_SURGERY,),
    PrimarySymptom.PAIN_TENESMUS: (SymptomaticPrimaryOption.SHORT_COURSE_RT,),
    PrimarySymptom.FISTULA: (
        SymptomaticPrimaryOption.DEFUNCTIONING_STOMA,
        SymptomaticPrimaryOption.PRIMARY_RESECTION,
    ),
}
