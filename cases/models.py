"""The clinical record of the tumour board.

Field names and choice values follow the vocabulary of ``clinical/pathway-spec.md`` §A.1, so a
stored case maps onto engine inputs without guesswork (see ``cases/mapping.py``). Models hold data
and the constraints that must always hold; writes go through ``cases/services``.

Conventions: ``_on`` for dates, ``_at`` for datetimes; ``version`` is the optimistic-lock counter
that services compare-and-set, so two people editing one record never overwrite each other.
"""

from __future__ import annotations

import pghistory
import pgtrigger
from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from cases.mapping import sidedness_of

# --- Audit trail ------------------------------------------------------------------------------


def audited(**options):
    """Record every insert, update and delete of the model in an append-only event table.

    Database triggers write the events, so bulk updates, admin edits and raw SQL cannot skip
    them. Each event row carries a full snapshot (the new row; the old row for a delete) and
    the context of the change (who, from which URL or command) as JSON in the row itself, and
    the event tables refuse UPDATE and DELETE. See ``cases/services/audit.py``.
    """
    return pghistory.track(
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
        context_field=pghistory.ContextJSONField(),
        append_only=True,
        # One trigger call per statement, reading the transition table: a bulk insert of
        # 100,000 rows costs one INSERT … SELECT, not 100,000 nested inserts.
        level=pghistory.Statement,
        **options,
    )


# --- Data version: what cached dashboard panels are keyed on -----------------------------------

# When a transaction that wrote to a clinical table commits, that table's entry in the one
# DataVersion row becomes the transaction's id (unique for the life of the cluster, never reused
# even after a rollback). Whoever reads the row therefore sees a new value for a table exactly
# when a change to it has become visible: see cases/data_version.py.
#
# So that a bulk write costs one trigger call per statement, and the version row is locked only
# for an instant at the very end of a commit, never for the rest of a transaction:
# 1. a statement trigger on the clinical table notes the table once per transaction, as a row
#    in DataChange (the setting remembers it was noted);
# 2. at commit, a deferred trigger on that note queues a final note, which PostgreSQL fires
#    after every check the commit still had queued (the deferred foreign keys);
# 3. the final note's trigger writes the version and the notes are deleted.
# Step 2 is why two commits can never deadlock here: once a transaction holds the version row
# it waits for nothing else, so it cannot be waiting on a row lock of one that waits for it.
# "_created" names the version row itself: a table with no entry has not changed since the row
# was created (by the migration, or by the first commit after a flush in the tests).
NOTE_TABLE_CHANGED = """
    IF coalesce(current_setting('tumourboard.changed_' || TG_TABLE_NAME, true), '') = '' THEN
        INSERT INTO cases_datachange (table_name, final) VALUES (TG_TABLE_NAME, false);
        PERFORM set_config('tumourboard.changed_' || TG_TABLE_NAME, 'yes', true);
    END IF;
    RETURN NULL;
"""
WRITE_DATA_VERSION = """
    IF NOT NEW.final THEN
        INSERT INTO cases_datachange (table_name, final) VALUES (NEW.table_name, true);
    ELSE
        INSERT INTO cases_dataversion (id, versions)
        VALUES (1, jsonb_build_object(
            '_created', pg_current_xact_id()::text, NEW.table_name, pg_current_xact_id()::text))
        ON CONFLICT (id) DO UPDATE SET versions = cases_dataversion.versions
            || jsonb_build_object(NEW.table_name, pg_current_xact_id()::text);
    END IF;
    DELETE FROM cases_datachange WHERE id = NEW.id;
    RETURN NULL;
"""


def tracks_data_version():
    """Register the trigger that versions this table's changes (step 1 above)."""
    return pgtrigger.register(
        pgtrigger.Trigger(
            name="data_version",
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
            func=NOTE_TABLE_CHANGED,
        )
    )


# --- Vocabulary (values exactly as pathway-spec §A.1) ----------------------------------------


class PrimarySite(models.TextChoices):
    CAECUM = "caecum", "Caecum"
    ASCENDING_COLON = "ascending_colon", "Ascending colon"
    HEPATIC_FLEXURE = "hepatic_flexure", "Hepatic flexure"
    TRANSVERSE_COLON = "transverse_colon", "Transverse colon"
    SPLENIC_FLEXURE = "splenic_flexure", "Splenic flexure"
    DESCENDING_COLON = "descending_colon", "Descending colon"
    SIGMOID_COLON = "sigmoid_colon", "Sigmoid colon"
    RECTOSIGMOID = "rectosigmoid", "Rectosigmoid"
    RECTUM = "rectum", "Rectum"
    UNKNOWN = "unknown", "Unknown"


class Side(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"


class PrimarySymptom(models.TextChoices):
    NONE = "none", "None (asymptomatic)"
    OBSTRUCTION = "obstruction", "Obstruction"
    IMPENDING_OBSTRUCTION = "impending_obstruction", "Impending obstruction"
    BLEEDING = "bleeding", "Bleeding"
    PERFORATION = "perforation", "Perforation"
    PAIN_TENESMUS = "pain_tenesmus", "Pain or tenesmus"
    FISTULA = "fistula", "Fistula"


class Marker(models.TextChoices):
    MMR_MSI = "mmr_msi", "MMR / MSI"
    KRAS = "kras", "KRAS"
    NRAS = "nras", "NRAS"
    BRAF_V600E = "braf_v600e", "BRAF V600E"
    HER2 = "her2", "HER2"


class MarkerStatus(models.TextChoices):
    DMMR_MSI_H = "dmmr_msi_h", "dMMR / MSI-H"
    PMMR_MSS = "pmmr_mss", "pMMR / MSS"
    WILD_TYPE = "wild_type", "Wild-type (extended: exons 2, 3, 4)"
    WILD_TYPE_EXON2_ONLY = "wild_type_exon2_only", "Wild-type (exon 2 only)"
    MUTANT = "mutant", "Mutant"
    AMPLIFIED = "amplified", "Amplified"
    NOT_AMPLIFIED = "not_amplified", "Not amplified"
    PENDING = "pending", "Pending"
    NOT_TESTED = "not_tested", "Not tested"


# Which result values each marker may take (§A.1); enforced by a check constraint.
MARKER_STATUSES: dict[str, tuple[str, ...]] = {
    Marker.MMR_MSI: ("dmmr_msi_h", "pmmr_mss", "pending", "not_tested"),
    Marker.KRAS: ("wild_type", "wild_type_exon2_only", "mutant", "pending", "not_tested"),
    Marker.NRAS: ("wild_type", "mutant", "pending", "not_tested"),
    Marker.BRAF_V600E: ("wild_type", "mutant", "pending", "not_tested"),
    Marker.HER2: ("amplified", "not_amplified", "not_tested"),
}
UNREPORTED_STATUSES = ("pending", "not_tested")


class Agent(models.TextChoices):
    FLUOROURACIL = "fluorouracil", "Fluorouracil (with leucovorin)"
    CAPECITABINE = "capecitabine", "Capecitabine"
    OXALIPLATIN = "oxaliplatin", "Oxaliplatin"
    IRINOTECAN = "irinotecan", "Irinotecan"
    BEVACIZUMAB = "bevacizumab", "Bevacizumab"
    CETUXIMAB = "cetuximab", "Cetuximab"
    PANITUMUMAB = "panitumumab", "Panitumumab"
    PEMBROLIZUMAB = "pembrolizumab", "Pembrolizumab"
    NIVOLUMAB = "nivolumab", "Nivolumab"
    IPILIMUMAB = "ipilimumab", "Ipilimumab"
    ENCORAFENIB = "encorafenib", "Encorafenib"


class Backbone(models.TextChoices):
    FOLFOX = "folfox", "FOLFOX"
    CAPOX = "capox", "CAPOX"
    FOLFIRI = "folfiri", "FOLFIRI"
    FOLFOXIRI = "folfoxiri", "FOLFOXIRI"


class ExtrahepaticDisease(models.TextChoices):
    NONE = "none", "None"
    RESECTABLE = "resectable", "Resectable"
    UNRESECTABLE = "unresectable", "Unresectable"


class HepatectomyExtent(models.TextChoices):
    MINOR = "minor", "Minor (fewer than 3 segments)"
    MAJOR = "major", "Major (3 or more segments)"


class PelvicRadiotherapy(models.TextChoices):
    SHORT_COURSE_5X5 = "short_course_5x5", "Short course 5 × 5 Gy"
    LONG_COURSE_CRT = "long_course_crt", "Long-course chemoradiotherapy"


class Urgency(models.TextChoices):
    ELECTIVE = "elective", "Elective"
    EMERGENCY = "emergency", "Emergency"


class Margin(models.TextChoices):
    R0 = "r0", "R0 (clear)"
    R1 = "r1", "R1 (microscopically involved)"
    R2 = "r2", "R2 (macroscopic residual)"


# --- People ----------------------------------------------------------------------------------


class Discipline(models.TextChoices):
    HPB_SURGEON = "hpb_surgeon", "HPB surgeon"
    COLORECTAL_SURGEON = "colorectal_surgeon", "Colorectal surgeon"
    MEDICAL_ONCOLOGIST = "medical_oncologist", "Medical oncologist"
    CLINICAL_ONCOLOGIST = "clinical_oncologist", "Clinical / radiation oncologist"
    RADIOLOGIST = "radiologist", "Radiologist"
    PATHOLOGIST = "pathologist", "Pathologist"
    SPECIALIST_NURSE = "specialist_nurse", "Specialist nurse"
    COORDINATOR = "coordinator", "MDT coordinator"
    OTHER = "other", "Other"


class Role(models.TextChoices):
    COORDINATOR = "coordinator", "Case coordinator"
    CLINICIAN = "clinician", "Clinician"
    CHAIR = "chair", "MDT chair"
    ADMIN = "admin", "Administrator"
    AUDITOR = "auditor", "Auditor (read-only)"


# Role and account changes are audited too; the password hash and sign-in times are not copied.
@audited(exclude=["password", "last_login"])
@tracks_data_version()
class User(AbstractUser):
    """A member of staff. The role decides what they may change (README permission matrix)."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CLINICIAN)
    discipline = models.CharField(max_length=30, choices=Discipline.choices, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["coordinator", "clinician", "chair", "admin", "auditor"]),
                name="user_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


# --- Abstract bases --------------------------------------------------------------------------


class Versioned(models.Model):
    """Optimistic locking: services update ``WHERE version = <the version the editor saw>``."""

    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


# --- Patient and case ------------------------------------------------------------------------


@audited()
@tracks_data_version()
class Patient(Versioned):
    hospital_number = models.CharField(max_length=20, unique=True)
    nhs_number = models.CharField(max_length=10, blank=True)
    family_name = models.CharField(max_length=100)
    given_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()

    class Meta:
        ordering = ["family_name", "given_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["nhs_number"], condition=~Q(nhs_number=""), name="patient_nhs_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(nhs_number="") | Q(nhs_number__regex=r"^[0-9]{10}$"),
                name="patient_nhs_number_ten_digits",
            ),
            models.CheckConstraint(
                condition=Q(hospital_number__regex=r"^\S+$"), name="patient_hospital_number_set"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name} ({self.hospital_number})"


class Stage(models.TextChoices):
    WORKUP = "workup", "Work-up"
    CONVERSION = "conversion", "Conversion chemotherapy"
    SURGERY_PLANNED = "surgery_planned", "Converted: surgery planned"
    POST_OPERATIVE = "post_operative", "Post-operative"
    LEFT_PATHWAY = "left_pathway", "Left the pathway"


class ExitReason(models.TextChoices):
    PROGRESSION = "progression", "Disease progression"
    PALLIATIVE = "palliative", "Palliative care"
    PATIENT_CHOICE = "patient_choice", "Patient choice"
    TRANSFERRED = "transferred", "Transferred elsewhere"
    COMPLETED = "completed", "Pathway completed"
    DIED = "died", "Died"


@audited()
@tracks_data_version()
class Case(Versioned):
    """One cancer episode followed through the conversion pathway."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="cases")
    primary_site = models.CharField(
        max_length=20, choices=PrimarySite.choices, default=PrimarySite.UNKNOWN
    )
    # As written on the referral. Never used for decisions: sidedness is derived (R1).
    sidedness_reported = models.CharField(max_length=5, choices=Side.choices, blank=True)
    primary_symptom = models.CharField(
        max_length=25, choices=PrimarySymptom.choices, default=PrimarySymptom.NONE
    )
    diagnosed_on = models.DateField()
    ecog = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(4)], verbose_name="ECOG"
    )
    ecog_assessed_on = models.DateField(null=True, blank=True)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.WORKUP)
    exit_reason = models.CharField(max_length=20, choices=ExitReason.choices, blank=True)
    responsible_clinician = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="cases_responsible", null=True, blank=True
    )
    coordinator = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="cases_coordinated", null=True, blank=True
    )

    class Meta:
        ordering = ["-diagnosed_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ecog__lte=4), name="case_ecog_0_to_4"),
            models.CheckConstraint(
                condition=Q(primary_site__in=PrimarySite.values), name="case_primary_site_valid"
            ),
            models.CheckConstraint(
                condition=Q(sidedness_reported__in=["", *Side.values]),
                name="case_sidedness_reported_valid",
            ),
            models.CheckConstraint(
                condition=Q(primary_symptom__in=PrimarySymptom.values),
                name="case_primary_symptom_valid",
            ),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="case_stage_valid"),
            # A case has left the pathway exactly when it says why.
            models.CheckConstraint(
                condition=(Q(stage="left_pathway") & ~Q(exit_reason=""))
                | (~Q(stage="left_pathway") & Q(exit_reason="")),
                name="case_exit_reason_iff_left",
            ),
            models.CheckConstraint(
                condition=Q(ecog_assessed_on__isnull=True) | Q(ecog__isnull=False),
                name="case_ecog_date_needs_ecog",
            ),
        ]
        indexes = [models.Index(fields=["stage", "responsible_clinician"])]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """A case reference safe for emails: it identifies the record, not the person."""
        return f"TB{self.pk:06d}"

    @property
    def sidedness(self) -> str:
        """Derived from the primary site (pathway-spec R1); never typed in."""
        return sidedness_of(self.primary_site)


@audited()
@tracks_data_version()
class MolecularResult(Versioned):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="molecular_results")
    marker = models.CharField(max_length=12, choices=Marker.choices)
    status = models.CharField(max_length=22, choices=MarkerStatus.choices)
    method = models.CharField(
        max_length=120, blank=True, help_text="Assay and extent, e.g. NGS panel, exons 2–4"
    )
    requested_on = models.DateField(null=True, blank=True)
    reported_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["case", "marker"]
        constraints = [
            # Carries the status too: a case's minimum dataset is read from the index alone.
            models.UniqueConstraint(
                fields=["case", "marker"], include=["status"], name="molecular_one_per_marker"
            ),
            models.CheckConstraint(
                condition=Q(
                    *[
                        Q(marker=marker, status__in=statuses)
                        for marker, statuses in MARKER_STATUSES.items()
                    ],
                    _connector=Q.OR,
                ),
                name="molecular_status_valid_for_marker",
            ),
            models.CheckConstraint(
                condition=Q(status__in=UNREPORTED_STATUSES) | Q(reported_on__isnull=False),
                name="molecular_result_has_report_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(requested_on__isnull=False),
                name="molecular_pending_has_request_date",
            ),
            models.CheckConstraint(
                condition=Q(requested_on__isnull=True)
                | Q(reported_on__isnull=True)
                | Q(reported_on__gte=F("requested_on")),
                name="molecular_reported_after_requested",
            ),
        ]
        indexes = [
            # The "results pending more than 14 days" worklist.
            models.Index(
                fields=["requested_on"], condition=Q(status="pending"), name="molecular_pending_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_marker_display()}: {self.get_status_display()}"


class Modality(models.TextChoices):
    CT = "ct", "CT chest, abdomen, pelvis"
    MRI_LIVER = "mri_liver", "Liver MRI"
    PET_CT = "pet_ct", "PET-CT"


class Response(models.TextChoices):
    COMPLETE = "complete_response", "Complete response"
    PARTIAL = "partial_response", "Partial response"
    STABLE = "stable_disease", "Stable disease"
    PROGRESSION = "progressive_disease", "Progressive disease"


@audited()
@tracks_data_version()
class Reassessment(Versioned):
    """One 2-monthly resectability reassessment: the scan and the HPB verdict on it."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reassessments")
    cycle = models.PositiveSmallIntegerField()
    due_on = models.DateField()
    imaging_booked_for = models.DateField(null=True, blank=True)
    imaging_performed_on = models.DateField(null=True, blank=True)
    modality = models.CharField(max_length=10, choices=Modality.choices, blank=True)
    response = models.CharField(max_length=20, choices=Response.choices, blank=True)
    # The date of the formal resectability reassessment (the anchor of the next cycle, R9).
    reassessed_on = models.DateField(null=True, blank=True)
    hpb_mdt_reviewed = models.BooleanField(default=False, verbose_name="HPB MDT reviewed")
    # None means "not assessed" (pathway-spec G2).
    r0_achievable = models.BooleanField(null=True, blank=True, verbose_name="R0 achievable")
    flr_percent_slv = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        verbose_name="FLR (% of standard liver volume)",
    )
    flr_segments_remaining = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(8)]
    )
    extrahepatic_disease = models.CharField(
        max_length=12, choices=ExtrahepaticDisease.choices, default=ExtrahepaticDisease.NONE
    )
    pet_complete_metabolic_response = models.BooleanField(default=False)
    combined_resection_technically_feasible = models.BooleanField(default=False)
    planned_hepatectomy_extent = models.CharField(
        max_length=5, choices=HepatectomyExtent.choices, blank=True
    )

    class Meta:
        ordering = ["case", "cycle"]
        constraints = [
            models.UniqueConstraint(fields=["case", "cycle"], name="reassessment_cycle_unique"),
            models.CheckConstraint(condition=Q(cycle__gte=1), name="reassessment_cycle_positive"),
            models.CheckConstraint(
                condition=Q(flr_percent_slv__gte=0) & Q(flr_percent_slv__lte=100),
                name="reassessment_flr_0_to_100",
            ),
            models.CheckConstraint(
                condition=Q(flr_segments_remaining__lte=8), name="reassessment_segments_0_to_8"
            ),
            models.CheckConstraint(
                condition=Q(imaging_performed_on__isnull=True)
                | Q(reassessed_on__isnull=True)
                | Q(reassessed_on__gte=F("imaging_performed_on")),
                name="reassessment_after_imaging",
            ),
            models.CheckConstraint(
                condition=Q(extrahepatic_disease__in=ExtrahepaticDisease.values),
                name="reassessment_extrahepatic_valid",
            ),
        ]
        indexes = [
            # The "due / overdue / not booked" sweeps only look at open reassessments.
            models.Index(
                fields=["due_on"],
                condition=Q(reassessed_on__isnull=True),
                name="reassessment_open_due_idx",
            ),
            # A case's next due date and its latest scan (the meeting's candidates and their
            # minimum dataset) read from the index alone.
            models.Index(
                fields=["case", "due_on"],
                condition=Q(reassessed_on__isnull=True),
                name="reassessment_case_open_idx",
            ),
            models.Index(
                fields=["case", "imaging_performed_on"],
                condition=Q(imaging_performed_on__isnull=False),
                name="reassessment_case_scan_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Reassessment {self.cycle} due {self.due_on:%d %b %Y}"


# --- Treatment -------------------------------------------------------------------------------


class Intent(models.TextChoices):
    CONVERSION = "conversion", "Conversion"
    PERIOPERATIVE = "perioperative", "Perioperative (before surgery)"
    POSTOPERATIVE = "postoperative", "Post-operative"
    MAINTENANCE = "maintenance", "Maintenance"
    PALLIATIVE = "palliative", "Palliative"


@audited()
@tracks_data_version()
class TreatmentCourse(Versioned):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="treatment_courses")
    intent = models.CharField(max_length=15, choices=Intent.choices, default=Intent.CONVERSION)
    backbone = models.CharField(max_length=10, choices=Backbone.choices, blank=True)
    agents = ArrayField(models.CharField(max_length=15, choices=Agent.choices), default=list)
    started_on = models.DateField()
    stopped_on = models.DateField(null=True, blank=True)
    stop_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["case", "started_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stopped_on__isnull=True) | Q(stopped_on__gte=F("started_on")),
                name="course_stops_after_start",
            ),
            models.CheckConstraint(
                condition=Q(agents__contained_by=Agent.values), name="course_agents_valid"
            ),
        ]

    def __str__(self) -> str:
        label = self.get_backbone_display() or "Systemic therapy"
        biologics = [a for a in self.agents if a in BIOLOGIC_AGENTS]
        return f"{label} + {', '.join(biologics)}" if biologics else label


BIOLOGIC_AGENTS = (
    "bevacizumab",
    "cetuximab",
    "panitumumab",
    "pembrolizumab",
    "nivolumab",
    "ipilimumab",
    "encorafenib",
)


@audited()
@tracks_data_version()
class AgentAdministration(Versioned):
    """One dose of one agent: the last bevacizumab dose is a query, never a typed field.

    Versioned so that a correction of a dose date is protected against lost updates like every
    other clinical record.
    """

    course = models.ForeignKey(
        TreatmentCourse, on_delete=models.CASCADE, related_name="administrations"
    )
    agent = models.CharField(max_length=15, choices=Agent.choices)
    given_on = models.DateField()
    cycle_number = models.PositiveSmallIntegerField(null=True, blank=True)
    # Why a dose was given when the rules would not expect it (e.g. bevacizumab after an
    # operation): the form asks for it, so an unusual entry is never a silent typo.
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["course", "given_on", "agent"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "agent", "given_on"], name="administration_once_a_day"
            ),
            models.CheckConstraint(
                condition=Q(agent__in=Agent.values), name="administration_agent_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "course", "-given_on"]),
            # The last bevacizumab dose of every planned operation's case (the dashboard's
            # bevacizumab worklist): an index-only scan per course.
            models.Index(
                fields=["course", "given_on"],
                condition=Q(agent="bevacizumab"),
                name="administration_bev_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_agent_display()} on {self.given_on:%d %b %Y}"


@audited()
@tracks_data_version()
class Radiotherapy(Versioned):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="radiotherapy")
    kind = models.CharField(max_length=20, choices=PelvicRadiotherapy.choices)
    started_on = models.DateField()
    # For 5 × 5 Gy this is the last fraction: the anchor of the 6-month surgery window (R11).
    completed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["case", "started_on"]
        verbose_name_plural = "radiotherapy courses"
        constraints = [
            models.CheckConstraint(
                condition=Q(completed_on__isnull=True) | Q(completed_on__gte=F("started_on")),
                name="radiotherapy_completes_after_start",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=PelvicRadiotherapy.values), name="radiotherapy_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.started_on:%d %b %Y}"


class SurgeryKind(models.TextChoices):
    ONE_STAGE_HEPATECTOMY = "one_stage_hepatectomy", "One-stage hepatectomy"
    TWO_STAGE_FIRST = "two_stage_hepatectomy_first", "Two-stage hepatectomy, first stage"
    TWO_STAGE_SECOND = "two_stage_hepatectomy_second", "Two-stage hepatectomy, second stage"
    PRIMARY_RESECTION = "primary_resection", "Resection of the primary"
    SYNCHRONOUS_RESECTION = "synchronous_resection", "Synchronous primary and liver resection"
    DEFUNCTIONING_STOMA = "defunctioning_stoma", "Defunctioning stoma"
    OTHER = "other", "Other"


@audited()
@tracks_data_version()
class Surgery(Versioned):
    PRIMARY_KINDS = (SurgeryKind.PRIMARY_RESECTION, SurgeryKind.SYNCHRONOUS_RESECTION)
    LIVER_KINDS = (
        SurgeryKind.ONE_STAGE_HEPATECTOMY,
        SurgeryKind.TWO_STAGE_FIRST,
        SurgeryKind.TWO_STAGE_SECOND,
        SurgeryKind.SYNCHRONOUS_RESECTION,
    )

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="surgeries")
    kind = models.CharField(max_length=30, choices=SurgeryKind.choices)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ELECTIVE)
    hepatectomy_extent = models.CharField(
        max_length=5, choices=HepatectomyExtent.choices, blank=True
    )
    planned_on = models.DateField(null=True, blank=True)
    performed_on = models.DateField(null=True, blank=True)
    margin = models.CharField(max_length=2, choices=Margin.choices, blank=True)
    cancelled_on = models.DateField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["case", "planned_on"]
        verbose_name_plural = "surgeries"
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_on__isnull=False) | Q(performed_on__isnull=False),
                name="surgery_has_a_date",
            ),
            # A margin is a pathology finding: only an operation that happened has one.
            models.CheckConstraint(
                condition=Q(margin="") | Q(performed_on__isnull=False),
                name="surgery_margin_needs_operation",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_on__isnull=True) | Q(performed_on__isnull=True),
                name="surgery_not_both_cancelled_and_performed",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_on__isnull=True) | ~Q(cancel_reason=""),
                name="surgery_cancellation_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=SurgeryKind.values), name="surgery_kind_valid"
            ),
        ]
        indexes = [
            # Planned, not yet done, not cancelled: the bevacizumab and SCRT interval sweeps.
            models.Index(
                fields=["planned_on"],
                condition=Q(performed_on__isnull=True, cancelled_on__isnull=True),
                name="surgery_planned_idx",
            ),
        ]

    def __str__(self) -> str:
        when = self.performed_on or self.planned_on
        return f"{self.get_kind_display()} ({when:%d %b %Y})" if when else self.get_kind_display()

    @property
    def includes_primary(self) -> bool:
        return self.kind in self.PRIMARY_KINDS

    @property
    def includes_liver(self) -> bool:
        return self.kind in self.LIVER_KINDS


# --- Meetings and decisions ------------------------------------------------------------------


class MeetingStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    CLOSED = "closed", "Closed"


@audited()
@tracks_data_version()
class Meeting(models.Model):
    title = models.CharField(max_length=100, default="Colorectal MDT")
    scheduled_for = models.DateTimeField()
    chair = models.ForeignKey(User, on_delete=models.PROTECT, related_name="meetings_chaired")
    status = models.CharField(
        max_length=12, choices=MeetingStatus.choices, default=MeetingStatus.SCHEDULED
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scheduled_for"]
        indexes = [models.Index(fields=["scheduled_for"])]

    def __str__(self) -> str:
        return f"{self.title}, {self.scheduled_for:%d %b %Y %H:%M}"


@audited()
@tracks_data_version()
class Attendance(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendances")
    member = models.ForeignKey(User, on_delete=models.PROTECT, related_name="attendances")
    discipline = models.CharField(max_length=30, choices=Discipline.choices)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["meeting", "discipline"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "member"], name="attendance_once"),
        ]

    def __str__(self) -> str:
        return f"{self.member} ({self.get_discipline_display()})"


class AgendaStatus(models.TextChoices):
    LISTED = "listed", "Listed"
    DISCUSSED = "discussed", "Discussed"
    DEFERRED = "deferred", "Deferred"


@audited()
@tracks_data_version()
class AgendaItem(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="agenda_items")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="agenda_items")
    position = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=10, choices=AgendaStatus.choices, default=AgendaStatus.LISTED
    )
    listed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    listed_at = models.DateTimeField(auto_now_add=True)
    # Listed after the agenda froze (24 h before the meeting).
    late_reason = models.CharField(max_length=300, blank=True)
    # Listed without the minimum dataset.
    incomplete_reason = models.CharField(max_length=300, blank=True)
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    next_reassessment_on = models.DateField(null=True, blank=True)
    quorate_at_sign_off = models.BooleanField(null=True, blank=True)
    # Why the chair moved the case off this meeting (status "deferred").
    deferred_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["meeting", "position"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "case"], name="agenda_case_once"),
            # Deferred so the chair can reorder the agenda in one transaction.
            models.UniqueConstraint(
                fields=["meeting", "position"],
                name="agenda_position_unique",
                deferrable=models.Deferrable.DEFERRED,
            ),
            models.CheckConstraint(
                condition=Q(signed_off_at__isnull=True) | Q(signed_off_by__isnull=False),
                name="agenda_sign_off_has_signer",
            ),
            models.CheckConstraint(
                condition=~Q(status="deferred") | Q(deferred_reason__regex=r"\S"),
                name="agenda_deferral_has_reason",
            ),
            # A signed-off outcome is final: it cannot also be deferred.
            models.CheckConstraint(
                condition=Q(signed_off_at__isnull=True) | ~Q(status="deferred"),
                name="agenda_signed_off_not_deferred",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.case}"


class DecisionPoint(models.TextChoices):
    """The decision walk, in order (DESIGN.md §2)."""

    DATA_COMPLETENESS = "data_completeness", "Data completeness and molecular profile"
    RESECTABILITY = "resectability", "Resectability (HPB-led)"
    PRIMARY_MANAGEMENT = "primary_management", "Primary tumour management"
    SYSTEMIC_THERAPY = "systemic_therapy", "Systemic therapy"
    PELVIC_RADIOTHERAPY = "pelvic_radiotherapy", "Pelvic radiotherapy"
    LIVER_SURGERY = "liver_surgery", "Liver surgery strategy and sequencing"
    TIMING = "timing", "Timing (bevacizumab interval, SCRT window)"
    POSTOPERATIVE = "postoperative", "Post-operative plan"
    OUTCOME = "outcome", "Outcome and next reassessment"


@audited()
@pgtrigger.register(
    pgtrigger.Protect(name="decision_append_only", operation=pgtrigger.Update | pgtrigger.Delete)
)
@tracks_data_version()
class Decision(models.Model):
    """What the MDT decided at one decision point. Append-only: a correction supersedes."""

    agenda_item = models.ForeignKey(AgendaItem, on_delete=models.PROTECT, related_name="decisions")
    point = models.CharField(max_length=25, choices=DecisionPoint.choices)
    answer = models.JSONField()
    # What the engine said when the decision was made: inputs, guideline version, codes.
    advice_snapshot = models.JSONField()
    follows_recommendation = models.BooleanField()
    deviation_reason = models.TextField(blank=True)
    overridden_hard_stops = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    override_reason = models.TextField(blank=True)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    correction_reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agenda_item", "recorded_at"]
        constraints = [
            # Two people answering the same point at once: the database lets only one through.
            models.UniqueConstraint(
                fields=["agenda_item", "point"],
                condition=Q(supersedes__isnull=True),
                name="decision_first_answer_once",
            ),
            models.CheckConstraint(
                condition=Q(overridden_hard_stops=[]) | Q(override_reason__regex=r"\S"),
                name="decision_override_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(follows_recommendation=True) | Q(deviation_reason__regex=r"\S"),
                name="decision_deviation_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(supersedes__isnull=True) | Q(correction_reason__regex=r"\S"),
                name="decision_correction_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_point_display()} ({self.recorded_at:%d %b %Y})"


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    NOT_DONE = "not_done", "Not done"


@audited()
@tracks_data_version()
class Action(Versioned):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="actions")
    agenda_item = models.ForeignKey(
        AgendaItem, on_delete=models.PROTECT, related_name="actions", null=True, blank=True
    )
    description = models.CharField(max_length=300)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="actions")
    due_on = models.DateField()
    status = models.CharField(
        max_length=10, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    not_done_reason = models.CharField(max_length=300, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="not_done") | Q(not_done_reason__regex=r"\S"),
                name="action_not_done_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(description__regex=r"\S"), name="action_has_description"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ActionStatus.values), name="action_status"
            ),
        ]
        indexes = [
            models.Index(fields=["due_on"], condition=Q(status="open"), name="action_open_idx"),
            # The dashboard's actions list is "open and overdue OR not done": with this, both
            # arms are partial index scans (a BitmapOr) instead of a scan of every action.
            models.Index(
                fields=["due_on"], condition=Q(status="not_done"), name="action_not_done_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.description


# --- Reminders -------------------------------------------------------------------------------


class ReminderKind(models.TextChoices):
    REIMAGING_DUE = "reimaging_due", "Re-imaging due"
    REASSESSMENT_DUE = "reassessment_due", "Reassessment due"
    BEV_INTERVAL_ENDS = "bev_interval_ends", "Bevacizumab interval ends"
    BEV_INTERVAL_BREACH = "bev_interval_breach", "Surgery planned inside bevacizumab interval"
    SCRT_WINDOW_CLOSING = "scrt_window_closing", "SCRT-to-surgery window closing"
    RESULT_OUTSTANDING = "result_outstanding", "Molecular result outstanding"
    ACTION_DUE = "action_due", "MDT action due"
    ACTION_OVERDUE = "action_overdue", "MDT action overdue"


class ReminderState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


@audited()
class Reminder(models.Model):
    """A message due at a time. PostgreSQL is the schedule; Celery only dispatches (DESIGN §5)."""

    kind = models.CharField(max_length=25, choices=ReminderKind.choices)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reminders")
    dedupe_key = models.CharField(max_length=120, unique=True)
    due_at = models.DateTimeField()
    recipients = ArrayField(models.EmailField(), default=list)
    state = models.CharField(
        max_length=10, choices=ReminderState.choices, default=ReminderState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The claim a dispatcher run put on the row; the sender compares-and-sets on it (DESIGN §5).
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    # The clinical date the reminder is about (the "due date" an email shows); due_at is when
    # the email goes out, e.g. re-imaging 14 days ahead of this date. The sync always sets it;
    # a row made by hand without it shows its send date instead.
    event_on = models.DateField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=ReminderState.values), name="reminder_state"
            ),
            models.CheckConstraint(condition=Q(kind__in=ReminderKind.values), name="reminder_kind"),
            models.CheckConstraint(
                condition=~Q(state="sent") | Q(sent_at__isnull=False),
                name="reminder_sent_has_time",
            ),
            models.CheckConstraint(
                condition=Q(dedupe_key__regex=r"\S"), name="reminder_dedupe_key_set"
            ),
            # A row being sent always carries the claim it was sent under.
            models.CheckConstraint(
                condition=~Q(state="sending")
                | (Q(claim_token__isnull=False) & Q(claimed_at__isnull=False)),
                name="reminder_sending_is_claimed",
            ),
            models.CheckConstraint(
                condition=~Q(state="cancelled") | Q(cancelled_at__isnull=False),
                name="reminder_cancelled_has_time",
            ),
        ]
        indexes = [
            # The dispatcher's sweep: "pending and due" must be an index scan at any size.
            models.Index(fields=["due_at"], condition=Q(state="pending"), name="reminder_due_idx"),
            # Reclaiming claims whose worker died: only the few rows in flight are indexed.
            models.Index(
                fields=["claimed_at"], condition=Q(state="sending"), name="reminder_claim_idx"
            ),
            # The reminder log lists newest first, filtered by state and kind.
            models.Index(fields=["state", "kind", "-due_at"], name="reminder_log_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.case_id} at {self.due_at:%d %b %Y %H:%M}"


class AttemptOutcome(models.TextChoices):
    STARTED = "started", "Started"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # The worker stopped mid-send and the claim expired: the email may or may not have gone.
    ABANDONED = "abandoned", "Abandoned (worker stopped)"


@audited()
class ReminderAttempt(models.Model):
    """One try at sending a reminder, with its outcome and error: the history behind the log."""

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="send_attempts")
    number = models.PositiveSmallIntegerField()
    # One attempt per claim: a task delivered twice for the same claim cannot send twice.
    claim_token = models.UUIDField(unique=True)
    message_id = models.CharField(max_length=200)
    recipients = ArrayField(models.EmailField(), default=list)
    outcome = models.CharField(
        max_length=10, choices=AttemptOutcome.choices, default=AttemptOutcome.STARTED
    )
    error = models.TextField(blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["reminder", "number"]
        constraints = [
            models.UniqueConstraint(fields=["reminder", "number"], name="attempt_number_once"),
            models.CheckConstraint(
                condition=Q(outcome__in=AttemptOutcome.values), name="attempt_outcome_valid"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="attempt_number_positive"),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of reminder {self.reminder_id}: {self.outcome}"


class DispatchHeartbeat(models.Model):
    """One row: when the reminder dispatcher last ran. In PostgreSQL so a Redis wipe keeps it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    last_run_at = models.DateTimeField()
    last_claimed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="heartbeat_single_row")]

    def __str__(self) -> str:
        return f"Dispatch last ran at {self.last_run_at:%d %b %Y %H:%M:%S}"


@pgtrigger.register(
    pgtrigger.Trigger(
        name="write_data_version",
        level=pgtrigger.Row,
        when=pgtrigger.After,
        operation=pgtrigger.Insert,
        timing=pgtrigger.Deferred,
        func=WRITE_DATA_VERSION,
    )
)
class DataChange(models.Model):
    """A clinical table written by a transaction that has not committed yet (steps 1–3 above)."""

    table_name = models.CharField(max_length=63)
    final = models.BooleanField(default=False)  # step 3's note, fired after everything else

    def __str__(self) -> str:
        return f"{self.table_name} changed"


class DataVersion(models.Model):
    """One row: for each clinical table, the id of the last transaction that changed it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    versions = models.JSONField(default=dict)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="data_version_single_row")]

    def __str__(self) -> str:
        return f"Data versions of {len(self.versions)} tables"


# --- Access log ------------------------------------------------------------------------------


@pgtrigger.register(
    pgtrigger.Protect(name="case_access_append_only", operation=pgtrigger.Update | pgtrigger.Delete)
)
class CaseAccess(models.Model):
    """Who opened which patient's case, where and when. Append-only (a trigger refuses edits).

    The case is referenced without a database constraint so the log outlives a deleted case.
    """

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(
        Case, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    context = models.CharField(max_length=40, help_text="The screen, e.g. case-page")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "case access"
        verbose_name_plural = "case access log"
        indexes = [
            models.Index(fields=["case", "-at"], name="case_access_case_idx"),
            models.Index(fields=["user", "-at"], name="case_access_user_idx"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} opened case {self.case_id} ({self.context})"
