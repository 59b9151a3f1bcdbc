from django.urls import path

from cases.meetings.views import case, facts, listing, meetings, series

urlpatterns = [
    path("meetings/", meetings.meeting_list, name="meeting-list"),
    path("meetings/new/", meetings.meeting_create, name="meeting-create"),
    path("meetings/<int:meeting_id>/", meetings.meeting_detail, name="meeting-detail"),
    path(
        "meetings/<int:meeting_id>/attendance/",
        meetings.attendance_record,
        name="attendance-record",
    ),
    path(
        "meetings/<int:meeting_id>/attendance/remove/",
        meetings.attendance_remove,
        name="attendance-remove",
    ),
    path(
        "meetings/<int:meeting_id>/attendance/mark/",
        meetings.attendance_mark,
        name="attendance-mark",
    ),
    path("meetings/<int:meeting_id>/agenda/order/", meetings.agenda_reorder, name="agenda-reorder"),
    path("meetings/<int:meeting_id>/open/", meetings.meeting_open, name="meeting-open"),
    path("meetings/<int:meeting_id>/close/", meetings.meeting_close, name="meeting-close"),
    path("meetings/<int:meeting_id>/minutes/", meetings.meeting_minutes, name="meeting-minutes"),
    path(
        "meetings/series/<int:series_id>/members/",
        series.series_member_list,
        name="series-members",
    ),
    path(
        "meetings/series/<int:series_id>/members/add/",
        series.series_member_add,
        name="series-member-add",
    ),
    path(
        "meetings/series/<int:series_id>/members/remove/",
        series.series_member_remove,
        name="series-member-remove",
    ),
    # Listing a case starts from the case or the dashboard's worklists.
    path("cases/<int:case_id>/list/", listing.agenda_add, name="agenda-item-add"),
    path("agenda/<int:item_id>/", case.agenda_item_detail, name="agenda-item-detail"),
    path("agenda/<int:item_id>/defer/", case.agenda_item_defer, name="agenda-item-defer"),
    path(
        "agenda/<int:item_id>/points/<str:point>/",
        case.decision_record,
        name="decision-record",
    ),
    path("agenda/<int:item_id>/notes/", case.discussion_notes_save, name="discussion-notes"),
    path(
        "agenda/<int:item_id>/question/",
        case.clinical_question_save,
        name="clinical-question",
    ),
    path(
        "agenda/<int:item_id>/points/<str:point>/preview/",
        case.decision_preview,
        name="decision-preview",
    ),
    path("agenda/<int:item_id>/facts/", case.meeting_fact_correct, name="meeting-fact-correct"),
    path(
        "agenda/<int:item_id>/facts/pending/",
        facts.fact_correction_list,
        name="fact-correction-list",
    ),
    path(
        "agenda/<int:item_id>/facts/<int:correction_id>/confirm/",
        facts.fact_correction_confirm,
        name="fact-correction-confirm",
    ),
    path("agenda/<int:item_id>/actions/", case.action_create, name="action-create"),
    path("agenda/<int:item_id>/sign-off/", case.outcome_sign_off, name="outcome-sign-off"),
    path("agenda/<int:item_id>/print/", case.outcome_print, name="outcome-print"),
]
