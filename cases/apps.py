from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Tumour board"
    default = True

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_migrate

        from cases.audit import access as audit
        from cases.audit import db_roles, tasks  # noqa: F401 (registers the chain-head task)
        from cases.security import accounts, middleware

        audit.connect_task_context()
        post_migrate.connect(db_roles.after_migrate, sender=self, dispatch_uid="audit-install")
        user_logged_in.connect(middleware.mark_sign_in, dispatch_uid="session-clocks")
        accounts.connect_account_signals()


class TumourBoardAdminConfig(admin_apps.AdminConfig):
    """The Django admin, on a site that follows the role matrix (cases/admin_site.py)."""

    default = False
    default_site = "cases.security.admin_site.TumourBoardAdminSite"
