"""Two-factor enrolment needs a one-time link or the existing device (issue 18, finding 6);
administrators' changes to accounts are recorded, shown to the auditor and told to the user,
and nobody changes their own role (finding 4)."""

from __future__ import annotations

import datetime as dt
import re
import time
from binascii import unhexlify

import pytest
import time_machine
from django.core import mail
from django.test import Client, override_settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases import models
from cases.security import accounts
from tests.conftest import make_user, signed_in

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"
Kind = models.AccountEvent.Kind


def sign_in(client: Client, username: str, **extra):
    return client.post("/login/", {"username": username, "password": PASSWORD, **extra})


def code_for(key_hex: str) -> str:
    totp = TOTP(unhexlify(key_hex))
    totp.time = time.time()
    return f"{totp.token():06d}"


def path_of(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def admin_client(username: str = "root") -> tuple[models.User, Client]:
    admin = make_user("admin", username=username)
    return admin, signed_in(admin)


# --- Enrolment ---------------------------------------------------------------------------------


@override_settings(OTP_REQUIRED=True)
def test_the_password_alone_never_shows_a_totp_secret():
    make_user("clinician", username="casey")
    client = Client()
    sign_in(client, "casey")
    assert client.get("/")["Location"].startswith("/login/setup/")
    setup = client.get("/login/setup/")
    assert setup.status_code == 403
    html = setup.content.decode()
    assert "enrolment link" in html
    assert "QR code" not in html
    assert 'class="code"' not in html
    assert "tb_totp_setup_key" not in client.session
    # Posting a guessed code with no secret shown does not make a device either.
    client.post("/login/setup/", {"token": "123456"})
    assert not TOTPDevice.objects.exists()


@override_settings(OTP_REQUIRED=True)
def test_an_enrolment_link_opens_setup_once():
    admin = make_user("admin", username="root")
    user = make_user("clinician", username="casey")
    link = path_of(accounts.enrolment_link_issue(user=user, issued_by=admin))
    client = Client()
    # Opened before signing in: the password first, then back to the link.
    to_login = client.get(link)
    assert to_login["Location"].startswith("/login/")
    sign_in(client, "casey", next=link)
    assert client.get(link)["Location"] == "/login/setup/"
    setup = client.get("/login/setup/")
    assert setup.status_code == 200
    assert re.search(r'alt="QR code', setup.content.decode())
    key = client.session["tb_totp_setup_key"]
    done = client.post("/login/setup/", {"token": code_for(key), "next": "/"})
    assert done.status_code == 302
    assert TOTPDevice.objects.get(user=user).confirmed
    assert models.EnrolmentLink.objects.get(user=user).used_at is not None
    assert client.get("/").status_code == 200
    # Single use: the same link is refused from now on, even to its owner.
    again = Client()
    sign_in(again, "casey")
    assert again.get(link).status_code == 404


@override_settings(OTP_REQUIRED=True)
def test_an_enrolment_link_expires_after_72_hours():
    admin = make_user("admin", username="root")
    user = make_user("clinician", username="casey")
    with time_machine.travel(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC), tick=False):
        link = path_of(accounts.enrolment_link_issue(user=user, issued_by=admin))
    with time_machine.travel(dt.datetime(2026, 3, 5, 8, 1, tzinfo=dt.UTC), tick=False):
        client = Client()
        sign_in(client, "casey")
        assert client.get(link).status_code == 404
        assert client.get("/login/setup/").status_code == 403


@override_settings(OTP_REQUIRED=True)
def test_an_enrolment_link_works_only_for_its_own_account():
    admin = make_user("admin", username="root")
    make_user("clinician", username="mallory")
    link = path_of(
        accounts.enrolment_link_issue(user=make_user("chair", username="casey"), issued_by=admin)
    )
    client = Client()
    sign_in(client, "mallory")
    assert client.get(link).status_code == 404
    assert client.get("/login/setup/").status_code == 403


@override_settings(OTP_REQUIRED=True)
def test_a_user_signed_in_with_their_device_can_replace_it():
    user = make_user("chair", username="morgan")
    old = TOTPDevice.objects.create(user=user, name="old phone", confirmed=True)
    client = Client()
    sign_in(client, "morgan")
    assert client.get("/login/setup/")["Location"].startswith("/login/verify/")
    client.post("/login/verify/", {"token": code_for(old.key), "next": "/"})
    setup = client.get("/login/setup/")
    assert setup.status_code == 200
    key = client.session["tb_totp_setup_key"]
    client.post("/login/setup/", {"token": code_for(key), "next": "/"})
    assert list(TOTPDevice.objects.filter(user=user).values_list("key", flat=True)) == [key]


def test_the_database_refuses_a_link_that_lasts_longer_than_72_hours():
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        models.EnrolmentLink.objects.create(
            user=make_user("clinician"),
            issued_by=make_user("admin"),
            token_hash="x" * 64,
            created_at=now,
            expires_at=now + dt.timedelta(hours=73),
        )


def test_the_admin_issues_links_from_the_user_list():
    admin, client = admin_client()
    user = make_user("clinician", username="casey")
    response = client.post(
        "/admin/cases/user/",
        {"action": "issue_enrolment_link", "_selected_action": [user.pk]},
    )
    assert response.status_code == 200
    assert "/login/enrol/" in response.content.decode()
    [event] = models.AccountEvent.objects.filter(kind=Kind.LINK_ISSUED)
    assert (event.user, event.actor) == (user, admin)


def test_the_admin_cannot_add_or_edit_a_totp_device_only_remove_one():
    _admin, client = admin_client()
    user = make_user("clinician", username="casey")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    assert client.get("/admin/otp_totp/totpdevice/add/").status_code == 403
    client.post(
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
        {"user": user.pk, "name": "mine", "key": "00" * 20, "confirmed": "on"},
    )
    device.refresh_from_db()
    assert device.key != "00" * 20
    response = client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()


# --- Administrators' changes: recorded, shown to the auditor, told to the user ------------------


def _change_user(client: Client, user: models.User, **changes):
    """Post the admin's change form for ``user`` as it is, with ``changes``."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "discipline": user.discipline,
        "is_active": "on" if user.is_active else "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
    }
    data.update(changes)
    return client.post(
        f"/admin/cases/user/{user.pk}/change/", {k: v for k, v in data.items() if v != ""}
    )


def test_a_role_change_and_deactivation_by_the_admin_are_recorded(
    django_capture_on_commit_callbacks,
):
    admin, client = admin_client()
    user = make_user("clinician", username="casey")
    with django_capture_on_commit_callbacks(execute=True):
        response = _change_user(client, user, role="chair", is_active="")
    assert response.status_code == 302, response.content.decode()[:2000]
    kinds = dict(
        models.AccountEvent.objects.filter(user=user, actor=admin).values_list("kind", "detail")
    )
    assert kinds[Kind.ROLE_CHANGED] == "Clinician to MDT chair"
    assert Kind.DEACTIVATED in kinds
    assert mail.outbox == []  # role and active flag: recorded, not emailed


def test_a_password_set_by_the_admin_is_recorded_and_the_user_told(
    django_capture_on_commit_callbacks,
):
    admin, client = admin_client()
    user = make_user("clinician", username="casey")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/cases/user/{user.pk}/password/",
            {"password1": "A-new-long-passphrase-41", "password2": "A-new-long-passphrase-41"},
        )
    assert response.status_code == 302
    [event] = models.AccountEvent.objects.filter(user=user, kind=Kind.PASSWORD_SET)
    assert event.actor == admin
    [message] = mail.outbox
    assert message.to == [user.email]
    assert "password set" in message.subject.lower()
    assert "by the administrator Admin Tester" in message.body  # by whom


def test_a_device_added_or_removed_is_recorded_and_the_user_told(
    django_capture_on_commit_callbacks,
):
    user = make_user("clinician", username="casey")
    with django_capture_on_commit_callbacks(execute=True):
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        device.delete()
    kinds = list(
        models.AccountEvent.objects.filter(user=user).order_by("id").values_list("kind", flat=True)
    )
    assert kinds[-2:] == [Kind.DEVICE_ADDED, Kind.DEVICE_REMOVED]
    assert [m.subject for m in mail.outbox] == [
        "Tumour board: two-factor device added on your account",
        "Tumour board: two-factor device removed on your account",
    ]


def test_the_auditor_sees_the_changes_to_accounts():
    _admin, client = admin_client()
    user = make_user("clinician", username="casey")
    _change_user(client, user, role="chair")
    page = signed_in(make_user("auditor")).get("/audit/accounts/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Role changed" in html
    assert "Clinician to MDT chair" in html
    assert "(root)" in html
    assert signed_in(make_user("clinician")).get("/audit/accounts/").status_code == 403


def test_account_events_cannot_be_edited_or_deleted():
    from django.db import DatabaseError, transaction

    user = make_user("clinician")
    event = models.AccountEvent.objects.create(kind=Kind.PASSWORD_SET, user=user)
    for attempt in (
        lambda: models.AccountEvent.objects.filter(pk=event.pk).update(detail="x"),
        lambda: models.AccountEvent.objects.filter(pk=event.pk).delete(),
    ):
        # Refused by the app role's privileges, and by a trigger for any role that has them.
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()


# --- Nobody changes their own role ---------------------------------------------------------------


def test_an_administrator_cannot_give_themselves_a_clinical_role():
    admin, client = admin_client()
    _change_user(client, admin, role="chair")
    admin.refresh_from_db()
    assert admin.role == "admin"
    assert (
        not models.AccountEvent.objects.filter(user=admin, kind=Kind.ROLE_CHANGED)
        .exclude(detail__startswith="new account")
        .exists()
    )
    # The same change made in code on the admin's behalf is refused too.
    import pghistory
    from django.core.exceptions import PermissionDenied

    admin.role = "chair"
    with pghistory.context(user=admin.pk), pytest.raises(PermissionDenied):
        admin.save()


def test_another_administrator_may_and_it_is_recorded():
    first, client = admin_client("root")
    second = make_user("admin", username="second")
    _change_user(client, second, role="chair")
    second.refresh_from_db()
    assert second.role == "chair"
    assert models.AccountEvent.objects.filter(
        user=second, actor=first, kind=Kind.ROLE_CHANGED, detail="Administrator to MDT chair"
    ).exists()


def test_an_administrator_account_holds_no_clinical_access(client):
    from tests.conftest import make_case

    case = make_case()
    _admin, admin = admin_client()
    for url in ("/cases/", f"/cases/{case.pk}/", "/audit/", "/meetings/"):
        assert admin.get(url).status_code == 403, url


def test_the_operator_prints_a_link_for_the_first_administrator(capsys):
    from django.core.management import call_command

    admin = make_user("admin", username="first")
    call_command("enrolment_link", "first")
    link = capsys.readouterr().out.strip()
    assert "/login/enrol/" in link
    [event] = models.AccountEvent.objects.filter(user=admin, kind=Kind.LINK_ISSUED)
    assert event.actor is None
    with pytest.raises(SystemExit):
        call_command("enrolment_link", "nobody")
