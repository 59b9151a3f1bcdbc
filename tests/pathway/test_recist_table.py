"""RECIST 1.1 responses worked out by hand, one case per rule or boundary.

Every expected value below was derived on paper from RECIST 1.1 (Eisenhauer EA et al., Eur J
Cancer 2009;45:228–47) and `shared/clinical/recist-contract.md`, never by running the code. Numbers
are compared as the text the contract prints (`"60.0"`, `"-35.0"`), so the display format is
checked too.

Each row of a case is one follow-up:
    (sum_mm, nadir_mm, change_from_baseline_percent, change_from_nadir_percent,
     target_response, non_target_response, overall_response)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

import pytest

from cases.pathway.recist import recist_json, to_json

DATES = ("2026-01-05", "2026-03-05", "2026-05-05", "2026-07-05", "2026-09-05")
Row = tuple[str | None, str | None, str | None, str | None, str, str, str]


def target(lesion_id: str, organ: str = "liver") -> dict[str, object]:
    return {"id": lesion_id, "kind": "target", "organ": organ, "nodal": False}


def node(lesion_id: str) -> dict[str, object]:
    """A nodal target lesion, measured in short axis."""
    return {"id": lesion_id, "kind": "target", "organ": "lymph_node", "nodal": True}


def non_target(lesion_id: str, organ: str = "lung", nodal: bool = False) -> dict[str, object]:
    return {"id": lesion_id, "kind": "non_target", "organ": organ, "nodal": nodal}


def mm(value: int | str) -> object:
    """A measurement as the command decodes it: an exact Decimal, or a status string."""
    if isinstance(value, float):  # pragma: no cover - guards the table itself
        raise TypeError("write decimals as strings in this table")
    if value in ("too_small", "not_evaluated"):
        return value
    return Decimal(str(value))


def visit(
    targets: dict[str, int | str] | None = None,
    statuses: dict[str, str] | None = None,
    new: bool | None = False,
) -> dict[str, object]:
    """One assessment without its date; `new=None` leaves `new_lesions` out (baseline)."""
    out: dict[str, object] = {
        "target_mm": {key: mm(value) for key, value in (targets or {}).items()},
        "non_target": dict(statuses or {}),
    }
    if new is not None:
        out["new_lesions"] = new
    return out


def baseline(
    targets: dict[str, int | str] | None = None, statuses: dict[str, str] | None = None
) -> dict[str, object]:
    return visit(targets, statuses, new=None)


@dataclass(frozen=True)
class Case:
    name: str
    lesions: list[dict[str, object]]
    visits: list[dict[str, object]]  # baseline first
    baseline_sum: str | None
    rows: list[Row]
    best: str | None

    def series(self) -> dict[str, object]:
        dated = [{"date": DATES[i], **v} for i, v in enumerate(self.visits)]
        return {"lesions": self.lesions, "assessments": dated}


NA = "NA"
NCNP = "non_CR_non_PD"
TWO_LIVER = [target("T1"), target("T2")]

CASES = [
    # The contract's own example: 42 + 18 = 60 → 30 + 9 = 39, −35 %: PR (the node is 9 mm, but
    # the liver lesion is not 0, so no CR). Present non-target → non-CR/non-PD; overall PR.
    Case(
        "contract_example",
        [target("T1"), node("N1"), non_target("NT1")],
        [
            baseline({"T1": 42, "N1": 18}, {"NT1": "present"}),
            visit({"T1": 30, "N1": 9}, {"NT1": "present"}),
        ],
        "60.0",
        [("39.0", "60.0", "-35.0", "-35.0", "PR", NCNP, "PR")],
        "PR",
    ),
    # PR boundary: exactly a 30 % decrease (100 → 70) is PR.
    Case(
        "pr_exactly_30_percent",
        TWO_LIVER,
        [baseline({"T1": 50, "T2": 50}), visit({"T1": 35, "T2": 35})],
        "100.0",
        [("70.0", "100.0", "-30.0", "-30.0", "PR", NA, "PR")],
        "PR",
    ),
    # Just short of the PR boundary: 29.9 % decrease (100 → 70.1) is SD.
    Case(
        "sd_29_9_percent",
        TWO_LIVER,
        [baseline({"T1": 50, "T2": 50}), visit({"T1": 35, "T2": "35.1"})],
        "100.0",
        [("70.1", "100.0", "-29.9", "-29.9", "SD", NA, "SD")],
        "SD",
    ),
    # Exact decimals: 10.1 + 20.2 = 30.3 and 0.7 × 30.3 = 21.21 exactly, so 7.07 + 14.14 = 21.21
    # is PR. In binary floats 10.1 + 20.2 = 30.299999999999997 and the sum would miss PR.
    Case(
        "pr_boundary_on_exact_decimals",
        TWO_LIVER,
        [baseline({"T1": "10.1", "T2": "20.2"}), visit({"T1": "7.07", "T2": "14.14"})],
        "30.3",
        [("21.21", "30.3", "-30.0", "-30.0", "PR", NA, "PR")],
        "PR",
    ),
    # PR boundary on a single lesion where 0.7 × 11 in floats is 7.699999999999999: 7.7 is PR.
    Case(
        "pr_boundary_single_lesion_11_mm",
        [target("T1")],
        [baseline({"T1": 11}), visit({"T1": "7.7"})],
        "11.0",
        [("7.7", "11.0", "-30.0", "-30.0", "PR", NA, "PR")],
        "PR",
    ),
    # Exact sum: 12.3 + 17.8 is 30.1 (and is printed 30.1); no change is SD with 0.0 %.
    Case(
        "exact_decimal_sum",
        TWO_LIVER,
        [baseline({"T1": "12.3", "T2": "17.8"}), visit({"T1": "12.3", "T2": "17.8"})],
        "30.1",
        [("30.1", "30.1", "0.0", "0.0", "SD", NA, "SD")],
        "SD",
    ),
    # Trailing zeros in the input are not shown: 12.30 + 17.80 prints as 30.1.
    Case(
        "trailing_zeros_are_not_displayed",
        TWO_LIVER,
        [baseline({"T1": "12.30", "T2": "17.80"}), visit({"T1": "12.300", "T2": "17.8"})],
        "30.1",
        [("30.1", "30.1", "0.0", "0.0", "SD", NA, "SD")],
        "SD",
    ),
    # PD boundary: exactly +20 % and exactly +5 mm over the nadir (25 → 30) is PD.
    Case(
        "pd_20_percent_and_5_mm",
        [target("T1")],
        [baseline({"T1": 25}), visit({"T1": 30})],
        "25.0",
        [("30.0", "25.0", "20.0", "20.0", "PD", NA, "PD")],
        "PD",
    ),
    # +20 % but only +4 mm (20 → 24) is not PD: the absolute 5 mm is also required. SD.
    Case(
        "not_pd_20_percent_but_4_mm",
        [target("T1")],
        [baseline({"T1": 20}), visit({"T1": 24})],
        "20.0",
        [("24.0", "20.0", "20.0", "20.0", "SD", NA, "SD")],
        "SD",
    ),
    # +5.97 mm but only +19.9 % (30 → 35.97) is not PD either. SD.
    Case(
        "not_pd_5_mm_but_19_9_percent",
        [target("T1")],
        [baseline({"T1": 30}), visit({"T1": "35.97"})],
        "30.0",
        [("35.97", "30.0", "19.9", "19.9", "SD", NA, "SD")],
        "SD",
    ),
    # PD boundary on exact decimals: 1.2 × 33.7 = 40.44 exactly (40.440000000000005 in floats),
    # and 40.44 − 33.7 = 6.74 ≥ 5: PD.
    Case(
        "pd_boundary_on_exact_decimals",
        [target("T1")],
        [baseline({"T1": "33.7"}), visit({"T1": "40.44"})],
        "33.7",
        [("40.44", "33.7", "20.0", "20.0", "PD", NA, "PD")],
        "PD",
    ),
    # Nodal CR: non-nodal 0 and node 9.9 mm (< 10) is CR; the node's 9.9 still counts in the sum.
    Case(
        "nodal_9_9_mm_is_cr",
        [target("T1"), node("N1")],
        [baseline({"T1": 30, "N1": 20}), visit({"T1": 0, "N1": "9.9"})],
        "50.0",
        [("9.9", "50.0", "-80.2", "-80.2", "CR", NA, "CR")],
        "CR",
    ),
    # A node of exactly 10 mm is not normal: no CR; 10 ≤ 0.7 × 50 makes it PR.
    Case(
        "nodal_10_mm_is_not_cr",
        [target("T1"), node("N1")],
        [baseline({"T1": 30, "N1": 20}), visit({"T1": 0, "N1": 10})],
        "50.0",
        [("10.0", "50.0", "-80.0", "-80.0", "PR", NA, "PR")],
        "PR",
    ),
    # Two nodal targets only, both under 10 mm: CR, and the sum is their short axes (9 + 9.5).
    Case(
        "nodes_only_cr_keeps_their_short_axes_in_the_sum",
        [node("N1"), node("N2")],
        [baseline({"N1": 15, "N2": 16}), visit({"N1": 9, "N2": "9.5"})],
        "31.0",
        [("18.5", "31.0", "-40.3", "-40.3", "CR", NA, "CR")],
        "CR",
    ),
    # The CR test comes before the PD test: a node growing from 2 to 9 mm is +350 % and +7 mm
    # over the nadir, but every node is still < 10 mm, so the target response stays CR.
    Case(
        "nodal_cr_is_decided_before_pd",
        [node("N1")],
        [baseline({"N1": 20}), visit({"N1": 2}), visit({"N1": 9})],
        "20.0",
        [
            ("2.0", "20.0", "-90.0", "-90.0", "CR", NA, "CR"),
            ("9.0", "2.0", "-55.0", "350.0", "CR", NA, "CR"),
        ],
        "CR",
    ),
    # Baseline boundaries accepted: a non-nodal target of exactly 10 mm and a node of exactly
    # 15 mm are measurable. Then 0 + 9.9 is CR.
    Case(
        "baseline_minimum_sizes_are_accepted",
        [target("T1"), node("N1")],
        [baseline({"T1": 10, "N1": 15}), visit({"T1": 0, "N1": "9.9"})],
        "25.0",
        [("9.9", "25.0", "-60.4", "-60.4", "CR", NA, "CR")],
        "CR",
    ),
    # Limits accepted: 5 targets, 2 in the liver, 2 in the lung, 1 node. Unchanged → SD.
    Case(
        "five_targets_two_per_organ_are_accepted",
        [target("T1"), target("T2"), target("T3", "lung"), target("T4", "lung"), node("N1")],
        [
            baseline({"T1": 10, "T2": 10, "T3": 10, "T4": 10, "N1": 15}),
            visit({"T1": 10, "T2": 10, "T3": 10, "T4": 10, "N1": 15}),
        ],
        "55.0",
        [("55.0", "55.0", "0.0", "0.0", "SD", NA, "SD")],
        "SD",
    ),
    # too_small on a node counts 5 mm, which is < 10: CR, sum 5.
    Case(
        "too_small_node_counts_5_and_allows_cr",
        [target("T1"), node("N1")],
        [baseline({"T1": 30, "N1": 20}), visit({"T1": 0, "N1": "too_small"})],
        "50.0",
        [("5.0", "50.0", "-90.0", "-90.0", "CR", NA, "CR")],
        "CR",
    ),
    # too_small on a non-nodal target counts 5 mm, which is not 0: no CR; 5 ≤ 21 makes it PR.
    Case(
        "too_small_non_nodal_counts_5_and_prevents_cr",
        [target("T1")],
        [baseline({"T1": 30}), visit({"T1": "too_small"})],
        "30.0",
        [("5.0", "30.0", "-83.3", "-83.3", "PR", NA, "PR")],
        "PR",
    ),
    # too_small counts 5 in the sum next to a measured lesion: 5 + 10 = 15 of 50, −70 %: PR.
    Case(
        "too_small_counts_5_in_the_sum",
        TWO_LIVER,
        [baseline({"T1": 30, "T2": 20}), visit({"T1": "too_small", "T2": 10})],
        "50.0",
        [("15.0", "50.0", "-70.0", "-70.0", "PR", NA, "PR")],
        "PR",
    ),
    # too_small counts 5 in the partial-sum PD test: after a CR (nadir 0), T1 too_small with T2
    # not evaluated gives a partial sum of 5 ≥ 0 × 1.2 and ≥ 0 + 5: PD, with a null sum. The
    # best response is the CR before it.
    Case(
        "too_small_in_the_partial_sum_pd_test",
        TWO_LIVER,
        [
            baseline({"T1": 20, "T2": 20}),
            visit({"T1": 0, "T2": 0}),
            visit({"T1": "too_small"}),
        ],
        "40.0",
        [
            ("0.0", "40.0", "-100.0", "-100.0", "CR", NA, "CR"),
            (None, "0.0", None, None, "PD", NA, "PD"),
        ],
        "CR",
    ),
    # A lesion reappearing after a target CR is judged by the PD test on the nadir of 0: 5 mm
    # is +5 mm → PD. change_from_nadir is null because the nadir is 0.
    Case(
        "reappearance_after_cr_is_pd",
        [target("T1")],
        [baseline({"T1": 20}), visit({"T1": 0}), visit({"T1": 5})],
        "20.0",
        [
            ("0.0", "20.0", "-100.0", "-100.0", "CR", NA, "CR"),
            ("5.0", "0.0", "-75.0", None, "PD", NA, "PD"),
        ],
        "CR",
    ),
    # After a CR, 4 mm is only +4 mm over the nadir of 0: not PD; 4 ≤ 14 makes it PR.
    Case(
        "reappearance_of_4_mm_after_cr_is_not_pd",
        [target("T1")],
        [baseline({"T1": 20}), visit({"T1": 0}), visit({"T1": 4})],
        "20.0",
        [
            ("0.0", "20.0", "-100.0", "-100.0", "CR", NA, "CR"),
            ("4.0", "0.0", "-80.0", None, "PR", NA, "PR"),
        ],
        "CR",
    ),
    # Nadir 0: change_from_nadir is null, change_from_baseline is still given.
    Case(
        "nadir_zero_gives_a_null_change_from_nadir",
        [target("T1")],
        [baseline({"T1": 20}), visit({"T1": 0}), visit({"T1": 0})],
        "20.0",
        [
            ("0.0", "20.0", "-100.0", "-100.0", "CR", NA, "CR"),
            ("0.0", "0.0", "-100.0", None, "CR", NA, "CR"),
        ],
        "CR",
    ),
    # A new lesion is PD whatever the targets do: the targets halve (PR), overall PD.
    Case(
        "new_lesion_with_responding_targets_is_pd",
        [target("T1")],
        [baseline({"T1": 40}), visit({"T1": 20}, new=True)],
        "40.0",
        [("20.0", "40.0", "-50.0", "-50.0", "PR", NA, "PD")],
        "PD",
    ),
    # A target not evaluated makes the target response NE (59.9 alone is < 1.2 × 50); the sum and
    # both percentages are null, the nadir is still shown.
    Case(
        "missing_target_is_ne",
        TWO_LIVER,
        [baseline({"T1": 30, "T2": 20}), visit({"T1": "59.9"})],
        "50.0",
        [(None, "50.0", None, None, "NE", NA, "NE")],
        "NE",
    ),
    # …unless the measured lesions alone meet the PD test: 60 ≥ 1.2 × 50 and 60 − 50 ≥ 5: PD.
    # "not_evaluated" written out means the same as leaving the lesion out.
    Case(
        "missing_target_is_pd_when_the_measured_ones_prove_it",
        TWO_LIVER,
        [baseline({"T1": 30, "T2": 20}), visit({"T1": 60, "T2": "not_evaluated"})],
        "50.0",
        [(None, "50.0", None, None, "PD", NA, "PD")],
        "PD",
    ),
    # The partial-sum PD test needs the 5 mm too: 26.4 = 1.2 × 22 but only +4.4 mm: NE.
    Case(
        "missing_target_partial_sum_needs_5_mm",
        [target("T1"), target("T2")],
        [baseline({"T1": 12, "T2": 10}), visit({"T1": "26.4"})],
        "22.0",
        [(None, "22.0", None, None, "NE", NA, "NE")],
        "NE",
    ),
    # The nadir includes the baseline: 50 → 55 (SD, +10 %) → 60 is +20 % over the baseline,
    # which is still the smallest sum: PD. The best response is the SD before it.
    Case(
        "nadir_includes_the_baseline",
        [target("T1")],
        [baseline({"T1": 50}), visit({"T1": 55}), visit({"T1": 60})],
        "50.0",
        [
            ("55.0", "50.0", "10.0", "10.0", "SD", NA, "SD"),
            ("60.0", "50.0", "20.0", "20.0", "PD", NA, "PD"),
        ],
        "SD",
    ),
    # An incomplete time point never sets the nadir: the partial 10 mm is ignored, so 40 is
    # compared with 50 (−20 %, SD), not with 10 (which would be PD). SD ranks above NE.
    Case(
        "nadir_excludes_incomplete_time_points",
        TWO_LIVER,
        [baseline({"T1": 30, "T2": 20}), visit({"T1": 10}), visit({"T1": 20, "T2": 20})],
        "50.0",
        [
            (None, "50.0", None, None, "NE", NA, "NE"),
            ("40.0", "50.0", "-20.0", "-20.0", "SD", NA, "SD"),
        ],
        "SD",
    ),
    # A complete time point sets the nadir whatever its response: 20 mm at an overall PD (new
    # lesion) is the nadir of the next one; 24 is +20 % but +4 mm over it, so PR (24 ≤ 28).
    # The best response stops at that first PD.
    Case(
        "nadir_counts_time_points_of_any_response",
        [target("T1")],
        [baseline({"T1": 40}), visit({"T1": 20}, new=True), visit({"T1": 24})],
        "40.0",
        [
            ("20.0", "40.0", "-50.0", "-50.0", "PR", NA, "PD"),
            ("24.0", "20.0", "-40.0", "20.0", "PR", NA, "PR"),
        ],
        "PD",
    ),
    # The nadir follows the smallest sum so far: 50 → 30 → 25 → 30, the last +20 % and +5 mm
    # over 25: PD.
    Case(
        "nadir_is_the_smallest_sum_so_far",
        [target("T1")],
        [baseline({"T1": 50}), visit({"T1": 30}), visit({"T1": 25}), visit({"T1": 30})],
        "50.0",
        [
            ("30.0", "50.0", "-40.0", "-40.0", "PR", NA, "PR"),
            ("25.0", "30.0", "-50.0", "-16.7", "PR", NA, "PR"),
            ("30.0", "25.0", "-40.0", "20.0", "PD", NA, "PD"),
        ],
        "PR",
    ),
    # Table 2, non-target disease only: present → non-CR/non-PD; every sum and percentage null,
    # target response NA.
    Case(
        "non_target_only_present",
        [non_target("NT1")],
        [baseline(statuses={"NT1": "present"}), visit(statuses={"NT1": "present"})],
        None,
        [(None, None, None, None, NA, NCNP, NCNP)],
        NCNP,
    ),
    # Table 2: all absent (an absent nodal non-target is non-pathological) → CR.
    Case(
        "non_target_only_all_absent_is_cr",
        [non_target("NT1"), non_target("NN1", "lymph_node", nodal=True)],
        [
            baseline(statuses={"NT1": "present", "NN1": "present"}),
            visit(statuses={"NT1": "absent", "NN1": "absent"}),
        ],
        None,
        [(None, None, None, None, NA, "CR", "CR")],
        "CR",
    ),
    # Table 2: one non-target not evaluated (left out) → NE.
    Case(
        "non_target_only_not_evaluated_is_ne",
        [non_target("NT1"), non_target("NT2", "peritoneum")],
        [
            baseline(statuses={"NT1": "present", "NT2": "present"}),
            visit(statuses={"NT1": "absent"}),
        ],
        None,
        [(None, None, None, None, NA, "NE", "NE")],
        "NE",
    ),
    # Table 2: unequivocal progression of a non-target → PD.
    Case(
        "non_target_only_unequivocal_progression_is_pd",
        [non_target("NT1"), non_target("NT2", "peritoneum")],
        [
            baseline(statuses={"NT1": "present", "NT2": "present"}),
            visit(statuses={"NT1": "unequivocal_progression", "NT2": "not_evaluated"}),
        ],
        None,
        [(None, None, None, None, NA, "PD", "PD")],
        "PD",
    ),
    # Table 2: a new lesion → PD even though the non-targets are non-CR/non-PD.
    Case(
        "non_target_only_new_lesion_is_pd",
        [non_target("NT1")],
        [baseline(statuses={"NT1": "present"}), visit(statuses={"NT1": "present"}, new=True)],
        None,
        [(None, None, None, None, NA, NCNP, "PD")],
        "PD",
    ),
    # Non-target unequivocal progression makes the overall response PD despite a target PR.
    Case(
        "non_target_progression_overrides_a_target_pr",
        [target("T1"), non_target("NT1")],
        [
            baseline({"T1": 40}, {"NT1": "present"}),
            visit({"T1": 20}, {"NT1": "unequivocal_progression"}),
        ],
        "40.0",
        [("20.0", "40.0", "-50.0", "-50.0", "PR", "PD", "PD")],
        "PD",
    ),
    # Table 1: target CR with a non-target not evaluated → PR.
    Case(
        "target_cr_with_non_target_ne_is_pr",
        [target("T1"), non_target("NT1")],
        [baseline({"T1": 20}, {"NT1": "present"}), visit({"T1": 0}, {"NT1": "not_evaluated"})],
        "20.0",
        [("0.0", "20.0", "-100.0", "-100.0", "CR", "NE", "PR")],
        "PR",
    ),
    # Table 1: target CR with a non-target still present → PR.
    Case(
        "target_cr_with_non_target_present_is_pr",
        [target("T1"), non_target("NT1")],
        [baseline({"T1": 20}, {"NT1": "present"}), visit({"T1": 0}, {"NT1": "present"})],
        "20.0",
        [("0.0", "20.0", "-100.0", "-100.0", "CR", NCNP, "PR")],
        "PR",
    ),
    # Table 1: target CR with every non-target absent → CR.
    Case(
        "target_cr_with_non_target_cr_is_cr",
        [target("T1"), non_target("NT1")],
        [baseline({"T1": 20}, {"NT1": "present"}), visit({"T1": 0}, {"NT1": "absent"})],
        "20.0",
        [("0.0", "20.0", "-100.0", "-100.0", "CR", "CR", "CR")],
        "CR",
    ),
    # Table 1: target PR with a non-target not evaluated stays PR.
    Case(
        "target_pr_with_non_target_ne_is_pr",
        [target("T1"), non_target("NT1")],
        [baseline({"T1": 40}, {"NT1": "present"}), visit({"T1": 20})],
        "40.0",
        [("20.0", "40.0", "-50.0", "-50.0", "PR", "NE", "PR")],
        "PR",
    ),
    # Table 1: target SD with a non-target not evaluated stays SD (35 of 40 is −12.5 %).
    Case(
        "target_sd_with_non_target_ne_is_sd",
        [target("T1"), non_target("NT1")],
        [baseline({"T1": 40}, {"NT1": "present"}), visit({"T1": 35})],
        "40.0",
        [("35.0", "40.0", "-12.5", "-12.5", "SD", "NE", "SD")],
        "SD",
    ),
    # Table 1: target NE with non-target progression is PD (any PD wins).
    Case(
        "target_ne_with_non_target_pd_is_pd",
        [target("T1"), target("T2"), non_target("NT1")],
        [
            baseline({"T1": 30, "T2": 20}, {"NT1": "present"}),
            visit({"T1": 30}, {"NT1": "unequivocal_progression"}),
        ],
        "50.0",
        [(None, "50.0", None, None, "NE", "PD", "PD")],
        "PD",
    ),
    # Best response stops at the first PD: SD, PD, then CR → SD (the CR belongs to the next
    # line of treatment). 48 over the nadir 36 is +33.3 %.
    Case(
        "best_response_stops_at_the_first_pd",
        [target("T1")],
        [baseline({"T1": 40}), visit({"T1": 36}), visit({"T1": 48}), visit({"T1": 0})],
        "40.0",
        [
            ("36.0", "40.0", "-10.0", "-10.0", "SD", NA, "SD"),
            ("48.0", "36.0", "20.0", "33.3", "PD", NA, "PD"),
            ("0.0", "36.0", "-100.0", "-100.0", "CR", NA, "CR"),
        ],
        "SD",
    ),
    # A PD at the first follow-up is the best response, however good the next ones are.
    Case(
        "best_response_is_pd_when_pd_comes_first",
        [target("T1")],
        [baseline({"T1": 40}), visit({"T1": 40}, new=True), visit({"T1": 0})],
        "40.0",
        [
            ("40.0", "40.0", "0.0", "0.0", "SD", NA, "PD"),
            ("0.0", "40.0", "-100.0", "-100.0", "CR", NA, "CR"),
        ],
        "PD",
    ),
    # NE ranks below PD in the best-response order: NE then PD → PD.
    Case(
        "best_response_ranks_ne_below_pd",
        TWO_LIVER,
        [baseline({"T1": 30, "T2": 20}), visit({"T1": 30}), visit({"T1": 30, "T2": 20}, new=True)],
        "50.0",
        [
            (None, "50.0", None, None, "NE", NA, "NE"),
            ("50.0", "50.0", "0.0", "0.0", "SD", NA, "PD"),
        ],
        "PD",
    ),
    # Best response ranks non-CR/non-PD above NE (non-target disease only): NE (nothing
    # evaluated), then non-CR/non-PD → non-CR/non-PD.
    Case(
        "best_response_ranks_non_cr_non_pd_above_ne",
        [non_target("NT1")],
        [
            baseline(statuses={"NT1": "present"}),
            visit(),
            visit(statuses={"NT1": "present"}),
        ],
        None,
        [
            (None, None, None, None, NA, "NE", "NE"),
            (None, None, None, None, NA, NCNP, NCNP),
        ],
        NCNP,
    ),
    # Baseline only: no time point, best response null; the baseline sum is still given.
    Case(
        "baseline_only_has_a_null_best_response",
        [target("T1"), non_target("NT1")],
        [baseline({"T1": 20}, {"NT1": "present"})],
        "20.0",
        [],
        None,
    ),
    # Baseline only, non-target disease only: everything null.
    Case(
        "baseline_only_non_target_only",
        [non_target("NT1")],
        [baseline(statuses={"NT1": "present"})],
        None,
        [],
        None,
    ),
    # Display rounding half away from zero: +0.05 % (20 → 20.01) shows 0.1 (half-even: 0.0).
    Case(
        "rounding_half_away_from_zero_up",
        [target("T1")],
        [baseline({"T1": 20}), visit({"T1": "20.01"})],
        "20.0",
        [("20.01", "20.0", "0.1", "0.1", "SD", NA, "SD")],
        "SD",
    ),
    # −0.05 % (20 → 19.99) shows −0.1.
    Case(
        "rounding_half_away_from_zero_down",
        [target("T1")],
        [baseline({"T1": 20}), visit({"T1": "19.99"})],
        "20.0",
        [("19.99", "20.0", "-0.1", "-0.1", "SD", NA, "SD")],
        "SD",
    ),
    # −0.25 % (20 → 19.95) shows −0.3 (half-even would show −0.2).
    Case(
        "rounding_half_away_from_zero_not_to_even",
        [target("T1")],
        [baseline({"T1": 20}), visit({"T1": "19.95"})],
        "20.0",
        [("19.95", "20.0", "-0.3", "-0.3", "SD", NA, "SD")],
        "SD",
    ),
    # −0.025 % (20 → 19.995) rounds to zero and shows 0.0, never −0.0.
    Case(
        "rounding_to_zero_has_no_minus_sign",
        [target("T1")],
        [baseline({"T1": 20}), visit({"T1": "19.995"})],
        "20.0",
        [("19.995", "20.0", "0.0", "0.0", "SD", NA, "SD")],
        "SD",
    ),
    # Rounding is for display only: −29.96 % shows −30.0 but is not a 30 % decrease: SD.
    Case(
        "display_rounding_does_not_decide_pr",
        [target("T1")],
        [baseline({"T1": 50}), visit({"T1": "35.02"})],
        "50.0",
        [("35.02", "50.0", "-30.0", "-30.0", "SD", NA, "SD")],
        "SD",
    ),
    # …nor PD: +19.96 % over 50 (59.98, +9.98 mm) shows 20.0 but is SD.
    Case(
        "display_rounding_does_not_decide_pd",
        [target("T1")],
        [baseline({"T1": 50}), visit({"T1": "59.98"})],
        "50.0",
        [("59.98", "50.0", "20.0", "20.0", "SD", NA, "SD")],
        "SD",
    ),
]


def run(series: object) -> object:
    """The contract's output for `series`, with every number kept as the text printed."""
    return json.loads(to_json(recist_json(series)), parse_float=str, parse_int=str)


def test_the_table_has_at_least_40_cases() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_hand_worked_case(case: Case) -> None:
    output = run(case.series())
    assert isinstance(output, dict)
    assert list(output) == ["baseline_sum_mm", "timepoints", "best_overall_response"]
    assert output["baseline_sum_mm"] == case.baseline_sum
    timepoints = output["timepoints"]
    assert [point["date"] for point in timepoints] == list(DATES[1 : len(case.visits)])
    rows = [
        (
            point["sum_mm"],
            point["nadir_mm"],
            point["change_from_baseline_percent"],
            point["change_from_nadir_percent"],
            point["target_response"],
            point["non_target_response"],
            point["overall_response"],
        )
        for point in timepoints
    ]
    assert rows == case.rows
    assert output["best_overall_response"] == case.best


def test_a_list_answers_every_case_in_order() -> None:
    output = run([case.series() for case in CASES])
    assert isinstance(output, list)
    assert [item["best_overall_response"] for item in output] == [case.best for case in CASES]


def test_each_time_point_has_the_contract_keys_in_order() -> None:
    output = run(CASES[0].series())
    assert isinstance(output, dict)
    assert list(output["timepoints"][0]) == [
        "date",
        "sum_mm",
        "nadir_mm",
        "change_from_baseline_percent",
        "change_from_nadir_percent",
        "target_response",
        "non_target_response",
        "overall_response",
    ]
