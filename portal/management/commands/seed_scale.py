"""Fill the database with an organisation at the scale DESIGN.md says the portal is built for.

    python manage.py seed_scale --items 500000 --reset

The work happens in `portal.scale`; this command parses options, guards production and reports.
"""

import datetime as dt
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.bulkfill.indexes import restore_indexes
from portal.scale import SLUG_PREFIX, ScaleSpec, scale_data_create, scale_data_delete, scale_data_exists
from streams.flow.rollups import rollups_refresh
from streams.models import ValueStream


def _date(value: str) -> dt.datetime:
    try:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
    except ValueError as exc:
        raise CommandError(f"--as-of {value!r} is not a date: write it as YYYY-MM-DD.") from exc


class Command(BaseCommand):
    help = (
        "Generate value streams, teams, people and backlog items with their state history at scale "
        "(defaults: the DESIGN.md scale). Generated rows are marked (slugs 'scale-', item source "
        "'scale', e-mails '@scale.example') and --reset removes them, and only them, first."
    )

    def add_arguments(self, parser):
        defaults = ScaleSpec()
        parser.add_argument("--items", type=int, default=defaults.items, help="Backlog items (default %(default)s).")
        parser.add_argument("--streams", type=int, default=defaults.streams, help="Value streams (%(default)s).")
        parser.add_argument("--teams", type=int, default=defaults.teams, help="Teams (%(default)s).")
        parser.add_argument("--people", type=int, default=defaults.people, help="People (%(default)s).")
        parser.add_argument("--seed", type=int, default=defaults.seed, help="Random seed (%(default)s).")
        parser.add_argument(
            "--as-of",
            type=_date,
            default=None,
            help="Date the history runs up to, YYYY-MM-DD (default: today, UTC).",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=defaults.chunk_size,
            help="Items generated and committed together (%(default)s); bounds memory.",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Connections writing at once (default: one per CPU on PostgreSQL, at most 4; 1 elsewhere).",
        )
        parser.add_argument("--reset", action="store_true", help="Delete previously generated scale data first.")
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError("DEBUG is off: this looks like production. Pass --force to generate scale data anyway.")
        try:
            spec = ScaleSpec(
                items=options["items"],
                streams=options["streams"],
                teams=options["teams"],
                people=options["people"],
                seed=options["seed"],
                as_of=options["as_of"],
                chunk_size=max(1, options["chunk_size"]),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        log = self.stdout.write if options["verbosity"] >= 2 else (lambda message: None)
        began = time.monotonic()
        made = restore_indexes(log=log)
        if made:
            self.stdout.write(
                f"Made again {made} indexes and foreign keys that an interrupted run had dropped "
                f"({time.monotonic() - began:.1f}s)."
            )

        if options["reset"]:
            deleted = scale_data_delete(log=log)
            total = sum(deleted.values())
            self.stdout.write(f"Deleted {total:,} generated rows in {time.monotonic() - began:.1f}s.")
        elif scale_data_exists():
            raise CommandError("Scale data already exists; pass --reset to replace it.")

        started = time.monotonic()
        self.stdout.write(
            f"Generating {spec.items:,} items in {spec.streams:,} streams, {spec.teams:,} teams and "
            f"{spec.people:,} people, history up to {spec.as_of:%Y-%m-%d} (seed {spec.seed})..."
        )
        report = scale_data_create(
            spec, log=self.stdout.write if options["verbosity"] >= 1 else log, workers=options["workers"]
        )
        elapsed = time.monotonic() - started
        width = max(len(label) for label in report.counts)
        for label, count in sorted(report.counts.items()):
            self.stdout.write(f"  {label:<{width}}  {count:>12,}")
        phases = ", ".join(f"{phase} {seconds:.1f}s" for phase, seconds in report.timings.items() if seconds >= 0.05)
        self.stdout.write(f"  ({phases}; generate and write are summed over {report.workers} worker(s))")
        items = report.counts.get("streams.BacklogItem", 0)
        transitions = report.counts.get("streams.StateTransition", 0)
        per_item = f" ({transitions / items:.2f} transitions per item)" if items else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {items:,} items and {transitions:,} transitions{per_item} in {elapsed:.1f}s "
                f"({time.monotonic() - began:.1f}s in all)."
            )
        )
        rolled = time.monotonic()
        days = rollups_refresh(stream_ids=ValueStream.objects.filter(slug__startswith=SLUG_PREFIX).values("pk"))
        self.stdout.write(f"Stored {days:,} days of daily flow rollups in {time.monotonic() - rolled:.1f}s.")
