"""The role matrix, enforced: every endpoint that changes data declares a capability, and each
role gets a 403 exactly where the matrix says no. The table in docs/security.md is the matrix.

The endpoints come from walking the URL resolver, so views added later are covered. See
docs/architecture.md ("Permissions") for the rules a new view must follow.
"""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import Client

from cases import models
from cases.security.permissions import ROLE_CAPABILITIES, Capability, matrix_markdown
from tests.conftest import make_user
from tests.url_walk import endpoints, required_capability

pytestmark = pytest.mark.django_db

MATRIX_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"

# Views any signed-in user may post to, and why (docs/architecture.md):
OPEN_TO_EVERY_ROLE = {
    "login": "signing in",
    "logout": "signing out",
    "two-factor-verify": "the second sign-in step, for the user's own account",
    "two-factor-setup": "linking the user's own authenticator app",
    "cases:api-advise": "a pure calculation: nothing is stored or read from patient records",
}
WRITE_METHODS = ("post", "put", "patch", "delete")

# The expected answers, written out by hand from the permission matrix in docs/security.md and
# never read off the views: a view guarded by the wrong capability (say the access log opened to
# VIEW_CLINICAL) then fails here. URL name -> the roles that may use it, for every method it
# answers. A new guarded URL must be added here.
ALLOWED_ROLES = {
    "cases:action-create": "chair clinician",
    "cases:action-status": "chair clinician coordinator",
    "cases:administration-create": "chair clinician coordinator",
    "cases:administration-update": "chair clinician coordinator",
    "cases:agenda-item-add": "chair clinician coordinator",
    "cases:agenda-item-defer": "chair coordinator",
    "cases:agenda-item-detail": "auditor chair clinician coordinator",
    "cases:agenda-reorder": "chair coordinator",
    "cases:attendance-mark": "chair coordinator",
    "cases:attendance-record": "chair coordinator",
    "cases:attendance-remove": "chair coordinator",
    "cases:audit-access-list": "auditor",
    "cases:audit-account-list": "auditor",
    "cases:audit-case": "auditor",
    "cases:audit-case-list": "auditor",
    "cases:case-create": "chair clinician coordinator",
    "cases:clinical-question": "chair clinician coordinator",
    "cases:case-detail": "auditor chair clinician coordinator",
    "cases:case-list": "auditor chair clinician coordinator",
    "cases:case-update": "chair clinician coordinator",
    "cases:course-create": "chair clinician coordinator",
    "cases:course-update": "chair clinician coordinator",
    "cases:cycle-create": "chair clinician coordinator",
    "cases:cycle-update": "chair clinician coordinator",
    "cases:decision-preview": "chair clinician",
    "cases:decision-record": "chair clinician",
    "cases:discussion-notes": "chair clinician",
    "cases:fact-correction-confirm": "chair",
    "cases:fact-correction-list": "auditor chair clinician coordinator",
    "cases:follow-up-update": "chair clinician coordinator",
    "cases:histology-create": "chair clinician coordinator",
    "cases:histology-update": "chair clinician coordinator",
    "cases:imaging-create": "chair clinician",
    "cases:lab-results-record": "chair clinician coordinator",
    "cases:letter-check": "chair clinician",
    "cases:letter-detail": "auditor chair clinician coordinator",
    "cases:letter-pdf": "auditor chair clinician coordinator",
    "cases:letter-send": "chair clinician coordinator",
    "cases:letter-template-edit": "admin",
    "cases:letter-template-list": "admin",
    "cases:meeting-close": "chair",
    "cases:meeting-create": "chair coordinator",
    "cases:meeting-detail": "auditor chair clinician coordinator",
    "cases:meeting-fact-correct": "chair clinician coordinator",
    "cases:meeting-list": "auditor chair clinician coordinator",
    "cases:meeting-minutes": "auditor chair clinician coordinator",
    "cases:meeting-open": "chair",
    "cases:molecular-profile": "chair clinician coordinator",
    "cases:molecular-record": "chair clinician coordinator",
    "cases:mri-create": "chair clinician coordinator",
    "cases:mri-update": "chair clinician coordinator",
    "cases:outcome-after": "auditor chair clinician coordinator",
    "cases:outcome-print": "auditor chair clinician coordinator",
    "cases:outcome-sign-off": "chair",
    "cases:patient-letter-add": "chair clinician",
    "cases:patient-lookup": "chair clinician coordinator",
    "cases:patient-update": "chair clinician coordinator",
    "cases:radiotherapy-create": "chair clinician coordinator",
    "cases:radiotherapy-update": "chair clinician coordinator",
    "cases:reassessment-create": "chair clinician coordinator",
    "cases:reassessment-update": "chair clinician coordinator",
    "cases:referral-create": "chair clinician coordinator",
    "cases:referral-update": "chair clinician coordinator",
    "cases:reminder-cancel": "admin coordinator",
    "cases:reminder-list": "admin coordinator",
    "cases:reminder-retry": "admin coordinator",
    "cases:report-csv": "auditor chair coordinator",
    "cases:reports": "auditor chair coordinator",
    "cases:series-member-add": "chair coordinator",
    "cases:series-member-remove": "chair coordinator",
    "cases:series-members": "auditor chair clinician coordinator",
    "cases:surgery-create": "chair clinician coordinator",
    "cases:surgery-update": "chair clinician coordinator",
    "cases:tnm-create": "chair clinician coordinator",
    "cases:tnm-update": "chair clinician coordinator",
    "cases:toxicity-create": "chair clinician coordinator",
    "cases:toxicity-update": "chair clinician coordinator",
    "cases:worklist-detail": "auditor chair clinician coordinator",
    "cases:worklist-panel": "auditor chair clinician coordinator",
}
ROLES = list(models.Role.values)


def client_for(role: str) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(make_user(role))
    return client


def app_endpoints():
    found, unreachable = endpoints()
    assert not unreachable
    return [
        e for e in found if not e.name.startswith("admin:") and not e.path.startswith("/admin/")
    ]


def admin_endpoints():
    """Admin URLs, bar its sign-in (redirected to ours) and sign-out (harmless for anyone)."""
    found, _ = endpoints()
    return [
        e
        for e in found
        if e.path.startswith("/admin/") and e.path not in ("/admin/login/", "/admin/logout/")
    ]


def refused(response) -> bool:
    """403, or sent to a sign-in page (what the admin does for users who may not enter it)."""
    if response.status_code == 403:
        return True
    location = urlsplit(response.get("Location", "")).path
    return response.status_code == 302 and location in ("/login/", "/admin/login/")


def test_every_endpoint_that_accepts_a_write_declares_its_capability():
    clients = {role: client_for(role) for role in ROLES}
    undeclared = []
    for endpoint in app_endpoints():
        if endpoint.name in OPEN_TO_EVERY_ROLE or required_capability(endpoint.callback):
            continue
        if getattr(endpoint.callback, "token_authenticated", False):
            # The system API (/fhir/) takes API tokens, never a staff session: every role's
            # session gets 401 (its scopes are tested in tests/interop/test_tokens.py).
            for method in ("get", *WRITE_METHODS):
                statuses = {getattr(c, method)(endpoint.path).status_code for c in clients.values()}
                if not statuses <= {401, 405}:
                    undeclared.append(f"{endpoint} {method.upper()} with a session: {statuses}")
            continue
        for method in WRITE_METHODS:
            statuses = {getattr(c, method)(endpoint.path).status_code for c in clients.values()}
            if statuses != {405}:
                undeclared.append(f"{endpoint} accepts {method.upper()}: {sorted(statuses)}")
    assert not undeclared, (
        "Views that change data need @capability_required(...) "
        "(or a reason in OPEN_TO_EVERY_ROLE):\n" + "\n".join(undeclared)
    )


def test_the_expected_table_names_every_guarded_endpoint():
    guarded = {e.name for e in app_endpoints() if required_capability(e.callback) is not None}
    assert guarded == set(ALLOWED_ROLES), (
        f"guarded but not in ALLOWED_ROLES: {sorted(guarded - set(ALLOWED_ROLES))}; "
        f"in ALLOWED_ROLES but not guarded: {sorted(set(ALLOWED_ROLES) - guarded)}"
    )


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_exactly_where_the_matrix_says_no(role):
    client = client_for(role)
    wrong, checked = [], 0
    for endpoint in app_endpoints():
        if endpoint.name not in ALLOWED_ROLES:
            continue  # open to every role: the walks in test_security_urls.py cover them
        allowed = role in ALLOWED_ROLES[endpoint.name].split()
        answered = False
        for method in ("get", *WRITE_METHODS):
            response = getattr(client, method)(endpoint.path)
            if response.status_code == 405:
                continue
            answered = True
            checked += 1
            if (response.status_code == 403) == allowed:
                wrong.append(f"{method.upper()} {endpoint}: {response.status_code}")
        if not answered:
            wrong.append(f"{endpoint}: every method was 405")
    assert checked >= len(ALLOWED_ROLES), "fewer answers than guarded endpoints"
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


def test_the_permission_check_comes_before_the_object_lookup():
    """A missing id gives 403 to a role without the capability, 404 to one with it."""
    path = "/audit/cases/999999/"
    assert client_for("clinician").get(path).status_code == 403
    assert client_for("auditor").get(path).status_code == 404


# --- The Django admin follows the same matrix ----------------------------------------------


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_roles_that_do_not_manage_users_cannot_use_the_admin_at_all(role):
    client = client_for(role)
    wrong, pages = [], admin_endpoints()
    assert len(pages) > 10, f"only {len(pages)} admin pages found: is the admin still mounted?"
    for endpoint in pages:
        for method in ("get", "post"):
            response = getattr(client, method)(endpoint.path)
            if not refused(response) and response.status_code != 404:
                wrong.append(f"{method.upper()} {endpoint}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_the_admin_role_sees_only_what_the_matrix_gives_it():
    client = client_for("admin")
    capabilities = ROLE_CAPABILITIES["admin"]
    wrong, visible = [], set()
    assert admin.site._registry, "no model is registered in the admin"
    for model, model_admin in admin.site._registry.items():
        may_view = model_admin.view_capability in capabilities or (
            model_admin.edit_capability in capabilities
        )
        listing = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        status = client.get(listing).status_code
        if (status == 200) != may_view:
            wrong.append(f"GET {listing}: {status}")
        if status == 200:
            visible.add(model._meta.label)
    assert not wrong, "\n".join(wrong)
    # Accounts, 2FA devices, sign-in lockouts and the reminder log; no patient data.
    assert {"cases.User", "otp_totp.TOTPDevice", "axes.AccessAttempt", "cases.Reminder"} <= visible
    assert not visible & {"cases.Patient", "cases.Case", "cases.Decision", "cases.MolecularResult"}


def test_an_administrator_cannot_add_a_patient_in_the_admin():
    client = client_for("admin")
    response = client.post(
        "/admin/cases/patient/add/",
        {
            "hospital_number": "X1",
            "family_name": "A",
            "given_name": "B",
            "date_of_birth": "1970-01-01",
        },
    )
    assert response.status_code == 403
    assert not models.Patient.objects.exists()


def test_an_administrator_changes_a_role_in_the_admin_and_it_is_audited():
    admin_client = client_for("admin")
    target = make_user("clinician", username="promoted")
    data = {
        "username": "promoted",
        "first_name": "Pat",
        "last_name": "Promoted",
        "email": "promoted@hospital.invalid",
        "role": "chair",
        "discipline": "",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
    }
    response = admin_client.post(f"/admin/cases/user/{target.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    target.refresh_from_db()
    assert target.role == "chair"
    event = models.User.pgh_event_model.objects.filter(pgh_obj_id=target.pk).latest("pgh_id")
    assert event.role == "chair"
    assert event.pgh_context["user"] == models.User.objects.get(username__startswith="admin").pk


def test_a_coordinator_is_not_let_into_the_admin_even_with_is_staff():
    user = make_user("coordinator")
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    assert refused(client.get("/admin/"))
    assert refused(client.get("/admin/cases/patient/"))


# --- The documented table is the matrix -------------------------------------------------------


def test_the_readme_matrix_is_the_enforced_matrix():
    text = MATRIX_DOC.read_text()
    block = re.search(
        r"<!-- permission-matrix:start -->\n(.*?)<!-- permission-matrix:end -->", text, re.S
    )
    assert block, "docs/security.md lacks the permission-matrix markers"
    assert block.group(1) == matrix_markdown(), "run: python manage.py permission_matrix"


def test_the_permission_matrix_command_prints_the_table():
    out = StringIO()
    call_command("permission_matrix", stdout=out)
    table = out.getvalue()
    assert table == matrix_markdown()
    header = table.splitlines()[0]
    assert header.split("|")[2:-1] == [f" {role} " for role in ROLE_CAPABILITIES]
    assert table.count("\n") == len(Capability) + 2


def test_the_auditor_is_read_only_and_only_the_chair_overrides_or_signs_off():
    writes = set(Capability) - {
        Capability.VIEW_CLINICAL,
        Capability.VIEW_AUDIT,
        Capability.VIEW_REPORTS,
    }
    assert not ROLE_CAPABILITIES["auditor"] & writes
    for capability in (Capability.OVERRIDE_HARD_STOPS, Capability.SIGN_OFF):
        assert [r for r, caps in ROLE_CAPABILITIES.items() if capability in caps] == ["chair"]
    assert set(ROLE_CAPABILITIES) == set(models.Role.values)
