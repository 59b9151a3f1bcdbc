"""Security middleware: session limits, second factor, no-store, audit context, htmx redirects.

Their places in ``settings.MIDDLEWARE`` matter; docs/architecture.md explains the order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pghistory.middleware
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect
from django_otp import user_has_device

GetResponse = Callable[[HttpRequest], HttpResponse]

# Session keys (seconds since the epoch).
SIGNED_IN_AT = "tb_signed_in_at"
LAST_SEEN_AT = "tb_last_seen_at"
# Set in the fresh anonymous session after a forced sign-out, shown once on the sign-in page.
ENDED_BECAUSE = "tb_session_ended"

# Requests the page makes by itself (polling a panel) send this header: they do not count as
# activity, so a screen left open still signs out after the idle limit.
BACKGROUND_HEADER = "X-Background-Refresh"


def _now() -> float:
    return timezone.now().timestamp()


def mark_sign_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: start the absolute and idle clocks."""
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = request.session[LAST_SEEN_AT] = _now()


class SessionLifetimeMiddleware:
    """Signs the user out 30 minutes after their last action or 12 hours after sign-in.

    The stored session also expires after the idle time (``SESSION_COOKIE_AGE``, renewed
    whenever the session is saved); this middleware adds the absolute limit and keeps background
    polling from counting as activity. Activity is written to the session at most once every
    ``SESSION_ACTIVITY_RESOLUTION_SECONDS``, so a page view usually writes nothing.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            self._enforce(request)
        elif self._session_expired(request):
            # The database session expired (idle limit): say so once on the sign-in page.
            request.session[ENDED_BECAUSE] = "idle"
        return self.get_response(request)

    @staticmethod
    def _session_expired(request: HttpRequest) -> bool:
        """A session cookie came in, but its session is gone."""
        return (
            settings.SESSION_COOKIE_NAME in request.COOKIES and request.session.session_key is None
        )

    @staticmethod
    def _enforce(request: HttpRequest) -> None:
        session = request.session
        now = _now()
        signed_in_at = session.setdefault(SIGNED_IN_AT, now)
        last_seen_at = session.setdefault(LAST_SEEN_AT, now)
        if now - signed_in_at > settings.SESSION_ABSOLUTE_SECONDS:
            reason = "absolute"
        elif now - last_seen_at > settings.SESSION_COOKIE_AGE:
            reason = "idle"
        else:
            if (
                request.headers.get(BACKGROUND_HEADER) != "1"
                and now - last_seen_at >= settings.SESSION_ACTIVITY_RESOLUTION_SECONDS
            ):
                # Recorded at most once a minute, so most requests do not write the session:
                # the session ends up to that minute early, never late.
                session[LAST_SEEN_AT] = now
            return
        logout(request)
        request.session[ENDED_BECAUSE] = reason


def _sign_in_paths() -> set[str]:
    return {
        resolve_url(settings.LOGIN_URL),
        reverse("two-factor-verify"),
        reverse("two-factor-setup"),
    }


def two_factor_exempt(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Marks a view an unverified (password-only) user may still reach: 2FA steps, sign-out."""
    view.two_factor_exempt = True  # type: ignore[attr-defined]
    return view


class TwoFactorRequiredMiddleware:
    """With ``OTP_REQUIRED``, a password alone opens nothing but the second-factor pages.

    After the password, the user is sent to enter a code (or to set up an authenticator app
    the first time). Public views (``@login_not_required``) stay reachable.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if not settings.OTP_REQUIRED:
            return None
        user = request.user
        if not user.is_authenticated or user.is_verified():  # type: ignore[union-attr]
            return None
        if not getattr(view_func, "login_required", True):
            return None
        if getattr(view_func, "two_factor_exempt", False):
            return None
        step = "two-factor-verify" if user_has_device(user) else "two-factor-setup"
        return redirect_to_login(request.get_full_path(), reverse(step))


class HtmxLoginRedirectMiddleware:
    """An htmx request redirected to sign-in gets ``HX-Redirect``: htmx loads the sign-in page
    as a whole page instead of swapping it into the fragment it asked for.

    ``next`` becomes the page the user was on (``HX-Current-URL``), not the fragment's URL.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.headers.get("HX-Request") != "true" or response.status_code not in (
            301,
            302,
            303,
            307,
            308,
        ):
            return response
        location = urlsplit(response["Location"])
        if location.path not in _sign_in_paths():
            return response
        redirect = HttpResponseClientRedirect(self._with_current_page(request, location))
        redirect.cookies = response.cookies  # e.g. the new session after a timeout sign-out
        return redirect

    @staticmethod
    def _with_current_page(request: HttpRequest, location: Any) -> str:
        current = request.headers.get("HX-Current-URL", "")
        query = dict(parse_qsl(location.query))
        if current and url_has_allowed_host_and_scheme(
            current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            page = urlsplit(current)
            query["next"] = page.path + (f"?{page.query}" if page.query else "")
        return location.path + (f"?{urlencode(query)}" if query else "")


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response to a signed-in user: patient data must not
    stay in the browser cache or any proxy."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)  # no-store, no-cache, must-revalidate, private
        return response


class AuditContextMiddleware(pghistory.middleware.HistoryMiddleware):
    """Every database change made while serving a request is stamped with the user and URL.

    The audit triggers copy this context into each event row (``cases.audit.access``).
    """

    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().get_context(request)
        context["method"] = request.method
        return context
