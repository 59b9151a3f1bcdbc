from django.urls import path

from cases.views import api, audit, home

app_name = "cases"

urlpatterns = [
    path("", home.home, name="home"),
    path("api/advise/", api.advise, name="api-advise"),
    # --- audit (issue 7) ---
    path("audit/", audit.case_list, name="audit-case-list"),
    path("audit/cases/<int:case_id>/", audit.case_detail, name="audit-case"),
    path("audit/access/", audit.access_list, name="audit-access-list"),
]
