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
    ExplanationKind,
    Severity,
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
    code: AlertCode, *, rule: str, beyond_seed: str, cites: str, text: str
) -> CatalogueEntry:
    hard = code in HARD_STOP_CODES
    return CatalogueEntry(
        code=str(code),
        kind=ExplanationKind.HARD_STOP if hard else ExplanationKind.WARNING,
        severity=Severity.HARD_STOP if hard else Severity.WARNING,
        rule=rule,
        text=text,
        citations=tuple(cites.split()),
        beyond_seed=beyond_seed,
    )


def _rec(code: str, *, rule: str, cites: str, text: str) -> CatalogueEntry:
    return CatalogueEntry(
        code=code,
        kind=ExplanationKind.RECOMMENDATION,
        severity=Severity.INFO,
        rule=rule,
        text=text,
        citations=tuple(cites.split()),
    )


A = AlertCode

_ALERTS = (
    # --- Hard stops -------------------------------------------------------------------------
    _alert(
        A.ANTI_EGFR_RAS_MUTANT,
        rule="R6",
        beyond_seed="no",
        cites="D7 D4 C31 C7 C1",
        text=(
            "Cetuximab or panitumumab is proposed but the tumour carries a KRAS or NRAS mutation. "
            "These antibodies do not work in RAS-mutant disease and, given with oxaliplatin, can "
            "shorten survival. Choose a bevacizumab-based regimen instead."
        ),
    ),
    _alert(
        A.ANTI_EGFR_RAS_UNKNOWN,
        rule="R6",
        beyond_seed="yes",
        cites="D7 D21 C1 C2 C7",
        text=(
            "An anti-EGFR antibody is proposed before RAS is known to be wild-type on extended "
            "testing (KRAS and NRAS, exons 2, 3 and 4). A pending result, no test, or a KRAS exon "
            "2 result alone is not enough: wait for the full panel."
        ),
    ),
    _alert(
        A.ANTI_EGFR_RIGHT_SIDED,
        rule="R6",
        beyond_seed="no",
        cites="D4 D5 C3 C26 C19",
        text=(
            "An anti-EGFR antibody is proposed for a right-sided primary, where it gives no "
            "benefit over bevacizumab-based treatment. The only exception is encorafenib with "
            "cetuximab for BRAF V600E disease."
        ),
    ),
    _alert(
        A.ANTI_EGFR_SIDEDNESS_UNDETERMINED,
        rule="R6",
        beyond_seed="yes",
        cites="D22 D4 C3 C26",
        text=(
            "An anti-EGFR antibody is proposed but the primary site is unknown, so the side "
            "cannot be derived. Record the primary site first (encorafenib with cetuximab for "
            "BRAF V600E is exempt)."
        ),
    ),
    _alert(
        A.ANTI_EGFR_BRAF_V600E,
        rule="R6",
        beyond_seed="no",
        cites="D4 D6 C3 C19",
        text=(
            "An anti-EGFR antibody is proposed for BRAF V600E-mutant disease without encorafenib. "
            "On its own the antibody works poorly here; the proven combination adds encorafenib."
        ),
    ),
    _alert(
        A.DUAL_BIOLOGIC,
        rule="R6",
        beyond_seed="yes",
        cites="C31",
        text=(
            "Bevacizumab and an anti-EGFR antibody are proposed together. Trials of the pair "
            "showed more toxicity and worse outcomes than either alone; choose one biologic."
        ),
    ),
    _alert(
        A.IMMUNOTHERAPY_NOT_INDICATED_PMMR,
        rule="R6",
        beyond_seed="yes",
        cites="D3 C17 C3",
        text=(
            "A checkpoint inhibitor is proposed for mismatch-repair proficient (MSS) disease, "
            "which does not respond to it. Its use is limited to dMMR/MSI-H tumours."
        ),
    ),
    _alert(
        A.IMMUNOTHERAPY_MMR_UNCONFIRMED,
        rule="R6",
        beyond_seed="no",
        cites="D3 D22 C17 C3",
        text=(
            "A checkpoint inhibitor is proposed while MMR/MSI status is pending or untested. "
            "Confirm dMMR/MSI-H before starting immunotherapy."
        ),
    ),
    _alert(
        A.TRIPLET_NOT_APPROPRIATE,
        rule="R2",
        beyond_seed="yes",
        cites="D6 C16 C3",
        text=(
            "Oxaliplatin and irinotecan together (FOLFOXIRI) are proposed for a patient with ECOG "
            "2 or worse, or older than 75. The triplet was only tested in fit patients and its "
            "toxicity outweighs the gain here; use a doublet."
        ),
    ),
    _alert(
        A.BEV_SURGERY_INTERVAL_LT_6_WEEKS,
        rule="R10",
        beyond_seed="no",
        cites="D27 C5 C9 C24",
        text=(
            "Elective surgery is planned less than 6 weeks (42 days) after the last bevacizumab "
            "dose. Bevacizumab impairs wound healing; move the operation to the earliest elective "
            "date or later."
        ),
    ),
    _alert(
        A.LONG_COURSE_CRT_UPFRONT,
        rule="R8",
        beyond_seed="no",
        cites="D23 D16 C9 C4",
        text=(
            "Long-course chemoradiotherapy is proposed while liver metastases are still in place. "
            "It would delay full-dose systemic treatment, which controls the disease that "
            "threatens life; use short-course RT if the pelvis needs treatment now."
        ),
    ),
    _alert(
        A.DEBULKING_NOT_PERMITTED,
        rule="R7",
        beyond_seed="no",
        cites="D24 D9 C8",
        text=(
            "Liver surgery is proposed although the HPB MDT judged that not all disease can be "
            "removed with clear margins. Incomplete (debulking) liver resection does not help and "
            "is not done."
        ),
    ),
    _alert(
        A.FLR_INADEQUATE,
        rule="R7",
        beyond_seed="partly",
        cites="D9 D18 C8 C31",
        text=(
            "The planned liver resection would leave too little liver: fewer than two contiguous "
            "segments with their own blood supply and drainage, or, for a one-stage operation, a "
            "remnant below the volume threshold. Liver failure is the risk."
        ),
    ),
    _alert(
        A.EXTRAHEPATIC_DISEASE_UNRESECTABLE,
        rule="R7",
        beyond_seed="no",
        cites="D9 C8",
        text=(
            "Liver surgery is proposed while disease outside the liver cannot be removed. The aim "
            "of resection is to clear all visible disease, which is not possible here."
        ),
    ),
    _alert(
        A.HPB_MDT_REVIEW_REQUIRED,
        rule="R7",
        beyond_seed="no",
        cites="D28 C8 C28",
        text=(
            "Liver surgery is proposed without review by a specialist hepatobiliary (HPB) MDT. "
            "Resectability must be judged by that team first."
        ),
    ),
    _alert(
        A.LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION,
        rule="R7",
        beyond_seed="no",
        cites="D25 C8",
        text=(
            "A liver biopsy is proposed without discussion with the HPB MDT. A needle can seed "
            "tumour along its track and may spoil a later curative resection."
        ),
    ),
    # --- Warnings --------------------------------------------------------------------------
    _alert(
        A.MMR_STATUS_REQUIRED,
        rule="R3",
        beyond_seed="no",
        cites="D21 D22 D3 C3 C7",
        text=(
            "MMR/MSI status is pending or not tested. It decides whether immunotherapy is the "
            "first choice, so the regimen stays provisional until it is known."
        ),
    ),
    _alert(
        A.RAS_STATUS_REQUIRED,
        rule="R3",
        beyond_seed="no",
        cites="D21 D7 C1 C2 C7",
        text=(
            "RAS status is not confirmed: KRAS and NRAS must both be tested across exons 2, 3 and "
            "4 before an anti-EGFR antibody can be considered."
        ),
    ),
    _alert(
        A.BRAF_STATUS_REQUIRED,
        rule="R3",
        beyond_seed="no",
        cites="D21 D22 C7 C3",
        text=(
            "BRAF V600E status is pending or not tested. It changes both prognosis and the choice "
            "of targeted treatment."
        ),
    ),
    _alert(
        A.RAS_TESTING_INCOMPLETE_KRAS_EXON2_ONLY,
        rule="B1",
        beyond_seed="yes",
        cites="D7 D21 C1 C2 C6",
        text=(
            "KRAS was reported wild-type on exon 2 only. Mutations elsewhere in KRAS or in NRAS "
            "also predict no benefit from anti-EGFR treatment, so RAS counts as unknown until the "
            "extended panel is done."
        ),
    ),
    _alert(
        A.SIDEDNESS_CONFLICT,
        rule="R1",
        beyond_seed="yes",
        cites="D22 C26 C4",
        text=(
            "The side written on the referral differs from the side derived from the primary "
            "site. The derived side is used; check the recorded primary site."
        ),
    ),
    _alert(
        A.PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION,
        rule="R3",
        beyond_seed="yes",
        cites="D29 C1 C3",
        text=(
            "ECOG performance status is 3 or worse. Intensive conversion chemotherapy is unlikely "
            "to be tolerated; the MDT should review the goals of care."
        ),
    ),
    _alert(
        A.PEMBROLIZUMAB_ECOG2_OUTSIDE_TRIAL,
        rule="R3",
        beyond_seed="yes",
        cites="D3 C17",
        text=(
            "Pembrolizumab is recommended for dMMR disease, but the trial that established it "
            "only enrolled patients with ECOG 0–1; at ECOG 2 the benefit is extrapolated."
        ),
    ),
    _alert(
        A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB,
        rule="R3",
        beyond_seed="yes",
        cites="D6 C19",
        text=(
            "The tumour is BRAF V600E-mutant. Encorafenib with cetuximab and FOLFOX is now an "
            "approved first-line option that improved survival; consider it instead of the "
            "default bevacizumab-based regimen."
        ),
    ),
    _alert(
        A.ANTI_EGFR_BRAF_STATUS_UNKNOWN,
        rule="R6",
        beyond_seed="yes",
        cites="D21 D7 C7 C3",
        text=(
            "An anti-EGFR antibody is proposed while BRAF V600E status is unknown. The licence "
            "does not require it, but a BRAF mutation changes the best combination."
        ),
    ),
    _alert(
        A.ANTI_EGFR_WITH_CAPECITABINE,
        rule="R6",
        beyond_seed="yes",
        cites="D2 C31 C7",
        text=(
            "An anti-EGFR antibody is proposed with capecitabine. Trials pairing them with oral "
            "fluoropyrimidine showed no benefit; infusional 5-FU (FOLFOX or FOLFIRI) is the "
            "partner."
        ),
    ),
    _alert(
        A.HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE,
        rule="R6",
        beyond_seed="yes",
        cites="D21 C3",
        text=("The tumour is HER2-amplified, which makes anti-EGFR treatment less likely to work."),
    ),
    _alert(
        A.IMMUNOTHERAPY_PREFERRED_DMMR,
        rule="R6",
        beyond_seed="yes",
        cites="D3 C17 C18",
        text=(
            "The tumour is dMMR/MSI-H, yet the agents proposed include no checkpoint inhibitor. "
            "First-line immunotherapy outperformed chemotherapy in this group."
        ),
    ),
    _alert(
        A.TRIPLET_OUTSIDE_TRIBE_CRITERIA,
        rule="R2",
        beyond_seed="yes",
        cites="D6 C16",
        text=(
            "FOLFOXIRI is proposed for a patient aged 71–75 with ECOG 1. The trial admitted this "
            "age group only at ECOG 0, so the benefit is uncertain and toxicity higher."
        ),
    ),
    _alert(
        A.BEV_WITH_COLORECTAL_STENT,
        rule="R6",
        beyond_seed="yes",
        cites="D14 C25",
        text=(
            "Bevacizumab is proposed together with a colorectal stent. Anti-angiogenic treatment "
            "raises the risk of perforation around a stent; prefer a stoma if bevacizumab is "
            "planned."
        ),
    ),
    _alert(
        A.BEV_CAUTION_BLEEDING_OR_PERFORATION,
        rule="R6",
        beyond_seed="yes",
        cites="D14 C24",
        text=(
            "Bevacizumab is proposed while the primary is bleeding or perforated. The drug itself "
            "raises the risk of bleeding and perforation; weigh this, and consider controlling "
            "the primary before starting it."
        ),
    ),
    _alert(
        A.BEV_RECENT_EMERGENCY_SURGERY,
        rule="R10",
        beyond_seed="yes",
        cites="D27 C24 C5",
        text=(
            "Emergency surgery falls within 42 days of the last bevacizumab dose. It cannot wait, "
            "but expect more wound-healing and bleeding complications."
        ),
    ),
    _alert(
        A.FLR_BELOW_THRESHOLD_TWO_STAGE_OR_PVE,
        rule="R7",
        beyond_seed="yes",
        cites="D18 D9 C8 C31 C28",
        text=(
            "All disease can be cleared, but in one operation the liver remnant would be below "
            "the volume threshold. Plan a two-stage hepatectomy, with portal vein embolisation to "
            "grow the remnant if needed."
        ),
    ),
    _alert(
        A.PET_CMR_RESECT_ORIGINAL_SITES,
        rule="R7",
        beyond_seed="no",
        cites="D26 C15",
        text=(
            "PET shows a complete metabolic response. Most such sites still hold tumour, so the "
            "resection must follow the original (baseline) extent of disease."
        ),
    ),
    _alert(
        A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED,
        rule="R8",
        beyond_seed="no",
        cites="D1 D11 C2 C22 C23",
        text=(
            "Surgery or pelvic radiotherapy is proposed for an asymptomatic primary while the "
            "metastases are not resectable. Systemic treatment comes first; few asymptomatic "
            "primaries later need an operation."
        ),
    ),
    _alert(
        A.SIMULTANEOUS_MAJOR_HEPATECTOMY_AND_RECTAL_RESECTION,
        rule="R13",
        beyond_seed="yes",
        cites="D20 C28 C27",
        text=(
            "A simultaneous resection is feasible, but the liver part would be a major "
            "hepatectomy. Combining a major liver resection with rectal surgery adds risk; "
            "consider staging the operations."
        ),
    ),
    _alert(
        A.SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS,
        rule="R11",
        beyond_seed="no",
        cites="D12 C9",
        text=(
            "Surgery on the primary is planned more than 6 months after short-course "
            "radiotherapy, longer than the interval the evidence supports."
        ),
    ),
    _alert(
        A.R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED,
        rule="R14",
        beyond_seed="no",
        cites="D31 D30",
        text=(
            "The resection margin was R1 (microscopically involved). Post-operative chemotherapy "
            "is strongly recommended."
        ),
    ),
    _alert(
        A.R2_RESIDUAL_DISEASE_NOT_CURATIVE,
        rule="R14",
        beyond_seed="yes",
        cites="D24 D30 C8",
        text=(
            "The margin was R2: visible disease was left behind, so the operation was not "
            "curative. Continue treatment as for metastatic disease."
        ),
    ),
    _alert(
        A.PREOP_CHEMO_EXCEEDS_6_MONTHS,
        rule="R14",
        beyond_seed="yes",
        cites="D30 C5 C21",
        text=(
            "More than 6 months of chemotherapy were given before surgery. This exceeds the usual "
            "perioperative total, and long courses of oxaliplatin or irinotecan can injure the "
            "liver before a resection."
        ),
    ),
)

CODES: Mapping[AlertCode, CatalogueEntry] = MappingProxyType(
    {AlertCode(entry.code): entry for entry in _ALERTS}
)


_RECOMMENDATIONS = (
    _rec(
        "sidedness:left",
        rule="R1",
        cites="D22 D4 C26 C4",
        text=(
            "The primary is left-sided (splenic flexure to rectum). A rectal primary is always "
            "left-sided."
        ),
    ),
    _rec(
        "sidedness:right",
        rule="R1",
        cites="D22 C26",
        text=(
            "The primary is right-sided (caecum to transverse colon; the whole transverse colon "
            "is counted as right, the cautious choice for anti-EGFR decisions)."
        ),
    ),
    _rec(
        "sidedness:undetermined",
        rule="R1",
        cites="D22 C26",
        text=("The primary site is unknown, so the side cannot be derived."),
    ),
    _rec(
        "triplet_eligible:true",
        rule="R2",
        cites="D6 C16",
        text=(
            "Fit enough for FOLFOXIRI by the trial's criteria: age up to 70 with ECOG 0–1, or age "
            "71–75 with ECOG 0."
        ),
    ),
    _rec(
        "triplet_eligible:false",
        rule="R2",
        cites="D6 C16",
        text=(
            "Not eligible for FOLFOXIRI: age or ECOG is outside the trial's criteria, or one of "
            "them is not recorded."
        ),
    ),
    _rec(
        "recommended_regimen_family:pembrolizumab",
        rule="R3",
        cites="D3 C17 C18",
        text=(
            "dMMR/MSI-H disease: first-line pembrolizumab, whatever the RAS, BRAF or side. Keep "
            "the 2-monthly reassessment, because some tumours progress early on immunotherapy."
        ),
    ),
    _rec(
        "recommended_regimen_family:folfoxiri_bevacizumab",
        rule="R4",
        cites="D6 D5 C16 C3",
        text=(
            "FOLFOXIRI with bevacizumab: the most active conversion regimen for RAS- or "
            "BRAF-mutant or right-sided disease, for a patient fit enough for the triplet."
        ),
    ),
    _rec(
        "recommended_regimen_family:doublet_anti_egfr",
        rule="R4",
        cites="D4 D7 C3 C7",
        text=(
            "FOLFOX or FOLFIRI with cetuximab or panitumumab: for left-sided, MMR-proficient "
            "tumours that are wild-type for KRAS, NRAS and BRAF."
        ),
    ),
    _rec(
        "recommended_regimen_family:doublet_bevacizumab",
        rule="R4",
        cites="D5 D6 C3 C2",
        text=(
            "FOLFOX, CAPOX or FOLFIRI with bevacizumab: for RAS- or BRAF-mutant or right-sided "
            "disease when the patient is not fit for the triplet."
        ),
    ),
    _rec(
        "recommended_regimen_family:doublet_chemotherapy_pending_biomarkers",
        rule="R5",
        cites="D1 D2 D21 C2",
        text=(
            "Start doublet chemotherapy (FOLFOX or FOLFIRI) without a biologic while biomarker "
            "results are outstanding; add the right biologic once they arrive."
        ),
    ),
    _rec(
        "recommended_regimen_family:no_intensive_therapy_mdt_review",
        rule="R3",
        cites="D29 C1 C3",
        text=(
            "Performance status is too poor for intensive treatment: the MDT should decide on "
            "goals of care rather than a conversion regimen."
        ),
    ),
    _rec(
        "regimen_provisional:true",
        rule="B2",
        cites="D21 C7 C3",
        text=(
            "The regimen is provisional: MMR, RAS or BRAF results are still outstanding and may "
            "change it."
        ),
    ),
    _rec(
        "regimen_provisional:false",
        rule="B2",
        cites="D21 D22",
        text=("The results this recommendation rests on are known, so it is not provisional."),
    ),
    _rec(
        "conversion_status:converted_resectable",
        rule="R7",
        cites="D9 D28 C8",
        text=(
            "The HPB MDT judges that all disease can be removed with clear margins and enough "
            "liver would remain: the metastases have converted to resectable."
        ),
    ),
    _rec(
        "conversion_status:not_resectable",
        rule="R7",
        cites="D9 D24 C8",
        text=(
            "Not resectable: clear margins are not judged achievable, extrahepatic disease cannot "
            "be removed, or too few liver segments would remain. Continue systemic treatment and "
            "reassess."
        ),
    ),
    _rec(
        "conversion_status:resectability_unconfirmed",
        rule="R7",
        cites="D28 C8",
        text=(
            "Clear margins look achievable, but a specialist HPB MDT has not yet confirmed "
            "resectability."
        ),
    ),
    _rec(
        "hepatectomy_strategy:one_stage_hepatectomy",
        rule="R7",
        cites="D18 D9 C8",
        text=(
            "One-stage hepatectomy: the liver remnant after clearing all disease at once meets "
            "the volume threshold."
        ),
    ),
    _rec(
        "hepatectomy_strategy:two_stage_hepatectomy",
        rule="R7",
        cites="D18 C8 C31",
        text=(
            "Two-stage hepatectomy (with portal vein embolisation if needed): one operation would "
            "leave too small a remnant, but the liver can regrow between stages."
        ),
    ),
    _rec(
        "hepatectomy_strategy:not_applicable",
        rule="R7",
        cites="D18 D9",
        text=("No liver operation is planned while the metastases are not confirmed resectable."),
    ),
    _rec(
        "sequencing_options:liver_first",
        rule="R13",
        cites="D16 C10 C11 C12 C13",
        text=("Liver first: clear the liver metastases, then treat and resect the primary."),
    ),
    _rec(
        "sequencing_options:primary_first_staged",
        rule="R13",
        cites="D20 C30 C27",
        text=("Primary first, staged: resect the primary, then the liver in a later operation."),
    ),
    _rec(
        "sequencing_options:synchronous_resection",
        rule="R13",
        cites="D20 C27 C28",
        text=(
            "Synchronous resection: liver and primary in one operation, offered because the "
            "surgeons judge it technically feasible. Survival is similar to staged surgery."
        ),
    ),
    _rec(
        "recommended_sequence:liver_first",
        rule="R13",
        cites="D16 C10 C11 C12",
        text=(
            "Liver first is suggested because the primary causes no symptoms: the liver disease "
            "threatens life more, and rectal surgery can be spared if the disease progresses."
        ),
    ),
    _rec(
        "recommended_sequence:primary_first_staged",
        rule="R13",
        cites="D14 D20 C30",
        text=(
            "Primary first is suggested because the primary causes symptoms that need treating "
            "before the liver."
        ),
    ),
    _rec(
        "recommended_sequence:not_applicable",
        rule="R13",
        cites="D16 D20",
        text=("No operative sequence applies until the metastases are resectable."),
    ),
    _rec(
        "symptomatic_primary_options:defunctioning_stoma",
        rule="R12",
        cites="D14 C30",
        text=(
            "Defunctioning stoma: relieves obstruction or diverts a fistula without delaying "
            "chemotherapy; usually preferred for mid and low rectal tumours."
        ),
    ),
    _rec(
        "symptomatic_primary_options:colorectal_stent",
        rule="R12",
        cites="D14 C25 C7",
        text=(
            "Colorectal stent: an option for upper rectal or rectosigmoid obstruction, not for "
            "tumours close to the anal verge, and best avoided if bevacizumab is planned."
        ),
    ),
    _rec(
        "symptomatic_primary_options:primary_resection",
        rule="R12",
        cites="D14 C30",
        text=("Resection of the primary: when symptoms cannot be controlled otherwise."),
    ),
    _rec(
        "symptomatic_primary_options:short_course_rt",
        rule="R12",
        cites="D14 D23 C9",
        text=(
            "Short-course pelvic radiotherapy: controls bleeding, pain or tenesmus, or a "
            "threatened obstruction, with little delay to chemotherapy."
        ),
    ),
    _rec(
        "symptomatic_primary_options:endoscopic_haemostasis",
        rule="R12",
        cites="D14 C30",
        text=("Endoscopic haemostasis for a bleeding primary."),
    ),
    _rec(
        "symptomatic_primary_options:transfusion_support",
        rule="R12",
        cites="D14 C30",
        text=("Transfusion support while bleeding from the primary is brought under control."),
    ),
    _rec(
        "symptomatic_primary_options:emergency_surgery",
        rule="R12",
        cites="D14 C30 C24",
        text=("Emergency surgery for a perforated primary; bevacizumab is stopped."),
    ),
    _rec(
        "next_reassessment_date",
        rule="R9",
        cites="D8 C1",
        text=(
            "Next resectability reassessment: two calendar months after the last reassessment, or "
            "after the start of chemotherapy if there has been none (a 31st falls back to the "
            "month's last day)."
        ),
    ),
    _rec(
        "next_reassessment_date_8_weeks",
        rule="R9",
        cites="D8 C16",
        text=(
            "The same reassessment counted as 8 weeks (56 days), the interval trials use for "
            "restaging."
        ),
    ),
    _rec(
        "earliest_elective_surgery_date",
        rule="R10",
        cites="D27 C5 C9 C24",
        text=(
            "Earliest date for elective surgery: 42 days after the last bevacizumab dose; an "
            "operation on that day is allowed."
        ),
    ),
    _rec(
        "latest_primary_surgery_date_after_scrt",
        rule="R11",
        cites="D12 C9",
        text=(
            "Latest date for surgery on the primary after short-course radiotherapy: 6 calendar "
            "months after the last fraction, that day included."
        ),
    ),
    _rec(
        "postop_chemo_recommended:true",
        rule="R14",
        cites="D30 D31 C21 C5",
        text=(
            "Post-operative chemotherapy is recommended: to complete the perioperative course, or "
            "because the margin was involved."
        ),
    ),
    _rec(
        "postop_chemo_recommended:false",
        rule="R14",
        cites="D30 C21 C5",
        text=(
            "No further chemotherapy is needed after a clear (R0) resection: the full "
            "perioperative course was given before surgery."
        ),
    ),
    _rec(
        "postop_chemo_months",
        rule="R14",
        cites="D30 C21 C5",
        text=(
            "Months of post-operative chemotherapy: what remains of the 6-month perioperative "
            "total after the months given before surgery."
        ),
    ),
    _rec(
        "postop_backbone",
        rule="R14",
        cites="D30 C21 C20",
        text=(
            "Continue the same cytotoxic backbone as before surgery. Biologics are not continued "
            "automatically: cetuximab was harmful around liver surgery."
        ),
    ),
)

RECOMMENDATIONS: Mapping[str, CatalogueEntry] = MappingProxyType(
    {entry.code: entry for entry in _RECOMMENDATIONS}
)


def recommendation_key(output: str, value: object) -> str:
    """The catalogue key of an enumerated or boolean output value, e.g. `sidedness:left`."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"{output}:{value}"
