#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tumourboard.settings")
    import pghistory
    from django.core.management import execute_from_command_line

    # Audit: every change a command makes (demo_data, shell, a data fix) is labelled with the
    # command's name, never its arguments (cases/services/audit.py).
    with pghistory.context(command=sys.argv[1] if len(sys.argv) > 1 else "manage.py"):
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
