"""Staff: their role (what they may do) and their discipline (what they bring to the MDT)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from cases.models.base import audited, tracks_data_version

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
