from django.urls import path

from cases.views import api, home

app_name = "cases"

urlpatterns = [
    path("", home.home, name="home"),
    path("api/advise/", api.advise, name="api-advise"),
]
