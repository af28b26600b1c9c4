"""`manage.py sync_connections [ID ...]`: sync live connections now, in this process.

Without ids, every active connection (what beat queues every CONNECTOR_SYNC_MINUTES); with
ids, those. Useful without Celery (the embedded default) and to watch a backfill. Exits with
status 1 when a run did not succeed.
"""

from django.core.management.base import BaseCommand, CommandError

from streams.integrations.connectors.sync import connection_sync, connections_due
from streams.models import SyncRun


class Command(BaseCommand):
    help = "Sync live connections now (all active ones, or those named by id)."

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int, help="Connection ids (default: every active connection).")

    def handle(self, *args, ids: list[int], **options):
        failed = 0
        for connection_id in ids or connections_due():
            run = connection_sync(connection_id)
            if run is None:
                self.stdout.write(f"connection {connection_id}: not active, or a sync of it is under way; skipped.")
                continue
            run.refresh_from_db()
            self.stdout.write(
                f"connection {connection_id}: {run.get_kind_display().lower()} {run.status}: read {run.read:,}, "
                f"items {run.items_new:,} new, {run.items_changed:,} changed, {run.items_held:,} held back; "
                f"{run.moves_written:,} moves written; {run.requests:,} requests, {run.rate_limit_waits} waits."
                + (f"\n  {run.error}" if run.error else "")
            )
            failed += run.status != SyncRun.Status.SUCCEEDED
        if failed:
            raise CommandError(f"{failed} sync(s) did not succeed.")
