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
from django.db.models import Count, Q
from django.db.models.functions import Lower, TruncDate

from core.freshness import DELIVERY, fresh_cached, ids_key
from core.sql import Dialect
from streams.models import BacklogItem, Deployment, DeploymentItem, Incident, WorkflowState

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


def delivery_keys(
    stream_ids: list[int], start: dt.datetime, end: dt.datetime, *, with_pooled: bool = False
) -> dict[int, DeliveryKeys]:
    """The four keys of each stream over [start, end): three queries, whatever the volume.

    `with_pooled` adds the streams taken together under the key `POOLED` (a portfolio: medians
    over all their items and incidents, not a median of medians). On PostgreSQL the same three
    queries give both (GROUPING SETS); elsewhere three more queries do."""
    sql = Dialect(connection)
    if with_pooled and not sql.postgres:
        return _keys(stream_ids, start, end, per_stream=True) | _keys(stream_ids, start, end, pooled=True)
    return _keys(stream_ids, start, end, per_stream=True, pooled=with_pooled)


def pooled_delivery_keys(stream_ids: list[int], start: dt.datetime, end: dt.datetime) -> DeliveryKeys:
    """The four keys of the streams taken together (a portfolio). Three queries."""
    return _keys(stream_ids, start, end, pooled=True)[POOLED]


POOLED = 0  # the key of the pooled figures: no stream has id 0


def _keys(
    stream_ids: list[int], start: dt.datetime, end: dt.datetime, *, per_stream: bool = False, pooled: bool = False
) -> dict[int, DeliveryKeys]:
    """The keys computed, or cached until a write that can change them (`core.freshness.
    DELIVERY`: deployments, incidents, an item's start), for windows of whole days: the
    portfolio's and the stream page's usual ones, which an ordinary move leaves unchanged."""
    if start != _midnight(start) or end != _midnight(end):
        return _computed_keys(stream_ids, start, end, per_stream=per_stream, pooled=pooled)
    return fresh_cached(
        f"delivery:{ids_key(stream_ids)}:{start.isoformat()}:{end.isoformat()}:{per_stream}:{pooled}",
        lambda: _computed_keys(stream_ids, start, end, per_stream=per_stream, pooled=pooled),
        generation=DELIVERY,
    )


def _midnight(moment: dt.datetime) -> dt.datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _computed_keys(
    stream_ids: list[int], start: dt.datetime, end: dt.datetime, *, per_stream: bool = False, pooled: bool = False
) -> dict[int, DeliveryKeys]:
    days = (end - start).total_seconds() / 86400
    keys = {pk: DeliveryKeys(days=days) for pk in stream_ids} if per_stream else {}
    if pooled:
        keys[POOLED] = DeliveryKeys(days=days)
    if not stream_ids:
        return {pk: k.judge() for pk, k in keys.items()}
    sql = Dialect(connection)
    ids = ", ".join(str(int(pk)) for pk in stream_ids)
    deployments, shipped, incidents = (
        Deployment._meta.db_table,
        DeploymentItem._meta.db_table,
        Incident._meta.db_table,
    )
    items = BacklogItem._meta.db_table
    envs = ", ".join(f"'{name}'" for name in PRODUCTION_ENVIRONMENTS)
    ws, we = sql.timestamp(start), sql.timestamp(end)
    production = (
        f"d.stream_id IN ({ids}) AND LOWER(d.environment) IN ({envs}) AND d.status IN ('success', 'failure') "
        f"AND d.finished_at >= {ws} AND d.finished_at < {we}"
    )
    day = "CAST(d.finished_at AT TIME ZONE 'UTC' AS date)" if sql.postgres else "DATE(d.finished_at)"

    def grouped(column: str) -> tuple[str, str]:
        """(the select expression, the GROUP BY clause): per stream, pooled (a NULL stream), or both."""
        if per_stream and pooled:
            return column, f"GROUP BY GROUPING SETS (({column}), ())"
        if per_stream:
            return column, f"GROUP BY {column}"
        return "NULL", ""  # one row for all; "GROUP BY 0" would name a column position

    def row_keys(stream_id) -> DeliveryKeys:
        return keys[POOLED if stream_id is None else stream_id]

    hours = "24.0 * {}"
    with connection.cursor() as cursor:
        column, group = grouped("d.stream_id")
        cursor.execute(
            f"""
            SELECT {column}, COUNT(*),
                   SUM(CASE WHEN d.status = 'success' THEN 1 ELSE 0 END),
                   COUNT(DISTINCT CASE WHEN d.status = 'success' THEN {day} END),
                   SUM(CASE WHEN d.status = 'failure'
                                 OR EXISTS (SELECT 1 FROM {incidents} x WHERE x.caused_by_id = d.id)
                            THEN 1 ELSE 0 END)
            FROM {deployments} d WHERE {production}
            {group}
            """
        )
        for stream_id, n, ok, ok_days, failed in cursor.fetchall():
            k = row_keys(stream_id)
            k.deployments, k.successful, k.deployment_days, k.failed_changes = (
                int(n),
                int(ok or 0),
                int(ok_days or 0),
                int(failed or 0),
            )
        # Per item, its first shipment and first commit; the item's start is looked up only for
        # items whose pipeline sent no first commit (COALESCE stops at its first non-null
        # argument), once per item, in the grouping itself (outside it the lookup ran once for
        # the count and again for the percentiles): most shipped items never touch the items table. Grouped by
        # the item alone (its deployments are of its own stream, which every door checks):
        # PostgreSQL hashes one column where it sorted two, 60 ms instead of 270 at 65,000 items.
        # Items with neither a first commit nor a start have no lead time: the percentiles
        # ignore NULLs, and COUNT(began_at) does not count them.
        lead = hours.format(sql.days("s.shipped_at", "s.began_at"))
        column, group = grouped("s.stream_id")
        cursor.execute(
            f"""
            SELECT {column}, COUNT(s.began_at), {sql.percentiles(lead, (0.5, 0.85))}
            FROM (
                SELECT MIN(d.stream_id) AS stream_id, MIN(d.finished_at) AS shipped_at,
                       COALESCE(MIN(di.first_commit_at),
                                (SELECT i.started_at FROM {items} i WHERE i.id = di.item_id)) AS began_at
                FROM {deployments} d
                JOIN {shipped} di ON di.deployment_id = d.id
                WHERE {production} AND d.status = 'success'
                GROUP BY di.item_id
            ) s
            {group}
            """
        )
        for row in cursor.fetchall():
            stream_id, n = row[:2]
            p50, p85 = sql.percentile_values(row, 2, 2)
            k = row_keys(stream_id)
            k.lead_time_n = int(n)
            k.lead_time_p50 = None if p50 is None else max(float(p50), 0.0)
            k.lead_time_p85 = None if p85 is None else max(float(p85), 0.0)
        restore = hours.format(sql.days("x.resolved_at", "x.opened_at"))
        resolved_in_window = f"x.resolved_at >= {ws} AND x.resolved_at < {we}"
        column, group = grouped("x.stream_id")
        cursor.execute(
            f"""
            SELECT {column},
                   SUM(CASE WHEN {resolved_in_window} THEN 1 ELSE 0 END),
                   {sql.percentile(f"CASE WHEN {resolved_in_window} THEN {restore} END", 0.5)},
                   SUM(CASE WHEN x.resolved_at IS NULL AND x.opened_at < {we} THEN 1 ELSE 0 END)
            FROM {incidents} x
            WHERE x.stream_id IN ({ids}) AND (x.resolved_at IS NULL OR ({resolved_in_window}))
            {group}
            """
        )
        for stream_id, n, p50, still_open in cursor.fetchall():
            k = row_keys(stream_id)
            k.restored_n, k.open_incidents = int(n or 0), int(still_open or 0)
            k.restore_p50 = None if p50 is None else float(p50)
    return {pk: k.judge() for pk, k in keys.items()}


# --- Presenting the keys --------------------------------------------------------------------------

KEY_TEXTS = {
    # key: (label, definition as the pages state it)
    "deployment_frequency": (
        "Deployment frequency",
        "Successful production deployments per week, and the days (UTC) with at least one of them per week.",
    ),
    "lead_time": (
        "Lead time for changes",
        "From an item's first commit (when the pipeline sent it) or else its start, to the first successful "
        "production deployment that shipped it. Median and 85th percentile.",
    ),
    "change_failure_rate": (
        "Change failure rate",
        "Production deployments that failed or that an incident is attributed to, over all production deployments.",
    ),
    "time_to_restore": (
        "Time to restore service",
        "Median of resolved − opened of the incidents resolved in the window (the 2023 report calls it failed "
        "deployment recovery time). Open incidents are counted beside it.",
    ),
}


def duration_text(hours: float | None) -> str:
    """Hours for people: minutes under an hour, hours under two days, then days."""
    if hours is None:
        return "—"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


@dataclass(frozen=True)
class KeyRow:
    key: str
    label: str
    value: str
    detail: str
    band: str | None
    definition: str
    bands: str


def key_rows(keys: DeliveryKeys) -> list[KeyRow]:
    """The four keys as the stream page and the portfolio show them: value, detail, level, definition."""
    rate = keys.change_failure_rate
    values = {
        "deployment_frequency": (
            f"{keys.per_week:.1f} / week" if keys.deployments else "—",
            f"{keys.successful} successful on {keys.deployment_days} days · {keys.days_per_week:.1f} deployment "
            "days a week"
            if keys.deployments
            else "no production deployment recorded",
        ),
        "lead_time": (
            duration_text(keys.lead_time_p50),
            f"p85 {duration_text(keys.lead_time_p85)} · n = {keys.lead_time_n} items"
            if keys.lead_time_n
            else "no shipped item with a start or first commit",
        ),
        "change_failure_rate": (
            "—" if rate is None else f"{rate:.0%}",
            f"{keys.failed_changes} of {keys.deployments} production deployments"
            if keys.deployments
            else "nothing to rate",
        ),
        "time_to_restore": (
            duration_text(keys.restore_p50),
            f"n = {keys.restored_n} resolved · {keys.open_incidents} open"
            if keys.restored_n or keys.open_incidents
            else "no incident resolved in the window",
        ),
    }
    return [
        KeyRow(key, KEY_TEXTS[key][0], *values[key], keys.bands.get(key), KEY_TEXTS[key][1], BAND_DESCRIPTIONS[key])
        for key in KEY_TEXTS
    ]


# --- The delivery timeline ------------------------------------------------------------------------

TIMELINE_ROWS = 100  # deployments and incidents listed under the chart, newest first


@dataclass
class TimelineDay:
    day: dt.date
    finished: int = 0  # items that entered done (removed items count nowhere)
    succeeded: int = 0  # production deployments that finished this day
    failed: int = 0
    elsewhere: int = 0  # deployments to other environments


@dataclass
class Timeline:
    start: dt.datetime
    end: dt.datetime
    days: list[TimelineDay]
    incidents: list  # overlapping the window, newest first, at most TIMELINE_ROWS
    incidents_total: int
    deployments: list  # running or finished in the window, newest first, at most TIMELINE_ROWS
    deployments_total: int


def delivery_timeline(stream, start: dt.datetime, end: dt.datetime) -> Timeline:
    """Deployments, incidents and finished items of a stream over [start, end), day by day (UTC),
    with the latest records for the table: six queries, whatever the volume."""
    first, last = start.astimezone(dt.UTC).date(), (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    days = {
        first + dt.timedelta(days=n): TimelineDay(first + dt.timedelta(days=n)) for n in range((last - first).days + 1)
    }
    utc_day = TruncDate("finished_at", tzinfo=dt.UTC)
    finished = (
        BacklogItem.objects.filter(stream=stream, finished_at__gte=start, finished_at__lt=end)
        .exclude(state__category=WorkflowState.Category.REMOVED)
        .annotate(day=utc_day)
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in finished:
        if row["day"] in days:
            days[row["day"]].finished = row["n"]
    deployed = (
        Deployment.objects.filter(stream=stream, finished_at__gte=start, finished_at__lt=end)
        .annotate(day=utc_day, env=Lower("environment"))
        .values("day", "status", "env")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in deployed:
        day = days.get(row["day"])
        if day is None:
            continue
        if row["env"] not in PRODUCTION_ENVIRONMENTS:
            day.elsewhere += row["n"]
        elif row["status"] == Deployment.Status.SUCCESS:
            day.succeeded += row["n"]
        else:
            day.failed += row["n"]
    overlapping = Q(resolved_at__isnull=True) | Q(resolved_at__gte=start)
    incidents = Incident.objects.filter(overlapping, stream=stream, opened_at__lt=end)
    running = Q(finished_at__isnull=True) | Q(finished_at__gte=start)
    deployments = Deployment.objects.filter(running, stream=stream, started_at__lt=end)
    return Timeline(
        start=start,
        end=end,
        days=list(days.values()),
        incidents=list(incidents.select_related("caused_by").order_by("-opened_at", "-pk")[:TIMELINE_ROWS]),
        incidents_total=incidents.count(),
        deployments=list(
            deployments.annotate(
                n_items=Count("shipped", distinct=True), n_incidents=Count("incidents", distinct=True)
            ).order_by("-started_at", "-pk")[:TIMELINE_ROWS]
        ),
        deployments_total=deployments.count(),
    )
