"""Sign-in hardening: five wrong passwords lock a username for 15 minutes; with OTP_REQUIRED a
password alone opens nothing until a TOTP code is entered, and the first sign-in links an app."""

from __future__ import annotations

import datetime as dt
import re
import time
from binascii import unhexlify

import pytest
import time_machine
from django.conf import settings
from django.test import Client, override_settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases.security import accounts
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def sign_in(client: Client, username: str, password: str = PASSWORD, **extra):
    return client.post("/login/", {"username": username, "password": password, **extra})


def code_for(key_hex: str, at: float | None = None) -> str:
    totp = TOTP(unhexlify(key_hex))
    totp.time = at if at is not None else time.time()
    return f"{totp.token():06d}"


# --- Lockout --------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_username_for_15_minutes():
    make_user("clinician", username="robin")
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(4):
            assert sign_in(client, "robin", "wrong").status_code == 200
        locked = sign_in(client, "robin", "wrong")
        assert locked.status_code == 429
        assert b"Sign-in locked for 15 minutes" in locked.content
        # Locked means locked: the right password does not get in either.
        assert sign_in(client, "robin").status_code == 429
        clock.shift(dt.timedelta(minutes=14))
        assert sign_in(client, "robin").status_code == 429
        clock.shift(dt.timedelta(minutes=2))
        response = sign_in(client, "robin")
        assert response.status_code == 302
        assert response["Location"] == "/"


def test_the_lockout_is_per_username_not_per_address():
    make_user("clinician", username="robin")
    make_user("clinician", username="sam")
    client = Client()
    for _ in range(5):
        sign_in(client, "robin", "wrong")
    assert sign_in(client, "robin").status_code == 429
    # A colleague behind the same hospital address still signs in.
    assert sign_in(Client(), "sam").status_code == 302


def test_a_successful_sign_in_resets_the_count():
    make_user("clinician", username="robin")
    client = Client()
    for _ in range(4):
        sign_in(client, "robin", "wrong")
    assert sign_in(client, "robin").status_code == 302
    client.post("/logout/")
    for _ in range(4):
        sign_in(client, "robin", "wrong")
    assert sign_in(client, "robin").status_code == 302


# --- Two factors ----------------------------------------------------------------------------


def test_the_demo_says_plainly_that_two_factor_sign_in_is_off(client):
    with override_settings(OTP_REQUIRED=False):
        assert b"Two-factor sign-in is switched off" in client.get("/login/").content
    with override_settings(OTP_REQUIRED=True):
        assert b"Two-factor sign-in is switched off" not in client.get("/login/").content


@override_settings(OTP_REQUIRED=True)
def test_first_sign_in_links_an_authenticator_app_then_opens_the_app():
    user = make_user("coordinator", username="casey")
    link = accounts.enrolment_link_issue(user=user, issued_by=make_user("admin"))
    client = Client()
    response = sign_in(client, "casey", next="/audit/")
    assert response.status_code == 302
    # The password alone opens nothing: every page sends the user to set up a second factor,
    # which needs the enrolment link an administrator issued (tests/security/test_accounts.py).
    home = client.get("/")
    assert home.status_code == 302
    assert home["Location"].startswith("/login/setup/")
    assert client.get("/login/setup/?next=/").status_code == 403
    client.get(link.removeprefix(settings.SITE_URL))
    setup = client.get("/login/setup/?next=/")
    assert setup.status_code == 200
    html = setup.content.decode()
    assert re.search(r'<img src="data:image/svg\+xml[^"]+" alt="QR code', html)
    key = client.session["tb_totp_setup_key"]
    wrong = client.post("/login/setup/", {"token": "000000", "next": "/"})
    assert b"That code is not right" in wrong.content
    assert not TOTPDevice.objects.filter(user=user).exists()
    done = client.post("/login/setup/", {"token": code_for(key), "next": "/"})
    assert done.status_code == 302
    assert done["Location"] == "/"
    assert TOTPDevice.objects.get(user=user).confirmed
    assert client.get("/").status_code == 200


@override_settings(OTP_REQUIRED=True)
def test_a_returning_user_enters_a_code_after_the_password():
    user = make_user("chair", username="morgan")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    sign_in(client, "morgan")
    response = client.get("/audit/")
    assert response.status_code == 302
    assert response["Location"] == "/login/verify/?next=/audit/"
    # No second device can be added with the password alone.
    assert client.get("/login/setup/")["Location"].startswith("/login/verify/")
    bad = client.post("/login/verify/", {"token": "12345", "next": "/"})
    assert b"Enter the six digits" in bad.content
    good = client.post("/login/verify/", {"token": code_for(device.key), "next": "/"})
    assert good.status_code == 302
    assert client.get("/").status_code == 200


@override_settings(OTP_REQUIRED=True)
def test_wrong_codes_are_throttled():
    user = make_user("chair", username="morgan")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    sign_in(client, "morgan")
    with time_machine.travel(START, tick=False):
        client.post("/login/verify/", {"token": "000000"})
        client.post("/login/verify/", {"token": "000000"})
        # Right code, but too soon after two wrong ones.
        response = client.post("/login/verify/", {"token": code_for(device.key, START.timestamp())})
    assert b"Too many wrong codes" in response.content
    assert client.get("/").status_code == 302


@override_settings(OTP_REQUIRED=True)
def test_a_user_waiting_for_the_second_step_can_still_sign_out():
    make_user("chair", username="morgan")
    client = Client()
    sign_in(client, "morgan")
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/")["Location"].startswith("/login/?next=")


@override_settings(OTP_REQUIRED=True)
def test_an_offsite_next_is_not_followed_after_the_code():
    user = make_user("chair", username="morgan")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    sign_in(client, "morgan")
    response = client.post(
        "/login/verify/", {"token": code_for(device.key), "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_without_otp_required_the_password_is_enough(client):
    make_user("chair", username="morgan")
    with override_settings(OTP_REQUIRED=False):
        sign_in(client, "morgan")
        assert client.get("/").status_code == 200
