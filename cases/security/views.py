"""Sign-in: password (throttled by django-axes), then a TOTP code when ``OTP_REQUIRED``.

Linking an authenticator app needs more than the password (issue 18, finding 6): a one-time
enrolment link issued by an administrator (single use, 72 hours; ``cases/security/accounts.py``)
or, to replace a phone, the user's existing device (signed in with it). The user opens the
link, signs in with the password, scans the QR code and types the code it shows. From then on
every sign-in asks for a code. An administrator removes a lost device in the admin ("TOTP
devices") and issues a new enrolment link (the "Users" list, action "Issue a two-factor
enrolment link").
"""

from __future__ import annotations

from base64 import b32encode
from binascii import unhexlify

import django_otp
import segno
from django import forms
from django.conf import settings
from django.contrib.auth.views import LoginView, redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from cases.security import accounts
from cases.security.middleware import ENDED_BECAUSE, two_factor_exempt

SETUP_KEY = "tb_totp_setup_key"
ENROLMENT_LINK = "tb_enrolment_link"
SETUP_FAILURES = "tb_totp_setup_failures"
SETUP_MAX_FAILURES = 5

SESSION_ENDED_MESSAGES = {
    "idle": "Your session has ended: 30 minutes passed without activity, or you signed out in "
    "another window. Please sign in again.",
    "absolute": "You were signed out because sessions last at most 12 hours. Please sign in again.",
}


class SignInView(LoginView):
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["otp_required"] = settings.OTP_REQUIRED
        context["session_ended"] = SESSION_ENDED_MESSAGES.get(
            self.request.session.pop(ENDED_BECAUSE, "")
        )
        return context


def locked_out(request: HttpRequest, response: HttpResponse | None = None, credentials=None):
    """django-axes lockout page: too many wrong passwords for this username (HTTP 429)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "registration/locked_out.html",
        {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Six-digit code",
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        token = self.cleaned_data["token"].replace(" ", "")
        if not (token.isdigit() and len(token) == 6):
            raise forms.ValidationError("Enter the six digits your authenticator app shows.")
        return token


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


@never_cache
@two_factor_exempt
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """Second step of every sign-in: the code from the user's authenticator app."""
    device = _confirmed_device(request.user)
    if device is None:
        return redirect_with_next("two-factor-setup", request)
    if request.user.is_verified():
        return redirect(_next_url(request))
    form = TokenForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        allowed, details = device.verify_is_allowed()
        if not allowed:
            wait = max(1, int((details["locked_until"] - timezone.now()).total_seconds()))
            error = f"Too many wrong codes. Wait {wait} seconds, then try the newest code."
        elif django_otp.verify_token(
            request.user, device.persistent_id, form.cleaned_data["token"]
        ):
            _complete_sign_in(request, device)
            return redirect(_next_url(request))
        else:
            error = "That code is not right or has expired. Try the newest code in your app."
    return render(
        request,
        "registration/two_factor_verify.html",
        {"form": form, "error": error, "next": _next_url(request)},
    )


@never_cache
@two_factor_exempt
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Link an authenticator app by scanning a QR code, then prove it works.

    Only with an enrolment link opened in this session, or, to replace a phone, after signing
    in with the existing device: the password alone never shows a secret.
    """
    existing = _confirmed_device(request.user)
    replacing = existing is not None and request.user.is_verified()
    if existing is not None and not replacing:
        # A stolen password must not add a device: the code from the existing one first.
        return redirect_with_next("two-factor-verify", request)
    link_id = request.session.get(ENROLMENT_LINK)
    if not replacing and not accounts.enrolment_link_usable(user=request.user, link_id=link_id):
        request.session.pop(SETUP_KEY, None)
        return render(request, "registration/two_factor_need_link.html", status=403)
    key = request.session.get(SETUP_KEY) or _new_setup_key(request)
    form = TokenForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        totp = TOTP(unhexlify(key))
        totp.time = timezone.now().timestamp()
        if totp.verify(int(form.cleaned_data["token"]), tolerance=1):
            with transaction.atomic():
                if not replacing and not accounts.enrolment_link_use(
                    user=request.user, link_id=link_id
                ):
                    # Spent or expired while the page was open.
                    return render(request, "registration/two_factor_need_link.html", status=403)
                if replacing:
                    for old in TOTPDevice.objects.filter(user=request.user):
                        old.delete()  # one by one: each removal is recorded and told
                device = TOTPDevice.objects.create(
                    user=request.user, name="Authenticator app", key=key, last_t=totp.t()
                )
            del request.session[SETUP_KEY]
            request.session.pop(ENROLMENT_LINK, None)
            request.session.pop(SETUP_FAILURES, None)
            _complete_sign_in(request, device)
            return redirect(_next_url(request))
        failures = request.session.get(SETUP_FAILURES, 0) + 1
        request.session[SETUP_FAILURES] = failures
        if failures >= SETUP_MAX_FAILURES:
            key = _new_setup_key(request)
            error = (
                "Too many wrong codes: here is a new QR code. Remove the old entry from your "
                "app and scan this one."
            )
        else:
            error = "That code is not right. Check the time on your phone and try the newest code."
    device = TOTPDevice(user=request.user, key=key)
    return render(
        request,
        "registration/two_factor_setup.html",
        {
            "form": form,
            "error": error,
            "next": _next_url(request),
            "qr_data_uri": segno.make(device.config_url, error="m").svg_data_uri(scale=4),
            "secret": " ".join(_chunks(b32encode(unhexlify(key)).decode(), 4)),
        },
    )


@never_cache
@two_factor_exempt
@require_GET
def two_factor_enrol(request: HttpRequest, token: str) -> HttpResponse:
    """An enrolment link, opened after the password: on to linking the app, if it is usable
    (issued for this account, not used, not expired)."""
    link = accounts.enrolment_link_for(user=request.user, token=token[:100])
    if link is None:
        return render(
            request, "registration/two_factor_need_link.html", {"bad_link": True}, status=404
        )
    request.session[ENROLMENT_LINK] = link.pk
    request.session.pop(SETUP_KEY, None)  # a fresh secret for this enrolment
    return redirect("two-factor-setup")


def _new_setup_key(request: HttpRequest) -> str:
    key = random_hex(20)
    request.session[SETUP_KEY] = key
    request.session[SETUP_FAILURES] = 0
    return key


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _complete_sign_in(request: HttpRequest, device: TOTPDevice) -> None:
    # A new session key once the user is fully signed in (no fixation across the two steps).
    request.session.cycle_key()
    django_otp.login(request, device)


def redirect_with_next(step: str, request: HttpRequest) -> HttpResponse:
    return redirect_to_login(_next_url(request), resolve_url(step))
