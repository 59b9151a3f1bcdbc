"""The demo cohort looks like the real population the app is built for."""

from __future__ import annotations

import itertools
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from cases import models
from cases.audit import db_roles
from cases.meetings.selectors import next_meeting

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def cohort(django_db_setup, django_db_blocker):
    """Built once for the module (it takes seconds), committed, and removed afterwards."""
    with django_db_blocker.unblock():
        call_command("demo_data", patients=600, seed=7, stdout=StringIO())
        yield models.Case.objects.all()
        # Only the owner may truncate (docs/security.md).
        with db_roles.as_owner(), connection.cursor() as cursor:
            tables = ", ".join(
                model._meta.db_table for model in apps.get_app_config("cases").get_models()
            )
            cursor.execute(f"TRUNCATE {tables} CASCADE")


def share(queryset, total) -> float:
    return queryset.count() / total


def test_it_spreads_cases_over_every_pathway_stage(cohort):
    stages = set(cohort.values_list("stage", flat=True))
    assert stages == set(models.Stage.values)


def test_its_biomarker_mix_is_close_to_metastatic_colorectal_cancer(cohort):
    n = cohort.count()
    results = models.MolecularResult.objects
    ras_mutant = cohort.filter(
        molecular_results__marker__in=["kras", "nras"], molecular_results__status="mutant"
    ).distinct()
    assert 0.40 <= share(ras_mutant, n) <= 0.55
    assert 0.06 <= share(results.filter(marker="braf_v600e", status="mutant"), n) <= 0.12
    assert 0.02 <= share(results.filter(marker="mmr_msi", status="dmmr_msi_h"), n) <= 0.08
    assert results.filter(status="pending").exists()


def test_rectal_primaries_dominate(cohort):
    by_site = dict(cohort.values_list("primary_site").annotate(n=Count("id")))
    assert by_site["rectum"] > sum(v for k, v in by_site.items() if k != "rectum") / 2
    assert len(by_site) >= 6  # some colon primaries on both sides too


def test_it_records_bevacizumab_doses_and_two_monthly_reassessments(cohort):
    assert models.AgentAdministration.objects.filter(agent="bevacizumab").count() > 100
    case = (
        cohort.filter(stage="conversion")
        .annotate(n=Count("reassessments"))
        .filter(n__gte=3)
        .first()
    )
    due = list(case.reassessments.order_by("cycle").values_list("due_on", flat=True))
    gaps = [(b - a).days for a, b in itertools.pairwise(due)]
    assert all(59 <= gap <= 62 for gap in gaps), gaps


def test_it_creates_an_upcoming_meeting_with_an_agenda_and_a_user_per_role(cohort):
    meeting = models.Meeting.objects.get(status=models.MeetingStatus.SCHEDULED)
    assert meeting.agenda_items.count() == 12
    assert set(models.User.objects.values_list("role", flat=True)) == set(models.Role.values)


def test_it_loads_once_with_if_empty(cohort):  # runs against the committed cohort
    before = models.Patient.objects.count()
    call_command("demo_data", if_empty=True, stdout=StringIO())
    assert models.Patient.objects.count() == before


def test_the_same_seed_gives_the_same_cohort(cohort):
    def load() -> list[tuple]:
        first_new = models.Case.objects.order_by("-id").values_list("id", flat=True).first()
        call_command("demo_data", patients=40, seed=3, stdout=StringIO())
        new = models.Case.objects.filter(id__gt=first_new).order_by("id")
        return list(new.values_list("primary_site", "stage", "ecog", "diagnosed_on"))

    assert load() == load()


def test_every_worklist_has_something_to_show(cohort):
    """A demo where a worklist is always empty would not show what the dashboard is for."""
    from django.utils import timezone

    from cases.worklists import queries as worklists

    today = timezone.localdate()
    for name in (
        "reassessments_due",
        "reassessments_overdue",
        "reimaging_unbooked",
        "results_pending",
        "bevacizumab_interval",
        "scrt_window",
        "actions_attention",
    ):
        assert getattr(worklists, name)(today=today).exists(), name
    meeting = next_meeting()
    assert worklists.meeting_ready(meeting, today=today).exists()
    assert worklists.meeting_incomplete(meeting, today=today).exists()


def test_it_stages_refers_and_cycles_the_cohort(cohort):
    """Issue 17: a referral for every case, a valid 8th-edition TNM and a biopsy for each, an
    MRI pelvis for each rectal primary, and cycles that own every dose of their course."""
    from cases.pathway.staging import tnm_problems

    n = cohort.count()
    assert models.Referral.objects.count() == n
    assert models.Histology.objects.count() == n
    clinical = models.TnmStaging.objects.filter(kind="clinical")
    assert clinical.count() == n
    assert not [s for s in models.TnmStaging.objects.all() if tnm_problems(s.t, s.n, s.m)]
    assert set(clinical.values_list("m", flat=True)) == {"M1a", "M1b", "M1c"}
    rectal = cohort.filter(primary_site__in=["rectum", "rectosigmoid"]).count()
    assert models.PelvicMri.objects.count() == rectal
    assert models.TreatmentCycle.objects.count() > 1000
    assert not models.AgentAdministration.objects.filter(cycle__isnull=True).exists()
    assert models.TreatmentCycle.objects.filter(dose_reduction_percent__isnull=False).exists()
    assert models.Toxicity.objects.filter(grade__gte=3).exists()
    stopped = models.TreatmentCourse.objects.filter(stopped_on__isnull=False)
    assert not stopped.filter(stop_cause="").exists()
