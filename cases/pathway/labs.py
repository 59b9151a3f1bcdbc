"""Tumour markers and bloods: the unit each is entered in and the adult reference range used
when a result is entered without the laboratory's own (pure Python, no Django).

The ranges are typical UK adult ranges; a laboratory's own range is stored with each result and
is what the flag is read against, so changing this table never rewrites a past result's flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class LabTestSpec:
    code: str
    label: str
    unit: str
    low: Decimal | None  # None: no lower limit worth flagging
    high: Decimal | None


LAB_TESTS: tuple[LabTestSpec, ...] = (
    LabTestSpec("cea", "CEA", "ng/mL", None, Decimal("5")),
    LabTestSpec("ca19_9", "CA 19-9", "U/mL", None, Decimal("37")),
    LabTestSpec("bilirubin", "Bilirubin", "µmol/L", None, Decimal("21")),
    LabTestSpec("albumin", "Albumin", "g/L", Decimal("35"), Decimal("50")),
    LabTestSpec("platelets", "Platelets", "×10⁹/L", Decimal("150"), Decimal("400")),
    LabTestSpec("neutrophils", "Neutrophils", "×10⁹/L", Decimal("2.0"), Decimal("7.5")),
    LabTestSpec("creatinine", "Creatinine", "µmol/L", Decimal("45"), Decimal("110")),
)
LAB_TEST_SPECS = {spec.code: spec for spec in LAB_TESTS}


def range_flag(value: Decimal, low: Decimal | None, high: Decimal | None) -> str:
    """ "low" or "high" when ``value`` lies outside [low, high] (limits included), else ""."""
    if low is not None and value < low:
        return "low"
    if high is not None and value > high:
        return "high"
    return ""
