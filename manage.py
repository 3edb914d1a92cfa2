#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesproject.settings")
    from django.core.management import execute_from_command_line

    from core.ops.database import JOBS, WEB, set_process_kind

    # runserver answers requests (the web statement timeout); every other command is a job.
    set_process_kind(WEB if sys.argv[1:2] == ["runserver"] else JOBS)

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
