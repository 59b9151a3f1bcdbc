from django.urls import path

from cases.views import api, home, reminders

app_name = "cases"

urlpatterns = [
    path("", home.home, name="home"),
    path("api/advise/", api.advise, name="api-advise"),
    path("reminders/", reminders.reminder_list, name="reminder-list"),
    path("reminders/<int:reminder_id>/retry/", reminders.reminder_retry, name="reminder-retry"),
]
