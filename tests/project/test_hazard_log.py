"""The hazard log names a test for every control, and every test it names exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "docs" / "hazard-log.md"
NODE_ID = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)(?:\[[^\]]*\])?`")
PENDING = re.compile(r"verification pending: \w")

# The hazards the issue names: each must be in the log.
REQUIRED = {
    "H01": "Wrong regimen advice",
    "H02": "Missed re-imaging",
    "H03": "Surgery inside the bevacizumab interval",
    "H04": "Decision recorded against the wrong patient",
    "H05": "Stale results shown",
    "H06": "Lost update",
    "H07": "Reminder not sent",
}


def section(title: str) -> str:
    text = LOG.read_text()
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/hazard-log.md has no '## {title}' section"
    return match.group(1)


def rows(title: str) -> list[list[str]]:
    found = []
    for line in section(title).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if re.fullmatch(r"H\d\d[a-z]", cells[0]):
            found.append(cells)
    return found


def test_every_control_in_the_hazards_table_names_a_test():
    hazards = rows("Hazards")
    assert len(hazards) >= 20
    for cells in hazards:
        assert len(cells) == 9, cells[0]
        assert NODE_ID.search(cells[8]), f"{cells[0]} names no test"
        assert not PENDING.search(cells[8]), f"{cells[0]} is pending: move it to that section"


def test_no_control_is_left_unverified():
    """Every control is verified by a test on main: none may wait for work elsewhere."""
    assert not PENDING.search(LOG.read_text())


def test_the_hazards_the_issue_names_are_all_in_the_log():
    listed = {cells[0][:3]: cells[1] for cells in rows("Hazards")}
    for hazard_id, title in REQUIRED.items():
        assert listed.get(hazard_id, "").startswith(title), hazard_id


def test_each_hazard_id_is_used_once():
    ids = [cells[0] for cells in rows("Hazards")]
    assert len(ids) == len(set(ids))


def named_tests() -> list[tuple[str, str]]:
    return sorted(set(NODE_ID.findall(section("Hazards"))))


@pytest.mark.parametrize(("path", "name"), named_tests())
def test_every_named_test_exists(path: str, name: str):
    assert (ROOT / path).is_file(), path
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    target = module
    for part in name.split("::"):
        target = getattr(target, part, None)
        assert target is not None, f"{path}::{name} does not exist"
    assert name.split("::")[-1].startswith("test_")
    assert callable(target)
