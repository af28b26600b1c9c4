"""`manage.py flow_snapshots`: record (or re-record) weekly flow snapshots, e.g. to backfill trends."""

from django.core.management.base import BaseCommand, CommandError

from streams.flow.snapshots import flow_snapshots_backfill
from streams.models import ValueStream


class Command(BaseCommand):
    help = "Record the weekly flow snapshots of the last N complete weeks (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--weeks", type=int, default=12, help="How many past weeks (default 12).")
        parser.add_argument("--stream", metavar="SLUG", help="Only this stream (default: every active stream).")

    def handle(self, *args, weeks: int, stream: str | None, **options):
        if not 1 <= weeks <= 520:
            raise CommandError("--weeks must be between 1 and 520.")
        streams = None
        if stream:
            streams = list(ValueStream.objects.filter(slug=stream))
            if not streams:
                raise CommandError(f"No value stream has the slug {stream!r}.")
        count = flow_snapshots_backfill(weeks=weeks, streams=streams)
        self.stdout.write(self.style.SUCCESS(f"Recorded {count} weekly snapshots."))
