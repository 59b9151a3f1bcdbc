from django.urls import path

from cases.followup.views import letters, reports

urlpatterns = [
    path("agenda/<int:item_id>/after/", letters.outcome_after, name="outcome-after"),
    path(
        "agenda/<int:item_id>/after/patient-letter/",
        letters.patient_letter_add,
        name="patient-letter-add",
    ),
    path("letters/<int:letter_id>/", letters.letter_detail, name="letter-detail"),
    path("letters/<int:letter_id>/pdf/", letters.letter_pdf, name="letter-pdf"),
    path("letters/<int:letter_id>/check/", letters.letter_check, name="letter-check"),
    path("letters/<int:letter_id>/send/", letters.letter_send, name="letter-send"),
    path("letter-templates/", letters.letter_template_list, name="letter-template-list"),
    path("letter-templates/<str:kind>/", letters.letter_template_edit, name="letter-template-edit"),
    path("follow-ups/<int:follow_up_id>/", letters.follow_up_update, name="follow-up-update"),
    path("reports/", reports.report_page, name="reports"),
    path("reports/<str:slug>.csv", reports.report_csv, name="report-csv"),
]
