"""The admin site follows the permission matrix, not Django's ``is_staff``/``is_superuser``.

Only roles with ``manage_users`` get in at all, and each model's admin checks the role's
capabilities (``cases/admin.py``), so an administrator manages accounts and 2FA devices but does
not see or change patient data there: clinical data is changed through the app's audited screens
by the roles the matrix allows.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from cases.security.permissions import Capability, has_capability


class TumourBoardAdminSite(admin.AdminSite):
    site_header = "Tumour board administration"
    site_title = "Tumour board administration"

    def has_permission(self, request: HttpRequest) -> bool:
        return has_capability(request.user, Capability.MANAGE_USERS)
