"""Every URL of the app, one list per domain (each in its own folder), in one namespace."""

from cases.api.urls import urlpatterns as api_urls
from cases.audit.urls import urlpatterns as audit_urls
from cases.followup.urls import urlpatterns as followup_urls
from cases.interop.urls import urlpatterns as interop_urls
from cases.meetings.urls import urlpatterns as meeting_urls
from cases.records.urls import urlpatterns as record_urls
from cases.reminders.urls import urlpatterns as reminder_urls
from cases.worklists.urls import urlpatterns as worklist_urls

app_name = "cases"

urlpatterns = [
    *worklist_urls,
    *record_urls,
    *meeting_urls,
    *followup_urls,
    *reminder_urls,
    *audit_urls,
    *api_urls,
    *interop_urls,
]
