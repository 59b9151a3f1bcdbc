"""The main menu offers each role only what it may open."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

EXPECTED = {
    "coordinator": {"Home", "Meetings", "Cases", "New case", "Reminders", "Reports"},
    "clinician": {"Home", "Meetings", "Cases", "New case"},
    "chair": {"Home", "Meetings", "Cases", "New case", "Reports"},
    "auditor": {"Home", "Meetings", "Cases", "Audit", "Reports"},
    "admin": {"Home", "Reminders", "Letter templates", "Administration"},
}


@pytest.mark.parametrize("role", EXPECTED)
def test_the_menu_matches_the_role(client, users, role):
    client.force_login(users[role])
    html = client.get("/").content.decode()
    nav = re.search(r'<nav class="site-nav"[^>]*>(.*?)</nav>', html, re.S).group(1)
    assert set(re.findall(r">([^<>]+)</a>", nav)) == EXPECTED[role]
