"""Implementation follow-up: which decisions open one, its status and reasons, the two worklists
(letters not sent within a working day, recommendations not carried out in N days), and the
previous outcome at the top of the case in the next meeting."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from cases import models
from cases.common.services import ConflictError
from cases.followup import services as svc
from cases.followup.implementation import follow_ups_implied
from cases.followup.selectors import follow_ups_overdue, letters_unsent
from cases.pathway import add_working_days, latest_on_time_start
from tests.conftest import make_user, signed_in
from tests.followup.helpers import signed_off_item
from tests.meeting_factory import MEETING_DAY, list_case, make_meeting

pytestmark = [pytest.mark.django_db]


def _decision(point: str, answer: dict) -> models.Decision:
    return models.Decision(point=point, answer=answer)


@pytest.mark.parametrize(
    ("point", "answer", "kinds"),
    [
        ("systemic_therapy", {"agents": ["fluorouracil", "oxaliplatin"]}, ["treatment"]),
        ("systemic_therapy", {"agents": []}, []),
        ("resectability", {"choice": "resectability_unconfirmed"}, ["referral"]),
        ("resectability", {"choice": "not_resectable"}, []),
        ("primary_management", {"choice": "primary_resection"}, ["surgery"]),
        ("primary_management", {"choice": "short_course_rt"}, ["radiotherapy"]),
        ("primary_management", {"choice": "no_intervention"}, []),
        ("pelvic_radiotherapy", {"choice": "long_course_crt"}, ["radiotherapy"]),
        ("pelvic_radiotherapy", {"choice": "none"}, []),
        (
            "liver_surgery",
            {"surgery": "one_stage_hepatectomy", "liver_biopsy": True},
            ["surgery", "biopsy"],
        ),
        ("liver_surgery", {"surgery": "none", "liver_biopsy": False}, []),
        ("postoperative", {"postop_chemo": "yes", "months": 3}, ["treatment"]),
        ("outcome", {"choice": "continue_pathway"}, ["scan"]),
        ("outcome", {"choice": "rediscuss"}, []),
    ],
)
def test_it_opens_a_follow_up_for_each_decision_that_asks_for_something(point, answer, kinds):
    implied = follow_ups_implied([_decision(point, answer)], next_reassessment=None)
    assert [i.kind for i in implied] == kinds
    assert all("_" not in i.description for i in implied)


def test_sign_off_opens_the_follow_ups_planned_on_the_meeting_day():
    item = signed_off_item()
    rows = models.FollowUp.objects.filter(agenda_item=item).order_by("kind")
    assert [(f.kind, f.status, f.planned_on) for f in rows] == [
        ("scan", "planned", MEETING_DAY),
        ("treatment", "planned", MEETING_DAY),
    ]
    assert rows[0].description == "Reassessment imaging by 10 May 2026"


def test_a_follow_up_moves_forward_and_not_done_needs_a_reason_from_the_list():
    item = signed_off_item()
    follow_up = models.FollowUp.objects.get(agenda_item=item, kind="treatment")
    coordinator = make_user("coordinator")
    with pytest.raises(PermissionDenied):
        svc.follow_up_update(
            user=make_user("auditor"),
            follow_up_id=follow_up.pk,
            status="in_progress",
            status_on=None,
            expected_version=1,
        )
    svc.follow_up_update(
        user=coordinator,
        follow_up_id=follow_up.pk,
        status="in_progress",
        status_on=None,
        expected_version=1,
    )
    with pytest.raises(ValidationError) as error:
        svc.follow_up_update(
            user=coordinator,
            follow_up_id=follow_up.pk,
            status="not_done",
            status_on=MEETING_DAY + dt.timedelta(days=3),
            expected_version=2,
        )
    assert "not_done_reason" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        svc.follow_up_update(
            user=coordinator,
            follow_up_id=follow_up.pk,
            status="not_done",
            status_on=MEETING_DAY + dt.timedelta(days=3),
            not_done_reason="other",
            expected_version=2,
        )
    assert "not_done_text" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        svc.follow_up_update(
            user=coordinator,
            follow_up_id=follow_up.pk,
            status="done",
            status_on=None,
            expected_version=2,
        )
    assert "status_on" in error.value.message_dict
    with pytest.raises(ValidationError, match="forward"):
        svc.follow_up_update(
            user=coordinator,
            follow_up_id=follow_up.pk,
            status="planned",
            status_on=None,
            expected_version=2,
        )
    with pytest.raises(ConflictError):
        svc.follow_up_update(
            user=coordinator,
            follow_up_id=follow_up.pk,
            status="done",
            status_on=MEETING_DAY,
            expected_version=1,
        )
    done = svc.follow_up_update(
        user=coordinator,
        follow_up_id=follow_up.pk,
        status="not_done",
        status_on=MEETING_DAY + dt.timedelta(days=3),
        not_done_reason="toxicity",
        expected_version=2,
    )
    assert (done.status, done.not_done_reason, done.updated_by) == (
        "not_done",
        "toxicity",
        coordinator,
    )
    with pytest.raises(ConflictError, match="already recorded"):
        svc.follow_up_update(
            user=coordinator,
            follow_up_id=follow_up.pk,
            status="done",
            status_on=MEETING_DAY + dt.timedelta(days=4),
            expected_version=3,
        )


def test_the_database_refuses_an_inconsistent_follow_up():
    item = signed_off_item()
    follow_up = models.FollowUp.objects.get(agenda_item=item, kind="treatment")
    day = MEETING_DAY + dt.timedelta(days=2)
    for changes in (
        {"status": "done"},  # no date
        {"status": "not_done", "status_on": day},  # no reason
        {"status": "not_done", "status_on": day, "not_done_reason": "other"},  # no text
        {"status": "planned", "status_on": day},  # open with a date
        {"status": "done", "status_on": MEETING_DAY - dt.timedelta(days=1)},  # before the meeting
        {"status": "done", "status_on": day, "not_done_reason": "died"},  # done with a reason
        {"status": "abandoned"},
        {"kind": "massage"},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            models.FollowUp.objects.filter(pk=follow_up.pk).update(**changes)


def test_the_follow_up_form_shows_errors_and_writes_nothing():
    item = signed_off_item()
    follow_up = models.FollowUp.objects.get(agenda_item=item, kind="treatment")
    client = signed_in(make_user("coordinator"))
    url = reverse("cases:follow-up-update", args=[follow_up.pk])
    response = client.post(url, {"version": 1, "status": "not_done", "status_on": "2026-03-12"})
    assert response.status_code == 422
    assert "Choose why it was not done." in response.content.decode()
    follow_up.refresh_from_db()
    assert follow_up.status == "planned"
    with time_machine.travel(dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)):
        response = client.post(url, {"version": 1, "status": "done", "status_on": "2026-03-12"})
    assert response.status_code == 302
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.status_on) == ("done", dt.date(2026, 3, 12))


# --- Worklists ------------------------------------------------------------------------------------


def test_working_days_skip_weekends_and_bank_holidays():
    friday, monday = dt.date(2026, 4, 3), dt.date(2026, 4, 6)  # Good Friday, Easter Monday
    holidays = frozenset({friday, monday})
    thursday = dt.date(2026, 4, 2)
    assert add_working_days(thursday, 1) == friday
    assert add_working_days(thursday, 1, holidays) == dt.date(2026, 4, 7)
    assert add_working_days(dt.date(2026, 3, 13), 1) == dt.date(2026, 3, 16)  # Friday → Monday
    # Late today: signed off on a day whose deadline has passed.
    assert latest_on_time_start(dt.date(2026, 4, 8), 1, holidays) == thursday
    assert latest_on_time_start(dt.date(2026, 4, 7), 1, holidays) == dt.date(2026, 4, 1)


def test_a_letter_joins_the_worklist_after_one_working_day_and_leaves_it_when_sent(settings):
    settings.BANK_HOLIDAYS = [dt.date(2026, 3, 11)]
    item = signed_off_item()  # signed off Tuesday 10 March
    letters = models.OutcomeLetter.objects.filter(agenda_item=item)
    ids = sorted(letters.values_list("pk", flat=True))
    # Wednesday is a bank holiday: Thursday is its one working day; on Friday it is late.
    assert list(letters_unsent(today=dt.date(2026, 3, 12))) == []
    assert sorted(r.pk for r in letters_unsent(today=dt.date(2026, 3, 13))) == ids
    settings.BANK_HOLIDAYS = []
    assert sorted(r.pk for r in letters_unsent(today=dt.date(2026, 3, 12))) == ids
    clinician = make_user("clinician")
    gp = letters.get(kind="gp")
    svc.letter_check(user=clinician, letter_id=gp.pk, expected_version=1)
    assert gp.pk in [r.pk for r in letters_unsent(today=dt.date(2026, 3, 13))]  # checked, not sent
    svc.letter_send(user=clinician, letter_id=gp.pk, expected_version=2)
    assert [r.kind for r in letters_unsent(today=dt.date(2026, 3, 13))] == ["referrer"]


def test_a_recommendation_joins_its_worklist_after_its_kinds_days(settings):
    settings.FOLLOWUP_DAYS = {**settings.FOLLOWUP_DAYS, "treatment": 10, "scan": 30}
    item = signed_off_item()
    treatment = models.FollowUp.objects.get(agenda_item=item, kind="treatment")
    assert list(follow_ups_overdue(today=MEETING_DAY + dt.timedelta(days=10))) == []
    late = list(follow_ups_overdue(today=MEETING_DAY + dt.timedelta(days=11)))
    assert [f.kind for f in late] == ["treatment"]
    assert [f.kind for f in follow_ups_overdue(today=MEETING_DAY + dt.timedelta(days=31))] == [
        "treatment",
        "scan",
    ]
    with time_machine.travel(dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)):
        svc.follow_up_update(
            user=make_user("coordinator"),
            follow_up_id=treatment.pk,
            status="done",
            status_on=dt.date(2026, 3, 19),
            expected_version=1,
        )
    assert [f.kind for f in follow_ups_overdue(today=MEETING_DAY + dt.timedelta(days=31))] == [
        "scan"
    ]


def test_the_dashboard_draws_both_worklists_after_the_page():
    item = signed_off_item()
    client = signed_in(make_user("coordinator"))
    with time_machine.travel(dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)):
        page = client.get(reverse("cases:home")).content.decode()
        letters = client.get(
            reverse("cases:worklist-panel", args=["letters-unsent"]), headers={"HX-Request": "true"}
        ).content.decode()
        follow_ups = client.get(
            reverse("cases:worklist-panel", args=["follow-ups-overdue"]),
            headers={"HX-Request": "true"},
        ).content.decode()
    assert 'id="wl-letters-unsent"' in page
    assert 'id="wl-follow-ups-overdue"' in page
    assert reverse("cases:worklist-panel", args=["letters-unsent"]) in page
    assert reverse("cases:letter-detail", args=[item.letters.get(kind="gp").pk]) in letters
    assert 'aria-label="2 on this list"' in letters
    assert "Reassessment imaging by 10 May 2026" in follow_ups


def test_the_next_meeting_shows_the_previous_outcomes_implementation_at_the_top():
    item = signed_off_item()
    treatment = models.FollowUp.objects.get(agenda_item=item, kind="treatment")
    with time_machine.travel(dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)):
        svc.follow_up_update(
            user=make_user("coordinator"),
            follow_up_id=treatment.pk,
            status="not_done",
            status_on=dt.date(2026, 3, 19),
            not_done_reason="patient_declined",
            expected_version=1,
        )
    chair = item.signed_off_by
    later = list_case(make_meeting(chair, day=dt.date(2026, 5, 12)), item.case, by=chair)
    page = (
        signed_in(chair).get(reverse("cases:agenda-item-detail", args=[later.pk])).content.decode()
    )
    top = page.index('id="previous-outcome"')
    assert top < page.index('id="case-summary"')
    section = page[top : page.index("</section>", top)]
    assert "Not done" in section
    assert "Patient declined" in section
    assert "Planned" in section
    assert "Reassessment imaging by 10 May 2026" in section
    # The first meeting's own page has no previous outcome.
    first = (
        signed_in(chair).get(reverse("cases:agenda-item-detail", args=[item.pk])).content.decode()
    )
    assert 'id="previous-outcome"' not in first


@pytest.mark.parametrize("slug", ["letters-unsent", "follow-ups-overdue"])
def test_each_after_the_meeting_worklist_declares_every_table_its_panel_reads(slug):
    import re

    from django.db import connection
    from django.template.loader import render_to_string
    from django.test.utils import CaptureQueriesContext

    from cases.worklists import queries as worklists
    from cases.worklists import views

    signed_off_item()
    spec = worklists.WORKLISTS_BY_SLUG[slug]
    with CaptureQueriesContext(connection) as queries:
        [panel] = views._build_panels((spec,), today=dt.date(2026, 6, 1), meeting=None)
        render_to_string(panel.template, {"panel": panel, "can_list": True})
    assert panel.count > 0
    read = {table for q in queries for table in re.findall(r'"(cases_\w+)"', q["sql"])}
    assert read <= {model._meta.db_table for model in spec.reads}
