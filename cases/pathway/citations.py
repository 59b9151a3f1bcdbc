"""Short labels for the citation ids used by the catalogue.

`C<n>` ids are the sources of section C of the specification; `D<n>` ids are the seed statements
checked in section D. The labels are brief bibliographic pointers (or a one-line summary of the
seed statement) so a screen can show what an id stands for; the specification holds the detail.
"""

SOURCES: dict[str, str] = {
    "C1": "Van Cutsem et al., ESMO consensus guidelines for metastatic colorectal cancer, "
    "Ann Oncol 2016",
    "C2": "SEOM clinical guideline for metastatic colorectal cancer, Clin Transl Oncol 2015",
    "C3": "Cervantes et al., metastatic colorectal cancer: ESMO Clinical Practice Guideline, "
    "Ann Oncol 2023",
    "C4": "Glynne-Jones et al., rectal cancer: ESMO Clinical Practice Guideline, Ann Oncol 2017",
    "C5": "NCCN Guidelines for Patients: Rectal Cancer v1.2017",
    "C6": "NCCN news release on KRAS testing, November 2008",
    "C7": "NICE NG151 (2020), QS20 statement 3 (2022) and TA439",
    "C8": "Garden et al., guidelines for resection of colorectal liver metastases, Gut 2006",
    "C9": "van Dijk et al., short-course RT then bevacizumab + CAPOX then surgery (M1 trial), "
    "Ann Oncol 2013",
    "C10": "Ayez et al., long-term results of the liver-first approach, Dis Colon Rectum 2013",
    "C11": "Nierop et al., liver-first approach in locally advanced rectal cancer, EJSO 2019",
    "C12": "Jegatheeswaran et al., liver-first systematic review, HPB 2013",
    "C13": "Systematic review of liver-first strategies, Updates in Surgery 2023",
    "C14": "Mentha et al., Br J Surg 2006; Verhoef et al., Dis Colon Rectum 2009 (liver first)",
    "C15": "Benoist et al., complete response of liver metastases after chemotherapy, "
    "J Clin Oncol 2006",
    "C16": "Cremolini et al., TRIBE updated analysis, Lancet Oncol 2015",
    "C17": "KEYNOTE-177: André et al., NEJM 2020; Diaz et al., Lancet Oncol 2022",
    "C18": "CheckMate 8HW: André et al., Lancet 2025",
    "C19": "BREAKWATER: Kopetz et al., NEJM 2025; FDA approvals 2024 and 2026",
    "C20": "New EPOC: Primrose et al., Lancet Oncol 2014; Bridgewater et al., Lancet Oncol 2020",
    "C21": "EORTC 40983: Nordlinger et al., Lancet 2008",
    "C22": "Wilkinson et al., asymptomatic primary in stage IV colorectal cancer, "
    "World J Gastrointest Oncol 2015",
    "C23": "Poultsides et al., J Clin Oncol 2009",
    "C24": "Bevacizumab and surgery: NHS Scotland Right Decisions 2024; Gordon et al. 2009; "
    "FDA label",
    "C25": "van Hooft et al., ESGE guideline on self-expanding metal stents, Endoscopy 2020",
    "C26": "Hanna and Lenz, left- versus right-sided colon cancer, Clin Adv Hematol Oncol 2020",
    "C27": "de Haas et al., BJS 2010; Silberhumer et al., Surgery 2016; meta-analysis of "
    "simultaneous versus staged resection",
    "C28": "E-AHPBA/ESSO/ESCP/ESGAR/CIRSE consensus on synchronous liver metastases, BJS 2023; "
    "Oncol Ther 2021 review",
    "C29": "Review of conversion rates with systemic chemotherapy (scite.ai excerpt)",
    "C30": "Rectal cancer with synchronous liver metastases review, J Coloproctol 2019; "
    "Ronnekleiv-Kelly and Kennedy, WJG 2011",
    "C31": "PRIME, CAIRO2, PACCE, COIN, NORDIC VII, AHPBA FLR consensus, Adam 2004, "
    "Cremolini IPD meta-analysis 2020",
}

SEED_STATEMENTS: dict[str, str] = {
    "D1": "Seed 1: start combination chemotherapy at once; defer treatment of an asymptomatic "
    "primary",
    "D2": "Seed 2: fluoropyrimidine with oxaliplatin or irinotecan",
    "D3": "Seed 3: dMMR/MSI-H disease → pembrolizumab first line",
    "D4": "Seed 4: MSS, RAS/BRAF wild-type, left-sided → doublet + anti-EGFR",
    "D5": "Seed 5: MSS, RAS/BRAF wild-type, right-sided → triplet backbone",
    "D6": "Seed 6: RAS or BRAF mutant → FOLFOXIRI + bevacizumab",
    "D7": "Seed 7: anti-EGFR only in wild-type tumours (stale KRAS-only wording)",
    "D8": "Seed 8: reassess after 2 months and every 2 months",
    "D9": "Seed 9: aim for R0 with an adequate liver remnant",
    "D10": "Seed 10: about 30% reach secondary resection",
    "D11": "Seed 11: defer surgery or RT of an asymptomatic primary",
    "D12": "Seed 12: primary surgery may wait up to 5–6 months after RT",
    "D13": "Seed 13: after conversion, SCRT then chemotherapy then surgery on both sites",
    "D14": "Seed 14: symptomatic primary (options missing in the seed)",
    "D15": "Seed 15: palliative surgery figure (not supported)",
    "D16": "Seed 16: liver-first approach for an asymptomatic primary",
    "D17": "Seed 17: completion rate of liver-first series",
    "D18": "Seed 18: one-stage or two-stage hepatectomy for bilobar disease",
    "D19": "Seed 19: synchronous versus staged survival",
    "D20": "Seed 20: choose synchronous or staged resection on feasibility and patient factors",
    "D21": "Seed 21: molecular testing before anti-EGFR (stale KRAS-only wording)",
    "D22": "Seed 22: profile MSI/MMR, RAS/BRAF and sidedness",
    "D23": "Seed 23: avoid upfront long-course CRT with synchronous metastases",
    "D24": "Seed 24: never debulk (less than R0)",
    "D25": "Seed 25: no liver biopsy without the regional HPB unit",
    "D26": "Seed 26: a PET complete response must not cancel resection",
    "D27": "Seed 27: at least 6 weeks from last bevacizumab to elective surgery",
    "D28": "Seed 28: resectability judged by a specialist HPB MDT",
    "D29": "Seed 29: weigh performance status and tolerance",
    "D30": "Seed 30: after curative resection, complete 6 months of the same backbone",
    "D31": "Seed 31: post-operative chemotherapy strongly recommended after R1",
}


def citation_label(citation_id: str) -> str:
    """The label of a `C<n>` or `D<n>` id; raises `KeyError` for an unknown id."""
    if citation_id in SOURCES:
        return SOURCES[citation_id]
    return SEED_STATEMENTS[citation_id]
