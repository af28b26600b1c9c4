"""Background jobs of experiments: baselines and verdicts when their dates come."""

import datetime as dt

from celery import shared_task

from streams.experiments.services import experiments_review


@shared_task(name="streams.review_experiments")
def review_experiments(today: str | None = None) -> dict[str, int]:
    """Record the baselines of experiments that have started and the verdicts of those whose
    review date has come (streams.experiments.services). Run daily by beat; a second run the same day
    changes nothing (decided experiments and recorded baselines are left alone)."""
    return experiments_review(today=dt.date.fromisoformat(today) if today else None)
