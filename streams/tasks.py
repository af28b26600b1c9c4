"""Background jobs for streams. Tasks take ids, load rows and call a service; each is idempotent."""

import datetime as dt

from celery import shared_task

from streams.backlog.services import stream_refresh_flow_dates
from streams.experiments.services import experiments_review
from streams.flow.rollups import rollups_refresh
from streams.flow.snapshots import flow_snapshot_record, last_complete_week
from streams.integrations.hooks import webhook_deliveries_prune
from streams.integrations.jobs import import_job_run, import_jobs_resend

from .models import ValueStream


@shared_task(name="streams.refresh_flow_dates")
def refresh_flow_dates(stream_id: int) -> int:
    """Re-derive started/finished of a stream's items from their history; returns items checked.

    Safe to run any number of times: the result depends on the history alone.
    """
    return stream_refresh_flow_dates(stream_id=stream_id)


@shared_task(name="streams.record_flow_snapshots")
def record_flow_snapshots(week_start: str | None = None) -> int:
    """Record every active stream's snapshot of a week (default: the last complete one).

    Run weekly by beat; running it again for the same week replaces the same rows.
    """
    week = dt.date.fromisoformat(week_start) if week_start else last_complete_week()
    streams = ValueStream.objects.filter(status=ValueStream.Status.ACTIVE).only("pk", "name", "slug")
    for stream in streams:
        flow_snapshot_record(stream=stream, week_start=week)
    return len(streams)


@shared_task(name="streams.refresh_flow_rollups")
def refresh_flow_rollups(stream_ids: list[int] | None = None) -> int:
    """Store every stream's complete days that are missing or were invalidated; returns the
    days written. Run by beat every few minutes: when nothing changed it costs one query, and
    after midnight it adds yesterday. Safe to run concurrently and repeatedly."""
    return rollups_refresh(stream_ids=stream_ids)


@shared_task(name="streams.run_import", acks_late=True, reject_on_worker_lost=True)
def run_import(job_id: int) -> str:
    """Scan or run an import job (see streams.integrations.jobs); returns the job's status.

    Delivered again if its worker dies (acks_late, reject_on_worker_lost): the import is all
    or nothing, so the new delivery starts over; a finished job is left alone."""
    return import_job_run(job_id=job_id).status


@shared_task(name="streams.review_experiments")
def review_experiments(today: str | None = None) -> dict[str, int]:
    """Record the baselines of experiments that have started and the verdicts of those whose
    review date has come (streams.experiments.services). Run daily by beat; a second run the same day
    changes nothing (decided experiments and recorded baselines are left alone)."""
    return experiments_review(today=dt.date.fromisoformat(today) if today else None)


@shared_task(name="streams.resend_waiting_jobs")
def resend_waiting_jobs() -> int:
    """Send again the import jobs whose message never reached the job queue (it was down when
    they were queued) or was lost with it. Run by beat every minute; costs one query when none."""
    return import_jobs_resend()


@shared_task(name="streams.prune_webhook_deliveries")
def prune_webhook_deliveries() -> int:
    """Forget the webhook deliveries received over a month ago (streams.integrations.hooks). Run daily by beat."""
    return webhook_deliveries_prune()
