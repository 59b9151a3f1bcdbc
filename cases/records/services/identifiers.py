"""Patient identifiers: the NHS number's modulus-11 check digit.

NHS Data Dictionary: multiply the first nine digits by 10, 9, … 2, sum, take the remainder
after dividing by 11 and subtract it from 11; 11 becomes 0, and 10 means the number is not
valid (no such number is issued). The result must equal the tenth digit.
"""

from __future__ import annotations


def nhs_number_valid(number: str) -> bool:
    """True for ten ASCII digits whose last is the modulus-11 check digit of the other nine."""
    if not (len(number) == 10 and number.isascii() and number.isdigit()):
        return False
    weights = range(10, 1, -1)
    total = sum(int(digit) * weight for digit, weight in zip(number[:9], weights, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(number[9])


def normalise_nhs_number(text: str) -> str:
    """As typed (``943 476 5919``, ``943-476-5919``) → digits only."""
    return "".join(ch for ch in text if not ch.isspace() and ch != "-")
