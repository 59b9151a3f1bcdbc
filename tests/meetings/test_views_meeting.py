"""The meeting screens over HTTP: pages and partials, plain posts and htmx, clear messages for bad
input and conflicts, the quorum banner everywhere, and a fixed number of queries per page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import models
from cases.meetings import services as svc
from tests.conftest import make_case, make_user
from tests.meeting_factory import (
    MEETING_DAY,
    attend_all,
    list_case,
    make_conversion_case,
    make_core_members,
    make_meeting,
)

pytestmark = [pytest.mark.django_db]
HTMX = {"HX-Request": "true"}


@pytest.fixture
def chair():
    return make_user("chair", username="chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)


@pytest.fixture
def item(chair):
    return list_case(
        make_meeting(chair), make_conversion_case(), by=chair, incomplete_reason="HER2 awaited"
    )


def _page(item):
    return reverse("cases:agenda-item-detail", args=[item.pk])


def _post_answer(client, item, point, data, **headers):
    """Post an answer as the card's form does: it names the case it was shown for."""
    url = reverse("cases:decision-record", args=[item.pk, point])
    return client.post(url, {"patient_check": item.case.reference, **data}, headers=headers)


def test_the_case_page_shows_the_summary_the_walk_and_the_outcome(client, chair, item):
    client.force_login(chair)
    page = client.get(_page(item)).content.decode()
    assert 'class="page-meeting"' in page
    assert "Rectum: <strong>left</strong>-sided" in page
    assert "Listed without the minimum dataset:</strong> HER2 awaited" in page
    assert "FOLFOX + bevacizumab" in page  # current regimen
    assert '<svg class="timeline"' in page
    assert 'id="card-data_completeness"' in page
    assert "Record answer" in page
    assert 'data-next-reassessment="2026-05-10"' in page


def test_an_auditor_sees_the_walk_without_any_form(client, item):
    client.force_login(make_user("auditor"))
    page = client.get(_page(item)).content.decode()
    assert "Data complete: decide today" in page
    assert "Record answer" not in page
    assert "Sign off" not in page
    response = _post_answer(client, item, "data_completeness", {"choice": "proceed"})
    assert response.status_code == 403


def test_a_plain_form_post_records_the_answer_and_goes_to_the_next_card(client, chair, item):
    client.force_login(chair)
    response = _post_answer(client, item, "data_completeness", {"choice": "proceed"})
    assert response.status_code == 302
    assert response["Location"] == _page(item) + "#card-resectability"
    assert models.Decision.objects.get().answer == {"choice": "proceed"}


def test_an_htmx_answer_swaps_in_the_walk_with_the_next_card_focused(client, chair, item):
    client.force_login(chair)
    response = _post_answer(
        client, item, "data_completeness", {"choice": "proceed"}, **HTMX, HX_Target="walk"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "decision-recorded" in response["HX-Trigger"]
    assert body.lstrip().startswith('<section id="walk"')
    assert "<html" not in body
    open_card = body.split('id="card-resectability"')[1].split("</article>")[0]
    assert "data-autofocus" in open_card


def test_the_walk_swapped_in_after_an_answer_knows_an_hpb_surgeon_is_present(client, chair):
    """The resectability card says whether the verdict given there counts as an HPB MDT review:
    the walk drawn after an answer must read the attendance like the page does (it used to be
    drawn as if nobody were present)."""
    meeting = make_meeting(chair)
    attend_all(meeting, make_core_members())  # an HPB surgeon among them
    item = list_case(meeting, make_conversion_case(), by=chair)
    client.force_login(chair)
    response = _post_answer(
        client, item, "data_completeness", {"choice": "proceed"}, **HTMX, HX_Target="walk"
    )
    assert response.status_code == 200
    card = response.content.decode().split('id="card-resectability"')[1].split("</article>")[0]
    assert "HPB MDT review" in card
    assert "No HPB surgeon recorded present" not in card


def test_an_answer_given_on_another_patients_screen_is_refused(client, chair, item):
    """A stale tab of another case posting here: nothing is recorded against this patient."""
    client.force_login(chair)
    page = client.get(_page(item)).content.decode()
    assert f'name="patient_check" value="{item.case.reference}"' in page
    assert f"Answering for <strong>{item.case.patient}</strong>" in page
    other = make_case()
    response = _post_answer(
        client, item, "data_completeness", {"choice": "proceed", "patient_check": other.reference}
    )
    assert response.status_code == 409
    assert "was not given on" in response.content.decode()
    assert not models.Decision.objects.filter(agenda_item=item).exists()


def test_a_hard_stop_without_a_reason_is_refused_in_place(client, chair, item):
    client.force_login(chair)
    data = {"choice": "long_course_crt", "deviation_reason": "local control"}
    response = _post_answer(client, item, "pelvic_radiotherapy", data, **HTMX)
    body = response.content.decode()
    assert response.status_code == 422
    assert "LONG_COURSE_CRT_UPFRONT" in body
    assert "record why the MDT overrides it" in body
    assert 'name="override_reason"' in body
    assert 'value="long_course_crt" checked' in body  # the answer given is kept
    assert not models.Decision.objects.exists()


def test_a_clinician_is_told_only_the_chair_may_override(client, item):
    client.force_login(make_user("clinician"))
    data = {"choice": "long_course_crt", "deviation_reason": "x", "override_reason": "y"}
    body = _post_answer(client, item, "pelvic_radiotherapy", data).content.decode()
    assert "Only the MDT chair may override a hard stop" in body
    assert 'name="override_reason"' not in body


@pytest.mark.parametrize(
    ("point", "data", "message"),
    [
        ("resectability", {}, "Choose one: R0 achievable"),
        ("resectability", {"choice": "perhaps"}, "Select a valid choice"),
        ("systemic_therapy", {"agents": ["aspirin"]}, "Select a valid choice"),
        ("no_such_point", {"choice": "x"}, "does not apply"),
        ("postoperative", {"postop_chemo": "yes"}, "does not apply"),
    ],
)
def test_bad_answers_get_a_message_and_never_a_500(client, chair, item, point, data, message):
    client.force_login(chair)
    response = _post_answer(client, item, point, data)
    assert response.status_code == 422
    assert message in response.content.decode()


def _converted_with_liver_answer(chair, item):
    models.Reassessment.objects.filter(case=item.case, cycle=2).update(
        hpb_mdt_reviewed=True, r0_achievable=True, flr_percent_slv=40, flr_segments_remaining=4
    )
    svc.decision_record(
        user=chair,
        agenda_item_id=item.pk,
        point="liver_surgery",
        answer={"surgery": "one_stage_hepatectomy", "sequence": "liver_first"},
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-02-30", "Enter a valid date"),
        ("2026-03-01", "cannot be before"),
        ("2099-01-01", "check the year"),
    ],
)
def test_an_impossible_surgery_date_gets_a_message_in_place(client, chair, item, value, message):
    _converted_with_liver_answer(chair, item)
    client.force_login(chair)
    data = {"target_surgery_date": value, "last_bev_planned": "2026-03-11"}
    response = _post_answer(client, item, "timing", data, **HTMX)
    assert response.status_code == 422
    assert message in response.content.decode()


def test_a_second_answer_to_the_same_point_shows_the_conflict_and_keeps_the_first(
    client, chair, item
):
    other = make_user("clinician", username="other")
    svc.decision_record(
        user=other, agenda_item_id=item.pk, point="data_completeness", answer={"choice": "proceed"}
    )
    client.force_login(chair)
    data = {"choice": "defer", "deviation_reason": "await HER2"}
    response = _post_answer(client, item, "data_completeness", data, **HTMX)
    body = response.content.decode()
    assert response.status_code == 409
    assert "Clinician Tester recorded an answer to this point at" in body
    assert "Your answer, not saved: Defer the case until the data are complete" in body
    assert [d.answer for d in models.Decision.objects.all()] == [{"choice": "proceed"}]


def test_correcting_an_answer_supersedes_it(client, chair, item):
    first = svc.decision_record(
        user=chair, agenda_item_id=item.pk, point="data_completeness", answer={"choice": "proceed"}
    ).decision
    client.force_login(chair)
    form = client.get(
        _page(item) + "?correct=data_completeness", headers=HTMX | {"HX-Target": "walk"}
    )
    assert "Why is this answer being corrected?" in form.content.decode()
    data = {"choice": "defer", "supersedes": first.pk, "deviation_reason": "await HER2"}
    refused = _post_answer(client, item, "data_completeness", data)
    assert "Say why this answer is being corrected" in refused.content.decode()
    data["correction_reason"] = "HER2 matters for the anti-EGFR choice"
    assert _post_answer(client, item, "data_completeness", data).status_code == 302
    latest = models.Decision.objects.latest("pk")
    assert latest.supersedes_id == first.pk
    page = client.get(_page(item)).content.decode()
    assert "Earlier answers (1)" in page


def test_a_new_molecular_result_re_runs_the_advice_at_once(client, chair):
    item = list_case(make_meeting(chair), make_conversion_case(kras="pending"), by=chair)
    client.force_login(chair)
    before = client.get(_page(item)).content.decode()
    assert "RAS_STATUS_REQUIRED" in before
    kras = models.MolecularResult.objects.get(case=item.case, marker="kras")
    response = client.post(
        reverse("cases:meeting-fact-correct", args=[item.pk]),
        {
            "marker": "kras",
            "status": "mutant",
            "reported_on": MEETING_DAY.isoformat(),
            "versions": f"kras:{kras.version}",
        },
        headers=HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "fact-changed" in response["HX-Trigger"]
    assert "RAS_STATUS_REQUIRED" not in body
    stale = client.post(
        reverse("cases:meeting-fact-correct", args=[item.pk]),
        {
            "marker": "kras",
            "status": "wild_type",
            "reported_on": "2026-03-01",
            "versions": "kras:1",
        },
        headers=HTMX,
    )
    assert stale.status_code == 409
    assert "Someone else changed this record" in stale.content.decode()


def test_an_action_with_an_impossible_due_date_gets_a_message(client, chair, item):
    client.force_login(chair)
    url = reverse("cases:action-create", args=[item.pk])
    data = {"description": "Book MRI", "owner": chair.pk, "due_on": "2026-13-01"}
    response = client.post(url, data, headers=HTMX)
    assert response.status_code == 422
    assert "Enter a valid date" in response.content.decode()
    data["due_on"] = "2026-03-01"
    assert "cannot be before the meeting" in client.post(url, data).content.decode()
    data["due_on"] = "2026-03-24"
    assert client.post(url, data, headers=HTMX).status_code == 201
    assert models.Action.objects.get().due_on == dt.date(2026, 3, 24)


def test_signing_off_locks_the_page_and_the_print_shows_the_override(client, chair, item):
    attend_all(item.meeting, make_core_members())
    answers = {
        "data_completeness": {"choice": "proceed"},
        "resectability": {
            "r0_achievable": "not_assessed",
            "extrahepatic_disease": "none",
            "choice": "not_resectable",
        },
        "primary_management": {"choice": "no_intervention"},
        "systemic_therapy": {
            "plan": "new",
            "agents": ["fluorouracil", "oxaliplatin", "irinotecan", "bevacizumab"],
        },
        "liver_surgery": {"surgery": "none"},
        "outcome": {"choice": "continue_pathway", "next_reassessment_on": "2026-05-10"},
    }
    for point, answer in answers.items():
        svc.decision_record(user=chair, agenda_item_id=item.pk, point=point, answer=answer)
    svc.decision_record(
        user=chair,
        agenda_item_id=item.pk,
        point="pelvic_radiotherapy",
        answer={"choice": "long_course_crt"},
        deviation_reason="local control",
        override_reason="threatened margin",
    )
    client.force_login(chair)
    response = client.post(reverse("cases:outcome-sign-off", args=[item.pk]))
    assert response.status_code == 302
    page = client.get(_page(item)).content.decode()
    assert "Outcome signed off by" in page
    assert "Record answer" not in page
    assert "Correct this answer" not in page
    again = client.post(reverse("cases:outcome-sign-off", args=[item.pk]), headers=HTMX)
    assert again.status_code == 409
    assert "is locked" in again.content.decode()
    printed = client.get(reverse("cases:outcome-print", args=[item.pk])).content.decode()
    assert '<tr class="row-stop">' in printed
    assert "LONG_COURSE_CRT_UPFRONT" in printed
    assert "Sunday 10 May 2026" in printed


def test_a_non_quorate_meeting_says_so_on_every_screen(client, chair, item):
    client.force_login(chair)
    urls = [
        reverse("cases:meeting-detail", args=[item.meeting_id]),
        _page(item),
        reverse("cases:outcome-print", args=[item.pk]),
    ]
    for url in urls:
        assert "not quorate" in client.get(url).content.decode().lower(), url
    outcome = client.get(_page(item), headers=HTMX | {"HX-Target": "outcome"}).content.decode()
    assert "The meeting is not quorate" in outcome
    attend_all(item.meeting, make_core_members())
    assert "Not quorate" not in client.get(_page(item)).content.decode()


def test_attendance_and_the_quorum_banner_update_together(client, chair, item):
    client.force_login(chair)
    url = reverse("cases:attendance-record", args=[item.meeting_id])
    response = client.post(url, {"member": chair.pk}, headers=HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="attendance"')
    assert 'id="quorum-banner" hx-swap-oob="true"' in body
    assert models.Attendance.objects.get().discipline == "medical_oncologist"
    bad = client.post(url, {"member": "nobody"}, headers=HTMX)
    assert bad.status_code == 422
    assert "Select a valid choice" in bad.content.decode()


def test_the_chair_moves_a_case_up_the_agenda(client, chair, item):
    second = list_case(item.meeting, make_case(), by=chair)
    client.force_login(chair)
    url = reverse("cases:agenda-reorder", args=[item.meeting_id])
    response = client.post(url, {"item": second.pk, "direction": "up"})
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.position == 1
    assert client.post(url, {"item": "x", "direction": "up"}).status_code == 422


def test_a_new_meeting_with_bad_input_gets_messages(client, chair):
    client.force_login(chair)
    url = reverse("cases:meeting-create")
    response = client.post(
        url, {"title": "MDT", "scheduled_for": "2020-01-01T08:00", "chair": chair.pk}
    )
    assert response.status_code == 422
    assert "cannot be in the past" in response.content.decode()
    response = client.post(url, {"title": "MDT", "scheduled_for": "31/31/2031", "chair": chair.pk})
    assert response.status_code == 422
    assert "Enter a valid date/time" in response.content.decode()


# --- A fixed number of queries, whatever the agenda's length -------------------------------------


def _meeting_with(chair, size: int) -> models.AgendaItem:
    meeting = make_meeting(chair)
    attend_all(meeting, make_core_members(prefix=f"m{size}-"))
    measured = list_case(meeting, make_conversion_case(), by=chair, late_reason="urgent")
    for _ in range(size - 1):
        list_case(meeting, make_case(), by=chair)
    svc.decision_record(
        user=chair,
        agenda_item_id=measured.pk,
        point="data_completeness",
        answer={"choice": "proceed"},
    )
    return measured


def _count(client, method: str, url: str, data=None, headers=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(url, data or {}, headers=headers or {})
    assert response.status_code in (200, 302), response.content.decode()[:500]
    return len(queries)


def test_the_meeting_screens_run_the_same_number_of_queries_for_5_and_50_cases(client, chair):
    small, large = _meeting_with(chair, 5), _meeting_with(chair, 50)
    client.force_login(chair)
    counts = {}
    for label, item in (("5", small), ("50", large)):
        page = _page(item)
        counts[label] = {
            "meeting list": _count(client, "get", reverse("cases:meeting-list")),
            "meeting page": _count(
                client, "get", reverse("cases:meeting-detail", args=[item.meeting_id])
            ),
            "agenda partial": _count(
                client,
                "post",
                reverse("cases:agenda-reorder", args=[item.meeting_id]),
                {"item": item.pk, "direction": "down"},
                HTMX | {"HX-Target": "agenda"},
            ),
            "attendance partial": _count(
                client,
                "post",
                reverse("cases:attendance-record", args=[item.meeting_id]),
                {"member": chair.pk},
                HTMX | {"HX-Target": "attendance"},
            ),
            "case page": _count(client, "get", page),
            "summary partial": _count(
                client, "get", page, headers=HTMX | {"HX-Target": "case-summary"}
            ),
            "walk partial": _count(client, "get", page, headers=HTMX | {"HX-Target": "walk"}),
            "outcome partial": _count(client, "get", page, headers=HTMX | {"HX-Target": "outcome"}),
            "answer": _count(
                client,
                "post",
                reverse("cases:decision-record", args=[item.pk, "resectability"]),
                {
                    "choice": "not_resectable",
                    "r0_achievable": "not_assessed",
                    "extrahepatic_disease": "none",
                    "patient_check": item.case.reference,
                },
                HTMX | {"HX-Target": "walk"},
            ),
            "print": _count(client, "get", reverse("cases:outcome-print", args=[item.pk])),
        }
    assert counts["5"] == counts["50"]


def test_a_malformed_attendance_removal_gets_a_message_not_a_500(client, chair, item):
    client.force_login(chair)
    url = reverse("cases:attendance-remove", args=[item.meeting_id])
    for data in ({}, {"member": "abc"}):
        response = client.post(url, data)
        assert response.status_code == 422
