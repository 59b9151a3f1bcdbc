from django.urls import path

from cases.reminders import views

urlpatterns = [
    path("reminders/", views.reminder_list, name="reminder-list"),
    path("reminders/<int:reminder_id>/retry/", views.reminder_retry, name="reminder-retry"),
    path("reminders/<int:reminder_id>/cancel/", views.reminder_cancel, name="reminder-cancel"),
]
