"""The minimum dataset the MDT needs before a definitive decision (D21, D22): MMR/MSI, RAS
(KRAS and NRAS on extended testing, or a known mutation), BRAF V600E, an ECOG score and liver
imaging each less than 8 weeks old on the day of the decision (settings tune both ages).

Pure: the caller passes the statuses and dates it holds, the day, and the constants in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from .constants import DEFAULT_WORKFLOW, WorkflowConstants


def ras_known(kras: str | None, nras: str | None) -> bool:
    """RAS is known when either gene is mutant, or both are wild-type on extended testing (B1)."""
    return "mutant" in (kras, nras) or (kras == "wild_type" and nras == "wild_type")


def imaging_current(last_scan_on: date | None, day: date, workflow: WorkflowConstants) -> bool:
    """A scan younger than the limit on ``day`` (a scan exactly 8 weeks old is out of date)."""
    return last_scan_on is not None and (day - last_scan_on).days < workflow.imaging_max_age_days


def ecog_current(
    ecog: int | None, assessed_on: date | None, day: date, workflow: WorkflowConstants
) -> bool:
    """An ECOG score assessed less than the limit before ``day`` (same reading as imaging). A
    score with no assessment date cannot be shown stale and counts as current."""
    if ecog is None:
        return False
    return assessed_on is None or (day - assessed_on).days < workflow.ecog_max_age_days


# The items of the minimum dataset, in the order they are reported.
MMR, RAS, BRAF, ECOG, IMAGING = "mmr", "ras", "braf", "ecog", "imaging"
DATASET_ITEMS = (MMR, RAS, BRAF, ECOG, IMAGING)


def item_words(item: str, workflow: WorkflowConstants = DEFAULT_WORKFLOW) -> str:
    """What is missing, in the words every screen uses."""
    if item == IMAGING:
        return f"Imaging less than {workflow.imaging_max_age_days // 7} weeks old"
    return {
        MMR: "MMR/MSI status",
        RAS: "RAS status (KRAS and NRAS, extended testing)",
        BRAF: "BRAF V600E status",
        ECOG: f"ECOG performance status less than {workflow.ecog_max_age_days // 7} weeks old",
    }[item]


def missing_items(
    *,
    marker_statuses: Mapping[str, str],
    ecog: int | None,
    last_scan_on: date | None,
    day: date,
    workflow: WorkflowConstants = DEFAULT_WORKFLOW,
    ecog_assessed_on: date | None = None,
) -> list[str]:
    """The items (``DATASET_ITEMS``) missing on ``day``; an empty list means complete.

    ``marker_statuses`` maps marker (``mmr_msi``, ``kras``, ``nras``, ``braf_v600e``) to its
    stored status; an absent marker has not been tested.
    """
    status = marker_statuses.get
    known = {
        MMR: status("mmr_msi") in ("dmmr_msi_h", "pmmr_mss"),
        RAS: ras_known(status("kras"), status("nras")),
        BRAF: status("braf_v600e") in ("wild_type", "mutant"),
        ECOG: ecog_current(ecog, ecog_assessed_on, day, workflow),
        IMAGING: imaging_current(last_scan_on, day, workflow),
    }
    return [item for item in DATASET_ITEMS if not known[item]]


def missing_minimum_dataset(
    *,
    marker_statuses: Mapping[str, str],
    ecog: int | None,
    last_scan_on: date | None,
    day: date,
    workflow: WorkflowConstants = DEFAULT_WORKFLOW,
    ecog_assessed_on: date | None = None,
) -> list[str]:
    """What is missing on ``day``, in words; an empty list means the data are complete."""
    items = missing_items(
        marker_statuses=marker_statuses,
        ecog=ecog,
        ecog_assessed_on=ecog_assessed_on,
        last_scan_on=last_scan_on,
        day=day,
        workflow=workflow,
    )
    return [item_words(item, workflow) for item in items]
