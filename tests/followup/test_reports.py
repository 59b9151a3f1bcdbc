"""The MDT's audit: each figure on a small cohort built by hand, with the expected numbers
worked out here by hand (never by calling the code under test), and on an empty range."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import models
from cases.followup.reports import queries as reports
from tests.conftest import make_case, make_user, signed_in

pytestmark = [pytest.mark.django_db]

START, END = dt.date(2026, 1, 1), dt.date(2026, 6, 30)
EMPTY = (dt.date(2020, 1, 1), dt.date(2020, 1, 31))
UTC = dt.UTC


def _at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=UTC)


def _entered(case: models.Case, day: dt.date) -> models.Case:
    models.Case.objects.filter(pk=case.pk).update(created_at=_at(day))
    return case


def _decide(item, point, answer, *, by, follows=True, overrides=(), reason="", supersedes=None):
    return models.Decision.objects.create(
        agenda_item=item,
        point=point,
        answer=answer,
        advice_snapshot={},
        follows_recommendation=follows,
        deviation_reason="" if follows else "MDT judgement",
        overridden_hard_stops=list(overrides),
        override_reason=reason,
        supersedes=supersedes,
        correction_reason="corrected" if supersedes else "",
        recorded_by=by,
    )


@pytest.fixture
def cohort(settings):
    """Cases A and B entered in January, C in February, D in December 2025 (outside).

    A: discussed 27 Jan (converted, resectable; chemotherapy), course from 5 Feb, last
       bevacizumab 20 Feb, one-stage hepatectomy 1 Apr.
    B: discussed 10 Feb (not resectable, against the recommendation; anti-EGFR over a hard
       stop), course from 20 Mar.
    C: never discussed; short-course radiotherapy completed 5 Jan, primary resection 1 Mar.
    D: entered in December, converted and resected: outside the cohort.
    """
    settings.TIME_ZONE = "UTC"
    settings.MDT_CORE_DISCIPLINES = [
        "hpb_surgeon",
        "medical_oncologist",
        "radiologist",
        "clinical_oncologist",
    ]
    chair = make_user("chair", username="chair")  # no discipline: not a core member
    hpb = make_user("clinician", username="hpb1", discipline="hpb_surgeon")
    onc1 = make_user("clinician", username="onc1", discipline="medical_oncologist")
    onc2 = make_user("clinician", username="onc2", discipline="medical_oncologist")
    rad = make_user("clinician", username="rad1", discipline="radiologist")
    clin = make_user("clinician", username="clin1", discipline="clinical_oncologist")

    a = _entered(make_case(), dt.date(2026, 1, 15))
    b = _entered(make_case(), dt.date(2026, 1, 20))
    c = _entered(make_case(), dt.date(2026, 2, 3))
    d = _entered(make_case(), dt.date(2025, 12, 1))

    m1 = models.Meeting.objects.create(scheduled_for=_at(dt.date(2026, 1, 27)), chair=chair)
    m2 = models.Meeting.objects.create(scheduled_for=_at(dt.date(2026, 2, 10)), chair=chair)
    m3 = models.Meeting.objects.create(scheduled_for=_at(dt.date(2026, 3, 10)), chair=chair)
    m0 = models.Meeting.objects.create(scheduled_for=_at(dt.date(2025, 12, 9)), chair=chair)
    for meeting, people in (
        (m1, [hpb, onc1, rad, clin]),
        (m2, [hpb, onc2, rad]),
        (m3, [hpb, rad]),
    ):
        for person in people:
            models.Attendance.objects.create(
                meeting=meeting, member=person, discipline=person.discipline
            )

    def signed(meeting, case):
        return models.AgendaItem.objects.create(
            meeting=meeting,
            case=case,
            position=1,
            listed_by=chair,
            signed_off_at=meeting.scheduled_for,
            signed_off_by=chair,
        )

    ia, ib, idd = signed(m1, a), signed(m2, b), signed(m0, d)
    first = _decide(ia, "resectability", {"choice": "not_resectable"}, by=chair)
    _decide(ia, "resectability", {"choice": "converted_resectable"}, by=chair, supersedes=first)
    _decide(ia, "systemic_therapy", {"agents": ["fluorouracil", "bevacizumab"]}, by=chair)
    _decide(ib, "resectability", {"choice": "not_resectable"}, by=chair, follows=False)
    fu_b = _decide(
        ib,
        "systemic_therapy",
        {"agents": ["fluorouracil", "cetuximab"]},
        by=chair,
        overrides=["ANTI_EGFR_RAS_MUTANT"],
        reason="Bevacizumab refused after a bleed",
    )
    _decide(idd, "resectability", {"choice": "converted_resectable"}, by=chair)

    course = models.TreatmentCourse.objects.create(
        case=a, agents=["fluorouracil", "bevacizumab"], started_on=dt.date(2026, 2, 5)
    )
    models.AgentAdministration.objects.create(
        course=course, agent="bevacizumab", given_on=dt.date(2026, 2, 20)
    )
    models.TreatmentCourse.objects.create(
        case=b, agents=["fluorouracil", "cetuximab"], started_on=dt.date(2026, 3, 20)
    )
    models.Surgery.objects.create(
        case=a, kind="one_stage_hepatectomy", performed_on=dt.date(2026, 4, 1)
    )
    models.Surgery.objects.create(
        case=d, kind="one_stage_hepatectomy", performed_on=dt.date(2025, 12, 20)
    )
    models.Radiotherapy.objects.create(
        case=c,
        kind="short_course_5x5",
        started_on=dt.date(2026, 1, 1),
        completed_on=dt.date(2026, 1, 5),
    )
    models.Surgery.objects.create(
        case=c, kind="primary_resection", performed_on=dt.date(2026, 3, 1)
    )

    treatment_a = ia.decisions.get(point="systemic_therapy")
    for decision, kind, status, extra in (
        (treatment_a, "treatment", "done", {"status_on": dt.date(2026, 2, 5)}),
        (
            treatment_a,
            "scan",
            "not_done",
            {"status_on": dt.date(2026, 3, 1), "not_done_reason": "patient_declined"},
        ),
        (fu_b, "treatment", "planned", {}),
        (fu_b, "referral", "in_progress", {}),
    ):
        models.FollowUp.objects.create(
            agenda_item=decision.agenda_item,
            case=decision.agenda_item.case,
            decision=decision,
            kind=kind,
            description="Something to do",
            planned_on=decision.agenda_item.meeting.scheduled_for.date(),
            status=status,
            **extra,
        )

    due = _at(dt.date(2026, 2, 2), 8)
    for n, (state, delay) in enumerate(
        [("sent", 10), ("sent", 30), ("failed", None), ("cancelled", None), ("pending", None)]
    ):
        models.Reminder.objects.create(
            kind="reassessment_due",
            case=a,
            dedupe_key=f"test-{n}",
            due_at=due,
            state=state,
            sent_at=due + dt.timedelta(minutes=delay) if delay else None,
            cancelled_at=due if state == "cancelled" else None,
        )
    # Outside the range: not counted.
    models.Reminder.objects.create(
        kind="reassessment_due",
        case=a,
        dedupe_key="test-old",
        due_at=_at(dt.date(2025, 11, 1)),
        state="sent",
        sent_at=_at(dt.date(2025, 11, 1), 12),
    )


def _one_query(build, *args):
    with CaptureQueriesContext(connection) as queries:
        figure = build(*args)
    assert len(queries) == 1, [q["sql"][:80] for q in queries]
    return figure


def test_conversion_rate_by_month_of_entry(cohort):
    figure = _one_query(reports.conversion, START, END)
    # January: A and B entered, A converted and resected; February: C entered, not converted.
    assert figure.rows == [["Jan 2026", 2, 1, "50.0"], ["Feb 2026", 1, 0, "0.0"]]
    assert (figure.numerator, figure.denominator) == (1, 3)
    assert figure.value == pytest.approx(100 / 3)
    assert figure.reference == 30


def test_times_median_iqr_and_outside_the_guideline(cohort):
    figure = _one_query(reports.times, START, END)
    referral, treatment, bevacizumab, scrt = figure.rows
    # Referral → first discussion: A 27 Jan − 15 Jan = 12, B 10 Feb − 20 Jan = 21 days.
    # Median (12 + 21) / 2 = 16.5; quartiles 12 + 9/4 = 14.25 and 12 + 27/4 = 18.75; B > 14.
    assert referral[1:] == [2, "16.5", "14.25", "18.75", "1 (over 14 days)"]
    # Discussion → treatment: A 5 Feb − 27 Jan = 9, B 20 Mar − 10 Feb = 38 (> 31).
    assert treatment[1:] == [2, "23.5", "16.25", "30.75", "1 (over 31 days)"]
    # Last bevacizumab 20 Feb → surgery 1 Apr = 40 days, under the 42-day interval.
    assert bevacizumab[1:] == [1, "40", "40", "40", "1 (under 42 days)"]
    # SCRT completed 5 Jan → primary resection 1 Mar = 55 days, inside 6 months.
    assert scrt[1:] == [1, "55", "55", "55", "0 (over 6 months)"]
    assert (figure.numerator, figure.denominator) == (3, 6)


def test_guideline_concordance_by_decision_point(cohort):
    figure = _one_query(reports.concordance, START, END)
    # A's corrected resectability answer counts once; B's resectability deviated.
    assert figure.rows == [
        ["Resectability (HPB-led)", 2, 1, "50.0"],
        ["Systemic therapy", 2, 2, "100.0"],
    ]
    assert (figure.numerator, figure.denominator) == (3, 4)


def test_hard_stops_overridden_by_code_with_reasons_in_words(cohort):
    figure = _one_query(reports.overrides, START, END)
    assert (figure.numerator, figure.denominator) == (1, 4)
    assert figure.rows == [
        [
            "Cetuximab or panitumumab is proposed but the tumour carries a KRAS or NRAS mutation.",
            1,
            "Bevacizumab refused after a bleed",
        ]
    ]


def test_implementation_shares(cohort):
    figure = _one_query(reports.implementation, START, END)
    shown = {row[0]: row[1:] for row in figure.rows}
    # Four follow-ups: one done, one not done (patient declined), two open.
    assert shown["Done"] == [1, "25.0"]
    assert shown["Not done: Patient declined"] == [1, "25.0"]
    assert shown["Not done: Toxicity"] == [0, "0.0"]
    assert shown["Still open (planned or in progress)"] == [2, "50.0"]
    assert (figure.numerator, figure.denominator) == (1, 4)


def test_attendance_per_discipline_and_member_with_the_two_thirds_rule(cohort):
    figure = _one_query(reports.attendance, START, END)
    shown = {row[0]: row[1:] for row in figure.rows}
    # Three meetings held; only the first had all four core disciplines.
    assert (figure.numerator, figure.denominator) == (1, 3)
    assert shown["HPB surgeon"][1:] == [3, 3, "100.0", ""]
    # Two oncologists covered two meetings between them: 2 of 3 is two thirds, not below.
    assert shown["Medical oncologist"][1:] == [2, 3, "66.7", ""]
    assert shown["Clinical / radiation oncologist"][1:] == [1, 3, "33.3", "below two thirds"]
    members = {row[0].split(" (")[1].rstrip(")"): row[2:] for row in figure.rows if "(" in row[0]}
    assert members["onc1"] == [1, 3, "33.3", "below two thirds"]
    assert members["rad1"] == [3, 3, "100.0", ""]


def test_reminders_sent_failed_expired_and_median_delay(cohort):
    figure = _one_query(reports.reminders, START, END)
    shown = {row[0]: row[1:] for row in figure.rows}
    assert shown["Sent"] == [2, "40.0"]
    assert shown["Failed"] == [1, "20.0"]
    assert shown["Expired (no longer needed before they went out)"] == [1, "20.0"]
    assert shown["Still to go"] == [1, "20.0"]
    assert figure.notes == ["Median delay: 20.0 minutes"]  # (10 + 30) / 2


@pytest.mark.parametrize("slug", list(reports.REPORTS))
def test_an_empty_range_says_no_data_and_never_divides_by_zero(cohort, slug):
    figure = reports.REPORTS[slug](*EMPTY)
    assert figure.denominator == 0
    assert figure.value is None
    assert figure.empty


def test_the_page_and_the_csv(cohort):
    client = signed_in(make_user("auditor"))
    page = client.get(reverse("cases:reports"), {"start": "2026-01-01", "end": "2026-06-30"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "<svg" in text
    assert "about 30 % in the literature" in text
    assert "ANTI_EGFR" not in text
    empty = client.get(reverse("cases:reports"), {"start": "2020-01-01", "end": "2020-01-31"})
    assert empty.content.decode().count("<strong>No data</strong>") == len(reports.REPORTS)
    csv_response = client.get(
        reverse("cases:report-csv", args=["conversion"]),
        {"start": "2026-01-01", "end": "2026-06-30"},
    )
    assert csv_response["Content-Type"].startswith("text/csv")
    lines = csv_response.content.decode().splitlines()
    assert "Jan 2026,2,1,50.0" in lines
    bad = client.get(reverse("cases:reports"), {"start": "2026-06-30", "end": "2026-01-01"})
    assert bad.status_code == 422
    assert "after its end" in bad.content.decode()


def test_who_sees_the_reports():
    for role, status in (
        ("chair", 200),
        ("coordinator", 200),
        ("auditor", 200),
        ("clinician", 403),
        ("admin", 403),
    ):
        assert signed_in(make_user(role)).get(reverse("cases:reports")).status_code == status


def test_reports_read_the_reporting_database_when_it_is_configured(settings):
    assert reports.reporting_alias() == "default"
    settings.DATABASES = {**settings.DATABASES, "reporting": settings.DATABASES["default"]}
    assert reports.reporting_alias() == "reporting"


def test_the_referral_interval_starts_when_the_referral_was_received(cohort):
    # A was referred on 6 Jan, nine days before its case was opened (15 Jan): A now waits
    # 27 Jan − 6 Jan = 21 days, B (no referral) still 21. Median 21; both over 14 days.
    case_a = models.AgendaItem.objects.get(meeting__scheduled_for=_at(dt.date(2026, 1, 27))).case
    models.Referral.objects.create(
        case=case_a,
        source="gp",
        referrer="Dr Jones",
        received_on=dt.date(2026, 1, 6),
        question="Is the liver disease convertible?",
    )
    referral = _one_query(reports.times, START, END).rows[0]
    assert referral[1:] == [2, "21", "21", "21", "2 (over 14 days)"]
