"""Two-factor sign-in and the audit screens in a real browser, under the strict CSP."""

from __future__ import annotations

import re
import time
from base64 import b32decode

import pytest
from django.conf import settings
from django.test import override_settings
from django_otp.oath import TOTP

from cases import models
from cases.security import accounts
from tests.browser.conftest import sign_in
from tests.conftest import make_case, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def current_code(secret_shown: str) -> str:
    totp = TOTP(b32decode(secret_shown.replace(" ", "")))
    totp.time = time.time()
    return f"{totp.token():06d}"


@override_settings(OTP_REQUIRED=True)
def test_a_new_user_links_an_authenticator_app_with_an_enrolment_link(page):
    user = make_user("coordinator", username="casey")
    link = accounts.enrolment_link_issue(user=user, issued_by=make_user("admin"))
    page.goto(link.removeprefix(settings.SITE_URL))  # the link first: sign in, then back to it
    assert page.get_by_text("Two-factor sign-in is switched off").count() == 0
    page.get_by_label("Username").fill("casey")
    page.get_by_label("Password").fill("correct-horse-battery-staple")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/login/setup/**")
    qr = page.get_by_alt_text(re.compile("QR code"))
    # The QR code is a data: image, allowed by the CSP, and it actually renders.
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    secret = page.locator(".code").first.inner_text()
    page.get_by_label("Six-digit code").fill(current_code(secret))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", level=1).inner_text() == "Dashboard"


def test_the_demo_sign_in_page_says_two_factor_is_off(page):
    page.goto("/login/")
    assert page.get_by_text("Two-factor sign-in is switched off").is_visible()


def test_the_auditor_reads_a_case_history(page):
    make_user("auditor", username="pat")
    case = make_case(ecog=1)
    models.Case.objects.filter(pk=case.pk).update(ecog=2)
    sign_in(page, "pat")
    page.goto("/audit/")
    page.get_by_label("Case reference, hospital number or family name").fill(case.reference)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=case.reference).click()
    page.wait_for_url(f"**/audit/cases/{case.pk}/")
    history = page.get_by_role("region", name=re.compile("History of changes"))
    assert history.get_by_role("cell", name="ECOG").count() == 2  # created, then changed
