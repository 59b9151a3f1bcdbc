"""Create a synthetic demo cohort: no real people, realistic shape.

    python manage.py demo_data [--patients N] [--seed S] [--if-empty] [--print-logins]

The biomarker mix follows metastatic colorectal cancer (about 45–50 % RAS-mutant, 8–10 % BRAF
V600E, 4–5 % dMMR, a few results pending); rectal primaries dominate. Every pathway stage is
represented, with conversion chemotherapy (bevacizumab doses included), 2-monthly
reassessments, radiotherapy, surgery, MDT actions and an upcoming meeting with an agenda.

Rows are written with bulk inserts (this is synthetic seed data, not a clinical write path), so
10,000 patients load in well under two minutes.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from cases import models
from cases.common.constants import rule_constants
from cases.followup.demo import demo_history
from cases.management import demo_imaging, demo_record
from cases.management.bulk import copy_rows
from cases.pathway import (
    earliest_elective_surgery,
    latest_primary_surgery_after_scrt,
    next_reassessment,
)
from cases.records.completeness import missing_minimum_dataset
from cases.records.selectors import case_clinical_record
from cases.reminders.planning import reminders_sync_for_cases

DEMO_PASSWORD_DEFAULT = "tumourboard-demo"  # noqa: S105 (printed for the demo on purpose)

# The colorectal MDT's core members (one per core discipline, MDT_CORE_DISCIPLINES).
DEMO_CORE_MEMBERS = ("chair", "hpb", "radiologist", "clinonc", "colorectal")

# username, first, last, role, discipline
DEMO_USERS = [
    ("coordinator", "Casey", "Coordinator", models.Role.COORDINATOR, models.Discipline.COORDINATOR),
    ("chair", "Morgan", "Chair", models.Role.CHAIR, models.Discipline.MEDICAL_ONCOLOGIST),
    (
        "clinician",
        "Alex",
        "Oncologist",
        models.Role.CLINICIAN,
        models.Discipline.MEDICAL_ONCOLOGIST,
    ),
    ("hpb", "Sam", "Hepatobiliary", models.Role.CLINICIAN, models.Discipline.HPB_SURGEON),
    ("radiologist", "Robin", "Radiologist", models.Role.CLINICIAN, models.Discipline.RADIOLOGIST),
    (
        "clinonc",
        "Jamie",
        "Radiotherapist",
        models.Role.CLINICIAN,
        models.Discipline.CLINICAL_ONCOLOGIST,
    ),
    (
        "colorectal",
        "Charlie",
        "Colorectal",
        models.Role.CLINICIAN,
        models.Discipline.COLORECTAL_SURGEON,
    ),
    ("pathologist", "Drew", "Pathologist", models.Role.CLINICIAN, models.Discipline.PATHOLOGIST),
    ("nurse", "Kit", "Nurse", models.Role.CLINICIAN, models.Discipline.SPECIALIST_NURSE),
    ("admin", "Ari", "Administrator", models.Role.ADMIN, ""),
    ("auditor", "Pat", "Auditor", models.Role.AUDITOR, ""),
]

GIVEN_NAMES = [
    "Oliver",
    "Amelia",
    "George",
    "Isla",
    "Harry",
    "Ava",
    "Noah",
    "Mia",
    "Jack",
    "Ivy",
    "Leo",
    "Grace",
    "Arthur",
    "Freya",
    "Oscar",
    "Lily",
    "Charlie",
    "Florence",
    "Henry",
    "Evie",
    "Thomas",
    "Rosie",
    "Alfie",
    "Elsie",
    "William",
    "Sophie",
    "James",
    "Ella",
    "Edward",
    "Alice",
    "Mohammed",
    "Aisha",
    "Ravi",
    "Priya",
    "Tomasz",
    "Zofia",
    "Chidi",
    "Ngozi",
    "Sean",
    "Siobhan",
    "Dylan",
    "Ffion",
    "Callum",
    "Eilidh",
]
FAMILY_NAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Thomas",
    "Clarke",
    "Jackson",
    "Wood",
    "Harris",
    "Edwards",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Hughes",
    "Moore",
    "Clark",
    "King",
    "Harrison",
    "Lewis",
    "Baker",
    "Lee",
    "Allen",
    "Morris",
    "Khan",
    "Scott",
    "Watson",
    "Davis",
    "Parker",
    "James",
    "Bennett",
    "Young",
    "Phillips",
    "Richardson",
    "Mitchell",
    "Bailey",
    "Carter",
    "Cook",
    "Singh",
    "Shaw",
    "Bell",
    "Collins",
    "Morgan",
    "Kelly",
    "Begum",
    "Miller",
    "Cox",
    "Hussain",
    "Marshall",
    "Simpson",
    "Price",
    "Anderson",
    "Adams",
]

SITE_WEIGHTS = [
    (models.PrimarySite.RECTUM, 55),
    (models.PrimarySite.RECTOSIGMOID, 10),
    (models.PrimarySite.SIGMOID_COLON, 12),
    (models.PrimarySite.DESCENDING_COLON, 3),
    (models.PrimarySite.SPLENIC_FLEXURE, 1),
    (models.PrimarySite.TRANSVERSE_COLON, 4),
    (models.PrimarySite.HEPATIC_FLEXURE, 2),
    (models.PrimarySite.ASCENDING_COLON, 7),
    (models.PrimarySite.CAECUM, 5),
    (models.PrimarySite.UNKNOWN, 1),
]
STAGE_WEIGHTS = [
    (models.Stage.WORKUP, 10),
    (models.Stage.CONVERSION, 50),
    (models.Stage.SURGERY_PLANNED, 10),
    (models.Stage.POST_OPERATIVE, 15),
    (models.Stage.LEFT_PATHWAY, 15),
]
SYMPTOM_WEIGHTS = [
    (models.PrimarySymptom.NONE, 70),
    (models.PrimarySymptom.BLEEDING, 10),
    (models.PrimarySymptom.PAIN_TENESMUS, 8),
    (models.PrimarySymptom.IMPENDING_OBSTRUCTION, 6),
    (models.PrimarySymptom.OBSTRUCTION, 4),
    (models.PrimarySymptom.FISTULA, 1),
    (models.PrimarySymptom.PERFORATION, 1),
]
LEFT_SITES = {"splenic_flexure", "descending_colon", "sigmoid_colon", "rectosigmoid", "rectum"}


def pick(rng: random.Random, weighted: list[tuple[Any, int]]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


@dataclass
class CaseDraft:
    """Everything generated for one case before it is written."""

    case: models.Case
    results: list[models.MolecularResult] = field(default_factory=list)
    courses: list[tuple[models.TreatmentCourse, list[models.AgentAdministration]]] = field(
        default_factory=list
    )
    reassessments: list[models.Reassessment] = field(default_factory=list)
    radiotherapy: list[models.Radiotherapy] = field(default_factory=list)
    surgeries: list[models.Surgery] = field(default_factory=list)
    actions: list[models.Action] = field(default_factory=list)


class CohortBuilder:
    """Generates one synthetic case at a time from a seeded random source."""

    def __init__(self, rng: random.Random, today: date, users: dict[str, models.User]):
        self.rng = rng
        self.today = today
        self.users = users
        self.clinicians = [u for u in users.values() if u.role in ("clinician", "chair")]

    # --- molecular profile ---------------------------------------------------------------

    def _result(self, marker: str, status: str, diagnosed: date) -> models.MolecularResult:
        requested = min(self.today, diagnosed + timedelta(days=self.rng.randint(1, 10)))
        reported = None
        if status not in models.UNREPORTED_STATUSES:
            reported = min(self.today, requested + timedelta(days=self.rng.randint(7, 21)))
        if status == "not_tested":
            requested = None
        return models.MolecularResult(
            marker=marker,
            status=status,
            requested_on=requested,
            reported_on=reported,
            method="NGS panel" if status not in models.UNREPORTED_STATUSES else "",
        )

    def molecular_profile(self, diagnosed: date, recent: bool) -> list[models.MolecularResult]:
        rng = self.rng
        # Recently diagnosed cases are more likely to have results still outstanding.
        pending = 0.35 if recent else 0.03
        if rng.random() < pending:
            mmr = "pending"
        else:
            mmr = "dmmr_msi_h" if rng.random() < 0.047 else "pmmr_mss"
        roll = rng.random()
        if rng.random() < pending:
            kras, nras = "pending", "pending"
        elif roll < 0.43:
            kras, nras = "mutant", rng.choice(["wild_type", "not_tested"])
        elif roll < 0.47:
            kras, nras = "wild_type", "mutant"
        elif roll < 0.49:
            kras, nras = "wild_type_exon2_only", "not_tested"
        else:
            kras, nras = "wild_type", "wild_type"
        ras_mutant = "mutant" in (kras, nras)
        if kras == "pending":
            braf = "pending"
        elif not ras_mutant and rng.random() < 0.17:  # ≈ 9 % of all: V600E is RAS-exclusive
            braf = "mutant"
        else:
            braf = "wild_type"
        her2 = "amplified" if rng.random() < 0.03 else rng.choice(["not_amplified", "not_tested"])
        statuses = {"mmr_msi": mmr, "kras": kras, "nras": nras, "braf_v600e": braf, "her2": her2}
        return [self._result(marker, status, diagnosed) for marker, status in statuses.items()]

    # --- treatment -----------------------------------------------------------------------

    def regimen(self, case: models.Case, results: dict[str, str]) -> tuple[str, list[str]]:
        age = (self.today - case.patient.date_of_birth).days // 365
        fit = (case.ecog or 0) <= 1 and age <= 70
        if results["mmr_msi"] == "dmmr_msi_h":
            return "", ["pembrolizumab"]
        wild = (
            results["kras"] == "wild_type"
            and results["nras"] == "wild_type"
            and results["braf_v600e"] == "wild_type"
        )
        if "pending" in results.values():
            return "folfox", ["fluorouracil", "oxaliplatin"]
        if wild and case.primary_site in LEFT_SITES:
            return "folfox", [
                "fluorouracil",
                "oxaliplatin",
                self.rng.choice(["cetuximab", "panitumumab"]),
            ]
        if fit:
            return "folfoxiri", ["fluorouracil", "oxaliplatin", "irinotecan", "bevacizumab"]
        backbone = self.rng.choice(["folfox", "capox", "folfiri"])
        cytotoxics = {
            "folfox": ["fluorouracil", "oxaliplatin"],
            "capox": ["capecitabine", "oxaliplatin"],
            "folfiri": ["fluorouracil", "irinotecan"],
        }[backbone]
        return backbone, [*cytotoxics, "bevacizumab"]

    def course(
        self, case: models.Case, results: dict[str, str], start: date, stop: date | None
    ) -> tuple[models.TreatmentCourse, list[models.AgentAdministration]]:
        backbone, agents = self.regimen(case, results)
        course = models.TreatmentCourse(
            intent=models.Intent.CONVERSION,
            backbone=backbone,
            agents=agents,
            started_on=start,
            stopped_on=stop,
            stop_reason="Reassessment: planned for surgery" if stop else "",
        )
        interval = 21 if backbone == "capox" else 14
        last_day = min(stop or self.today, self.today)
        doses = []
        cycle, day = 1, start
        while day <= last_day:
            doses.extend(
                models.AgentAdministration(agent=agent, given_on=day, cycle_number=cycle)
                for agent in agents
            )
            cycle += 1
            day += timedelta(days=interval)
        return course, doses

    # --- reassessments -------------------------------------------------------------------

    def reassessments(self, start: date, until: date, open_next: bool) -> list[models.Reassessment]:
        rows = []
        cycle = 1
        while True:
            due = next_reassessment(start, rule_constants().reassess_months * cycle)
            if due > until:
                break
            performed = due - timedelta(days=self.rng.randint(0, 6))
            rows.append(self._done_reassessment(cycle, due, performed, final=False))
            cycle += 1
        if open_next:
            due = next_reassessment(start, rule_constants().reassess_months * cycle)
            rows.append(self._open_reassessment(cycle, due))
        return rows

    def _done_reassessment(
        self, cycle: int, due: date, performed: date, final: bool
    ) -> models.Reassessment:
        rng = self.rng
        converted = final and rng.random() < 0.85
        return models.Reassessment(
            cycle=cycle,
            due_on=due,
            imaging_booked_for=performed,
            imaging_performed_on=performed,
            modality=rng.choice([models.Modality.CT, models.Modality.MRI_LIVER]),
            response=rng.choice(
                [
                    models.Response.PARTIAL,
                    models.Response.PARTIAL,
                    models.Response.STABLE,
                    models.Response.PROGRESSION,
                ]
            )
            if not converted
            else models.Response.PARTIAL,
            reassessed_on=performed + timedelta(days=rng.randint(1, 7)),
            hpb_mdt_reviewed=True,
            r0_achievable=converted or (rng.random() < 0.1),
            flr_percent_slv=rng.choice([22, 26, 28, 31, 34, 38, 41, 45]) if converted else None,
            flr_segments_remaining=rng.randint(2, 5) if converted else None,
            extrahepatic_disease=models.ExtrahepaticDisease.NONE,
            combined_resection_technically_feasible=converted and rng.random() < 0.3,
            planned_hepatectomy_extent=rng.choice(["minor", "major"]) if converted else "",
        )

    def _open_reassessment(self, cycle: int, due: date) -> models.Reassessment:
        # Some scans are booked, some not yet: the coordinator's "unbooked" worklist. A booked
        # scan whose day has come is done and awaits the MDT: the case is ready to list.
        soon = (due - self.today).days <= 21
        chance = 0.85 if soon else 0.4
        booked = (
            due - timedelta(days=self.rng.randint(3, 10)) if self.rng.random() < chance else None
        )
        performed = booked if booked is not None and booked <= self.today else None
        return models.Reassessment(
            cycle=cycle,
            due_on=due,
            imaging_booked_for=booked,
            imaging_performed_on=performed,
            modality=models.Modality.CT if performed else "",
        )

    # --- one case ------------------------------------------------------------------------

    def patient(self, index: int) -> models.Patient:
        rng = self.rng
        age_days = rng.randint(38 * 365, 84 * 365)
        return models.Patient(
            hospital_number=f"DEMO{index:07d}",
            nhs_number=demo_record.demo_nhs_number(index),  # 999…, never issued to people
            family_name=rng.choice(FAMILY_NAMES),
            given_name=rng.choice(GIVEN_NAMES),
            date_of_birth=self.today - timedelta(days=age_days),
        )

    def case(self, patient: models.Patient) -> CaseDraft:
        rng = self.rng
        stage = pick(rng, STAGE_WEIGHTS)
        months_ago = {
            models.Stage.WORKUP: (0, 1),
            models.Stage.CONVERSION: (2, 14),
            models.Stage.SURGERY_PLANNED: (4, 10),
            models.Stage.POST_OPERATIVE: (6, 18),
            models.Stage.LEFT_PATHWAY: (3, 24),
        }[stage]
        diagnosed = self.today - timedelta(
            days=rng.randint(months_ago[0] * 30, months_ago[1] * 30 + 20)
        )
        ecog = pick(rng, [(0, 45), (1, 40), (2, 10), (3, 4), (None, 1)])
        case = models.Case(
            patient=patient,
            primary_site=pick(rng, SITE_WEIGHTS),
            primary_symptom=pick(rng, SYMPTOM_WEIGHTS),
            diagnosed_on=diagnosed,
            ecog=ecog,
            # Reassessed at the last clinic, three weeks ago (the minimum dataset needs a
            # score less than 8 weeks old on the meeting day).
            ecog_assessed_on=(
                max(diagnosed, self.today - timedelta(days=21)) if ecog is not None else None
            ),
            stage=stage,
            exit_reason=rng.choice(["progression", "palliative", "patient_choice", "died"])
            if stage == models.Stage.LEFT_PATHWAY
            else "",
            responsible_clinician=rng.choice(self.clinicians),
            coordinator=self.users["coordinator"],
        )
        if rng.random() < 0.3:
            case.sidedness_reported = "left" if case.primary_site in LEFT_SITES else "right"
            if rng.random() < 0.1:  # a referral that got the side wrong
                case.sidedness_reported = "right" if case.sidedness_reported == "left" else "left"
        draft = CaseDraft(case=case)
        draft.results = self.molecular_profile(diagnosed, recent=stage == models.Stage.WORKUP)
        if stage == models.Stage.WORKUP:
            return draft
        self._treatment_history(draft, stage)
        return draft

    def _treatment_history(self, draft: CaseDraft, stage: str) -> None:
        rng = self.rng
        case = draft.case
        results = {r.marker: r.status for r in draft.results}
        start = case.diagnosed_on + timedelta(days=rng.randint(14, 28))
        if stage == models.Stage.CONVERSION:
            draft.courses.append(self.course(case, results, start, None))
            # A few reassessments are overdue: the due date passed with no formal review.
            horizon = self.today - timedelta(days=rng.randint(-10, 20))
            draft.reassessments = self.reassessments(start, horizon, open_next=True)
            return
        if stage == models.Stage.LEFT_PATHWAY:
            stop = min(self.today, start + timedelta(days=rng.randint(60, 300)))
            draft.courses.append(self.course(case, results, start, stop))
            draft.reassessments = self.reassessments(start, stop, open_next=False)
            return
        # Converted: the last reassessment found the liver resectable.
        converted_on = min(
            self.today - timedelta(days=10),
            next_reassessment(start, rule_constants().reassess_months * rng.randint(2, 4)),
        )
        if stage == models.Stage.SURGERY_PLANNED:
            # Converted at a recent meeting: the operation is being booked now.
            converted_on = self.today - timedelta(days=rng.randint(10, 30))
        last_dose = converted_on - timedelta(days=rng.randint(0, 10))
        draft.courses.append(self.course(case, results, start, last_dose))
        draft.reassessments = self.reassessments(
            start, converted_on - timedelta(days=1), open_next=False
        )
        final = self._done_reassessment(
            len(draft.reassessments) + 1, converted_on, converted_on, final=True
        )
        final.r0_achievable, final.flr_percent_slv, final.flr_segments_remaining = True, 36, 4
        draft.reassessments.append(final)
        scrt_late = False
        if case.primary_site in ("rectum", "rectosigmoid") and rng.random() < 0.6:
            if stage == models.Stage.SURGERY_PLANNED and rng.random() < 0.5:
                # Short-course RT given months ago and the primary's operation now planned
                # beyond the 6-month window: a dashboard warning the coordinator must see.
                completed = self.today - timedelta(days=rng.randint(150, 175))
                scrt_late = True
            else:
                completed = min(converted_on + timedelta(days=11), self.today - timedelta(days=1))
            draft.radiotherapy.append(
                models.Radiotherapy(
                    kind=models.PelvicRadiotherapy.SHORT_COURSE_5X5,
                    started_on=completed - timedelta(days=4),
                    completed_on=completed,
                )
            )
        kind = rng.choice(
            [models.SurgeryKind.ONE_STAGE_HEPATECTOMY, models.SurgeryKind.SYNCHRONOUS_RESECTION]
        )
        if stage == models.Stage.SURGERY_PLANNED:
            # Most are planned after the 6-week bevacizumab gap; some are not (a hard stop).
            # Most operations respect the bevacizumab interval; some are planned too soon.
            interval = rule_constants().bev_min_days
            gap = rng.randint(30, interval - 1) if rng.random() < 0.3 else rng.randint(interval, 70)
            planned = max(self.today + timedelta(days=3), last_dose + timedelta(days=gap))
            if scrt_late:
                kind = models.SurgeryKind.SYNCHRONOUS_RESECTION
                window = rule_constants().scrt_max_delay_months
                closes = latest_primary_surgery_after_scrt(completed, window)
                planned = closes + timedelta(days=rng.randint(3, 20))
            draft.surgeries.append(
                models.Surgery(kind=kind, planned_on=planned, hepatectomy_extent="minor")
            )
        else:
            earliest = earliest_elective_surgery(last_dose, rule_constants().bev_min_days)
            performed = earliest + timedelta(days=rng.randint(0, 18))
            performed = min(performed, self.today - timedelta(days=1))
            draft.surgeries.append(
                models.Surgery(
                    kind=kind,
                    planned_on=performed,
                    performed_on=performed,
                    hepatectomy_extent=rng.choice(["minor", "major"]),
                    margin=pick(rng, [("r0", 80), ("r1", 17), ("r2", 3)]),
                )
            )
        if rng.random() < 0.5:
            draft.actions.append(self.action(case))

    def action(self, case: models.Case) -> models.Action:
        rng = self.rng
        due = self.today + timedelta(days=rng.randint(-20, 20))
        status = pick(
            rng,
            [
                (models.ActionStatus.OPEN, 80),
                (models.ActionStatus.DONE, 15),
                (models.ActionStatus.NOT_DONE, 5),
            ],
        )
        return models.Action(
            description=rng.choice(
                [
                    "Book liver MRI with contrast",
                    "Request extended RAS and BRAF testing",
                    "Refer for portal vein embolisation assessment",
                    "Arrange pre-operative assessment",
                    "Discuss at HPB MDT",
                    "Confirm date of last bevacizumab dose with chemotherapy unit",
                ]
            ),
            owner=rng.choice(self.clinicians),
            due_on=due,
            status=status,
            not_done_reason="Patient declined" if status == models.ActionStatus.NOT_DONE else "",
            completed_at=timezone.now() if status != models.ActionStatus.OPEN else None,
        )


class Command(BaseCommand):
    help = "Create a synthetic demo cohort, demo users for each role and an upcoming meeting."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=300)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when patients already exist"
        )
        parser.add_argument(
            "--print-logins", action="store_true", help="only print the demo sign-ins"
        )

    def handle(self, *args, **options):
        if options["print_logins"]:
            self.print_logins()
            return
        if options["patients"] < 1:
            raise CommandError("--patients must be at least 1")
        if options["if_empty"] and models.Patient.objects.exists():
            self.stdout.write("Demo data already loaded; nothing to do.")
            return
        started = time.monotonic()
        counts = self.load(options["patients"], options["seed"])
        elapsed = time.monotonic() - started
        total = sum(counts.values())
        summary = ", ".join(f"{n} {name}" for name, n in counts.items())
        self.stdout.write(f"Created {total} rows in {elapsed:.1f} s: {summary}")

    @staticmethod
    def password() -> str:
        return os.environ.get("DEMO_PASSWORD", DEMO_PASSWORD_DEFAULT)

    def print_logins(self) -> None:
        self.stdout.write("Demo sign-ins (synthetic data only):")
        for username, _first, _last, role, discipline in DEMO_USERS:
            label = models.Role(role).label + (
                f", {models.Discipline(discipline).label}" if discipline else ""
            )
            self.stdout.write(f"  {username:<12} {self.password():<18} {label}")

    def demo_users(self) -> dict[str, models.User]:
        users = {}
        # One hash for all demo users: hashing is deliberately slow, once is enough here.
        password_hash = make_password(self.password())
        for username, first, last, role, discipline in DEMO_USERS:
            user, _created = models.User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "role": role,
                    "discipline": discipline,
                    "email": f"{username}@tumourboard.invalid",
                    "is_staff": role == models.Role.ADMIN,
                    "is_superuser": role == models.Role.ADMIN,
                    "password": password_hash,
                },
            )
            users[username] = user
        return users

    @transaction.atomic
    def load(self, n_patients: int, seed: int) -> dict[str, int]:
        rng = random.Random(seed)
        today = timezone.localdate()
        users = self.demo_users()
        builder = CohortBuilder(rng, today, users)
        offset = models.Patient.objects.count()
        patients = models.Patient.objects.bulk_create(
            [builder.patient(offset + i + 1) for i in range(n_patients)], batch_size=2000
        )
        drafts = [builder.case(patient) for patient in patients]
        models.Case.objects.bulk_create([d.case for d in drafts], batch_size=2000)
        counts = {"users": len(users), "patients": len(patients), "cases": len(drafts)}
        counts.update(self._write_children(drafts))
        counts.update(demo_imaging.load(seed, today, drafts))
        counts.update(demo_record.write(seed, today, [d.case.pk for d in drafts]))
        counts.update(self._meeting(rng, today, users, drafts))
        counts.update(demo_history(rng, today, users, [d.case for d in drafts]))
        counts["reminders"] = reminders_sync_for_cases(case_ids=[d.case.pk for d in drafts]).created
        return counts

    def _write_children(self, drafts: list[CaseDraft]) -> dict[str, int]:
        results, courses, reassessments, radiotherapy, surgeries, actions = [], [], [], [], [], []
        for draft in drafts:
            for row in draft.results + draft.reassessments + draft.radiotherapy + draft.surgeries:
                row.case = draft.case
            for action in draft.actions:
                action.case = draft.case
            results += draft.results
            reassessments += draft.reassessments
            radiotherapy += draft.radiotherapy
            surgeries += draft.surgeries
            actions += draft.actions
            for course, _doses in draft.courses:
                course.case = draft.case
                courses.append(course)
        copy_rows(models.MolecularResult, results)
        copy_rows(models.Reassessment, reassessments, with_pks=True)
        copy_rows(models.Radiotherapy, radiotherapy)
        copy_rows(models.Surgery, surgeries)
        models.Action.objects.bulk_create(actions, batch_size=5000)
        copy_rows(models.TreatmentCourse, courses, with_pks=True)
        cycles = demo_record.add_cycles(draft.courses for draft in drafts)
        doses = []
        for draft in drafts:
            for course, course_doses in draft.courses:
                for dose in course_doses:
                    dose.course = course
                doses += course_doses
        copy_rows(models.AgentAdministration, doses)
        return {
            "molecular results": len(results),
            "reassessments": len(reassessments),
            "treatment courses": len(courses),
            "agent administrations": len(doses),
            **cycles,
            "radiotherapy courses": len(radiotherapy),
            "surgeries": len(surgeries),
            "actions": len(actions),
        }

    def _meeting(
        self,
        rng: random.Random,
        today: date,
        users: dict[str, models.User],
        drafts: list[CaseDraft],
    ) -> dict[str, int]:
        """Next week's MDT with an agenda: mostly cases whose scan is done, a few still incomplete
        (listed with the reason, as the listing rule requires)."""
        days_ahead = (1 - today.weekday()) % 7  # the next Tuesday at least two days away
        days_ahead += 7 if days_ahead < 2 else 0
        start = datetime.combine(today + timedelta(days=days_ahead), datetime.min.time())
        scheduled = timezone.make_aware(start.replace(hour=8))
        # The series' core members are listed as expected at each meeting; the meeting is
        # next week's, so the chair opens it early (with a reason) to try it today.
        series, _ = models.MeetingSeries.objects.get_or_create(name="Colorectal MDT")
        models.SeriesMember.objects.bulk_create(
            (
                models.SeriesMember(series=series, member=user, discipline=user.discipline)
                for name, user in users.items()
                if name in DEMO_CORE_MEMBERS
            ),
            ignore_conflicts=True,
        )
        meeting = models.Meeting.objects.create(
            title="Colorectal MDT", series=series, scheduled_for=scheduled, chair=users["chair"]
        )
        listable = (models.Stage.CONVERSION, models.Stage.WORKUP, models.Stage.SURGERY_PLANNED)
        candidates = [d for d in drafts if d.case.stage in listable]
        scanned = [
            d.case
            for d in candidates
            if any(r.imaging_performed_on and not r.reassessed_on for r in d.reassessments)
        ]
        listed = {case.pk for case in scanned}  # built once: 100,000 patients have ~50,000
        others = [d.case for d in candidates if d.case.pk not in listed]
        chosen = rng.sample(scanned, k=min(9, len(scanned)))
        chosen += rng.sample(others, k=min(12 - len(chosen), len(others)))
        items = [
            models.AgendaItem(
                meeting=meeting, case=case, position=i + 1, listed_by=users["coordinator"]
            )
            for i, case in enumerate(chosen)
        ]
        models.AgendaItem.objects.bulk_create(items)
        for item in items:
            missing = missing_minimum_dataset(
                case_clinical_record(case_id=item.case_id), today=scheduled.date()
            )
            if missing:
                item.incomplete_reason = "Discussed while awaiting: " + "; ".join(missing)
                item.save(update_fields=["incomplete_reason"])
        return {"meetings": 1, "agenda items": len(items), "core members": len(DEMO_CORE_MEMBERS)}
