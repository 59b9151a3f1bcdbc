"""Every alert code and every recommendation value, with its severity, a plain-language
explanation and its citations (section C source ids `C<n>`, seed statement ids `D<n>`).

`CODES` lists the A.3 alert codes in table order; `RECOMMENDATIONS` lists the recommendation
entries, keyed `"<output>:<value>"` for enumerated and boolean outputs and `"<output>"` for dates
and numbers. The meeting screen can iterate both to render a legend.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .vocabulary import (
    HARD_STOP_CODES,
    AlertCode,
    ConversionStatus,
    ExplanationKind,
    HepatectomyStrategy,
    RecommendedSequence,
    RegimenFamily,
    SequencingOption,
    Severity,
    Sidedness,
    SymptomaticPrimaryOption,
)


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One explainable item. `beyond_seed` is A.3's column ("no", "yes", "partly") for alerts and
    None for recommendations; `rule` names the section-E rule that produces it."""

    code: str
    kind: ExplanationKind
    severity: Severity
    rule: str
    text: str
    citations: tuple[str, ...]
    beyond_seed: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The explanation object of the F contract."""
        return {
            "code": self.code,
            "kind": str(self.kind),
            "severity": str(self.severity),
            "text": self.text,
            "citations": list(self.citations),
        }


def _alert(
    code: AlertCode, rule: str, beyond_seed: str, text: str, *citations: str
) -> CatalogueEntry:
    hard = code in HARD_STOP_CODES
    return CatalogueEntry(
        code=str(code),
        kind=ExplanationKind.HARD_STOP if hard else ExplanationKind.WARNING,
        severity=Severity.HARD_STOP if hard else Severity.WARNING,
        rule=rule,
        text=text,
        citations=citations,
        beyond_seed=beyond_seed,
    )


def _rec(code: str, rule: str, text: str, *citations: str) -> CatalogueEntry:
    return CatalogueEntry(
        code=code,
        kind=ExplanationKind.RECOMMENDATION,
        severity=Severity.INFO,
        rule=rule,
        text=text,
        citations=citations,
    )


A = AlertCode

_ALERTS = (
    # --- Hard stops -------------------------------------------------------------------------
    _alert(
        A.ANTI_EGFR_RAS_MUTANT,
        "R6",
        "no",
        "Cetuximab or panitumumab is proposed but the tumour carries a KRAS or NRAS mutation. "
        "These antibodies do not work in RAS-mutant disease and, given with oxaliplatin, can "
        "shorten survival. Choose a bevacizumab-based regimen instead.",
        "D7",
        "D4",
        "C31",
        "C7",
        "C1",
    ),
    _alert(
        A.ANTI_EGFR_RAS_UNKNOWN,
        "R6",
        "yes",
        "An anti-EGFR antibody is proposed before RAS is known to be wild-type on extended "
        "testing (KRAS and NRAS, exons 2, 3 and 4). A pending result, no test, or a KRAS exon 2 "
        "result alone is not enough: wait for the full panel.",
        "D7",
        "D21",
        "C1",
        "C2",
        "C7",
    ),
    _alert(
        A.ANTI_EGFR_RIGHT_SIDED,
        "R6",
        "no",
        "An anti-EGFR antibody is proposed for a right-sided primary, where it gives no benefit "
        "over bevacizumab-based treatment. The only exception is encorafenib with cetuximab for "
        "BRAF V600E disease.",
        "D4",
        "D5",
        "C3",
        "C26",
        "C19",
    ),
    _alert(
        A.ANTI_EGFR_SIDEDNESS_UNDETERMINED,
        "R6",
        "yes",
        "An anti-EGFR antibody is proposed but the primary site is unknown, so the side cannot "
        "be derived. Record the primary site first (encorafenib with cetuximab for BRAF V600E "
        "is exempt).",
        "D22",
        "D4",
        "C3",
        "C26",
    ),
    _alert(
        A.ANTI_EGFR_BRAF_V600E,
        "R6",
        "no",
        "An anti-EGFR antibody is proposed for BRAF V600E-mutant disease without encorafenib. "
        "On its own the antibody works poorly here; the proven combination adds encorafenib.",
        "D4",
        "D6",
        "C3",
        "C19",
    ),
    _alert(
        A.DUAL_BIOLOGIC,
        "R6",
        "yes",
        "Bevacizumab and an anti-EGFR antibody are proposed together. Trials of the pair showed "
        "more toxicity and worse outcomes than either alone; choose one biologic.",
        "C31",
    ),
    _alert(
        A.IMMUNOTHERAPY_NOT_INDICATED_PMMR,
        "R6",
        "yes",
        "A checkpoint inhibitor is proposed for mismatch-repair proficient (MSS) disease, "
        "which does not respond to it. Its use is limited to dMMR/MSI-H tumours.",
        "D3",
        "C17",
        "C3",
    ),
    _alert(
        A.IMMUNOTHERAPY_MMR_UNCONFIRMED,
        "R6",
        "no",
        "A checkpoint inhibitor is proposed while MMR/MSI status is pending or untested. Confirm "
        "dMMR/MSI-H before starting immunotherapy.",
        "D3",
        "D22",
        "C17",
        "C3",
    ),
    _alert(
        A.TRIPLET_NOT_APPROPRIATE,
        "R2",
        "yes",
        "Oxaliplatin and irinotecan together (FOLFOXIRI) are proposed for a patient with ECOG 2 "
        "or worse, or older than 75. The triplet was only tested in fit patients and its "
        "toxicity outweighs the gain here; use a doublet.",
        "D6",
        "C16",
        "C3",
    ),
    _alert(
        A.BEV_SURGERY_INTERVAL_LT_6_WEEKS,
        "R10",
        "no",
        "Elective surgery is planned less than 6 weeks (42 days) after the last bevacizumab "
        "dose. Bevacizumab impairs wound healing; move the operation to the earliest elective "
        "date or later.",
        "D27",
        "C5",
        "C9",
        "C24",
    ),
    _alert(
        A.LONG_COURSE_CRT_UPFRONT,
        "R8",
        "no",
        "Long-course chemoradiotherapy is proposed while liver metastases are still in place. "
        "It would delay full-dose systemic treatment, which controls the disease that threatens "
        "life; use short-course RT if the pelvis needs treatment now.",
        "D23",
        "D16",
        "C9",
        "C4",
    ),
    _alert(
        A.DEBULKING_NOT_PERMITTED,
        "R7",
        "no",
        "Liver surgery is proposed although the HPB MDT judged that not all disease can be "
        "removed with clear margins. Incomplete (debulking) liver resection does not help and "
        "is not done.",
        "D24",
        "D9",
        "C8",
    ),
    _alert(
        A.FLR_INADEQUATE,
        "R7",
        "partly",
        "The planned liver resection would leave too little liver: fewer than two contiguous "
        "segments with their own blood supply and drainage, or, for a one-stage operation, a "
        "remnant below the volume threshold. Liver failure is the risk.",
        "D9",
        "D18",
        "C8",
        "C31",
    ),
    _alert(
        A.EXTRAHEPATIC_DISEASE_UNRESECTABLE,
        "R7",
        "no",
        "Liver surgery is proposed while disease outside the liver cannot be removed. The aim "
        "of resection is to clear all visible disease, which is not possible here.",
        "D9",
        "C8",
    ),
    _alert(
        A.HPB_MDT_REVIEW_REQUIRED,
        "R7",
        "no",
        "Liver surgery is proposed without review by a specialist hepatobiliary (HPB) MDT. "
        "Resectability must be judged by that team first.",
        "D28",
        "C8",
        "C28",
    ),
    _alert(
        A.LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION,
        "R7",
        "no",
        "A liver biopsy is proposed without discussion with the HPB MDT. A needle can seed "
        "tumour along its track and may spoil a later curative resection.",
        "D25",
        "C8",
    ),
    # --- Warnings ---------------------------------------------------------------------------
    _alert(
        A.MMR_STATUS_REQUIRED,
        "R3",
        "no",
        "MMR/MSI status is pending or not tested. It decides whether immunotherapy is the first "
        "choice, so the regimen stays provisional until it is known.",
        "D21",
        "D22",
        "D3",
        "C3",
        "C7",
    ),
    _alert(
        A.RAS_STATUS_REQUIRED,
        "R3",
        "no",
        "RAS status is not confirmed: KRAS and NRAS must both be tested across exons 2, 3 and 4 "
        "before an anti-EGFR antibody can be considered.",
        "D21",
        "D7",
        "C1",
        "C2",
        "C7",
    ),
    _alert(
        A.BRAF_STATUS_REQUIRED,
        "R3",
        "no",
        "BRAF V600E status is pending or not tested. It changes both prognosis and the choice "
        "of targeted treatment.",
        "D21",
        "D22",
        "C7",
        "C3",
    ),
    _alert(
        A.RAS_TESTING_INCOMPLETE_KRAS_EXON2_ONLY,
        "B1",
        "yes",
        "KRAS was reported wild-type on exon 2 only. Mutations elsewhere in KRAS or in NRAS "
        "also predict no benefit from anti-EGFR treatment, so RAS counts as unknown until the "
        "extended panel is done.",
        "D7",
        "D21",
        "C1",
        "C2",
        "C6",
    ),
    _alert(
        A.SIDEDNESS_CONFLICT,
        "R1",
        "yes",
        "The side written on the referral differs from the side derived from the primary site. "
        "The derived side is used; check the recorded primary site.",
        "D22",
        "C26",
        "C4",
    ),
    _alert(
        A.PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION,
        "R3",
        "yes",
        "ECOG performance status is 3 or worse. Intensive conversion chemotherapy is unlikely "
        "to be tolerated; the MDT should review the goals of care.",
        "D29",
        "C1",
        "C3",
    ),
    _alert(
        A.PEMBROLIZUMAB_ECOG2_OUTSIDE_TRIAL,
        "R3",
        "yes",
        "Pembrolizumab is recommended for dMMR disease, but the trial that established it only "
        "enrolled patients with ECOG 0–1; at ECOG 2 the benefit is extrapolated.",
        "D3",
        "C17",
    ),
    _alert(
        A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB,
        "R3",
        "yes",
        "The tumour is BRAF V600E-mutant. Encorafenib with cetuximab and FOLFOX is now an "
        "approved first-line option that improved survival; consider it instead of the default "
        "bevacizumab-based regimen.",
        "D6",
        "C19",
    ),
    _alert(
        A.ANTI_EGFR_BRAF_STATUS_UNKNOWN,
        "R6",
        "yes",
        "An anti-EGFR antibody is proposed while BRAF V600E status is unknown. The licence does "
        "not require it, but a BRAF mutation changes the best combination.",
        "D21",
        "D7",
        "C7",
        "C3",
    ),
    _alert(
        A.ANTI_EGFR_WITH_CAPECITABINE,
        "R6",
        "yes",
        "An anti-EGFR antibody is proposed with capecitabine. Trials pairing them with oral "
        "fluoropyrimidine showed no benefit; infusional 5-FU (FOLFOX or FOLFIRI) is the partner.",
        "D2",
        "C31",
        "C7",
    ),
    _alert(
        A.HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE,
        "R6",
        "yes",
        "The tumour is HER2-amplified, which makes anti-EGFR treatment less likely to work.",
        "D21",
        "C3",
    ),
    _alert(
        A.IMMUNOTHERAPY_PREFERRED_DMMR,
        "R6",
        "yes",
        "The tumour is dMMR/MSI-H, yet the agents proposed include no checkpoint inhibitor. "
        "First-line immunotherapy outperformed chemotherapy in this group.",
        "D3",
        "C17",
        "C18",
    ),
    _alert(
        A.TRIPLET_OUTSIDE_TRIBE_CRITERIA,
        "R2",
        "yes",
        "FOLFOXIRI is proposed for a patient aged 71–75 with ECOG 1. The trial admitted this "
        "age group only at ECOG 0, so the benefit is uncertain and toxicity higher.",
        "D6",
        "C16",
    ),
    _alert(
        A.BEV_WITH_COLORECTAL_STENT,
        "R6",
        "yes",
        "Bevacizumab is proposed together with a colorectal stent. Anti-angiogenic treatment "
        "raises the risk of perforation around a stent; prefer a stoma if bevacizumab is "
        "planned.",
        "D14",
        "C25",
    ),
    _alert(
        A.BEV_CAUTION_BLEEDING_OR_PERFORATION,
        "R6",
        "yes",
        "Bevacizumab is proposed while the primary is bleeding or perforated. The drug itself "
        "raises the risk of bleeding and perforation; weigh this, and consider controlling the "
        "primary before starting it.",
        "D14",
        "C24",
    ),
    _alert(
        A.BEV_RECENT_EMERGENCY_SURGERY,
        "R10",
        "yes",
        "Emergency surgery falls within 42 days of the last bevacizumab dose. It cannot wait, "
        "but expect more wound-healing and bleeding complications.",
        "D27",
        "C24",
        "C5",
    ),
    _alert(
        A.FLR_BELOW_THRESHOLD_TWO_STAGE_OR_PVE,
        "R7",
        "yes",
        "All disease can be cleared, but in one operation the liver remnant would be below the "
        "volume threshold. Plan a two-stage hepatectomy, with portal vein embolisation to grow "
        "the remnant if needed.",
        "D18",
        "D9",
        "C8",
        "C31",
        "C28",
    ),
    _alert(
        A.PET_CMR_RESECT_ORIGINAL_SITES,
        "R7",
        "no",
        "PET shows a complete metabolic response. Most such sites still hold tumour, so the "
        "resection must follow the original (baseline) extent of disease.",
        "D26",
        "C15",
    ),
    _alert(
        A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED,
        "R8",
        "no",
        "Surgery or pelvic radiotherapy is proposed for an asymptomatic primary while the "
        "metastases are not resectable. Systemic treatment comes first; few asymptomatic "
        "primaries later need an operation.",
        "D1",
        "D11",
        "C2",
        "C22",
        "C23",
    ),
    _alert(
        A.SIMULTANEOUS_MAJOR_HEPATECTOMY_AND_RECTAL_RESECTION,
        "R13",
        "yes",
        "A simultaneous resection is feasible, but the liver part would be a major hepatectomy. "
        "Combining a major liver resection with rectal surgery adds risk; consider staging the "
        "operations.",
        "D20",
        "C28",
        "C27",
    ),
    _alert(
        A.SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS,
        "R11",
        "no",
        "Surgery on the primary is planned more than 6 months after short-course radiotherapy, "
        "longer than the interval the evidence supports.",
        "D12",
        "C9",
    ),
    _alert(
        A.R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED,
        "R14",
        "no",
        "The resection margin was R1 (microscopically involved). Post-operative chemotherapy is "
        "strongly recommended.",
        "D31",
        "D30",
    ),
    _alert(
        A.R2_RESIDUAL_DISEASE_NOT_CURATIVE,
        "R14",
        "yes",
        "The margin was R2: visible disease was left behind, so the operation was not curative. "
        "Continue treatment as for metastatic disease.",
        "D24",
        "D30",
        "C8",
    ),
    _alert(
        A.PREOP_CHEMO_EXCEEDS_6_MONTHS,
        "R14",
        "yes",
        "More than 6 months of chemotherapy were given before surgery. This exceeds the usual "
        "perioperative total, and long courses of oxaliplatin or irinotecan can injure the "
        "liver before a resection.",
        "D30",
        "C5",
        "C21",
    ),
)

CODES: Mapping[AlertCode, CatalogueEntry] = MappingProxyType(
    {AlertCode(entry.code): entry for entry in _ALERTS}
)


def _key(output: str, value: object) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"{output}:{value}"


_REG = RegimenFamily
_SEQ = SequencingOption
_OPT = SymptomaticPrimaryOption

_RECOMMENDATIONS = (
    # R1
    _rec(
        _key("sidedness", Sidedness.LEFT),
        "R1",
        "The primary is left-sided (splenic flexure to rectum). A rectal primary is always "
        "left-sided.",
        "D22",
        "D4",
        "C26",
        "C4",
    ),
    _rec(
        _key("sidedness", Sidedness.RIGHT),
        "R1",
        "The primary is right-sided (caecum to transverse colon; the whole transverse colon is "
        "counted as right, the cautious choice for anti-EGFR decisions).",
        "D22",
        "C26",
    ),
    _rec(
        _key("sidedness", Sidedness.UNDETERMINED),
        "R1",
        "The primary site is unknown, so the side cannot be derived.",
        "D22",
        "C26",
    ),
    # R2
    _rec(
        _key("triplet_eligible", True),
        "R2",
        "Fit enough for FOLFOXIRI by the trial's criteria: age up to 70 with ECOG 0–1, or age "
        "71–75 with ECOG 0.",
        "D6",
        "C16",
    ),
    _rec(
        _key("triplet_eligible", False),
        "R2",
        "Not eligible for FOLFOXIRI: age or ECOG is outside the trial's criteria, or one of "
        "them is not recorded.",
        "D6",
        "C16",
    ),
    # R3–R5
    _rec(
        _key("recommended_regimen_family", _REG.PEMBROLIZUMAB),
        "R3",
        "dMMR/MSI-H disease: first-line pembrolizumab, whatever the RAS, BRAF or side. Keep the "
        "2-monthly reassessment, because some tumours progress early on immunotherapy.",
        "D3",
        "C17",
        "C18",
    ),
    _rec(
        _key("recommended_regimen_family", _REG.FOLFOXIRI_BEVACIZUMAB),
        "R4",
        "FOLFOXIRI with bevacizumab: the most active conversion regimen for RAS- or BRAF-mutant "
        "or right-sided disease, for a patient fit enough for the triplet.",
        "D6",
        "D5",
        "C16",
        "C3",
    ),
    _rec(
        _key("recommended_regimen_family", _REG.DOUBLET_ANTI_EGFR),
        "R4",
        "FOLFOX or FOLFIRI with cetuximab or panitumumab: for left-sided, MMR-proficient "
        "tumours that are wild-type for KRAS, NRAS and BRAF.",
        "D4",
        "D7",
        "C3",
        "C7",
    ),
    _rec(
        _key("recommended_regimen_family", _REG.DOUBLET_BEVACIZUMAB),
        "R4",
        "FOLFOX, CAPOX or FOLFIRI with bevacizumab: for RAS- or BRAF-mutant or right-sided "
        "disease when the patient is not fit for the triplet.",
        "D5",
        "D6",
        "C3",
        "C2",
    ),
    _rec(
        _key("recommended_regimen_family", _REG.DOUBLET_CHEMOTHERAPY_PENDING_BIOMARKERS),
        "R5",
        "Start doublet chemotherapy (FOLFOX or FOLFIRI) without a biologic while biomarker "
        "results are outstanding; add the right biologic once they arrive.",
        "D1",
        "D2",
        "D21",
        "C2",
    ),
    _rec(
        _key("recommended_regimen_family", _REG.NO_INTENSIVE_THERAPY_MDT_REVIEW),
        "R3",
        "Performance status is too poor for intensive treatment: the MDT should decide on "
        "goals of care rather than a conversion regimen.",
        "D29",
        "C1",
        "C3",
    ),
    _rec(
        _key("regimen_provisional", True),
        "B2",
        "The regimen is provisional: MMR, RAS or BRAF results are still outstanding and may "
        "change it.",
        "D21",
        "C7",
        "C3",
    ),
    _rec(
        _key("regimen_provisional", False),
        "B2",
        "The results this recommendation rests on are known, so it is not provisional.",
        "D21",
        "D22",
    ),
    # R7
    _rec(
        _key("conversion_status", ConversionStatus.CONVERTED_RESECTABLE),
        "R7",
        "The HPB MDT judges that all disease can be removed with clear margins and enough "
        "liver would remain: the metastases have converted to resectable.",
        "D9",
        "D28",
        "C8",
    ),
    _rec(
        _key("conversion_status", ConversionStatus.NOT_RESECTABLE),
        "R7",
        "Not resectable: clear margins are not judged achievable, extrahepatic disease cannot "
        "be removed, or too few liver segments would remain. Continue systemic treatment and "
        "reassess.",
        "D9",
        "D24",
        "C8",
    ),
    _rec(
        _key("conversion_status", ConversionStatus.RESECTABILITY_UNCONFIRMED),
        "R7",
        "Clear margins look achievable, but a specialist HPB MDT has not yet confirmed "
        "resectability.",
        "D28",
        "C8",
    ),
    _rec(
        _key("hepatectomy_strategy", HepatectomyStrategy.ONE_STAGE_HEPATECTOMY),
        "R7",
        "One-stage hepatectomy: the liver remnant after clearing all disease at once meets the "
        "volume threshold.",
        "D18",
        "D9",
        "C8",
    ),
    _rec(
        _key("hepatectomy_strategy", HepatectomyStrategy.TWO_STAGE_HEPATECTOMY),
        "R7",
        "Two-stage hepatectomy (with portal vein embolisation if needed): one operation would "
        "leave too small a remnant, but the liver can regrow between stages.",
        "D18",
        "C8",
        "C31",
    ),
    _rec(
        _key("hepatectomy_strategy", HepatectomyStrategy.NOT_APPLICABLE),
        "R7",
        "No liver operation is planned while the metastases are not confirmed resectable.",
        "D18",
        "D9",
    ),
    # R13
    _rec(
        _key("sequencing_options", _SEQ.LIVER_FIRST),
        "R13",
        "Liver first: clear the liver metastases, then treat and resect the primary.",
        "D16",
        "C10",
        "C11",
        "C12",
        "C13",
    ),
    _rec(
        _key("sequencing_options", _SEQ.PRIMARY_FIRST_STAGED),
        "R13",
        "Primary first, staged: resect the primary, then the liver in a later operation.",
        "D20",
        "C30",
        "C27",
    ),
    _rec(
        _key("sequencing_options", _SEQ.SYNCHRONOUS_RESECTION),
        "R13",
        "Synchronous resection: liver and primary in one operation, offered because the "
        "surgeons judge it technically feasible. Survival is similar to staged surgery.",
        "D20",
        "C27",
        "C28",
    ),
    _rec(
        _key("recommended_sequence", RecommendedSequence.LIVER_FIRST),
        "R13",
        "Liver first is suggested because the primary causes no symptoms: the liver disease "
        "threatens life more, and rectal surgery can be spared if the disease progresses.",
        "D16",
        "C10",
        "C11",
        "C12",
    ),
    _rec(
        _key("recommended_sequence", RecommendedSequence.PRIMARY_FIRST_STAGED),
        "R13",
        "Primary first is suggested because the primary causes symptoms that need treating "
        "before the liver.",
        "D14",
        "D20",
        "C30",
    ),
    _rec(
        _key("recommended_sequence", RecommendedSequence.NOT_APPLICABLE),
        "R13",
        "No operative sequence applies until the metastases are resectable.",
        "D16",
        "D20",
    ),
    # R12
    _rec(
        _key("symptomatic_primary_options", _OPT.DEFUNCTIONING_STOMA),
        "R12",
        "Defunctioning stoma: relieves obstruction or diverts a fistula without delaying "
        "chemotherapy; usually preferred for mid and low rectal tumours.",
        "D14",
        "C30",
    ),
    _rec(
        _key("symptomatic_primary_options", _OPT.COLORECTAL_STENT),
        "R12",
        "Colorectal stent: an option for upper rectal or rectosigmoid obstruction, not for "
        "tumours close to the anal verge, and best avoided if bevacizumab is planned.",
        "D14",
        "C25",
        "C7",
    ),
    _rec(
        _key("symptomatic_primary_options", _OPT.PRIMARY_RESECTION),
        "R12",
        "Resection of the primary: when symptoms cannot be controlled otherwise.",
        "D14",
        "C30",
    ),
    _rec(
        _key("symptomatic_primary_options", _OPT.SHORT_COURSE_RT),
        "R12",
        "Short-course pelvic radiotherapy: controls bleeding, pain or tenesmus, or a threatened "
        "obstruction, with little delay to chemotherapy.",
        "D14",
        "D23",
        "C9",
    ),
    _rec(
        _key("symptomatic_primary_options", _OPT.ENDOSCOPIC_HAEMOSTASIS),
        "R12",
        "Endoscopic haemostasis for a bleeding primary.",
        "D14",
        "C30",
    ),
    _rec(
        _key("symptomatic_primary_options", _OPT.TRANSFUSION_SUPPORT),
        "R12",
        "Transfusion support while bleeding from the primary is brought under control.",
        "D14",
        "C30",
    ),
    _rec(
        _key("symptomatic_primary_options", _OPT.EMERGENCY_SURGERY),
        "R12",
        "Emergency surgery for a perforated primary; bevacizumab is stopped.",
        "D14",
        "C30",
        "C24",
    ),
    # R9–R11
    _rec(
        "next_reassessment_date",
        "R9",
        "Next resectability reassessment: two calendar months after the last reassessment, or "
        "after the start of chemotherapy if there has been none (a 31st falls back to the "
        "month's last day).",
        "D8",
        "C1",
    ),
    _rec(
        "next_reassessment_date_8_weeks",
        "R9",
        "The same reassessment counted as 8 weeks (56 days), the interval trials use for "
        "restaging.",
        "D8",
        "C16",
    ),
    _rec(
        "earliest_elective_surgery_date",
        "R10",
        "Earliest date for elective surgery: 42 days after the last bevacizumab dose; an "
        "operation on that day is allowed.",
        "D27",
        "C5",
        "C9",
        "C24",
    ),
    _rec(
        "latest_primary_surgery_date_after_scrt",
        "R11",
        "Latest date for surgery on the primary after short-course radiotherapy: 6 calendar "
        "months after the last fraction, that day included.",
        "D12",
        "C9",
    ),
    # R14
    _rec(
        _key("postop_chemo_recommended", True),
        "R14",
        "Post-operative chemotherapy is recommended: to complete the perioperative course, or "
        "because the margin was involved.",
        "D30",
        "D31",
        "C21",
        "C5",
    ),
    _rec(
        _key("postop_chemo_recommended", False),
        "R14",
        "No further chemotherapy is needed after a clear (R0) resection: the full "
        "perioperative course was given before surgery.",
        "D30",
        "C21",
        "C5",
    ),
    _rec(
        "postop_chemo_months",
        "R14",
        "Months of post-operative chemotherapy: what remains of the 6-month perioperative "
        "total after the months given before surgery.",
        "D30",
        "C21",
        "C5",
    ),
    _rec(
        "postop_backbone",
        "R14",
        "Continue the same cytotoxic backbone as before surgery. Biologics are not continued "
        "automatically: cetuximab was harmful around liver surgery.",
        "D30",
        "C21",
        "C20",
    ),
)

RECOMMENDATIONS: Mapping[str, CatalogueEntry] = MappingProxyType(
    {entry.code: entry for entry in _RECOMMENDATIONS}
)


def recommendation_key(output: str, value: object) -> str:
    """The catalogue key of an enumerated or boolean output value, e.g. `sidedness:left`."""
    return _key(output, value)
