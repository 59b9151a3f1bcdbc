from django.urls import path

from cases.audit import views

urlpatterns = [
    path("audit/", views.case_list, name="audit-case-list"),
    path("audit/cases/<int:case_id>/", views.case_detail, name="audit-case"),
    path("audit/access/", views.access_list, name="audit-access-list"),
    path("audit/accounts/", views.account_list, name="audit-account-list"),
]
