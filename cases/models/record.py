"""The clinical record: patient, case, molecular results, reassessments, treatment,
radiotherapy and surgery.

Field names and choice values follow the vocabulary of ``clinical/pathway-spec.md`` §A.1, so a
stored case maps onto engine inputs without guesswork (``cases/records/mapping.py``).
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from cases.models.base import Versioned, audited, tracks_data_version
from cases.models.people import User

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
            # The "results pending more than RESULT_CHASE_DAYS" worklist.
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
    # An HPB review given in an MDT meeting (written at sign-off): its day and who was present.
    hpb_reviewed_on = models.DateField(null=True, blank=True, verbose_name="HPB review date")
    hpb_reviewers = models.CharField(
        max_length=500, blank=True, default="", db_default="", verbose_name="HPB reviewers"
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
            # A dated HPB review is a review.
            models.CheckConstraint(
                condition=Q(hpb_reviewed_on__isnull=True) | Q(hpb_mdt_reviewed=True),
                name="reassessment_hpb_review_date_needs_review",
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
    # The stored values predate the line-of-therapy vocabulary (and are exchanged over FHIR):
    # the labels say what the MDT calls them.
    PERIOPERATIVE = "perioperative", "Neoadjuvant (before surgery)"
    POSTOPERATIVE = "postoperative", "Adjuvant (after surgery)"
    MAINTENANCE = "maintenance", "Maintenance"
    PALLIATIVE = "palliative", "Palliative"


class StopCause(models.TextChoices):
    COMPLETED = "completed", "Planned cycles completed"
    PROGRESSION = "progression", "Disease progression"
    TOXICITY = "toxicity", "Toxicity"
    SURGERY = "surgery", "Stopped for surgery"
    PATIENT_CHOICE = "patient_choice", "Patient choice"
    DETERIORATION = "deterioration", "Clinical deterioration"
    DIED = "died", "Died"
    OTHER = "other", "Other"


@audited()
@tracks_data_version()
class TreatmentCourse(Versioned):
    """A line of systemic therapy (1st, 2nd …): its regimen, intent, planned and given cycles
    (``TreatmentCycle``), and why it stopped."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="treatment_courses")
    intent = models.CharField(max_length=15, choices=Intent.choices, default=Intent.CONVERSION)
    backbone = models.CharField(max_length=10, choices=Backbone.choices, blank=True)
    agents = ArrayField(models.CharField(max_length=15, choices=Agent.choices), default=list)
    started_on = models.DateField()
    stopped_on = models.DateField(null=True, blank=True)
    stop_reason = models.CharField(max_length=200, blank=True)
    line = models.PositiveSmallIntegerField("Line of therapy", default=1)
    planned_cycles = models.PositiveSmallIntegerField(null=True, blank=True)
    stop_cause = models.CharField(max_length=15, choices=StopCause.choices, blank=True)
    # The last bevacizumab dose the MDT plans before elective surgery (pathway-spec H2): while
    # the course runs, the 6-week interval counts from it when it is later than the last given.
    bevacizumab_last_planned_on = models.DateField(
        "Last bevacizumab dose planned", null=True, blank=True
    )

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
            models.CheckConstraint(
                condition=Q(line__gte=1) & Q(line__lte=20), name="course_line_1_to_20"
            ),
            models.CheckConstraint(
                condition=Q(planned_cycles__isnull=True)
                | (Q(planned_cycles__gte=1) & Q(planned_cycles__lte=100)),
                name="course_planned_cycles_positive",
            ),
            models.CheckConstraint(
                condition=Q(stop_cause__in=["", *StopCause.values]), name="course_stop_cause_valid"
            ),
            # Only a course that stopped says why.
            models.CheckConstraint(
                condition=Q(stop_cause="") | Q(stopped_on__isnull=False),
                name="course_stop_cause_needs_stop_date",
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
    # The cycle this dose was given in, when the cycle is recorded: the cycle's service writes
    # its doses, so the last bevacizumab dose follows the cycles wherever they exist.
    cycle = models.ForeignKey(
        "TreatmentCycle",
        on_delete=models.CASCADE,
        related_name="doses",
        null=True,
        blank=True,
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
class TreatmentCycle(Versioned):
    """One cycle of a course as given: its day-1 date, the agents given (bevacizumab may be left
    out before surgery), a dose reduction and a delay."""

    course = models.ForeignKey(TreatmentCourse, on_delete=models.CASCADE, related_name="cycles")
    number = models.PositiveSmallIntegerField()
    given_on = models.DateField()
    agents = ArrayField(models.CharField(max_length=15, choices=Agent.choices), default=list)
    dose_reduction_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    delay_days = models.PositiveSmallIntegerField(null=True, blank=True)
    delay_reason = models.CharField(max_length=200, blank=True)
    # Why bevacizumab was given after an operation (as for a single dose).
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["course", "number"]
        constraints = [
            models.UniqueConstraint(fields=["course", "number"], name="cycle_number_unique"),
            models.UniqueConstraint(fields=["course", "given_on"], name="cycle_one_a_day"),
            models.CheckConstraint(
                condition=Q(number__gte=1) & Q(number__lte=200), name="cycle_number_positive"
            ),
            models.CheckConstraint(
                condition=Q(agents__len__gte=1) & Q(agents__contained_by=Agent.values),
                name="cycle_agents_valid",
            ),
            models.CheckConstraint(
                condition=Q(dose_reduction_percent__isnull=True)
                | (Q(dose_reduction_percent__gt=0) & Q(dose_reduction_percent__lt=100)),
                name="cycle_dose_reduction_1_to_99",
            ),
            models.CheckConstraint(
                condition=Q(delay_days__isnull=True) | Q(delay_days__gt=0),
                name="cycle_delay_positive",
            ),
            models.CheckConstraint(
                condition=Q(delay_reason="") | Q(delay_days__isnull=False),
                name="cycle_delay_reason_needs_delay",
            ),
        ]

    def __str__(self) -> str:
        return f"Cycle {self.number} on {self.given_on:%d %b %Y}"


class CtcaeTerm(models.TextChoices):
    """CTCAE v5.0 terms met in colorectal chemotherapy (the label is the term as printed)."""

    DIARRHEA = "diarrhea", "Diarrhea"
    NAUSEA = "nausea", "Nausea"
    VOMITING = "vomiting", "Vomiting"
    MUCOSITIS_ORAL = "mucositis_oral", "Mucositis oral"
    FATIGUE = "fatigue", "Fatigue"
    ANOREXIA = "anorexia", "Anorexia"
    NEUTROPHIL_COUNT_DECREASED = "neutrophil_count_decreased", "Neutrophil count decreased"
    FEBRILE_NEUTROPENIA = "febrile_neutropenia", "Febrile neutropenia"
    PLATELET_COUNT_DECREASED = "platelet_count_decreased", "Platelet count decreased"
    ANEMIA = "anemia", "Anemia"
    PERIPHERAL_SENSORY_NEUROPATHY = (
        "peripheral_sensory_neuropathy",
        "Peripheral sensory neuropathy",
    )
    PALMAR_PLANTAR = (
        "palmar_plantar_erythrodysesthesia",
        "Palmar-plantar erythrodysesthesia syndrome",
    )
    RASH_ACNEIFORM = "rash_acneiform", "Rash acneiform"
    HYPERTENSION = "hypertension", "Hypertension"
    PROTEINURIA = "proteinuria", "Proteinuria"
    THROMBOEMBOLIC_EVENT = "thromboembolic_event", "Thromboembolic event"
    INFUSION_RELATED_REACTION = "infusion_related_reaction", "Infusion related reaction"
    HYPOMAGNESEMIA = "hypomagnesemia", "Hypomagnesemia"
    ALOPECIA = "alopecia", "Alopecia"
    OTHER = "other", "Other (term in the note)"


# Grades CTCAE v5.0 defines for the terms whose scale is shorter than 1–5 (the rest: 1–5).
CTCAE_GRADES: dict[str, tuple[int, int]] = {
    CtcaeTerm.NAUSEA: (1, 3),
    CtcaeTerm.FATIGUE: (1, 3),
    CtcaeTerm.ALOPECIA: (1, 2),
    CtcaeTerm.PALMAR_PLANTAR: (1, 3),
    CtcaeTerm.NEUTROPHIL_COUNT_DECREASED: (1, 4),
    CtcaeTerm.PLATELET_COUNT_DECREASED: (1, 4),
    CtcaeTerm.FEBRILE_NEUTROPENIA: (3, 5),
    CtcaeTerm.PROTEINURIA: (1, 3),
}


@audited()
@tracks_data_version()
class Toxicity(Versioned):
    """An adverse event of a course (CTCAE v5.0 term and grade), in the cycle it followed."""

    course = models.ForeignKey(TreatmentCourse, on_delete=models.CASCADE, related_name="toxicities")
    cycle = models.ForeignKey(
        TreatmentCycle, on_delete=models.CASCADE, related_name="toxicities", null=True, blank=True
    )
    term = models.CharField("CTCAE term", max_length=40, choices=CtcaeTerm.choices)
    grade = models.PositiveSmallIntegerField("CTCAE grade")
    noted_on = models.DateField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["course", "noted_on", "id"]
        verbose_name_plural = "toxicities"
        constraints = [
            models.CheckConstraint(
                condition=Q(grade__gte=1) & Q(grade__lte=5), name="toxicity_grade_1_to_5"
            ),
            models.CheckConstraint(
                condition=Q(term__in=CtcaeTerm.values), name="toxicity_term_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    *[
                        Q(term=term, grade__gte=low, grade__lte=high)
                        for term, (low, high) in CTCAE_GRADES.items()
                    ],
                    ~Q(term__in=list(CTCAE_GRADES)),
                    _connector=Q.OR,
                ),
                name="toxicity_grade_defined_for_term",
            ),
            models.CheckConstraint(
                condition=~Q(term="other") | ~Q(note=""), name="toxicity_other_is_named"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_term_display()} grade {self.grade}"


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
