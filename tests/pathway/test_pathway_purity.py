"""The engine stays pure: no Django, no third-party imports, no clock."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import time_machine

from cases.pathway import advise_json

PACKAGE = Path(__file__).resolve().parents[2] / "cases" / "pathway"
MODULES = sorted(PACKAGE.rglob("*.py"))
CLOCK_CALLS = {"today", "now", "utcnow", "time", "time_ns", "localtime", "gmtime", "monotonic"}
CLOCK_PATTERN = re.compile(r"\b(?:date|datetime|time)\s*\.\s*(?:today|now|utcnow|time)\s*\(")


def imported_roots(source: str) -> set[str]:
    """Top-level names of every absolute import in `source`."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def clock_calls(source: str) -> set[str]:
    """Names of calls that read the clock, such as `date.today()` or `datetime.now(tz)`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        # `date.today()` is an attribute call; `time()` after `from time import time` is a name.
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in CLOCK_CALLS:
            found.add(name)
    return found


def test_the_package_has_modules_to_check() -> None:
    names = {path.name for path in MODULES}
    assert {"__init__.py", "rules.py", "engine.py", "parse.py", "calendar.py"} <= names


def test_the_scanners_catch_what_they_look_for() -> None:
    assert "django" in imported_roots("from django.db import models")
    assert "django" in imported_roots("import django.conf as c")
    assert clock_calls("import datetime\nx = datetime.date.today()") == {"today"}
    assert clock_calls("from datetime import datetime as d\nd.now(tz=None)") == {"now"}
    assert clock_calls("from time import time\nstarted = time()") == {"time"}
    assert CLOCK_PATTERN.search("x = date.today()")


def test_no_module_imports_django_or_any_third_party_package() -> None:
    allowed = set(sys.stdlib_module_names)
    for path in MODULES:
        roots = imported_roots(path.read_text(encoding="utf-8"))
        assert "django" not in roots, path
        assert roots <= allowed, (path, roots - allowed)


def test_no_module_reads_the_clock() -> None:
    for path in MODULES:
        source = path.read_text(encoding="utf-8")
        assert clock_calls(source) == set(), path
        assert not CLOCK_PATTERN.search(source), path
        assert "import time" not in source, path


def test_the_package_imports_and_advises_with_django_blocked() -> None:
    script = (
        "import sys\n"
        "sys.modules['django'] = None  # any import of django now raises ImportError\n"
        "from cases.pathway import advise_json\n"
        "out = advise_json({'primary_site': 'rectum', 'ecog': 1})\n"
        "assert out['sidedness'] == 'left'\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PACKAGE.parents[1],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_importing_the_package_does_not_pull_in_django() -> None:
    script = (
        "import sys\n"
        "import cases.pathway\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PACKAGE.parents[1],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_answer_does_not_depend_on_the_day_it_is_asked() -> None:
    case = {
        "chemo_start_date": "2025-01-31",
        "last_bevacizumab_dose_date": "2025-01-01",
        "planned_surgery_date": "2025-02-01",
        "scrt_completion_date": "2024-12-31",
    }
    with time_machine.travel("2001-01-01T00:00:00Z", tick=False):
        early = advise_json(case)
    with time_machine.travel("2099-12-31T23:59:59Z", tick=False):
        late = advise_json(case)
    assert early == late
