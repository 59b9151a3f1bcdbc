"""No patient data in logs or emails. The PHI guard (tests/phi_guard.py) watches the whole run;
these tests show it catches what it should, and that database errors are redacted in the logs."""

from __future__ import annotations

import io
import logging

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from tests import phi_guard
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliberate_leak():
    """For tests that leak on purpose: asserts the guard saw it, then forgets it."""
    before = len(phi_guard.leaks())

    def seen() -> list[phi_guard.Leak]:
        return phi_guard.leaks()[before:]

    yield seen
    assert seen(), "the guard missed a deliberate leak"
    del phi_guard._leaks[before:]


def test_test_patients_carry_the_sentinel_identity():
    patient = make_patient()
    assert phi_guard.find(str(patient))
    assert phi_guard.find(patient.hospital_number)
    assert phi_guard.find(patient.given_name)


def test_the_guard_sees_a_debug_record_from_a_logger_that_does_not_propagate(deliberate_leak):
    logger = logging.getLogger("tests.phi.quiet")
    logger.propagate = False
    logger.debug("opened record of %s", "Zebedee SENTINELWORTH")
    assert deliberate_leak()[0].where == "log record from tests.phi.quiet"


def test_the_guard_sees_a_name_inside_an_exception_traceback(deliberate_leak):
    try:
        raise ValueError(f"bad data for {make_patient().hospital_number}")
    except ValueError:
        logging.getLogger("django.request").exception("Internal Server Error: /cases/1/")
    assert "SNTL" in deliberate_leak()[0].excerpt


def test_the_guard_sees_a_name_in_any_part_of_an_email(deliberate_leak):
    message = mail.EmailMultiAlternatives(
        "Reminder: re-imaging due for TB000001",
        "Nothing identifying here.",
        to=["clinician@hospital.invalid"],
    )
    message.attach_alternative("<p>Patient Zebedee</p>", "text/html")
    message.send()
    assert deliberate_leak()[0].where.startswith("email 'Reminder")


def test_the_hook_checks_text_from_elsewhere(deliberate_leak):
    phi_guard.check_message("Subject: x\n\nSentinelworth is due", "smtp sink")
    phi_guard.check_message("Subject: x\n\nTB000012 is due", "smtp sink")
    assert [leak.where for leak in deliberate_leak()] == ["smtp sink"]


def test_the_guard_ignores_what_is_not_patient_data():
    assert phi_guard.find("Case TB000123, reassessment due 02 Mar 2026") is None
    assert phi_guard.find("Internal Server Error: /audit/cases/42/") is None


def _console_output(record: logging.LogRecord) -> str:
    """What the configured console handler would write for ``record``."""
    handler = logging.getHandlerByName("console")
    assert handler is not None
    stream = io.StringIO()
    copy = logging.StreamHandler(stream)
    copy.setFormatter(handler.formatter)
    for log_filter in handler.filters:
        copy.addFilter(log_filter)
    copy.handle(record)
    return stream.getvalue()


def test_database_errors_are_logged_without_the_values_they_quote():
    patient = make_patient()
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        make_patient(hospital_number=patient.hospital_number)
    assert patient.hospital_number in str(raised.value)  # PostgreSQL quotes the value
    record = logging.LogRecord(
        "django.request",
        logging.ERROR,
        __file__,
        1,
        "Internal Server Error: %s",
        ("/cases/new/",),
        (raised.type, raised.value, raised.tb),
    )
    output = _console_output(record)
    assert "Internal Server Error: /cases/new/" in output
    assert "IntegrityError" in output
    assert "Key (hospital_number)=([redacted])" in output
    assert phi_guard.find(output) is None


def test_a_failing_row_is_logged_without_its_columns():
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        make_patient(nhs_number="12")
    assert "Sentinelworth" in str(raised.value)  # PostgreSQL lists the whole row
    record = logging.LogRecord(
        "cases", logging.WARNING, __file__, 1, "Could not save: %s", (str(raised.value),), None
    )
    output = _console_output(record)
    assert "Failing row contains ([redacted])" in output
    assert phi_guard.find(output) is None


def test_error_emails_are_off():
    """Django's mail_admins handler would email request data: the logging config removes it."""
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django").propagate
