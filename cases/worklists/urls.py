from django.urls import path

from cases.worklists import views

urlpatterns = [
    path("", views.dashboard, name="home"),
    path("worklists/<slug:slug>/", views.worklist_detail, name="worklist-detail"),
    path("worklists/<slug:slug>/panel/", views.worklist_refresh, name="worklist-panel"),
]
