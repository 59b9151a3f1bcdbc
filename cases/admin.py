"""Django admin for every model: for administrators and data fixes, audited like any other write.

Decisions and reminders are read-only here: decisions are append-only by design (a database
trigger refuses edits anyway) and reminders belong to the dispatcher.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from cases import models


@admin.register(models.User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Tumour board", {"fields": ("role", "discipline")}),
    )
    list_display = ("username", "first_name", "last_name", "email", "role", "discipline")
    list_filter = ("role", "discipline", "is_active")


class MolecularResultInline(admin.TabularInline):
    model = models.MolecularResult
    extra = 0


class ReassessmentInline(admin.TabularInline):
    model = models.Reassessment
    extra = 0
    fields = ("cycle", "due_on", "imaging_booked_for", "imaging_performed_on", "reassessed_on")


@admin.register(models.Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("hospital_number", "family_name", "given_name", "date_of_birth")
    search_fields = ("hospital_number", "nhs_number", "family_name", "given_name")


@admin.register(models.Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("reference", "patient", "primary_site", "stage", "responsible_clinician")
    list_filter = ("stage", "primary_site")
    search_fields = ("patient__hospital_number", "patient__family_name")
    list_select_related = ("patient", "responsible_clinician")
    raw_id_fields = ("patient",)
    inlines = [MolecularResultInline, ReassessmentInline]


@admin.register(models.MolecularResult)
class MolecularResultAdmin(admin.ModelAdmin):
    list_display = ("case", "marker", "status", "requested_on", "reported_on")
    list_filter = ("marker", "status")
    raw_id_fields = ("case",)


@admin.register(models.Reassessment)
class ReassessmentAdmin(admin.ModelAdmin):
    list_display = ("case", "cycle", "due_on", "imaging_booked_for", "reassessed_on")
    raw_id_fields = ("case",)


class AgentAdministrationInline(admin.TabularInline):
    model = models.AgentAdministration
    extra = 0


@admin.register(models.TreatmentCourse)
class TreatmentCourseAdmin(admin.ModelAdmin):
    list_display = ("case", "intent", "backbone", "agents", "started_on", "stopped_on")
    raw_id_fields = ("case",)
    inlines = [AgentAdministrationInline]


@admin.register(models.AgentAdministration)
class AgentAdministrationAdmin(admin.ModelAdmin):
    list_display = ("course", "agent", "given_on")
    list_filter = ("agent",)
    raw_id_fields = ("course",)


@admin.register(models.Radiotherapy)
class RadiotherapyAdmin(admin.ModelAdmin):
    list_display = ("case", "kind", "started_on", "completed_on")
    raw_id_fields = ("case",)


@admin.register(models.Surgery)
class SurgeryAdmin(admin.ModelAdmin):
    list_display = ("case", "kind", "urgency", "planned_on", "performed_on", "margin")
    raw_id_fields = ("case",)


class AttendanceInline(admin.TabularInline):
    model = models.Attendance
    extra = 0


@admin.register(models.Meeting)
class MeetingAdmin(admin.ModelAdmin):
    list_display = ("title", "scheduled_for", "chair", "status")
    inlines = [AttendanceInline]


@admin.register(models.AgendaItem)
class AgendaItemAdmin(admin.ModelAdmin):
    list_display = ("meeting", "position", "case", "status", "signed_off_at")
    raw_id_fields = ("case", "meeting")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("agenda_item", "point", "follows_recommendation", "recorded_by", "recorded_at")
    list_filter = ("point", "follows_recommendation")


@admin.register(models.Action)
class ActionAdmin(admin.ModelAdmin):
    list_display = ("description", "case", "owner", "due_on", "status")
    list_filter = ("status",)
    raw_id_fields = ("case", "agenda_item")


@admin.register(models.Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    list_display = ("kind", "case", "due_at", "state", "attempts")
    list_filter = ("kind", "state")
