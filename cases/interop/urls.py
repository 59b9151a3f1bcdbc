from django.urls import path

from cases.interop import views

urlpatterns = [
    path(
        "fhir/Patient/<int:patient_id>/$everything",
        views.patient_everything,
        name="fhir-patient-everything",
    ),
    path("fhir/Bundle", views.bundle_post, name="fhir-bundle"),
]
