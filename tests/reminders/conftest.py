"""Print the reminder fault figures (written by test_tasks_reminders.py) after the run."""

from __future__ import annotations

from tests.reminders import test_tasks_reminders as faults


def pytest_terminal_summary(terminalreporter):
    if not faults.FIGURES:
        return
    terminalreporter.write_sep(
        "-", "reminder fault figures (also in var/reminder-fault-figures.md)"
    )
    for line in faults.figure_lines():
        terminalreporter.write_line(line)
