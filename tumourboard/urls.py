from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.generic import RedirectView

from cases.ops.bench import benchmark_urlpatterns
from cases.ops.health import healthz
from cases.security import views as auth
from cases.security.middleware import two_factor_exempt

urlpatterns = [
    path("login/", auth.SignInView.as_view(), name="login"),
    path("login/verify/", auth.two_factor_verify, name="two-factor-verify"),
    path("login/setup/", auth.two_factor_setup, name="two-factor-setup"),
    path("login/enrol/<str:token>/", auth.two_factor_enrol, name="two-factor-enrol"),
    path("logout/", two_factor_exempt(auth_views.LogoutView.as_view()), name="logout"),
    path("healthz", healthz, name="healthz"),
    # One front door: the admin's own login page would skip the second factor's prompts.
    path(
        "admin/login/",
        login_not_required(RedirectView.as_view(pattern_name="login", query_string=True)),
    ),
    path("admin/", admin.site.urls),
    path("", include("cases.urls")),
]

# Baseline page for bench/harness.py: only with DEBUG or BENCHMARK_VIEWS (never in production).
urlpatterns += benchmark_urlpatterns(settings)
