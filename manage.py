#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import gc
import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    try:
        execute_from_command_line(sys.argv)
    finally:
        # The process ends here. Left to itself, Python's shutdown goes over the whole heap with the
        # garbage collector as it tears the modules down: 0.2-0.3 s after a board's import or its
        # flow_metrics (measured). Frozen, the heap is not gone over; objects are still freed.
        gc.freeze()


if __name__ == "__main__":
    main()
