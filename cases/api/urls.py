from django.urls import path

from cases.api import views

urlpatterns = [
    path("api/advise/", views.advise, name="api-advise"),
]
