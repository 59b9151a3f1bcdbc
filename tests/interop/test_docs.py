"""docs/interop.md carries the mapping table exactly as cases/interop/codes.py defines it."""

from __future__ import annotations

from pathlib import Path

from cases.interop.codes import TABLE, mapping_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "interop.md"


def test_the_documented_mapping_table_is_the_one_in_the_code():
    text = DOC.read_text()
    documented = text.split("<!-- mapping:start -->\n")[1].split("<!-- mapping:end -->")[0]
    assert documented == mapping_markdown()


def test_every_code_has_a_system_uri_or_is_a_fhir_code():
    for row in TABLE:
        assert row.code.system.startswith(("http://", "https://", "urn:")) or (
            row.element.endswith(".status") and row.code.system == ""
        ), row
