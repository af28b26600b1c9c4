"""Reads of improvement experiments: the latest of each with its verdict, and the list the API serves."""

from __future__ import annotations

from django.db.models import F, QuerySet

from streams.models import ImprovementExperiment


def experiments_latest(*, stream_ids=None, limit: int | None = 10) -> list[dict]:
    """Experiments still running (the next review first), then the decided ones (newest first),
    each with its result, for the lists on the portfolio, the stream page and the maps index."""
    experiments = ImprovementExperiment.objects.select_related("stream").order_by(
        F("decided_at").desc(nulls_first=True), "review_date", "-pk"
    )
    if stream_ids is not None:
        experiments = experiments.filter(stream_id__in=stream_ids)
    return [{"experiment": e, "result": e.result or {}} for e in experiments[:limit]]


def experiment_list() -> QuerySet[ImprovementExperiment]:
    return ImprovementExperiment.objects.all()
