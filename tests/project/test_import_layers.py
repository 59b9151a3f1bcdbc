"""Imports point one way: entry points → views → services (writes) → reads → models → engine.

Read from the code's own imports (an AST walk, no import is run), so a new module is checked the
day it is written. The layers and what belongs to each are in docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "cases"

ENGINE, MODELS, READS, WRITES, VIEWS, ENTRY = range(6)
LAYER_NAMES = ["engine", "models", "reads", "writes", "views", "entry points"]

# Modules whose name does not say their layer; everything else is placed by its file name.
READ_MODULES = {
    "cases.records.mapping",
    "cases.records.completeness",
    "cases.records.story",
    "cases.records.timeline",
    "cases.records.imaging",  # RECIST series, liver burden and marker charts of a loaded record
    "cases.worklists.queries",
    "cases.worklists.plots",
    "cases.audit.trail",
    "cases.audit.sessions",
    "cases.audit.chain",
    "cases.common.data_version",
    "cases.common.constants",
    "cases.common.json_rows",
    "cases.security.permissions",
    # Interoperability: the mapping table, the bundle built from the one-query record, the
    # recommendation in words and the FHIR checks only read.
    "cases.interop.codes",
    "cases.interop.export",
    "cases.interop.recommendations",
    "cases.interop.validation",
    # After the meeting: a letter's words, which decisions imply a follow-up, and the reports'
    # SQL only read.
    "cases.followup.letters",
    "cases.followup.implementation",
    "cases.followup.reports",
    "cases.followup.reports.queries",
    "cases.followup.reports.charts",
}
WRITE_MODULES = {
    "cases.meetings.agenda",
    "cases.meetings.actions",
    "cases.reminders.planning",
    "cases.reminders.dispatch",
    "cases.reminders.tasks",
    "cases.audit.access",
    "cases.audit.db_roles",
    "cases.audit.tasks",
    "cases.common.services",
    # Interoperability: the referral import and the API tokens (and their call log) write.
    "cases.interop.imports",
    "cases.interop.tokens",
}
ENTRY_MODULES = {"cases.urls", "cases.admin", "cases.apps", "cases.tasks"}


def layer_of(module: str) -> int:
    parts = module.split(".")
    if parts[:2] == ["cases", "pathway"]:
        return ENGINE
    if parts[:2] == ["cases", "models"]:
        return MODELS
    if module in ENTRY_MODULES or parts[:2] == ["cases", "management"]:
        return ENTRY
    if module in READ_MODULES or "selectors" in parts or parts[:3] == ["cases", "meetings", "walk"]:
        return READS
    if module in WRITE_MODULES or "services" in parts:
        return WRITES
    return VIEWS  # views, forms, middleware, template tags, context processors


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def cases_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a ``cases`` module, at any depth of the file (an
    import inside a function counts as much as one at the top)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            if base.split(".")[0] != "cases":
                continue
            for alias in node.names:
                # "from cases.records import services" imports the module cases.records.services
                candidate = f"{base}.{alias.name}"
                is_module = (CASES.parent / Path(*candidate.split("."))).with_suffix(".py")
                package = CASES.parent / Path(*candidate.split("."))
                found.append(
                    (node.lineno, candidate if is_module.exists() or package.is_dir() else base)
                )
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("cases.")]
    return found


SOURCES = sorted(p for p in CASES.rglob("*.py") if "migrations" not in p.parts)


def violations() -> list[str]:
    found = []
    for path in SOURCES:
        importer = module_name(path)
        own = layer_of(importer)
        for line, imported in cases_imports(path):
            if imported == "cases":
                continue
            theirs = layer_of(imported)
            where = f"{path.relative_to(ROOT)}:{line} imports {imported}"
            if theirs > own:
                found.append(f"{where}: {LAYER_NAMES[own]} may not import {LAYER_NAMES[theirs]}")
            elif own == MODELS and theirs == ENGINE:
                found.append(f"{where}: the models do not import the guideline engine")
            elif own == ENGINE and theirs != ENGINE:
                found.append(f"{where}: the engine imports nothing but itself")
    return sorted(set(found))


def test_imports_point_one_way():
    assert violations() == []


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("cases.pathway.rules", ENGINE),
        ("cases.models.record", MODELS),
        ("cases.records.selectors", READS),
        ("cases.meetings.walk.cards", READS),
        ("cases.records.services.surgery", WRITES),
        ("cases.meetings.agenda", WRITES),
        ("cases.meetings.views", VIEWS),
        ("cases.urls", ENTRY),
    ],
)
def test_each_module_is_placed_in_its_layer(module, layer):
    assert layer_of(module) == layer


def test_the_check_finds_an_import_against_the_direction(tmp_path, monkeypatch):
    """The walk itself works: a read module importing a write module is reported."""
    fake = CASES / "worklists" / "_layer_probe.py"
    fake.write_text("from cases.meetings.agenda import agenda_item_add\n")
    try:
        monkeypatch.setitem(globals(), "SOURCES", [fake])
        READ_MODULES.add("cases.worklists._layer_probe")
        assert violations() == [
            "cases/worklists/_layer_probe.py:1 imports cases.meetings.agenda: "
            "reads may not import writes"
        ]
    finally:
        READ_MODULES.discard("cases.worklists._layer_probe")
        fake.unlink()
