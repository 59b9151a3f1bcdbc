"""The minimum dataset a case needs before the MDT can decide on it (dashboard and meeting).

MMR/MSI, RAS (KRAS and NRAS on extended testing, or a known mutation), BRAF V600E, ECOG, and
liver imaging less than 8 weeks old. Works on a case from ``case_clinical_record``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cases.models import Case

IMAGING_MAX_AGE_DAYS = 56  # 8 weeks


def ras_known(kras: str | None, nras: str | None) -> bool:
    """RAS is known when either gene is mutant, or both are wild-type on extended testing (B1)."""
    return "mutant" in (kras, nras) or (kras == "wild_type" and nras == "wild_type")


def missing_minimum_dataset(case: Case, *, today: dt.date) -> list[str]:
    """What is missing, in words; an empty list means the case is complete."""
    status = {r.marker: r.status for r in case.molecular_results.all()}
    missing = []
    if status.get("mmr_msi") not in ("dmmr_msi_h", "pmmr_mss"):
        missing.append("MMR/MSI status")
    if not ras_known(status.get("kras"), status.get("nras")):
        missing.append("RAS status (KRAS and NRAS, extended testing)")
    if status.get("braf_v600e") not in ("wild_type", "mutant"):
        missing.append("BRAF V600E status")
    if case.ecog is None:
        missing.append("ECOG performance status")
    scans = [r.imaging_performed_on for r in case.reassessments.all() if r.imaging_performed_on]
    if not scans or (today - max(scans)).days >= IMAGING_MAX_AGE_DAYS:
        missing.append("Imaging less than 8 weeks old")
    return missing
