"""Delivery performance: the four keys of DORA per stream, beside flow.

Definitions (the stream page and the portfolio state them too), over a window [start, end):

- A *production deployment* is a deployment to an environment named production, prod or live
  (any case) that has finished (succeeded or failed). Deployments still in progress, and to
  other environments, count nowhere.
- **Deployment frequency**: successful production deployments per week, and the days with at
  least one of them (UTC) per week, over the window's weeks.
- **Lead time for changes**: for each item shipped by a successful production deployment that
  finished in the window, from the item's first commit (when the pipeline sent it) or else its
  start, to the first such deployment that shipped it; median and 85th percentile, in hours.
  Items with neither a first commit nor a start are left out.
- **Change failure rate**: production deployments that failed, or that an incident is
  attributed to (`Incident.caused_by`), over all production deployments, finished in the window.
- **Time to restore service**: median of resolved − opened of the incidents resolved in the
  window, in hours; incidents still open are counted beside it.

Bands: the performance levels of the 2023 Accelerate State of DevOps Report (DORA), `BANDS`.
Every figure comes from the database, in three grouped queries for any number of streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt

from django.db import connection

from .models import Deployment, DeploymentItem, Incident
from .sql import Dialect

PRODUCTION_ENVIRONMENTS = ("production", "prod", "live")
BANDS_YEAR = 2023
ELITE, HIGH, MEDIUM, LOW = "elite", "high", "medium", "low"
# Per key, (level, limit) from best to worst: the first level whose limit the value meets.
BANDS = {
    # successful production deployments per week: on demand (daily or more), weekly, monthly
    "deployment_frequency": [(ELITE, 7.0), (HIGH, 1.0), (MEDIUM, 12 / 52)],
    # median lead time in hours: under a day, a week, a month
    "lead_time": [(ELITE, 24.0), (HIGH, 24.0 * 7), (MEDIUM, 24.0 * 30)],
    # share of production deployments: 5%, 10%, 15%
    "change_failure_rate": [(ELITE, 0.05), (HIGH, 0.10), (MEDIUM, 0.15)],
    # median time to restore in hours: under an hour, a day, a week
    "time_to_restore": [(ELITE, 1.0), (HIGH, 24.0), (MEDIUM, 24.0 * 7)],
}
BAND_DESCRIPTIONS = {
    "deployment_frequency": "elite: on demand (7 or more a week); high: weekly or more; medium: monthly or more",
    "lead_time": "elite: under a day; high: under a week; medium: under a month",
    "change_failure_rate": "elite: 5% or less; high: 10% or less; medium: 15% or less",
    "time_to_restore": "elite: under an hour; high: under a day; medium: under a week",
}


def _meets(key: str, value: float, limit: float) -> bool:
    if key == "deployment_frequency":
        return value >= limit  # at least so often
    if key == "change_failure_rate":
        return value <= limit  # at most this share
    return value < limit  # durations: under the limit


def band(key: str, value: float | None) -> str | None:
    """The DORA level of a value of a key (None when there is no value to judge)."""
    if value is None:
        return None
    return next((level for level, limit in BANDS[key] if _meets(key, value, limit)), LOW)


@dataclass
class DeliveryKeys:
    """The four keys of one stream (or the sum of several) over a window of `days`."""

    days: float
    deployments: int = 0  # production deployments finished in the window, succeeded or failed
    successful: int = 0
    deployment_days: int = 0  # distinct UTC days with a successful production deployment
    failed_changes: int = 0  # failed, or caused an incident
    lead_time_n: int = 0
    lead_time_p50: float | None = None  # hours
    lead_time_p85: float | None = None
    restored_n: int = 0
    restore_p50: float | None = None  # hours
    open_incidents: int = 0
    bands: dict[str, str | None] = field(default_factory=dict)

    @property
    def weeks(self) -> float:
        return self.days / 7

    @property
    def per_week(self) -> float:
        return self.successful / self.weeks if self.weeks else 0.0

    @property
    def days_per_week(self) -> float:
        return self.deployment_days / self.weeks if self.weeks else 0.0

    @property
    def change_failure_rate(self) -> float | None:
        return self.failed_changes / self.deployments if self.deployments else None

    def judge(self) -> DeliveryKeys:
        self.bands = {
            # No production deployment recorded at all says more about the records than the
            # stream: no level rather than "low".
            "deployment_frequency": band("deployment_frequency", self.per_week) if self.deployments else None,
            "lead_time": band("lead_time", self.lead_time_p50),
            "change_failure_rate": band("change_failure_rate", self.change_failure_rate),
            "time_to_restore": band("time_to_restore", self.restore_p50),
        }
        return self


def delivery_keys(stream_ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, DeliveryKeys]:
    """The four keys of each stream over [start, end): three queries, whatever the volume."""
    days = (end - start).total_seconds() / 86400
    keys = {pk: DeliveryKeys(days=days) for pk in stream_ids}
    if not stream_ids:
        return keys
    sql = Dialect(connection)
    ids = ", ".join(str(int(pk)) for pk in stream_ids)
    deployments, shipped, incidents = (
        Deployment._meta.db_table,
        DeploymentItem._meta.db_table,
        Incident._meta.db_table,
    )
    envs = ", ".join(f"'{name}'" for name in PRODUCTION_ENVIRONMENTS)
    ws, we = sql.timestamp(start), sql.timestamp(end)
    production = (
        f"d.stream_id IN ({ids}) AND LOWER(d.environment) IN ({envs}) AND d.status IN ('success', 'failure') "
        f"AND d.finished_at >= {ws} AND d.finished_at < {we}"
    )
    day = "CAST(d.finished_at AT TIME ZONE 'UTC' AS date)" if sql.postgres else "DATE(d.finished_at)"
    hours = "24.0 * {}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT d.stream_id, COUNT(*),
                   SUM(CASE WHEN d.status = 'success' THEN 1 ELSE 0 END),
                   COUNT(DISTINCT CASE WHEN d.status = 'success' THEN {day} END),
                   SUM(CASE WHEN d.status = 'failure'
                                 OR EXISTS (SELECT 1 FROM {incidents} x WHERE x.caused_by_id = d.id)
                            THEN 1 ELSE 0 END)
            FROM {deployments} d WHERE {production}
            GROUP BY d.stream_id
            """
        )
        for stream_id, n, ok, ok_days, failed in cursor.fetchall():
            k = keys[stream_id]
            k.deployments, k.successful, k.deployment_days, k.failed_changes = (
                int(n),
                int(ok or 0),
                int(ok_days or 0),
                int(failed or 0),
            )
        lead = hours.format(sql.days("s.shipped_at", "s.began_at"))
        cursor.execute(
            f"""
            SELECT s.stream_id, COUNT(*), {sql.percentile(lead, 0.5)}, {sql.percentile(lead, 0.85)}
            FROM (
                SELECT d.stream_id, di.item_id, MIN(d.finished_at) AS shipped_at,
                       MIN(COALESCE(di.first_commit_at, i.started_at)) AS began_at
                FROM {deployments} d
                JOIN {shipped} di ON di.deployment_id = d.id
                JOIN streams_backlogitem i ON i.id = di.item_id
                WHERE {production} AND d.status = 'success'
                  AND COALESCE(di.first_commit_at, i.started_at) IS NOT NULL
                GROUP BY d.stream_id, di.item_id
            ) s
            GROUP BY s.stream_id
            """
        )
        for stream_id, n, p50, p85 in cursor.fetchall():
            k = keys[stream_id]
            k.lead_time_n = int(n)
            k.lead_time_p50 = None if p50 is None else max(float(p50), 0.0)
            k.lead_time_p85 = None if p85 is None else max(float(p85), 0.0)
        restore = hours.format(sql.days("x.resolved_at", "x.opened_at"))
        resolved_in_window = f"x.resolved_at >= {ws} AND x.resolved_at < {we}"
        cursor.execute(
            f"""
            SELECT x.stream_id,
                   SUM(CASE WHEN {resolved_in_window} THEN 1 ELSE 0 END),
                   {sql.percentile(f"CASE WHEN {resolved_in_window} THEN {restore} END", 0.5)},
                   SUM(CASE WHEN x.resolved_at IS NULL AND x.opened_at < {we} THEN 1 ELSE 0 END)
            FROM {incidents} x
            WHERE x.stream_id IN ({ids}) AND (x.resolved_at IS NULL OR ({resolved_in_window}))
            GROUP BY x.stream_id
            """
        )
        for stream_id, n, p50, still_open in cursor.fetchall():
            k = keys[stream_id]
            k.restored_n, k.open_incidents = int(n or 0), int(still_open or 0)
            k.restore_p50 = None if p50 is None else float(p50)
    return {pk: k.judge() for pk, k in keys.items()}
