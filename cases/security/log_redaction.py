"""Keep patient data out of the logs, even when a database error quotes it.

Our own code never logs names, hospital numbers or request bodies. PostgreSQL, though, puts row
values into its error messages ("Key (hospital_number)=(H123) already exists", "Failing row
contains (...)"), and Django logs the exception of an unhandled error. This filter blanks those
values in the message and in the formatted traceback before any handler writes the record.
"""

from __future__ import annotations

import logging
import re

# "Key (hospital_number)=(H123)" and "Key (a, b)=(x, y)": keep the column names, drop the values.
_KEY_VALUES = re.compile(r"(Key \([^)]*\))=\((?:[^()]|\([^()]*\))*\)")
# "Failing row contains (...)" lists every column of the row.
_FAILING_ROW = re.compile(r"Failing row contains \(.*\)")
# Any other "DETAIL: ..." line may quote input too ("Array value must start with ..."): drop it.
_DETAIL = re.compile(r"(DETAIL:)(?!\s*(?:Key \(|Failing row contains))[^\n]*")

REDACTED = "[redacted]"


def redact(text: str) -> str:
    text = _KEY_VALUES.sub(rf"\1=({REDACTED})", text)
    text = _FAILING_ROW.sub(f"Failing row contains ({REDACTED})", text)
    return _DETAIL.sub(rf"\1 {REDACTED}", text)


class RedactDatabaseValues(logging.Filter):
    """Rewrites the record in place; never drops it (an error must still be seen)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call must not hide the record
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
