from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Tumour board"
    default = True

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from cases.audit import access as audit
        from cases.security import middleware

        audit.connect_task_context()
        user_logged_in.connect(middleware.mark_sign_in, dispatch_uid="session-clocks")


class TumourBoardAdminConfig(admin_apps.AdminConfig):
    """The Django admin, on a site that follows the role matrix (cases/admin_site.py)."""

    default = False
    default_site = "cases.security.admin_site.TumourBoardAdminSite"
