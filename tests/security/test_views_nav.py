"""The main menu offers each role only what it may open."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

EXPECTED = {
    "coordinator": {"Home", "Meetings", "Cases", "New case", "Reminders"},
    "clinician": {"Home", "Meetings", "Cases", "New case"},
    "chair": {"Home", "Meetings", "Cases", "New case"},
    "auditor": {"Home", "Meetings", "Cases", "Audit"},
    "admin": {"Home", "Reminders", "Administration"},
}


@pytest.mark.parametrize("role", EXPECTED)
def test_the_menu_matches_the_role(client, users, role):
    client.force_login(users[role])
    html = client.get("/").content.decode()
    nav = re.search(r'<nav class="site-nav"[^>]*>(.*?)</nav>', html, re.S).group(1)
    assert set(re.findall(r">([^<>]+)</a>", nav)) == EXPECTED[role]
