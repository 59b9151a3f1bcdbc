from django.urls import path

from cases.views import home

app_name = "cases"

urlpatterns = [
    path("", home.home, name="home"),
]
