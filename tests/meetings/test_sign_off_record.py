"""Issue 16, observations 6 and 9 on the screens: after sign-off the case page and the
dashboard (whose panels are kept until their tables change) show what the meeting decided, in
words, never in internal codes. Transactional: the dashboard keeps panels only for commits."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from cases import models
from cases.meetings import services as svc
from tests.conftest import make_user
from tests.meeting_factory import (
    MEETING_DAY,
    attend_all,
    list_case,
    make_conversion_case,
    make_core_members,
    make_meeting,
)

pytestmark = [pytest.mark.django_db(transaction=True)]
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
VERDICT = {
    "r0_achievable": "yes",
    "flr_percent_slv": 35,
    "flr_segments_remaining": 4,
    "extrahepatic_disease": "none",
    "choice": "converted_resectable",
}
CODES = re.compile(
    r"\b(doublet_chemotherapy_pending_biomarkers|folfoxiri_bevacizumab|doublet_bevacizumab|"
    r"not_resectable|converted_resectable|resectability_unconfirmed|one_stage_hepatectomy|"
    r"surgery_planned)\b"
)


def _visible(html: str) -> str:
    """The text a reader sees: tags and attribute values left out."""
    return re.sub(r"<[^>]+>", " ", html)


def _due_soon(client: Client, case: models.Case) -> bool:
    html = client.get("/").content.decode()
    section = re.search(r'<section id="wl-reassessments-due".*?</section>', html, re.S)
    assert section is not None
    return case.reference in section.group(0)


@time_machine.travel(NOW, tick=False)
def test_sign_off_writes_the_record_and_the_case_page_and_dashboard_show_it():
    chair = make_user("chair", username="chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)
    coordinator = make_user("coordinator")
    meeting = make_meeting(chair, day=MEETING_DAY)
    attend_all(meeting, make_core_members())
    case = make_conversion_case(bev_days_before=None, agents=("fluorouracil", "oxaliplatin"))
    item = list_case(meeting, case, by=chair)
    dashboard = Client()
    dashboard.force_login(coordinator)
    assert _due_soon(dashboard, case)  # cycle 2 is due on the meeting day (panel now kept)

    def record(point, answer, **reasons):
        svc.decision_record(
            user=chair, agenda_item_id=item.pk, point=point, answer=answer, **reasons
        )

    record("data_completeness", {"choice": "proceed"})
    record("resectability", VERDICT)
    record("primary_management", {"choice": "no_intervention"})
    record("systemic_therapy", {"plan": "continue"}, deviation_reason="Converted on FOLFOX")
    record("pelvic_radiotherapy", {"choice": "none"})
    record("liver_surgery", {"surgery": "one_stage_hepatectomy", "sequence": "liver_first"})
    record("timing", {"target_surgery_date": "2026-04-14"})
    record("outcome", {"choice": "proceed_to_surgery"})
    client = Client()
    client.force_login(chair)
    response = client.post(reverse("cases:outcome-sign-off", args=[item.pk]))
    assert response.status_code == 302

    page = client.get(reverse("cases:case-detail", args=[case.pk])).content.decode()
    assert "Converted: surgery planned" in page  # the stage
    assert 'data-hpb-review="2026-03-10"' in page
    assert "R0 achievable, FLR 35.0 % SLV, 4 segments" in page
    assert "One-stage hepatectomy" in page  # the operation booked on its date
    assert "Converted: resectable" in page  # the engine now reads the verdict
    assert not CODES.search(_visible(page)), CODES.search(_visible(page))
    # The dashboard's kept panel follows the commit: the reassessment was done in the meeting.
    assert not _due_soon(dashboard, case)
    # The BRAF V600E result form offers no RAS wording.
    braf = client.get(
        reverse("cases:molecular-record", args=[case.pk, "braf_v600e"])
    ).content.decode()
    assert "exons 2, 3, 4" not in braf
    assert ">Wild-type</option>" in braf
