"""Every number of a clinical or workflow rule is written once, in the engine's constants
(cases/pathway/constants.py); everything else reads it from there or from the settings that
override it. A copy elsewhere would drift the day the rule is tuned.

The check reads the code's own tokens, so a number in a comment or a docstring is free to
explain a rule, and unrelated numbers (a page size, a chart's pixels) are not looked at: only a
number next to the unit its rule is counted in.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from cases.pathway.constants import DEFAULT_CONSTANTS, DEFAULT_WORKFLOW

ROOT = Path(__file__).resolve().parents[2]
HOME = ROOT / "cases" / "pathway"

# (rule, its value in the engine, code that would restate it).
RULES = [
    (
        "bevacizumab interval",
        DEFAULT_CONSTANTS.bev_min_days,
        r"days\s*=\s*{n}\b|randint\(\s*{n}\b|\+\s*{n}\b",
    ),
    (
        "SCRT window",
        DEFAULT_CONSTANTS.scrt_max_delay_months,
        r"months\s*=\s*{n}\b|months\s*=>\s*{n}\b|add_months\([^)]*,\s*{n}\)",
    ),
    ("reassessment interval", DEFAULT_CONSTANTS.reassess_months, r"add_months\([^)]*,\s*{n}\s*\*"),
    ("agenda freeze", DEFAULT_WORKFLOW.agenda_freeze_hours, r"hours\s*=\s*{n}\b"),
    ("result chase", DEFAULT_WORKFLOW.result_chase_days, r"days\s*=\s*{n}\b|DAYS\s*=\s*{n}\b"),
    (
        "imaging age",
        DEFAULT_WORKFLOW.imaging_max_age_days,
        r"days\s*=\s*{n}\b|DAYS\s*=\s*{n}\b|\b{n}\b",
    ),
]


def code_without_comments(path: Path) -> str:
    """The file's code with comments and docstrings blanked (other strings kept: a rule's number
    in a title or message is a copy too)."""
    source = path.read_text()
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    kept = []
    previous = tokenize.INDENT
    for token in tokens:
        if token.type == tokenize.COMMENT:
            continue
        if token.type == tokenize.STRING and previous in (tokenize.INDENT, tokenize.NEWLINE):
            continue  # a docstring or a bare string statement
        kept.append(token)
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            previous = token.type
    return tokenize.untokenize(kept)


def sources() -> list[Path]:
    found = []
    for folder in ("cases", "tumourboard"):
        for path in (ROOT / folder).rglob("*.py"):
            if HOME in path.parents or "migrations" in path.parts:
                continue
            found.append(path)
    return sorted(found)


def copies(rule_pattern: str, value: int) -> list[str]:
    pattern = re.compile(rule_pattern.format(n=value))
    found = []
    for path in sources():
        for number, line in enumerate(code_without_comments(path).splitlines(), start=1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


@pytest.mark.parametrize(("rule", "value", "pattern"), RULES, ids=[r[0] for r in RULES])
def test_no_rule_is_written_outside_the_engine(rule, value, pattern):
    assert copies(pattern, value) == [], f"the {rule} ({value}) is restated outside the engine"


def test_the_check_sees_a_copy(tmp_path, monkeypatch):
    """The check itself works: a view restating the bevacizumab interval is found."""
    probe = ROOT / "cases" / "_rule_probe.py"
    probe.write_text("import datetime as dt\nEARLIEST = dt.timedelta(days=42)  # copied\n")
    try:
        found = copies(RULES[0][2], RULES[0][1])
    finally:
        probe.unlink()
    assert found == ["cases/_rule_probe.py:2: EARLIEST = dt.timedelta(days=42)"]
