"""TNM staging of colorectal cancer, AJCC / UICC 8th edition, and the MRI circumferential
resection margin (CRM) categories. Pure: no Django, no clock.

Values are written as in the staging manual without the prefix (``T4a``, ``N1c``, ``M1b``); the
prefix (c, p, yp) is the kind of staging, stored beside them.
"""

from __future__ import annotations

from decimal import Decimal

T_CATEGORIES = ("TX", "T0", "Tis", "T1", "T2", "T3", "T4a", "T4b")
N_CATEGORIES = ("NX", "N0", "N1a", "N1b", "N1c", "N2a", "N2b")
# The 8th edition splits M1 by site count and peritoneum: a bare "M1" is not a colorectal value.
M_CATEGORIES = ("M0", "M1a", "M1b", "M1c")

# N1c (tumour deposits, no positive node) needs a primary that invades at least the submucosa.
N1C_NEEDS_T = ("T1", "T2", "T3", "T4a", "T4b")
# Carcinoma in situ is grouped only as Tis N0 M0 (stage 0): it has no route to nodes or organs.
TIS_ONLY_WITH = ("N0", "M0")


def tnm_problems(t: str, n: str, m: str) -> list[str]:
    """Why a T, N, M triple is not a valid 8th-edition colorectal combination (empty: valid)."""
    problems = []
    if t not in T_CATEGORIES:
        problems.append(f"{t} is not an 8th-edition T category.")
    if n not in N_CATEGORIES:
        problems.append(f"{n} is not an 8th-edition N category.")
    if m not in M_CATEGORIES:
        problems.append(f"{m} is not an 8th-edition M category (M0, M1a, M1b or M1c).")
    if problems:
        return problems
    if n == "N1c" and t not in N1C_NEEDS_T:
        problems.append("N1c (tumour deposits without positive nodes) needs a T1–T4 primary.")
    if t == "Tis" and (n, m) != TIS_ONLY_WITH:
        problems.append("Tis (carcinoma in situ) is staged only with N0 and M0.")
    return problems


_N1 = ("N1a", "N1b", "N1c")
_N2 = ("N2a", "N2b")


def stage_group(t: str, n: str, m: str) -> str | None:
    """The AJCC 8th-edition prognostic stage group (0, I, IIA … IVC), or None when the
    categories given do not place the tumour in a group (TX, T0, NX with M0, or invalid)."""
    if tnm_problems(t, n, m):
        return None
    if m != "M0":
        return {"M1a": "IVA", "M1b": "IVB", "M1c": "IVC"}[m]
    if t in ("TX", "T0") or n == "NX":
        return None
    if t == "Tis":
        return "0"
    if n == "N0":
        return {"T1": "I", "T2": "I", "T3": "IIA", "T4a": "IIB", "T4b": "IIC"}[t]
    if t == "T4b":
        return "IIIC"
    if n in _N1:
        return "IIIA" if t in ("T1", "T2") else "IIIB"
    if n == "N2a":
        return {"T1": "IIIA", "T2": "IIIB", "T3": "IIIB", "T4a": "IIIC"}[t]
    # N2b
    return "IIIB" if t in ("T1", "T2") else "IIIC"


# MRI CRM: tumour (or EMVI, deposit, node) to the mesorectal fascia. Involved at 1 mm or less,
# threatened above 1 up to 2 mm, clear beyond 2 mm.
CRM_INVOLVED_MAX_MM = Decimal(1)
CRM_THREATENED_MAX_MM = Decimal(2)


def crm_status_for_distance(distance_mm: Decimal) -> str:
    """``involved``, ``threatened`` or ``clear`` for a measured distance to the fascia."""
    if distance_mm <= CRM_INVOLVED_MAX_MM:
        return "involved"
    if distance_mm <= CRM_THREATENED_MAX_MM:
        return "threatened"
    return "clear"
