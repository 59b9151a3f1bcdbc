"""Django admin for every model, gated by the role matrix like every other screen.

Only roles that may manage users reach the admin site (``cases/admin_site.py``), and each model
admin below asks for the capability the matrix gives for reading or changing that kind of data,
so administrators manage accounts here but neither see nor change patient data. Any change made
here is audited by the database triggers like every other write.

Decisions and reminders are read-only here: decisions are append-only by design (a database
trigger refuses edits anyway) and reminders belong to the dispatcher.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.template.response import TemplateResponse
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases import models
from cases.security import accounts
from cases.security.permissions import Capability, has_capability


class CapabilityAdmin(admin.ModelAdmin):
    """Model admin permissions from the role matrix; ``is_superuser`` grants nothing extra."""

    view_capability = Capability.VIEW_CLINICAL
    edit_capability: Capability | None = Capability.EDIT_CASES

    def has_view_permission(self, request, obj=None):
        return has_capability(request.user, self.view_capability) or self.has_change_permission(
            request, obj
        )

    def has_change_permission(self, request, obj=None):
        cap = self.edit_capability
        return cap is not None and has_capability(request.user, cap)

    def has_add_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def has_module_permission(self, request):
        return self.has_view_permission(request)


class CapabilityInline(admin.TabularInline):
    def has_view_permission(self, request, obj=None):
        return has_capability(request.user, Capability.VIEW_CLINICAL)

    def has_change_permission(self, request, obj=None):
        return has_capability(request.user, Capability.EDIT_CASES)

    def has_add_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)


@admin.register(models.User)
class UserAdmin(CapabilityAdmin, BaseUserAdmin):
    view_capability = Capability.MANAGE_USERS
    edit_capability = Capability.MANAGE_USERS

    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Tumour board", {"fields": ("role", "discipline")}),
    )
    list_display = ("username", "first_name", "last_name", "email", "role", "discipline")
    list_filter = ("role", "discipline", "is_active")
    actions = ["issue_enrolment_link"]

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and obj.pk == request.user.pk:
            # Nobody changes their own role or switches themselves off: another administrator
            # must (cases/security/accounts.py refuses it on any other path too).
            fields += ("role", "is_active", "is_superuser", "is_staff")
        return fields

    @admin.action(description="Issue a two-factor enrolment link (single use, 72 hours)")
    def issue_enrolment_link(self, request, queryset):
        links = [
            (user, accounts.enrolment_link_issue(user=user, issued_by=request.user))
            for user in queryset.order_by("username")
        ]
        context = {**self.admin_site.each_context(request), "links": links}
        return TemplateResponse(request, "admin/cases/enrolment_links.html", context)


class MolecularResultInline(CapabilityInline):
    model = models.MolecularResult
    extra = 0


class ReassessmentInline(CapabilityInline):
    model = models.Reassessment
    extra = 0
    fields = ("cycle", "due_on", "imaging_booked_for", "imaging_performed_on", "reassessed_on")


@admin.register(models.Patient)
class PatientAdmin(CapabilityAdmin):
    list_display = ("hospital_number", "family_name", "given_name", "date_of_birth")
    search_fields = ("hospital_number", "nhs_number", "family_name", "given_name")


@admin.register(models.Case)
class CaseAdmin(CapabilityAdmin):
    list_display = ("reference", "patient", "primary_site", "stage", "responsible_clinician")
    list_filter = ("stage", "primary_site")
    search_fields = ("patient__hospital_number", "patient__family_name")
    list_select_related = ("patient", "responsible_clinician")
    raw_id_fields = ("patient",)
    inlines = [MolecularResultInline, ReassessmentInline]


@admin.register(models.MolecularResult)
class MolecularResultAdmin(CapabilityAdmin):
    list_display = ("case", "marker", "status", "requested_on", "reported_on")
    list_filter = ("marker", "status")
    raw_id_fields = ("case",)


@admin.register(models.Reassessment)
class ReassessmentAdmin(CapabilityAdmin):
    list_display = ("case", "cycle", "due_on", "imaging_booked_for", "reassessed_on")
    raw_id_fields = ("case",)


class AgentAdministrationInline(CapabilityInline):
    model = models.AgentAdministration
    extra = 0


@admin.register(models.TreatmentCourse)
class TreatmentCourseAdmin(CapabilityAdmin):
    list_display = ("case", "intent", "backbone", "agents", "started_on", "stopped_on")
    raw_id_fields = ("case",)
    inlines = [AgentAdministrationInline]


@admin.register(models.AgentAdministration)
class AgentAdministrationAdmin(CapabilityAdmin):
    list_display = ("course", "agent", "given_on")
    list_filter = ("agent",)
    raw_id_fields = ("course",)


@admin.register(models.Radiotherapy)
class RadiotherapyAdmin(CapabilityAdmin):
    list_display = ("case", "kind", "started_on", "completed_on")
    raw_id_fields = ("case",)


@admin.register(models.Surgery)
class SurgeryAdmin(CapabilityAdmin):
    list_display = ("case", "kind", "urgency", "planned_on", "performed_on", "margin")
    raw_id_fields = ("case",)


class AttendanceInline(CapabilityInline):
    model = models.Attendance
    extra = 0


@admin.register(models.Meeting)
class MeetingAdmin(CapabilityAdmin):
    edit_capability = Capability.MANAGE_MEETINGS
    list_display = ("title", "scheduled_for", "chair", "status")
    inlines = [AttendanceInline]


@admin.register(models.AgendaItem)
class AgendaItemAdmin(CapabilityAdmin):
    edit_capability = Capability.MANAGE_MEETINGS
    list_display = ("meeting", "position", "case", "status", "signed_off_at")
    raw_id_fields = ("case", "meeting")


class ReadOnlyAdmin(CapabilityAdmin):
    edit_capability = None


@admin.register(models.Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("agenda_item", "point", "follows_recommendation", "recorded_by", "recorded_at")
    list_filter = ("point", "follows_recommendation")


@admin.register(models.Action)
class ActionAdmin(CapabilityAdmin):
    list_display = ("description", "case", "owner", "due_on", "status")
    list_filter = ("status",)
    raw_id_fields = ("case", "agenda_item")


@admin.register(models.Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    view_capability = Capability.MANAGE_REMINDERS
    list_display = ("kind", "case", "due_at", "state", "attempts")
    list_filter = ("kind", "state")


class AccountSecurityAdmin(CapabilityAdmin):
    """Models of other apps (groups, 2FA devices, axes lockouts) belong to whoever manages
    users, not to ``is_superuser``; the app's own limits still apply (axes logs stay read-only).
    """

    view_capability = Capability.MANAGE_USERS
    edit_capability = Capability.MANAGE_USERS
    app_admin: type[admin.ModelAdmin] = admin.ModelAdmin

    def _app_allows(self, name, request, *args):
        method = getattr(self.app_admin, name)
        if method is getattr(admin.ModelAdmin, name):
            return True  # Django's default asks for model permissions: the matrix decides here
        return method(self, request, *args)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._app_allows(
            "has_view_permission", request, obj
        )

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._app_allows(
            "has_change_permission", request, obj
        )

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request) and self._app_allows(
            "has_add_permission", request
        )

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._app_allows(
            "has_delete_permission", request, obj
        )


def _manage_with_capability(site: admin.AdminSite) -> None:
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, CapabilityAdmin):
            continue
        app_admin = type(model_admin)
        managed = type(
            f"Managed{app_admin.__name__}",
            (AccountSecurityAdmin, app_admin),
            {"__module__": __name__, "app_admin": app_admin},
        )
        site.unregister(model)
        site.register(model, managed)


_manage_with_capability(admin.site)


class TOTPDeviceAdmin(admin.site._registry[TOTPDevice].__class__):
    """Administrators see and remove devices, never add or edit one: a key of their choosing
    would let them sign in as the user. A user links a device with an enrolment link."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return has_capability(request.user, Capability.MANAGE_USERS)


admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, TOTPDeviceAdmin)
