"""Background jobs of the integrations: import jobs, resending those the queue lost, pruning
webhook deliveries, live connections' syncs. Each is idempotent."""

from celery import shared_task

from core.queue import send
from streams.integrations.connectors.sync import connection_sync, connections_due
from streams.integrations.hooks import webhook_deliveries_prune
from streams.integrations.jobs import import_job_run, import_jobs_resend


@shared_task(name="streams.run_import", acks_late=True, reject_on_worker_lost=True)
def run_import(job_id: int) -> str:
    """Scan or run an import job (see streams.integrations.jobs); returns the job's status.

    Delivered again if its worker dies (acks_late, reject_on_worker_lost): the import is all
    or nothing, so the new delivery starts over; a finished job is left alone."""
    return import_job_run(job_id=job_id).status


@shared_task(name="streams.resend_waiting_jobs")
def resend_waiting_jobs() -> int:
    """Send again the import jobs whose message never reached the job queue (it was down when
    they were queued) or was lost with it. Run by beat every minute; costs one query when none."""
    return import_jobs_resend()


@shared_task(name="streams.prune_webhook_deliveries")
def prune_webhook_deliveries() -> int:
    """Forget the webhook deliveries received over a month ago (streams.integrations.hooks). Run daily by beat."""
    return webhook_deliveries_prune()


@shared_task(name="streams.sync_connection", acks_late=True, reject_on_worker_lost=True)
def sync_connection(connection_id: int) -> str:
    """One sync of a live connection (streams.integrations.connectors.sync). Never two at once
    for a connection: a second delivery while one runs does nothing. A worker killed mid-run
    loses only the batch it was writing; the next run carries on from the last commit."""
    run = connection_sync(connection_id)
    return run.status if run else "skipped"


@shared_task(name="streams.sync_connections")
def sync_connections() -> int:
    """Queue a sync of every active connection. Run by beat every CONNECTOR_SYNC_MINUTES."""
    due = connections_due()
    for connection_id in due:
        send("streams.sync_connection", connection_id)
    return len(due)
