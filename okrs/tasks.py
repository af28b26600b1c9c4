"""The OKR app's background job (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from okrs.measures import key_results_measure


@shared_task(name="okrs.measure_key_results")
def measure_key_results() -> dict:
    """Today's reading of every measured key result, recorded where it changed (idempotent)."""
    return key_results_measure()
