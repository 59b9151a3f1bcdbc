"""Issue 16: the meeting decides and the record follows. One test per observation of the walk
(1, 2, 3, 5, 6, 7, 8, 9, 12); each fails on the walk as it was before the issue."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cases import models
from cases.meetings import services as svc
from cases.meetings.walk import build_walk, evaluate_answer
from cases.records.mapping import case_inputs
from cases.records.selectors import case_clinical_record
from cases.reminders.planning import reminders_sync_for_case
from cases.worklists.queries import bevacizumab_interval
from tests.conftest import make_user
from tests.meeting_factory import (
    MEETING_DAY,
    attend_all,
    list_case,
    make_conversion_case,
    make_core_members,
    make_meeting,
)

pytestmark = [pytest.mark.django_db]
DAY = MEETING_DAY
VERDICT = {
    "r0_achievable": "yes",
    "flr_percent_slv": 35,
    "flr_segments_remaining": 4,
    "extrahepatic_disease": "none",
    "planned_hepatectomy_extent": "major",
    "choice": "converted_resectable",
}


@pytest.fixture
def chair():
    return make_user("chair", username="chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)


@pytest.fixture
def item(chair):
    meeting = make_meeting(chair)
    attend_all(meeting, make_core_members())  # an HPB surgeon among them
    return list_case(meeting, make_conversion_case(), by=chair)


def _record(user, item, point, answer, **reasons):
    return svc.decision_record(
        user=user, agenda_item_id=item.pk, point=point, answer=answer, **reasons
    ).decision


def _walk(item, hpb_present=True):
    return build_walk(
        case_clinical_record(case_id=item.case_id),
        list(item.decisions.all()),
        meeting_day=DAY,
        hpb_present=hpb_present,
    )


def _facts(step):
    return {f.label: f.value for f in step.facts}


def test_obs1_2_the_hpb_verdict_given_in_the_meeting_is_a_fact_for_every_later_point(chair, item):
    _record(chair, item, "data_completeness", {"choice": "proceed"})
    decision = _record(chair, item, "resectability", VERDICT)
    assert decision.follows_recommendation  # the engine computes "converted" from the verdict
    assert decision.answer["hpb_reviewed"] is True  # an HPB surgeon is recorded present
    walk = _walk(item)
    liver = walk.step("liver_surgery")
    assert _facts(liver)["HPB MDT reviewed"] == "Yes"
    assert _facts(liver)["FLR (% SLV, one stage)"] == "35"
    assert liver.lines[0].value == "Converted: resectable"
    surgery = next(f for f in liver.fields if f.name == "surgery")
    assert [c.value for c in surgery.choices if c.recommended] == ["one_stage_hepatectomy"]
    assert any(f.name == "sequence" for f in liver.fields)  # the sequencing question is asked
    primary = walk.step("primary_management")
    assert _facts(primary)["Conversion status"] == "Converted: resectable"
    # No false HPB_MDT_REVIEW_REQUIRED: the review happened in this meeting.
    _s, _c, evaluation = evaluate_answer(
        case_clinical_record(case_id=item.case_id),
        list(item.decisions.all()),
        meeting_day=DAY,
        point="liver_surgery",
        answer={"surgery": "one_stage_hepatectomy", "sequence": "liver_first"},
        hpb_present=True,
    )
    assert "HPB_MDT_REVIEW_REQUIRED" not in evaluation.hard_stops
    assert evaluation.follows


def test_obs2_without_an_hpb_surgeon_present_the_verdict_is_not_a_review(chair):
    meeting = make_meeting(chair)
    item = list_case(meeting, make_conversion_case(), by=chair)
    decision = _record(
        chair, item, "resectability", {**VERDICT, "choice": "resectability_unconfirmed"}
    )
    assert decision.answer["hpb_reviewed"] is False
    assert decision.follows_recommendation


def test_obs3_not_resectable_says_why(chair, item):
    step = _walk(item).step("resectability")
    assert "Not resectable: R0 not yet assessed by the HPB MDT" in step.recommended_text
    assert step.lines[0].value == "Not resectable: R0 not yet assessed by the HPB MDT"


def test_obs9_nothing_is_ticked_and_no_point_is_recorded_without_an_explicit_choice(chair, item):
    walk = _walk(item)
    for step in walk.steps:
        assert not {k: v for k, v in step.initial.items() if v not in (None, False, [])} or (
            step.point == "outcome" and set(step.initial) == {"next_reassessment_on"}
        ), step.point
        for f in step.fields:
            if f.kind == "radio" and f.name == "choice" and step.point != "resectability":
                assert any(c.recommended for c in f.choices), step.point
    with pytest.raises(ValidationError, match="Choose one"):
        _record(chair, item, "data_completeness", {})
    assert not models.Decision.objects.exists()


def _to_timing(chair, item, agents=("fluorouracil", "oxaliplatin", "bevacizumab")):
    _record(chair, item, "data_completeness", {"choice": "proceed"})
    _record(chair, item, "resectability", VERDICT)
    _record(chair, item, "primary_management", {"choice": "no_intervention"})
    _record(
        chair,
        item,
        "systemic_therapy",
        {"plan": "continue"},
        deviation_reason="Continue the doublet that converted",
    )
    _record(chair, item, "pelvic_radiotherapy", {"choice": "none"})
    _record(
        chair,
        item,
        "liver_surgery",
        {"surgery": "one_stage_hepatectomy", "sequence": "liver_first"},
    )


def test_obs5_continuing_bevacizumab_counts_surgery_from_the_planned_last_dose(chair, item):
    _to_timing(chair, item)
    timing = _walk(item).step("timing")
    assert [f.name for f in timing.fields] == ["last_bev_planned", "target_surgery_date"]
    with pytest.raises(ValidationError) as refused:
        _record(chair, item, "timing", {"target_surgery_date": "2026-05-01"})
    assert "last_bev_planned" in refused.value.message_dict
    # The last dose given was 14 days ago (surgery allowed from 7 Apr), but the plan gives a
    # last dose on 31 Mar: surgery on 1 May is before 31 Mar + 42 days = 12 May.
    answer = {"last_bev_planned": "2026-03-31", "target_surgery_date": "2026-05-01"}
    with pytest.raises(ValidationError, match="BEV_SURGERY_INTERVAL_LT_6_WEEKS"):
        _record(chair, item, "timing", answer)
    decision = _record(chair, item, "timing", {**answer, "target_surgery_date": "2026-05-12"})
    assert decision.advice_snapshot["inputs"]["last_bevacizumab_dose_date"] == "2026-03-31"
    assert decision.advice_snapshot["hard_stops"] == []


def test_obs5_a_stent_is_labelled_caution_bevacizumab_not_recommended(chair, item):
    step = _walk(item).step("primary_management")
    stent = next(c for c in step.fields[0].choices if c.value == "colorectal_stent")
    assert stent.label == "Colorectal stent (caution: bevacizumab)"
    assert not stent.recommended


def test_obs5_an_outcome_that_contradicts_the_points_is_refused_naming_them(chair, item):
    _record(chair, item, "data_completeness", {"choice": "proceed"})
    _record(chair, item, "primary_management", {"choice": "no_intervention"})
    _record(chair, item, "liver_surgery", {"surgery": "none"})
    _record(chair, item, "systemic_therapy", {"plan": "none"}, deviation_reason="toxicity")
    with pytest.raises(ValidationError) as refused:
        _record(chair, item, "outcome", {"choice": "proceed_to_surgery"}, deviation_reason="x")
    message = refused.value.message_dict["choice"][0]
    assert "Primary tumour management" in message
    assert "Liver surgery" in message
    with pytest.raises(ValidationError) as refused:
        _record(
            chair,
            item,
            "outcome",
            {"choice": "continue_pathway", "next_reassessment_on": "2026-05-10"},
        )
    assert "Systemic therapy (No systemic therapy)" in refused.value.message_dict["choice"][0]


def test_obs6_sign_off_writes_the_record(chair, item):
    _to_timing(chair, item)
    _record(
        chair,
        item,
        "timing",
        {"last_bev_planned": "2026-03-31", "target_surgery_date": "2026-05-12"},
    )
    _record(chair, item, "outcome", {"choice": "proceed_to_surgery"})
    svc.outcome_sign_off(user=chair, agenda_item_id=item.pk)
    case = case_clinical_record(case_id=item.case_id)
    assert case.stage == models.Stage.SURGERY_PLANNED
    [surgery] = [s for s in case.surgeries.all() if s.performed_on is None]
    assert surgery.kind == "one_stage_hepatectomy"
    assert surgery.planned_on == dt.date(2026, 5, 12)
    assert surgery.hepatectomy_extent == "major"
    review = case.reassessments.get(cycle=2)
    assert review.hpb_mdt_reviewed
    assert review.r0_achievable
    assert review.hpb_reviewed_on == DAY
    assert review.hpb_reviewers  # the members present
    # A later meeting shows the verdict as a dated fact.
    later = list_case(make_meeting(chair, day=DAY + dt.timedelta(days=14)), case, by=chair)
    walk = build_walk(
        case_clinical_record(case_id=later.case_id), [], meeting_day=DAY + dt.timedelta(days=14)
    )
    fact = next(f for f in walk.step("liver_surgery").facts if f.label == "R0 achievable")
    assert fact.value == "Yes"
    assert fact.on.startswith("HPB review in the MDT of 10 Mar 2026")


def test_obs6_the_planned_last_bevacizumab_dose_is_stored_and_counted_everywhere(chair, item):
    """H2 beyond the meeting: sign-off stores the planned last dose on the running course, and
    the engine, the dashboard's worklist and the reminders count the interval from it."""
    _to_timing(chair, item)
    answer = {"last_bev_planned": "2026-03-31", "target_surgery_date": "2026-05-12"}
    _record(chair, item, "timing", answer)
    _record(chair, item, "outcome", {"choice": "proceed_to_surgery"})
    svc.outcome_sign_off(user=chair, agenda_item_id=item.pk)
    (course,) = models.TreatmentCourse.objects.filter(case=item.case, stopped_on__isnull=True)
    assert course.bevacizumab_last_planned_on == dt.date(2026, 3, 31)
    inputs = case_inputs(case_clinical_record(case_id=item.case_id), today=DAY)
    assert inputs["last_bevacizumab_dose_date"] == "2026-03-31"  # given: 14 days before DAY
    # The reminders as they stood on the meeting day (by today, 12 May has long passed).
    with time_machine.travel(timezone.make_aware(dt.datetime.combine(DAY, dt.time(18)))):
        reminders_sync_for_case(case_id=item.case_id)
    ends = models.Reminder.objects.get(case=item.case, kind=models.ReminderKind.BEV_INTERVAL_ENDS)
    assert ends.event_on == dt.date(2026, 5, 12)
    # Surgery on the 42nd day is allowed; moved a day earlier, the worklist flags it.
    assert not bevacizumab_interval(today=DAY).filter(case=item.case).exists()
    models.Surgery.objects.filter(case=item.case).update(planned_on=dt.date(2026, 5, 11))
    (flagged,) = bevacizumab_interval(today=DAY).filter(case=item.case)
    assert flagged.last_bev == dt.date(2026, 3, 31)
    assert flagged.earliest_safe == dt.date(2026, 5, 12)
    # A course that has stopped plans nothing: the last dose given counts again.
    models.TreatmentCourse.objects.filter(pk=course.pk).update(stopped_on=DAY)
    inputs = case_inputs(case_clinical_record(case_id=item.case_id), today=DAY)
    assert inputs["last_bevacizumab_dose_date"] == (DAY - dt.timedelta(days=14)).isoformat()
    assert not bevacizumab_interval(today=DAY).filter(case=item.case).exists()


def test_obs6_a_new_course_replaces_the_current_one_at_sign_off(chair, item):
    _record(chair, item, "data_completeness", {"choice": "proceed"})
    _record(chair, item, "resectability", {**VERDICT, "r0_achievable": "not_assessed",
                                           "choice": "not_resectable"})  # fmt: skip
    _record(chair, item, "primary_management", {"choice": "no_intervention"})
    folfoxiri = ["fluorouracil", "oxaliplatin", "irinotecan", "bevacizumab"]
    _record(chair, item, "systemic_therapy", {"plan": "new", "agents": folfoxiri})
    _record(chair, item, "pelvic_radiotherapy", {"choice": "none"})
    _record(chair, item, "liver_surgery", {"surgery": "none"})
    _record(
        chair, item, "outcome", {"choice": "continue_pathway", "next_reassessment_on": "2026-05-10"}
    )
    svc.outcome_sign_off(user=chair, agenda_item_id=item.pk)
    courses = list(models.TreatmentCourse.objects.filter(case=item.case).order_by("started_on"))
    assert courses[0].stopped_on == DAY
    assert courses[-1].agents == folfoxiri
    assert courses[-1].backbone == "folfoxiri"
    assert courses[-1].stopped_on is None


def test_obs7_12_a_passed_rule_date_is_never_the_default_and_the_outcome_says_so(chair):
    meeting = make_meeting(chair)
    # No new scan: the rule date counts from the last reassessment, 60 days ago, so it is the
    # day before the meeting.
    item = list_case(meeting, make_conversion_case(imaged_days_before=None), by=chair)
    step = _walk(item).step("outcome")
    assert step.initial == {"next_reassessment_on": None}
    assert "has passed" in next(f for f in step.fields if f.name == "next_reassessment_on").help
    _record(chair, item, "data_completeness", {"choice": "proceed_provisional"})
    with pytest.raises(ValidationError, match="has passed"):
        _record(chair, item, "outcome", {"choice": "continue_pathway"})
    with pytest.raises(ValidationError, match="cannot be before"):
        _record(
            chair,
            item,
            "outcome",
            {"choice": "continue_pathway", "next_reassessment_on": "2026-03-09"},
        )
    decision = _record(
        chair, item, "outcome", {"choice": "continue_pathway", "next_reassessment_on": "2026-03-24"}
    )
    assert decision.answer["rule_date_passed"] is True
    walk = _walk(item)
    assert "(the rule date, 9 Mar 2026, had passed)" in walk.step("outcome").answer_text
    assert walk.plan.next_on == dt.date(2026, 3, 24)


def test_obs8_a_stale_ecog_is_named_and_the_point_recommends_provisional_or_defer(chair):
    meeting = make_meeting(chair)
    case = make_conversion_case()
    models.Case.objects.filter(pk=case.pk).update(ecog_assessed_on=DAY - dt.timedelta(days=420))
    item = list_case(meeting, case, by=chair)
    step = _walk(item).step("data_completeness")
    ecog = next(f for f in step.facts if f.label == "ECOG")
    assert ecog.flag == "stale"
    assert ecog.on == "assessed 14 Jan 2025"
    assert "ECOG performance status less than 8 weeks old" in step.lines[0].value
    assert [c.value for c in step.fields[0].choices if c.recommended] == [
        "proceed_provisional",
        "defer",
    ]
    kras = next(f for f in step.facts if f.label == "KRAS")
    assert kras.on == "reported 10 Dec 2025"


def test_obs8_the_ecog_age_is_a_setting(chair, settings):
    settings.ECOG_MAX_AGE_DAYS = 500
    meeting = make_meeting(chair)
    case = make_conversion_case()
    models.Case.objects.filter(pk=case.pk).update(ecog_assessed_on=DAY - dt.timedelta(days=420))
    step = _walk(list_case(meeting, case, by=chair)).step("data_completeness")
    assert next(f for f in step.facts if f.label == "ECOG").flag == ""


def test_obs9_braf_is_never_described_in_ras_wording(chair, item):
    models.MolecularResult.objects.filter(case=item.case, marker="braf_v600e").update(
        status="wild_type"
    )
    walk = _walk(item)
    braf = next(f for f in walk.step("data_completeness").facts if f.label == "BRAF V600E")
    assert braf.value == "Wild-type"


# --- Observation 4: the live preview --------------------------------------------------------

HTMX = {"HX-Request": "true"}


def test_obs4_choosing_an_option_shows_its_hard_stop_and_the_override_box_before_any_submit(
    client, chair, item
):
    client.force_login(chair)
    url = reverse("cases:decision-preview", args=[item.pk, "pelvic_radiotherapy"])
    data = {"patient_check": item.case.reference, "choice": "long_course_crt"}
    response = client.post(url, data, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="card-pelvic_radiotherapy-alerts"')
    assert 'Hard stop <span class="code">LONG_COURSE_CRT_UPFRONT</span>' in body
    assert 'name="override_reason"' in body  # the chair's box, before anything is submitted
    assert "Departs from the recommendation" in body
    assert not models.Decision.objects.exists()  # nothing is stored
    safe = client.post(url, {**data, "choice": "none"}, headers=HTMX).content.decode()
    assert "LONG_COURSE_CRT_UPFRONT" not in safe
    assert "Follows the recommendation" in safe
    # An unfinished answer shows no error, and the submit still judges.
    unfinished = client.post(url, {"patient_check": item.case.reference}, headers=HTMX)
    assert "field-error" not in unfinished.content.decode()


def test_obs4_the_preview_is_for_recorders_only(client, item):
    client.force_login(make_user("auditor"))
    url = reverse("cases:decision-preview", args=[item.pk, "pelvic_radiotherapy"])
    assert client.post(url, {"choice": "none"}, headers=HTMX).status_code == 403


def test_obs4_the_open_card_redraws_its_alerts_on_change(client, chair, item):
    client.force_login(chair)
    page = client.get(reverse("cases:agenda-item-detail", args=[item.pk])).content.decode()
    card = page.split('id="card-data_completeness"')[1].split("</article>")[0]
    preview = reverse("cases:decision-preview", args=[item.pk, "data_completeness"])
    assert f'hx-post="{preview}" hx-trigger="change"' in card
    assert 'hx-target="#card-data_completeness-alerts"' in card
    assert 'id="card-data_completeness-alerts"' in card
