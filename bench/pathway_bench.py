"""Throughput of the guideline engine on one core.

Builds a seeded, realistic mix of case inputs (mostly rectal primaries on conversion
chemotherapy, some converted, some after surgery, a few with unsafe proposals), then times:

1. `advise()` alone on pre-parsed `CaseFacts`;
2. the whole JSON contract: `parse_facts` + `advise` + `advice_to_dict`;
3. the same plus `json.dumps`, as `manage.py advise` would print it.

Run from the project root:  python bench/pathway_bench.py [--cases 4000] [--seconds 3]
It prints figures only; no threshold is asserted (the issue's target is ≥ 20,000 advise/s).
"""

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from cases.pathway import (
    CaseFacts,
    advice_to_dict,
    advise,
    parse_facts,
)

REGIMENS = [
    (30, ["fluorouracil", "oxaliplatin", "bevacizumab"]),
    (15, ["fluorouracil", "oxaliplatin", "irinotecan", "bevacizumab"]),
    (15, ["fluorouracil", "oxaliplatin", "panitumumab"]),
    (8, ["capecitabine", "oxaliplatin", "bevacizumab"]),
    (8, ["fluorouracil", "irinotecan", "cetuximab"]),
    (5, ["pembrolizumab"]),
    (4, ["encorafenib", "cetuximab", "fluorouracil", "oxaliplatin"]),
    (5, ["fluorouracil", "oxaliplatin"]),
    (3, ["capecitabine", "oxaliplatin", "cetuximab"]),  # unsafe partner
    (2, ["fluorouracil", "oxaliplatin", "bevacizumab", "panitumumab"]),  # dual biologic
    (5, []),
]


def pick[T](rng: random.Random, weighted: list[tuple[int, T]]) -> T:
    return rng.choices([v for _, v in weighted], weights=[w for w, _ in weighted])[0]


def iso(d: date) -> str:
    return d.isoformat()


def make_case(rng: random.Random) -> dict[str, object]:
    start = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 900))
    case: dict[str, object] = {
        "age_years": rng.randint(32, 86),
        "ecog": pick(rng, [(40, 0), (35, 1), (15, 2), (7, 3), (3, 4)]),
        "primary_site": pick(
            rng,
            [
                (60, "rectum"),
                (10, "rectosigmoid"),
                (10, "sigmoid_colon"),
                (5, "descending_colon"),
                (5, "caecum"),
                (3, "ascending_colon"),
                (2, "transverse_colon"),
                (5, "unknown"),
            ],
        ),
        "mmr_msi_status": pick(
            rng, [(80, "pmmr_mss"), (5, "dmmr_msi_h"), (10, "pending"), (5, "not_tested")]
        ),
        "kras_status": pick(
            rng,
            [
                (40, "wild_type"),
                (42, "mutant"),
                (5, "wild_type_exon2_only"),
                (8, "pending"),
                (5, "not_tested"),
            ],
        ),
        "nras_status": pick(
            rng, [(80, "wild_type"), (5, "mutant"), (10, "pending"), (5, "not_tested")]
        ),
        "braf_v600e_status": pick(
            rng, [(80, "wild_type"), (8, "mutant"), (8, "pending"), (4, "not_tested")]
        ),
        "her2_status": pick(rng, [(60, "not_amplified"), (3, "amplified"), (37, "not_tested")]),
        "primary_symptom": pick(
            rng,
            [
                (70, "none"),
                (8, "obstruction"),
                (6, "impending_obstruction"),
                (8, "bleeding"),
                (1, "perforation"),
                (5, "pain_tenesmus"),
                (2, "fistula"),
            ],
        ),
        "proposed_agents": pick(rng, REGIMENS),
        "chemo_start_date": iso(start),
    }
    if rng.random() < 0.15:
        case["sidedness_reported"] = rng.choice(["left", "right"])
    if rng.random() < 0.6:
        case["last_reassessment_date"] = iso(start + timedelta(days=56 * rng.randint(1, 4)))
    if rng.random() < 0.4:  # resectability assessed
        case.update(
            hpb_mdt_reviewed=rng.random() < 0.8,
            r0_achievable=rng.choice([True, True, False, None]),
            flr_percent_slv=round(rng.uniform(15, 60), 1),
            flr_segments_remaining=rng.randint(1, 5),
            extrahepatic_disease=pick(rng, [(80, "none"), (12, "resectable"), (8, "unresectable")]),
            pet_complete_metabolic_response=rng.random() < 0.05,
            combined_resection_technically_feasible=rng.random() < 0.3,
            planned_hepatectomy_extent=rng.choice(["minor", "major"]),
            proposed_liver_surgery=pick(
                rng,
                [(60, "none"), (30, "one_stage_hepatectomy"), (10, "two_stage_hepatectomy")],
            ),
        )
    if rng.random() < 0.05:
        case["liver_biopsy_proposed"] = True
    if rng.random() < 0.15:
        case["primary_resection_proposed"] = True
    if rng.random() < 0.2:
        case["pelvic_rt_proposed"] = pick(rng, [(85, "short_course_5x5"), (15, "long_course_crt")])
        case["scrt_completion_date"] = iso(start + timedelta(days=rng.randint(90, 200)))
    if rng.random() < 0.05:
        case["colorectal_stent_proposed"] = True
    if rng.random() < 0.35:  # surgery planned
        last_bev = start + timedelta(days=rng.randint(60, 200))
        case.update(
            last_bevacizumab_dose_date=iso(last_bev),
            planned_surgery_date=iso(last_bev + timedelta(days=rng.randint(20, 90))),
            planned_surgery_urgency="emergency" if rng.random() < 0.05 else "elective",
            planned_surgery_includes_primary=rng.random() < 0.5,
            liver_metastases_cleared=rng.random() < 0.2,
        )
    if rng.random() < 0.15:  # after surgery
        case.update(
            surgical_margin=pick(rng, [(80, "r0"), (15, "r1"), (5, "r2")]),
            preop_chemo_months_given=rng.choice([2, 3, 3.5, 4, 5, 6, 7]),
            preop_backbone=rng.choice(["folfox", "capox", "folfiri", "folfoxiri"]),
        )
    return case


def rate(label: str, work: Callable[[], int], seconds: float) -> float:
    """Run `work` (which returns how many items it did) until `seconds` pass; print items/s."""
    work()  # warm-up: caches, first-call costs
    done = 0
    started = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        done += work()
        elapsed = time.perf_counter() - started
    per_second = done / elapsed
    print(f"{label:<44} {per_second:>12,.0f} /s   ({done:,} in {elapsed:.2f} s)")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=20261101)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    documents = [make_case(rng) for _ in range(args.cases)]
    facts: list[CaseFacts] = [parse_facts(document) for document in documents]
    fired = sum(len(advise(f).codes) for f in facts)

    print(f"Python {platform.python_version()} on {platform.machine()}, one process, one core")
    print(f"{len(facts):,} seeded cases (seed {args.seed}), {fired / len(facts):.1f} codes each")

    def advise_all() -> int:
        for f in facts:
            advise(f)
        return len(facts)

    def contract_all() -> int:
        for document in documents:
            advice_to_dict(advise(parse_facts(document)))
        return len(documents)

    def contract_and_dump_all() -> int:
        for document in documents:
            json.dumps(advice_to_dict(advise(parse_facts(document))))
        return len(documents)

    rate("advise()", advise_all, args.seconds)
    rate("parse_facts + advise + advice_to_dict", contract_all, args.seconds)
    rate("... + json.dumps", contract_and_dump_all, args.seconds)


if __name__ == "__main__":
    main()
