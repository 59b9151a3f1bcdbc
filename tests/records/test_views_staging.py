"""Staging, the treatment line, the referral and the one-page molecular form on the screens
where clinicians decide: the case page, the meeting screen (also entering results by htmx
without leaving it) and the timeline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import models
from cases.records.selectors import case_page_record
from cases.records.timeline import timeline_for_case
from tests.conftest import make_case, make_user, signed_in
from tests.meeting_factory import MEETING_DAY, list_case, make_conversion_case, make_meeting

D = dt.date
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
HTMX = {"HX-Request": "true"}
FOLFOXIRI_BEV = ["fluorouracil", "oxaliplatin", "irinotecan", "bevacizumab"]


def _line_one(case: models.Case, cycles: int = 6) -> models.TreatmentCourse:
    """FOLFOXIRI + bevacizumab, 12 planned, ``cycles`` given a fortnight apart; a grade 3
    diarrhoea after cycle 4 and a 20 % reduction from cycle 5."""
    course = models.TreatmentCourse.objects.create(
        case=case,
        backbone="folfoxiri",
        agents=FOLFOXIRI_BEV,
        started_on=D(2025, 12, 1),
        line=1,
        planned_cycles=12,
    )
    for number in range(1, cycles + 1):
        day = D(2025, 12, 1) + dt.timedelta(days=14 * (number - 1))
        cycle = models.TreatmentCycle.objects.create(
            course=course,
            number=number,
            given_on=day,
            agents=FOLFOXIRI_BEV,
            dose_reduction_percent=20 if number >= 5 else None,
        )
        for agent in FOLFOXIRI_BEV:
            models.AgentAdministration.objects.create(
                course=course, cycle=cycle, agent=agent, given_on=day, cycle_number=number
            )
        if number == 4:
            models.Toxicity.objects.create(
                course=course, cycle=cycle, term="diarrhea", grade=3, noted_on=day
            )
    return course


def _staged(case: models.Case) -> None:
    models.TnmStaging.objects.create(
        case=case, kind="clinical", t="T3", n="N1c", m="M1a", staged_on=D(2025, 11, 20)
    )
    models.PelvicMri.objects.create(
        case=case,
        performed_on=D(2025, 11, 18),
        t="T3",
        n="N1",
        crm="threatened",
        crm_distance_mm=Decimal("1.5"),
        emvi="positive",
        tumour_height_cm=Decimal("6.5"),
    )
    models.Histology.objects.create(
        case=case,
        specimen="biopsy",
        reported_on=D(2025, 11, 15),
        histological_type="adenocarcinoma",
        grade="low",
        mucinous=True,
    )
    models.Referral.objects.create(
        case=case,
        source="hospital",
        referrer="Dr B Khan, colorectal surgery, St Elsewhere",
        received_on=D(2025, 11, 25),
        urgency="urgent",
        question="Bilobar liver metastases: is conversion to resection possible?",
    )


def test_the_case_page_shows_staging_pathology_referral_and_cycles(users):
    case = make_case(diagnosed_on=D(2025, 11, 15))
    _staged(case)
    _line_one(case)
    page = signed_in(users["clinician"]).get(f"/cases/{case.pk}/").text
    assert "cT3 cN1c M1a</strong>, stage IVA" in page
    assert "mrT3 mrN1, CRM threatened (more than 1 up to 2 mm) (1.5 mm), EMVI positive, " in page
    assert "6.5 cm from the anal verge" in page
    assert "Adenocarcinoma (not otherwise specified), low grade" in page
    assert ", mucinous" in page
    assert "Bilobar liver metastases: is conversion to resection possible?" in page
    # Not yet discussed: received 25 Nov 2025, today 10 Mar 2026.
    assert 'data-referral-days="105"' in page
    assert "not yet discussed: 105 days waiting" in page
    assert "FOLFOXIRI + bevacizumab, line 1, cycle 6 of 12, last dose 9 Feb 2026" in page
    assert "Diarrhea grade 3" in page
    assert "−20 %" in page


def test_the_wait_ends_at_the_first_meeting_that_discussed_the_case(users):
    case = make_case(diagnosed_on=D(2025, 11, 15))
    _staged(case)
    chair = make_user("chair")
    item = list_case(make_meeting(chair, day=D(2025, 12, 9)), case, by=chair)
    models.AgendaItem.objects.filter(pk=item.pk).update(status="discussed")
    page = signed_in(users["clinician"]).get(f"/cases/{case.pk}/").text
    assert "14 days (discussed 9 Dec 2025)" in page


def test_the_meeting_screen_says_the_line_cycle_and_last_dose_in_words(users):
    case = make_conversion_case(agents=tuple(FOLFOXIRI_BEV), bev_days_before=None)
    models.TreatmentCourse.objects.filter(case=case).delete()
    _staged(case)
    _line_one(case)
    chair = make_user("chair")
    item = list_case(make_meeting(chair), case, by=chair)
    page = signed_in(chair).get(reverse("cases:agenda-item-detail", args=[item.pk])).text
    assert (
        "<strong data-line-summary>FOLFOXIRI + bevacizumab, line 1, cycle 6 of 12, "
        "last dose 9 Feb 2026</strong>"
    ) in page
    assert "Last bevacizumab</dt><dd>9 Feb 2026" in page  # the engine's input, from the cycles
    assert "dose reduced" in page
    assert "cT3 cN1c M1a</strong> (IVA)" in page
    assert "CRM threatened" in page
    assert "is conversion to resection possible?" in page


def test_the_timeline_marks_each_cycle_and_each_toxicity():
    case = make_case(diagnosed_on=D(2025, 11, 15))
    _line_one(case)
    record = case_page_record(case_id=case.pk)
    events = timeline_for_case(record, today=MEETING_DAY).events
    assert "Line 1 cycle 5 26 Jan 2026, dose −20 %" in events
    assert "Diarrhea grade 3 12 Jan 2026" in events
    assert sum(e.startswith("Line 1 cycle") for e in events) == 6


def test_every_molecular_result_is_entered_in_one_post_each_with_its_date(users):
    case = make_case()
    client = signed_in(users["coordinator"])
    data = {
        "mmr_msi-status": "pmmr_mss",
        "mmr_msi-reported_on": "2026-02-01",
        "kras-status": "mutant",
        "kras-method": "NGS panel",
        "kras-reported_on": "2026-02-03",
        "nras-status": "wild_type",
        "nras-reported_on": "2026-02-04",
        "braf_v600e-status": "pending",
        "braf_v600e-requested_on": "2026-02-05",
        "her2-status": "",
    }
    with CaptureQueriesContext(connection):
        response = client.post(f"/cases/{case.pk}/molecular/", data)
    assert response.status_code == 302
    got = {r.marker: (r.status, r.reported_on) for r in case.molecular_results.all()}
    assert got == {
        "mmr_msi": ("pmmr_mss", D(2026, 2, 1)),
        "kras": ("mutant", D(2026, 2, 3)),
        "nras": ("wild_type", D(2026, 2, 4)),
        "braf_v600e": ("pending", None),
    }


def test_one_bad_marker_saves_none_and_says_which(users):
    case = make_case()
    client = signed_in(users["coordinator"])
    response = client.post(
        f"/cases/{case.pk}/molecular/",
        {
            "mmr_msi-status": "pmmr_mss",
            "mmr_msi-reported_on": "2026-02-01",
            "kras-status": "mutant",
            "kras-reported_on": "2026-03-11",
        },
    )
    assert response.status_code == 422
    assert "Report date cannot be in the future (today is 10 Mar 2026)." in response.text
    assert not models.MolecularResult.objects.exists()


def test_a_result_is_entered_from_the_meeting_screen_without_leaving_it(users):
    case = make_conversion_case()
    models.MolecularResult.objects.filter(case=case, marker="her2").delete()
    chair = make_user("chair")
    item = list_case(make_meeting(chair), case, by=chair)
    client = signed_in(chair)
    page = client.get(reverse("cases:agenda-item-detail", args=[item.pk])).text
    assert f'hx-get="/cases/{case.pk}/molecular/"' in page
    form = client.get(f"/cases/{case.pk}/molecular/", headers=HTMX)
    assert form.status_code == 200
    assert "<html" not in form.text
    assert 'id="molecular-entry"' in form.text
    kept = {r.marker: r for r in case.molecular_results.all()}
    data = {}
    for marker, r in kept.items():
        data.update(
            {
                f"{marker}-status": r.status,
                f"{marker}-reported_on": r.reported_on.isoformat() if r.reported_on else "",
                f"{marker}-version": r.version,
            }
        )
    data.update({"her2-status": "not_amplified", "her2-reported_on": "2026-03-09"})
    saved = client.post(f"/cases/{case.pk}/molecular/", data, headers=HTMX)
    assert saved.status_code == 200
    assert saved["HX-Trigger"] == "fact-changed"
    assert "HER2: Not amplified" in saved.text
    assert case.molecular_results.get(marker="her2").status == "not_amplified"
    # The others were sent back unchanged, and not rewritten.
    assert {r.marker: r.version for r in case.molecular_results.exclude(marker="her2")} == {
        m: r.version for m, r in kept.items()
    }


def test_cycles_and_toxicities_are_recorded_through_their_forms(users):
    case = make_case(diagnosed_on=D(2025, 11, 15))
    course = models.TreatmentCourse.objects.create(
        case=case, backbone="folfoxiri", agents=FOLFOXIRI_BEV, started_on=D(2025, 12, 1)
    )
    client = signed_in(users["clinician"])
    page = client.get(f"/cases/{case.pk}/courses/{course.pk}/cycles/new/")
    assert 'value="1"' in page.text  # the next cycle number is offered
    response = client.post(
        f"/cases/{case.pk}/courses/{course.pk}/cycles/new/",
        {"number": "1", "given_on": "2025-12-01", "agents": FOLFOXIRI_BEV[:3],
         "dose_reduction_percent": "20"},
    )  # fmt: skip
    assert response.status_code == 302
    cycle = course.cycles.get()
    assert (cycle.agents, cycle.dose_reduction_percent) == (FOLFOXIRI_BEV[:3], 20)
    assert course.administrations.count() == 3
    refused = client.post(
        f"/cases/{case.pk}/courses/{course.pk}/toxicities/new/",
        {"term": "alopecia", "grade": "3", "cycle_id": str(cycle.pk), "noted_on": "2025-12-08"},
    )
    assert refused.status_code == 422
    assert "Alopecia is graded 1 to 2 in CTCAE v5.0." in refused.text
    assert "Constraint" not in refused.text  # the clinical words, not the constraint's name
    saved = client.post(
        f"/cases/{case.pk}/courses/{course.pk}/toxicities/new/",
        {"term": "diarrhea", "grade": "3", "cycle_id": str(cycle.pk), "noted_on": "2025-12-08"},
    )
    assert saved.status_code == 302
    assert str(course.toxicities.get()) == "Diarrhea grade 3"
