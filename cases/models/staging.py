"""Staging and pathology of the primary: TNM (AJCC / UICC 8th edition), MRI pelvis of a rectal
primary, histology; and the referral that brought the case to the MDT.

The categories are the manual's own (``T4a``, ``N1c``, ``M1b``), without the c / p / yp prefix,
which is the staging's ``kind``. Which combinations are valid is the engine's rule
(``cases/pathway/staging.py``); the check constraints below restate the same sets so that
PostgreSQL refuses a bad row however it is written (a test keeps the two equal).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from cases.models.base import Versioned, audited, tracks_data_version
from cases.models.record import Case


class TnmKind(models.TextChoices):
    CLINICAL = "clinical", "Clinical (cTNM)"
    PATHOLOGICAL = "pathological", "Pathological (pTNM)"
    POST_NEOADJUVANT = "post_neoadjuvant", "Pathological after neoadjuvant therapy (ypTNM)"


TNM_PREFIX = {"clinical": "c", "pathological": "p", "post_neoadjuvant": "yp"}


class TCategory(models.TextChoices):
    TX = "TX", "TX (cannot be assessed)"
    T0 = "T0", "T0 (no evidence of primary)"
    TIS = "Tis", "Tis (in situ / intramucosal)"
    T1 = "T1", "T1 (submucosa)"
    T2 = "T2", "T2 (muscularis propria)"
    T3 = "T3", "T3 (through muscularis into pericolorectal tissue)"
    T4A = "T4a", "T4a (visceral peritoneum)"
    T4B = "T4b", "T4b (invades or adheres to other organs)"


class NCategory(models.TextChoices):
    NX = "NX", "NX (cannot be assessed)"
    N0 = "N0", "N0 (no regional nodes)"
    N1A = "N1a", "N1a (1 node)"
    N1B = "N1b", "N1b (2–3 nodes)"
    N1C = "N1c", "N1c (tumour deposits, no positive node)"
    N2A = "N2a", "N2a (4–6 nodes)"
    N2B = "N2b", "N2b (7 or more nodes)"


class MCategory(models.TextChoices):
    M0 = "M0", "M0 (no distant metastasis)"
    M1A = "M1a", "M1a (one site or organ, no peritoneum)"
    M1B = "M1b", "M1b (two or more sites or organs, no peritoneum)"
    M1C = "M1c", "M1c (peritoneum, with or without other sites)"


@audited()
@tracks_data_version()
class TnmStaging(Versioned):
    """One TNM staging of the case, of one kind (clinical, pathological, after neoadjuvant)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="tnm_stagings")
    kind = models.CharField(max_length=20, choices=TnmKind.choices)
    t = models.CharField("T", max_length=3, choices=TCategory.choices)
    n = models.CharField("N", max_length=3, choices=NCategory.choices)
    m = models.CharField("M", max_length=3, choices=MCategory.choices)
    staged_on = models.DateField()

    class Meta:
        ordering = ["case", "staged_on", "id"]
        verbose_name = "TNM staging"
        constraints = [
            models.UniqueConstraint(fields=["case", "kind"], name="tnm_one_per_kind"),
            models.CheckConstraint(condition=Q(kind__in=TnmKind.values), name="tnm_kind_valid"),
            models.CheckConstraint(condition=Q(t__in=TCategory.values), name="tnm_t_8th_edition"),
            models.CheckConstraint(condition=Q(n__in=NCategory.values), name="tnm_n_8th_edition"),
            models.CheckConstraint(condition=Q(m__in=MCategory.values), name="tnm_m_8th_edition"),
            # cases/pathway/staging.py: N1C_NEEDS_T and TIS_ONLY_WITH.
            models.CheckConstraint(
                condition=~Q(n="N1c") | Q(t__in=["T1", "T2", "T3", "T4a", "T4b"]),
                name="tnm_n1c_needs_invasive_t",
            ),
            models.CheckConstraint(
                condition=~Q(t="Tis") | Q(n="N0", m="M0"), name="tnm_tis_only_n0_m0"
            ),
        ]

    def __str__(self) -> str:
        prefix = TNM_PREFIX.get(self.kind, "")
        return f"{prefix}{self.t} {prefix}{self.n} {self.m}"


class MriT(models.TextChoices):
    T1 = "T1", "mrT1"
    T2 = "T2", "mrT2"
    T3 = "T3", "mrT3"
    T4A = "T4a", "mrT4a (peritoneal reflection)"
    T4B = "T4b", "mrT4b (other organ or structure)"


class MriN(models.TextChoices):
    N0 = "N0", "mrN0"
    N1 = "N1", "mrN1 (1–3 suspicious nodes)"
    N2 = "N2", "mrN2 (4 or more suspicious nodes)"


class CrmStatus(models.TextChoices):
    CLEAR = "clear", "Clear (more than 2 mm)"
    THREATENED = "threatened", "Threatened (more than 1 up to 2 mm)"
    INVOLVED = "involved", "Involved (1 mm or less)"


class Emvi(models.TextChoices):
    NEGATIVE = "negative", "EMVI negative"
    POSITIVE = "positive", "EMVI positive"


@audited()
@tracks_data_version()
class PelvicMri(Versioned):
    """MRI pelvis staging of a rectal primary (MERCURY-style report)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="pelvic_mris")
    performed_on = models.DateField()
    t = models.CharField("mrT", max_length=3, choices=MriT.choices)
    n = models.CharField("mrN", max_length=2, choices=MriN.choices)
    crm = models.CharField("CRM", max_length=10, choices=CrmStatus.choices)
    crm_distance_mm = models.DecimalField(
        "Distance to the mesorectal fascia (mm)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
    )
    emvi = models.CharField("EMVI", max_length=8, choices=Emvi.choices)
    tumour_height_cm = models.DecimalField(
        "Tumour height from the anal verge (cm)", max_digits=3, decimal_places=1
    )

    class Meta:
        ordering = ["case", "performed_on", "id"]
        verbose_name = "MRI pelvis"
        verbose_name_plural = "MRI pelvis reports"
        constraints = [
            models.UniqueConstraint(fields=["case", "performed_on"], name="mri_one_a_day"),
            models.CheckConstraint(condition=Q(t__in=MriT.values), name="mri_t_valid"),
            models.CheckConstraint(condition=Q(n__in=MriN.values), name="mri_n_valid"),
            models.CheckConstraint(condition=Q(crm__in=CrmStatus.values), name="mri_crm_valid"),
            models.CheckConstraint(condition=Q(emvi__in=Emvi.values), name="mri_emvi_valid"),
            models.CheckConstraint(
                condition=Q(crm_distance_mm__isnull=True) | Q(crm_distance_mm__gte=0),
                name="mri_crm_distance_not_negative",
            ),
            # The rectum ends about 15 cm from the verge; 0 would be the verge itself.
            models.CheckConstraint(
                condition=Q(tumour_height_cm__gt=0) & Q(tumour_height_cm__lte=20),
                name="mri_height_above_verge",
            ),
        ]

    def __str__(self) -> str:
        return f"MRI pelvis {self.performed_on:%d %b %Y}"


class HistologicalType(models.TextChoices):
    ADENOCARCINOMA = "adenocarcinoma", "Adenocarcinoma (not otherwise specified)"
    MUCINOUS = "mucinous_adenocarcinoma", "Mucinous adenocarcinoma"
    SIGNET_RING = "signet_ring_cell_carcinoma", "Signet-ring cell carcinoma"
    MEDULLARY = "medullary_carcinoma", "Medullary carcinoma"
    SERRATED = "serrated_adenocarcinoma", "Serrated adenocarcinoma"
    MICROPAPILLARY = "micropapillary_adenocarcinoma", "Micropapillary adenocarcinoma"
    ADENOSQUAMOUS = "adenosquamous_carcinoma", "Adenosquamous carcinoma"
    OTHER = "other", "Other"


class HistologicalGrade(models.TextChoices):
    LOW = "low", "Low grade (well / moderately differentiated)"
    HIGH = "high", "High grade (poorly differentiated)"
    NOT_ASSESSABLE = "not_assessable", "Cannot be assessed"


class Specimen(models.TextChoices):
    BIOPSY = "biopsy", "Biopsy"
    RESECTION = "resection", "Resection specimen"


@audited()
@tracks_data_version()
class Histology(Versioned):
    """The pathologist's report on one specimen of the primary."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="histologies")
    specimen = models.CharField(max_length=10, choices=Specimen.choices)
    reported_on = models.DateField()
    histological_type = models.CharField(max_length=30, choices=HistologicalType.choices)
    grade = models.CharField(max_length=15, choices=HistologicalGrade.choices)
    mucinous = models.BooleanField("Mucinous component (50 % or more)", default=False)
    signet_ring = models.BooleanField("Signet-ring cells", default=False)

    class Meta:
        ordering = ["case", "reported_on", "id"]
        verbose_name_plural = "histology reports"
        constraints = [
            models.UniqueConstraint(
                fields=["case", "specimen", "reported_on"], name="histology_one_a_day"
            ),
            models.CheckConstraint(
                condition=Q(specimen__in=Specimen.values), name="histology_specimen_valid"
            ),
            models.CheckConstraint(
                condition=Q(histological_type__in=HistologicalType.values),
                name="histology_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(grade__in=HistologicalGrade.values), name="histology_grade_valid"
            ),
            # The type names the feature: a mucinous adenocarcinoma is mucinous, a signet-ring
            # cell carcinoma has signet-ring cells.
            models.CheckConstraint(
                condition=~Q(histological_type="mucinous_adenocarcinoma") | Q(mucinous=True),
                name="histology_mucinous_type_is_mucinous",
            ),
            models.CheckConstraint(
                condition=~Q(histological_type="signet_ring_cell_carcinoma") | Q(signet_ring=True),
                name="histology_signet_type_has_signet_cells",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_histological_type_display()} ({self.get_specimen_display().lower()})"


# --- Referral --------------------------------------------------------------------------------


class ReferralSource(models.TextChoices):
    HOSPITAL = "hospital", "Hospital team"
    GP = "gp", "GP"
    OTHER_MDT = "other_mdt", "Another MDT"
    OTHER = "other", "Other"


class ReferralUrgency(models.TextChoices):
    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"
    EMERGENCY = "emergency", "Emergency"


@audited()
@tracks_data_version()
class Referral(Versioned):
    """What brought the case to the MDT: who referred it, when, and what they ask.

    ``received_on`` is the start of the referral-to-discussion interval that the case page
    shows and the reports read.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="referrals")
    source = models.CharField(max_length=10, choices=ReferralSource.choices)
    referrer = models.CharField(max_length=120, help_text="Name and team of the referrer")
    received_on = models.DateField()
    urgency = models.CharField(
        max_length=10, choices=ReferralUrgency.choices, default=ReferralUrgency.ROUTINE
    )
    question = models.TextField("Question for the MDT", max_length=1000)

    class Meta:
        ordering = ["case", "received_on"]
        constraints = [
            models.UniqueConstraint(fields=["case"], name="referral_one_per_case"),
            models.CheckConstraint(
                condition=Q(source__in=ReferralSource.values), name="referral_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(urgency__in=ReferralUrgency.values), name="referral_urgency_valid"
            ),
            models.CheckConstraint(
                condition=Q(question__regex=r"\S"), name="referral_question_given"
            ),
            models.CheckConstraint(
                condition=Q(referrer__regex=r"\S"), name="referral_referrer_given"
            ),
        ]

    def __str__(self) -> str:
        return f"Referral from {self.get_source_display()} received {self.received_on:%d %b %Y}"
