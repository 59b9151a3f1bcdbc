"""The decision walk: which points apply, what each card recommends, which alerts it carries."""

from __future__ import annotations

import datetime as dt

import pytest

from cases import models
from cases.meetings.walk import (
    AnswerError,
    build_walk,
    evaluate_answer,
    plan_for,
    proposal_from,
)
from cases.meetings.walk.answers import check_answer
from cases.meetings.walk.points import CODE_POINTS
from cases.pathway import CODES
from cases.pathway.regimens import regimen_family_of
from cases.records.selectors import case_clinical_record
from tests.conftest import make_user
from tests.meeting_factory import (
    MEETING_DAY,
    make_conversion_case,
)

pytestmark = [pytest.mark.django_db]
DAY = MEETING_DAY


def _decision(point: str, answer: dict, pk: int, supersedes: int | None = None, **fields):
    """An unsaved decision: the walk reads decisions, it never queries them."""
    return models.Decision(
        pk=pk,
        point=point,
        answer=answer,
        advice_snapshot={},
        follows_recommendation=fields.pop("follows", True),
        supersedes_id=supersedes,
        recorded_at=dt.datetime(2026, 3, 10, 9, pk, tzinfo=dt.UTC),
        **fields,
    )


def _walk(case, decisions=()):
    return build_walk(case_clinical_record(case_id=case.pk), list(decisions), meeting_day=DAY)


def test_it_maps_every_alert_code_of_the_engine_to_a_decision_point():
    assert set(CODE_POINTS) == {str(code) for code in CODES}
    assert all(CODE_POINTS.values())


def test_it_walks_a_rectal_conversion_case_through_the_points_that_apply():
    walk = _walk(make_conversion_case())
    assert walk.points == [
        "data_completeness",
        "resectability",
        "primary_management",
        "systemic_therapy",
        "pelvic_radiotherapy",
        "liver_surgery",
        "outcome",
    ]
    assert walk.current.point == "data_completeness"
    assert not walk.complete


def test_it_leaves_pelvic_radiotherapy_out_for_a_colon_primary():
    walk = _walk(make_conversion_case(primary_site=models.PrimarySite.SIGMOID_COLON))
    assert "pelvic_radiotherapy" not in walk.points


def test_deferring_for_missing_data_leaves_only_the_outcome_and_recommends_rediscussion():
    case = make_conversion_case(kras="pending")
    walk = _walk(case)
    data = walk.step("data_completeness")
    assert data.initial == {}  # nothing ticked until the MDT chooses
    assert [c.value for c in data.fields[0].choices if c.recommended] == [
        "proceed_provisional",
        "defer",
    ]
    assert {f.label: f.flag for f in data.facts}["KRAS"] == "pending"
    assert "RAS_STATUS_REQUIRED" in [a.code for a in data.warnings]
    walk = _walk(case, [_decision("data_completeness", {"choice": "defer"}, 1, follows=False)])
    assert walk.points == ["data_completeness", "outcome"]
    assert walk.step("outcome").recommended_text.startswith("Re-discuss")


def test_the_systemic_therapy_card_recommends_the_engines_regimen_and_ticks_nothing():
    step = _walk(make_conversion_case()).step("systemic_therapy")
    assert step.recommended_text == "FOLFOXIRI + bevacizumab"
    assert step.initial == {}
    plan = next(f for f in step.fields if f.name == "plan")
    assert plan.choices[0].label == "Continue the current course (FOLFOX + bevacizumab)"
    assert [line.title for line in step.lines][:1] == ["Recommended regimen"]
    assert step.lines[0].citations  # the catalogue's sources come with the explanation


def test_anti_egfr_in_ras_mutant_disease_is_a_hard_stop_on_the_systemic_therapy_card_only():
    case = case_clinical_record(case_id=make_conversion_case().pk)
    _step, clean, evaluation = evaluate_answer(
        case,
        [],
        meeting_day=DAY,
        point="systemic_therapy",
        answer={"plan": "new", "agents": ["panitumumab", "fluorouracil", "oxaliplatin"]},
    )
    assert clean == {"plan": "new", "agents": ["fluorouracil", "oxaliplatin", "panitumumab"]}
    assert evaluation.hard_stops == ("ANTI_EGFR_RAS_MUTANT",)
    assert not evaluation.follows
    snapshot = evaluation.snapshot()
    assert snapshot["inputs"]["proposed_agents"] == ["fluorouracil", "oxaliplatin", "panitumumab"]
    assert snapshot["guideline_version"]
    assert snapshot["rule_constants"]["bev_min_days"] == 42
    assert snapshot["recommendation"]["recommended_regimen_family"] == "folfoxiri_bevacizumab"


@pytest.mark.parametrize(
    ("agents", "family"),
    [
        (["pembrolizumab"], "pembrolizumab"),
        (["fluorouracil", "oxaliplatin", "irinotecan", "bevacizumab"], "folfoxiri_bevacizumab"),
        (["capecitabine", "oxaliplatin", "bevacizumab"], "doublet_bevacizumab"),
        (["fluorouracil", "irinotecan", "cetuximab"], "doublet_anti_egfr"),
        (["fluorouracil", "oxaliplatin"], "doublet_chemotherapy_pending_biomarkers"),
        (["fluorouracil", "oxaliplatin", "bevacizumab", "cetuximab"], None),
        (["oxaliplatin", "bevacizumab"], None),
        ([], None),
        # Seed statement 3: nivolumab + ipilimumab is an accepted dMMR alternative.
        (["nivolumab", "ipilimumab"], "pembrolizumab"),
        # A.2: anti-EGFR doublets are FOLFOX or FOLFIRI; capecitabine is not a partner (D2).
        (["capecitabine", "oxaliplatin", "cetuximab"], None),
        # FOLFOXIRI needs its fluorouracil; CAPIRI is none of the A.2 backbones.
        (["oxaliplatin", "irinotecan", "bevacizumab"], None),
        (["capecitabine", "irinotecan", "bevacizumab"], None),
        (["fluorouracil", "oxaliplatin", "irinotecan"], None),
    ],
)
def test_it_names_the_regimen_family_of_a_set_of_agents(agents, family):
    assert regimen_family_of(agents) == family


def test_the_answers_form_the_proposal_in_walk_order():
    proposal = proposal_from(
        {
            "primary_management": {"choice": "short_course_rt"},
            "systemic_therapy": {"agents": ["capecitabine"]},
            "liver_surgery": {"surgery": "one_stage_hepatectomy", "liver_biopsy": True},
        }
    )
    assert proposal == {
        "pelvic_rt_proposed": "short_course_5x5",
        "proposed_agents": ["capecitabine"],
        "proposed_liver_surgery": "one_stage_hepatectomy",
        "liver_biopsy_proposed": True,
    }
    later = proposal_from(
        {
            "primary_management": {"choice": "short_course_rt"},
            "pelvic_radiotherapy": {"choice": "none"},
        }
    )
    assert later == {"pelvic_rt_proposed": "none"}


def test_long_course_crt_with_liver_disease_in_place_is_a_hard_stop_of_pelvic_radiotherapy():
    case = case_clinical_record(case_id=make_conversion_case().pk)
    _step, _clean, evaluation = evaluate_answer(
        case, [], meeting_day=DAY, point="pelvic_radiotherapy", answer={"choice": "long_course_crt"}
    )
    assert evaluation.hard_stops == ("LONG_COURSE_CRT_UPFRONT",)
    assert "PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED" in evaluation.warnings


def _converted(case):
    models.Reassessment.objects.filter(case=case, cycle=2).update(
        hpb_mdt_reviewed=True,
        r0_achievable=True,
        flr_percent_slv=35,
        flr_segments_remaining=4,
        combined_resection_technically_feasible=True,
        planned_hepatectomy_extent="major",
    )
    return case


def test_a_converted_case_gets_the_sequencing_question_and_the_engines_strategy():
    walk = _walk(_converted(make_conversion_case()))
    step = walk.step("liver_surgery")
    assert "surgery" not in step.initial
    surgery = next(f for f in step.fields if f.name == "surgery")
    assert [c.value for c in surgery.choices if c.recommended] == ["one_stage_hepatectomy"]
    sequence = next(f for f in step.fields if f.name == "sequence")
    assert [c.value for c in sequence.choices] == [
        "liver_first",
        "primary_first_staged",
        "synchronous_resection",
    ]
    assert [c.value for c in sequence.choices if c.recommended] == ["liver_first"]
    with pytest.raises(AnswerError, match="sequence"):
        check_answer(step, {"surgery": "one_stage_hepatectomy"})


def test_a_hepatectomy_within_six_weeks_of_bevacizumab_stops_at_the_timing_card():
    case = _converted(make_conversion_case(bev_days_before=14))
    # The plan stops bevacizumab: the interval counts from the last dose given.
    systemic = _decision("systemic_therapy", {"plan": "new", "agents": ["fluorouracil"]}, 2)
    liver = _decision(
        "liver_surgery",
        {"surgery": "one_stage_hepatectomy", "liver_biopsy": False, "sequence": "liver_first"},
        1,
    )
    walk = _walk(case, [systemic, liver])
    assert "timing" in walk.points
    timing = walk.step("timing")
    earliest = DAY - dt.timedelta(days=14) + dt.timedelta(days=42)
    assert timing.recommended_text.startswith(f"Surgery on or after {earliest.day} ")
    record = case_clinical_record(case_id=case.pk)
    too_soon = (earliest - dt.timedelta(days=1)).isoformat()
    _s, _c, evaluation = evaluate_answer(
        record,
        [systemic, liver],
        meeting_day=DAY,
        point="timing",
        answer={"target_surgery_date": too_soon},
    )
    assert evaluation.hard_stops == ("BEV_SURGERY_INTERVAL_LT_6_WEEKS",)
    assert evaluation.snapshot()["inputs"]["planned_surgery_date"] == too_soon
    _s, _c, on_the_day = evaluate_answer(
        record,
        [systemic, liver],
        meeting_day=DAY,
        point="timing",
        answer={"target_surgery_date": earliest.isoformat()},
    )
    assert on_the_day.hard_stops == ()
    assert on_the_day.follows


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-02-30", "not a date"),
        ("2026-03-09", "cannot be before"),
        ("2031-01-01", "check the year"),
        ("", "Enter the date"),
    ],
)
def test_an_impossible_surgery_date_gets_a_clear_message(value, message):
    case = _converted(make_conversion_case())
    liver = _decision(
        "liver_surgery",
        {"surgery": "two_stage_hepatectomy", "liver_biopsy": False, "sequence": "liver_first"},
        1,
    )
    step = _walk(case, [liver]).step("timing")
    with pytest.raises(AnswerError, match=message):
        check_answer(step, {"target_surgery_date": value, "last_bev_planned": "2026-03-11"})


def test_the_postoperative_plan_appears_after_an_operation_with_a_margin():
    case = make_conversion_case()
    models.Surgery.objects.create(
        case=case,
        kind=models.SurgeryKind.ONE_STAGE_HEPATECTOMY,
        planned_on=DAY - dt.timedelta(days=20),
        performed_on=DAY - dt.timedelta(days=20),
        margin=models.Margin.R1,
    )
    models.TreatmentCourse.objects.filter(case=case).update(stopped_on=DAY - dt.timedelta(days=40))
    walk = _walk(case)
    assert "postoperative" in walk.points
    assert "resectability" not in walk.points  # the liver is cleared
    step = walk.step("postoperative")
    assert "R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED" in [a.code for a in step.warnings]
    assert [c.value for c in step.fields[0].choices if c.recommended] == ["yes"]


def test_an_answer_overtaken_by_a_new_fact_reopens_its_point():
    case = make_conversion_case(kras="pending")
    answer = _decision(
        "systemic_therapy", {"agents": ["fluorouracil", "oxaliplatin", "panitumumab"]}, 1
    )
    walk = _walk(
        case, [_decision("data_completeness", {"choice": "proceed_provisional"}, 2), answer]
    )
    assert walk.step("systemic_therapy").unresolved[0].code == "ANTI_EGFR_RAS_UNKNOWN"
    models.MolecularResult.objects.filter(case=case, marker="kras").update(
        status="mutant", reported_on=DAY
    )
    walk = _walk(case, [_decision("data_completeness", {"choice": "proceed"}, 2), answer])
    step = walk.step("systemic_therapy")
    assert [a.code for a in step.unresolved] == ["ANTI_EGFR_RAS_MUTANT"]
    assert step.needs_answer


def test_an_override_covers_the_hard_stop_it_names():
    override = _decision(
        "pelvic_radiotherapy",
        {"choice": "long_course_crt"},
        1,
        overridden_hard_stops=["LONG_COURSE_CRT_UPFRONT"],
        override_reason="threatened margin",
    )
    step = _walk(make_conversion_case(), [override]).step("pelvic_radiotherapy")
    assert step.answered
    assert not step.unresolved


def test_a_correction_supersedes_and_keeps_the_history():
    first = _decision("resectability", {"choice": "converted_resectable"}, 1, follows=False)
    second = _decision("resectability", {"choice": "not_resectable"}, 2, supersedes=1)
    step = _walk(make_conversion_case(), [first, second]).step("resectability")
    assert step.decision is second
    assert [text for _d, text in step.history] == ["Converted: resectable"]


def test_the_next_reassessment_counts_from_the_meeting_that_reassessed_the_scan():
    case = make_conversion_case(imaged_days_before=5)
    plan = plan_for(case_clinical_record(case_id=case.pk), [], meeting_day=DAY)
    assert plan.next_on == dt.date(2026, 5, 10)
    assert plan.anchor == DAY
    assert plan.performed.cycle == 2


def test_without_a_new_scan_the_next_reassessment_counts_from_the_last_one_and_moves_the_open_row():
    case = make_conversion_case(imaged_days_before=None)
    plan = plan_for(case_clinical_record(case_id=case.pk), [], meeting_day=DAY)
    last = DAY - dt.timedelta(days=60)
    assert plan.anchor == last
    # The rule date (the day before the meeting) has passed: no default, the MDT sets it.
    assert plan.rule_on == dt.date(last.year, last.month + 2, last.day)
    assert plan.next_on is None
    assert "has passed" in plan.note
    assert plan.performed is None
    assert plan.reschedule.cycle == 2


def test_surgery_and_rediscussion_schedule_no_reassessment():
    case = make_conversion_case()
    for choice in ("proceed_to_surgery", "rediscuss", "leave_pathway"):
        outcome = _decision("outcome", {"choice": choice}, 1)
        plan = plan_for(case_clinical_record(case_id=case.pk), [outcome], meeting_day=DAY)
        assert plan.next_on is None
        assert plan.note


def test_the_walk_runs_no_queries(django_assert_num_queries):
    make_user("chair")
    case = case_clinical_record(case_id=make_conversion_case().pk)
    with django_assert_num_queries(0):
        build_walk(case, [], meeting_day=DAY)


def test_resecting_an_asymptomatic_primary_early_does_not_break_the_pelvic_card():
    """Primary resection (a deviation, with a reason) raises the deferral warning for the whole
    case; the pelvic card must still offer "none" as alert-free, and follow it."""
    case = make_conversion_case()
    primary = _decision(
        "primary_management", {"choice": "primary_resection"}, pk=1, follows=False,
        deviation_reason="Patient's preference after counselling",
    )  # fmt: skip
    walk = _walk(case, [primary])
    pelvic = walk.step("pelvic_radiotherapy")
    assert "none" in [c.value for c in pelvic.fields[0].choices if c.recommended]
    _step, _clean, evaluation = evaluate_answer(
        case_clinical_record(case_id=case.pk), [primary], meeting_day=DAY,
        point="pelvic_radiotherapy", answer={"choice": "none"},
    )  # fmt: skip
    assert evaluation.follows
