"""Background jobs of the backlog. Tasks take ids, load rows and call a service; each is idempotent."""

from celery import shared_task

from streams.backlog.services import stream_refresh_flow_dates


@shared_task(name="streams.refresh_flow_dates")
def refresh_flow_dates(stream_id: int) -> int:
    """Re-derive started/finished of a stream's items from their history; returns items checked.

    Safe to run any number of times: the result depends on the history alone.
    """
    return stream_refresh_flow_dates(stream_id=stream_id)
