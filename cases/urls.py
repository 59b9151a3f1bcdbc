from django.urls import path

from cases.api import views as api
from cases.audit import views as audit
from cases.meetings import views as meeting
from cases.records import views as case
from cases.reminders import views as reminders
from cases.worklists import views as dashboard

app_name = "cases"

urlpatterns = [
    path("api/advise/", api.advise, name="api-advise"),
    path("reminders/", reminders.reminder_list, name="reminder-list"),
    path("reminders/<int:reminder_id>/retry/", reminders.reminder_retry, name="reminder-retry"),
]

# --- MDT meetings (issue 4) ------------------------------------------------------------------
urlpatterns += [
    path("meetings/", meeting.meeting_list, name="meeting-list"),
    path("meetings/new/", meeting.meeting_create, name="meeting-create"),
    path("meetings/<int:meeting_id>/", meeting.meeting_detail, name="meeting-detail"),
    path(
        "meetings/<int:meeting_id>/attendance/",
        meeting.attendance_record,
        name="attendance-record",
    ),
    path(
        "meetings/<int:meeting_id>/attendance/remove/",
        meeting.attendance_remove,
        name="attendance-remove",
    ),
    path("meetings/<int:meeting_id>/agenda/order/", meeting.agenda_reorder, name="agenda-reorder"),
    path("agenda/<int:item_id>/", meeting.agenda_item_detail, name="agenda-item-detail"),
    path("agenda/<int:item_id>/defer/", meeting.agenda_item_defer, name="agenda-item-defer"),
    path(
        "agenda/<int:item_id>/points/<str:point>/",
        meeting.decision_record,
        name="decision-record",
    ),
    path("agenda/<int:item_id>/facts/", meeting.meeting_fact_correct, name="meeting-fact-correct"),
    path("agenda/<int:item_id>/actions/", meeting.action_create, name="action-create"),
    path("agenda/<int:item_id>/sign-off/", meeting.outcome_sign_off, name="outcome-sign-off"),
    path("agenda/<int:item_id>/print/", meeting.outcome_print, name="outcome-print"),
]

# --- Coordinator dashboard and case management (issue 5) ---
urlpatterns += [
    path("", dashboard.dashboard, name="home"),
    path("worklists/<slug:slug>/", dashboard.worklist_detail, name="worklist-detail"),
    path("worklists/<slug:slug>/panel/", dashboard.worklist_refresh, name="worklist-panel"),
    path("cases/", case.case_list, name="case-list"),
    path("cases/new/", case.case_create, name="case-create"),
    path("cases/<int:case_id>/", case.case_detail, name="case-detail"),
    path("cases/<int:case_id>/edit/", case.case_update, name="case-update"),
    path("cases/<int:case_id>/patient/", case.patient_update, name="patient-update"),
    path("cases/<int:case_id>/list/", dashboard.agenda_add, name="agenda-item-add"),
    path(
        "cases/<int:case_id>/molecular/<slug:marker>/",
        case.molecular_record,
        name="molecular-record",
    ),
    path(
        "cases/<int:case_id>/reassessments/new/",
        case.reassessment_create,
        name="reassessment-create",
    ),
    path(
        "cases/<int:case_id>/reassessments/<int:pk>/",
        case.reassessment_update,
        name="reassessment-update",
    ),
    path("cases/<int:case_id>/courses/new/", case.course_create, name="course-create"),
    path("cases/<int:case_id>/courses/<int:pk>/", case.course_update, name="course-update"),
    path(
        "cases/<int:case_id>/courses/<int:course_id>/doses/new/",
        case.administration_create,
        name="administration-create",
    ),
    path(
        "cases/<int:case_id>/doses/<int:pk>/",
        case.administration_update,
        name="administration-update",
    ),
    path(
        "cases/<int:case_id>/radiotherapy/new/",
        case.radiotherapy_create,
        name="radiotherapy-create",
    ),
    path(
        "cases/<int:case_id>/radiotherapy/<int:pk>/",
        case.radiotherapy_update,
        name="radiotherapy-update",
    ),
    path("cases/<int:case_id>/surgery/new/", case.surgery_create, name="surgery-create"),
    path("cases/<int:case_id>/surgery/<int:pk>/", case.surgery_update, name="surgery-update"),
    path(
        "cases/<int:case_id>/actions/<int:pk>/status/",
        case.action_status,
        name="action-status",
    ),
]

# --- Audit (issue 7) ---------------------------------------------------------------------------
urlpatterns += [
    path("audit/", audit.case_list, name="audit-case-list"),
    path("audit/cases/<int:case_id>/", audit.case_detail, name="audit-case"),
    path("audit/access/", audit.access_list, name="audit-access-list"),
]
