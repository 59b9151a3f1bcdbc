"""The front door in a real browser: the page loads under the strict CSP and sign-in works."""

from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_coordinator_signs_in_in_a_real_browser(page):
    make_user("coordinator", username="casey")
    sign_in(page, "casey")
    # Home is the coordinator dashboard.
    assert page.get_by_role("heading", level=1).inner_text() == "Dashboard"
    # htmx loaded from our static files despite the CSP
    assert page.evaluate("typeof window.htmx") == "object"


def test_a_refused_htmx_request_is_said_plainly_not_dropped(page):
    make_user("auditor", username="pat")
    sign_in(page, "pat")
    strip = page.locator("#htmx-problem")
    assert strip.is_hidden()
    page.evaluate("htmx.ajax('POST', '/cases/new/', {target: '#main', swap: 'innerHTML'})")
    strip.wait_for(state="visible")
    assert strip.inner_text() == "Your role may not do that. Nothing was changed."
