"""`manage.py seed_demo`: a believable demo organisation to try the portal with.

Runs in one transaction: it either writes the whole organisation or nothing. Running it
again changes nothing; `--reset` deletes the demo rows (and only those) and rebuilds them.
What is built and guaranteed is described in `portal.demo.builder`.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.demo.builder import DemoResult, demo_delete, demo_exists, demo_seed
from portal.demo.catalogue import LOGINS, STREAMS
from streams.experiments.services import experiments_review
from streams.flow.rollups import rollups_refresh
from streams.flow.snapshots import flow_snapshots_backfill
from streams.models import ValueStream

DEMO_STREAM_SLUGS = [spec.slug for spec in STREAMS]

LOGIN_URL = "http://127.0.0.1:8000/"


class Command(BaseCommand):
    help = (
        "Build the demo organisation (value streams, teams, people, OKRs, 1,500 backlog items with six "
        "months of history) and print the logins it created. Deterministic for a given day."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Delete the demo rows first, then rebuild them.")
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (it creates logins with a known password)."
        )

    def handle(self, *args, reset: bool = False, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates logins with a known password, so it refuses to run with DEBUG off. "
                "Use --force if this really is a demo installation."
            )
        started = time.monotonic()
        with transaction.atomic():
            if demo_exists():
                if not reset:
                    self.stdout.write(
                        "The demo data is already there; nothing was changed. Run with --reset to rebuild it."
                    )
                    self._print_logins([(login.username, settings.DEMO_PASSWORD, login.note) for login in LOGINS])
                    return
                self.stdout.write(f"Deleted {demo_delete()} demo rows.")
            result = demo_seed()
            # Twelve weeks of weekly flow snapshots, so trend lines have data from the start.
            flow_snapshots_backfill(weeks=12, streams=ValueStream.objects.filter(slug__in=DEMO_STREAM_SLUGS))
            # Daily flow rollups up to yesterday, so the portfolio reads them from the start.
            rollups_refresh()
            # Baselines of the experiments that have started, verdicts of those past review.
            experiments_review()
        self._report(result, time.monotonic() - started)

    def _report(self, result: DemoResult, seconds: float) -> None:
        self.stdout.write(self.style.SUCCESS(f"Demo organisation built in {seconds:.1f} s. Rows created:"))
        # Zero rows happen for shared vocabulary (disciplines) that an earlier run or migration made.
        created = {str(model._meta.verbose_name_plural): count for model, count in result.counts.items() if count}
        width = max(map(len, created))
        for name, count in created.items():
            self.stdout.write(f"  {name:<{width}}  {count:>6,}")
        self._print_logins(result.logins)
        for username in result.skipped_logins:
            self.stdout.write(self.style.WARNING(f"A user named {username!r} already existed and was left as it was."))

    def _print_logins(self, logins: list[tuple[str, str, str]]) -> None:
        if logins:
            self.stdout.write(f"\nLog in at {LOGIN_URL} (after `manage.py runserver`):")
            for username, password, note in logins:
                self.stdout.write(f"  username {username:<11} password {password:<14} {note}")
