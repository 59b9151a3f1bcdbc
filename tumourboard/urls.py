from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cases.views.bench import benchmark_urlpatterns
from cases.views.health import healthz

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("cases.urls")),
]

# Baseline page for bench/harness.py: only with DEBUG or BENCHMARK_VIEWS (never in production).
urlpatterns += benchmark_urlpatterns(settings)
