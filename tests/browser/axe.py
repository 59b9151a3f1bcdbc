"""axe-core for the browser tests: installed from npm once into var/npm, run inside the page.

Locally the accessibility checks skip (with the reason) when npm is missing or offline; under
TUMOURBOARD_REQUIRE_BROWSER=1 (CI) that is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

AXE_VERSION = "4.14.1"
BLOCKING_IMPACTS = ("serious", "critical")


def _prefix() -> Path:
    var = Path(os.environ.get("TUMOURBOARD_VAR_DIR", Path(settings.BASE_DIR) / "var"))
    return var / "npm" / f"axe-core-{AXE_VERSION}"


def _unavailable(reason: str) -> None:
    if os.environ.get("TUMOURBOARD_REQUIRE_BROWSER"):
        pytest.fail(f"axe-core is required here but {reason}")
    pytest.skip(f"accessibility checks skipped: {reason}")


def axe_script() -> Path:
    """The path of axe.min.js, installing the pinned axe-core from npm the first time."""
    script = _prefix() / "node_modules" / "axe-core" / "axe.min.js"
    if script.exists():
        return script
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed")
    _prefix().mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(_prefix()),
                "--no-audit",
                "--no-fund",
                "--no-save",
                f"axe-core@{AXE_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        _unavailable(f"npm could not install axe-core@{AXE_VERSION}: {error}")
    if not script.exists():
        _unavailable(f"npm installed axe-core@{AXE_VERSION} without {script.name}")
    return script


def assert_accessible(page, label: str) -> None:
    """No serious or critical axe-core violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: a <script> tag (add_script_tag) would be an
        # inline script, which the app's CSP rightly blocks.
        page.evaluate(axe_script().read_text(encoding="utf-8"))
    results = page.evaluate("async () => await window.axe.run(document)")
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:3])
        for v in results["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]
    assert not blocking, f"{label}: " + " | ".join(blocking)
