"""A deactivated account keeps its role in the table but loses every capability.

Django's session backend already refuses inactive users at sign-in, but services are also called
from commands, tasks and the shell with a user object in hand: the permission check itself must
refuse them.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from cases import models
from cases.meetings import services as meetings
from cases.security.permissions import ROLE_CAPABILITIES, has_capability, require
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", list(ROLE_CAPABILITIES))
def test_a_deactivated_account_is_refused_every_capability(role):
    user = make_user(role)
    assert ROLE_CAPABILITIES[role], f"{role} has no capability to lose"
    assert all(has_capability(user, capability) for capability in ROLE_CAPABILITIES[role])

    user.is_active = False
    user.save(update_fields=["is_active"])

    for capability in ROLE_CAPABILITIES[role]:
        assert not has_capability(user, capability)
        with pytest.raises(PermissionDenied):
            require(user, capability)


def test_a_deactivated_coordinator_cannot_create_a_meeting():
    coordinator, chair = make_user("coordinator"), make_user("chair")
    coordinator.is_active = False
    coordinator.save(update_fields=["is_active"])

    with pytest.raises(PermissionDenied):
        meetings.meeting_create(
            user=coordinator,
            scheduled_for=timezone.now() + dt.timedelta(days=3),
            chair_id=chair.pk,
        )
    assert not models.Meeting.objects.exists()
