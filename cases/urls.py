from django.urls import path

from cases.views import api, home, meeting, reminders

app_name = "cases"

urlpatterns = [
    path("", home.home, name="home"),
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
