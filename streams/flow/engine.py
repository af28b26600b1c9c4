"""The flow metrics engine: DESIGN.md's metric definitions, computed in the database.

One call, `flow_report(scope=..., window=...)`, reads the transition history of the scope's
items up to `window.as_of` once, with window functions, into temporary tables, and answers
every metric with a fixed number of small aggregate queries over them. The same code runs on
PostgreSQL and SQLite (`core.sql.Dialect` spells the few differences).

Definitions (all durations are calendar days with fractions, from the history):
- start: first entry into an active or waiting state; finish: the last entry into a done
  state, if the item is in a done state at `as_of`. An item that reaches done without being
  in progress starts at that finish (flow time 0), reopened or not; one never in progress and
  not done has no start (neither WIP nor aging). Items in a removed state at `as_of` count
  nowhere.
- flow time = finish − start; lead time = finish − created.
- active/waiting time: time inside [start, finish or as_of] in active/waiting states; time
  flagged blocked while in an active state counts as waiting (overlapping blocked periods are
  merged first, so no time counts twice). Reopens: moves out of a done state.
- flow load (WIP) at an instant: items started and not finished then.
- daily series are read at the end of each day of the window (the last one at its end)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
import datetime as dt
import math

from django.db import connection, transaction
from django.db.models import Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core.sql import Dialect
from streams.flow.periods import period_containing
from streams.models import BacklogItem, FlowType, LeadershipAssignment, TargetMix, ValueStream, WorkflowState
from teams.models import Team

# The one default window of every page, export and API answer: the last 12 weeks of complete
# UTC days (84 days ending at today's midnight), with the history read up to now. Complete days
# make two pages opened the same day agree, and let the daily rollups answer them.
DEFAULT_WEEKS = 12


PERCENTILES = (0.50, 0.85, 0.95)


LITTLE_GAP_WARNING = 0.25  # relative gap between measured and predicted WIP that is worth a look


EFFICIENCY_CHECK_ABOVE = 0.5


# Scopes of whole streams, whose aggregates the daily rollups can answer.
ROLLUP_SCOPES = ("stream", "portfolio", "director")


FLOW_TYPES = [code for code, _ in FlowType.choices]


CATEGORIES = ("backlog", "active", "waiting", "done")


@dataclass(frozen=True)
class Scope:
    """Whose work: a stream, a team, a product director's streams, or the whole portfolio."""

    kind: str  # "stream" | "team" | "director" | "portfolio" | "items"
    id: int | None = None
    label: str = "Portfolio"
    # For "items": SQL selecting the item ids measured, written by our code (e.g. the work
    # linked to a key result, in `okrs.selectors`); never text a user typed.
    items_sql: str = ""

    @classmethod
    def stream(cls, stream) -> Scope:
        return cls("stream", stream.pk, stream.name)

    @classmethod
    def team(cls, team) -> Scope:
        return cls("team", team.pk, team.name)

    @classmethod
    def director(cls, person) -> Scope:
        return cls("director", person.pk, f"Streams directed by {person.name}")

    @classmethod
    def portfolio(cls) -> Scope:
        return cls("portfolio")

    @classmethod
    def items(cls, label: str, items_sql: str, id: int | None = None) -> Scope:
        """Any set of items, selected by SQL our code wrote (one column of item ids)."""
        return cls("items", id, label, items_sql)

    def item_filter_sql(self, alias: str = "i") -> str:
        """SQL condition on backlog items (table alias `alias`); ids are integers, inlined. Items a
        live sync holds back for an unmapped name are out of every figure until it is mapped."""
        return f"{self._scope_sql(alias)} AND NOT {alias}.held_back"

    def _scope_sql(self, alias: str) -> str:
        if self.kind == "stream":
            return f"{alias}.stream_id = {int(self.id)}"
        if self.kind == "team":
            return f"{alias}.team_id = {int(self.id)}"
        if self.kind == "director":
            table = LeadershipAssignment._meta.db_table
            return (
                f"{alias}.stream_id IN (SELECT stream_id FROM {table} WHERE person_id = {int(self.id)} "
                "AND role = 'product_director' AND end_date IS NULL)"
            )
        if self.kind == "portfolio":
            return "1 = 1"
        if self.kind == "items":
            return f"{alias}.id IN ({self.items_sql})"
        raise ValueError(f"unknown scope {self.kind!r}")

    def stream_ids_query(self):
        """The streams the scope covers, as a queryset of ids."""
        streams = ValueStream.objects.all()
        if self.kind == "stream":
            streams = streams.filter(pk=self.id)
        elif self.kind == "team":
            streams = streams.filter(items__team_id=self.id).distinct()
        elif self.kind == "director":
            streams = streams.filter(
                leadership_assignments__person_id=self.id,
                leadership_assignments__role=LeadershipAssignment.Role.PRODUCT_DIRECTOR,
                leadership_assignments__end_date__isnull=True,
            )
        elif self.kind == "items":
            items = BacklogItem._meta.db_table
            streams = streams.filter(
                pk__in=RawSQL(f"SELECT i.stream_id FROM {items} i WHERE {self.item_filter_sql('i')}", [])
            )
        return streams.values("pk")


@dataclass(frozen=True)
class Window:
    """[start, end) of the period measured, and the instant the history is read up to."""

    start: dt.datetime
    end: dt.datetime
    as_of: dt.datetime

    @classmethod
    def build(
        cls, *, start: dt.date | None = None, end: dt.date | None = None, as_of: dt.datetime | None = None
    ) -> Window:
        """Whole UTC days from `start` to `end` inclusive; without either, the default window
        (`default_days`: the 12 weeks of complete days before `as_of`'s day); with `start`
        alone, up to `as_of`.

        The window never reaches past `as_of`: the future has no history yet.
        """
        as_of = as_of or timezone.now()
        if timezone.is_naive(as_of):
            raise ValueError("as_of must carry a time zone")
        if start is None and end is None:
            start, end = default_days(as_of)
        end = end or as_of.astimezone(dt.UTC).date()
        start = start or end - dt.timedelta(days=7 * DEFAULT_WEEKS - 1)
        if start > end:
            raise ValueError(f"the window starts ({start}) after it ends ({end})")
        begin = dt.datetime.combine(start, dt.time(), dt.UTC)
        finish = min(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC), as_of)
        if finish <= begin:
            raise ValueError(f"the window starts ({start}) after the history ends ({as_of:%Y-%m-%d %H:%M})")
        return cls(begin, finish, as_of)

    @property
    def days(self) -> int:
        """Number of days in the series (the last one may be partial)."""
        return math.ceil((self.end - self.start) / dt.timedelta(days=1))

    @property
    def weeks(self) -> int:
        return math.ceil(self.days / 7)

    def describe(self) -> str:
        last = self.end - dt.timedelta(microseconds=1)
        return (
            f"{self.start:%Y-%m-%d} to {last:%Y-%m-%d} ({self.days} days), "
            f"history as of {self.as_of:%Y-%m-%d %H:%M} UTC"
        )


def default_days(as_of: dt.datetime, weeks: int = DEFAULT_WEEKS) -> tuple[dt.date, dt.date]:
    """First and last day of the default window as of an instant: `weeks` weeks of complete
    UTC days, the last one being the day before `as_of`'s."""
    last = as_of.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    return last - dt.timedelta(days=7 * weeks - 1), last


@dataclass
class Distribution:
    """n and percentiles of a duration in days."""

    n: int = 0
    mean: float | None = None
    p50: float | None = None
    p85: float | None = None
    p95: float | None = None


@dataclass
class ItemFacts:
    """One item's flow facts. `flow_days` is set for finished items, `age_days` for WIP."""

    item_id: int
    key: str
    title: str
    flow_type: str
    stream_id: int
    team_id: int | None
    created_at: dt.datetime
    start: dt.datetime | None
    finish: dt.datetime | None
    category: str
    flow_days: float | None
    lead_days: float | None
    age_days: float | None
    active_days: float
    waiting_days: float
    blocked_days: float
    reopens: int
    pace: str | None = None  # WIP only: where its age falls among the finished items' flow times
    # Days in backlog states after the start (sent back, or reopened into the backlog): part
    # of the flow time, shown beside active and waiting time.
    returned_days: float = 0.0
    # Returned to the backlog (started, unfinished, in a backlog state now): since when.
    returned_since: dt.datetime | None = None


@dataclass
class FlowReport:
    scope: Scope
    window: Window
    # Finished in the window.
    throughput: int = 0
    throughput_by_type: dict[str, int] = field(default_factory=dict)
    weekly_throughput: list[dict] = field(default_factory=list)  # {week_start (Monday), partial, feature: n, ...}
    flow_time: Distribution = field(default_factory=Distribution)
    lead_time: Distribution = field(default_factory=Distribution)
    # Flow efficiency.
    efficiency: float | None = None
    efficiency_n: int = 0
    efficiency_measurable: bool = False
    efficiency_excluded_streams: list[str] = field(default_factory=list)
    efficiency_histogram: list[int] = field(default_factory=list)  # ten bins of 10 percentage points
    efficiency_zero: int = 0  # items with no flow time (finished as they started): a bucket of their own
    # Flow load: started, unfinished, in an active or waiting state. Started items sitting in
    # a backlog state again are returned to the backlog: counted and listed apart, not WIP.
    wip: int = 0
    returned: int = 0
    wip_by_type: dict[str, int] = field(default_factory=dict)
    wip_limit: int | None = None
    daily: list[dict] = field(default_factory=list)  # {day, wip, backlog, active, waiting, done[, states]}
    # A stream's states in workflow order ({id, name, category}); each day's `states` counts
    # the items in each (cumulative flow per state). Empty for scopes of many streams.
    cfd_states: list[dict] = field(default_factory=list)
    mean_wip: float | None = None
    # Distribution against the target mix of the quarter the window ends in.
    target_mix: dict[str, int] = field(default_factory=dict)
    target_period: str = ""
    # Share of finished items' flow time by state, largest first; the bottleneck is the largest
    # active or waiting state (a backlog or done state is not where work waits to be done), and
    # returned time (backlog states after the start) is reported beside it.
    bottleneck: list[dict] = field(default_factory=list)
    bottleneck_state: dict | None = None
    returned_share: float = 0.0
    # A stream's data-quality facts (`streams.flow.quality.with_data_quality`), when asked for.
    data_quality: object | None = None
    # Little's law.
    littles_predicted_wip: float | None = None
    littles_gap: float | None = None
    # Daily throughput of the window, for forecasts (days with none included).
    daily_throughput: list[int] = field(default_factory=list)
    finished: list[ItemFacts] = field(default_factory=list)
    in_progress: list[ItemFacts] = field(default_factory=list)
    returned_items: list[ItemFacts] = field(default_factory=list)  # longest returned first
    # "history": read from the transition history; "daily rollups": summed from the stored
    # days of `streams.flow.rollups` (same numbers, see there) plus today read live.
    method: str = "history"

    @property
    def distribution_finished(self) -> dict[str, float]:
        return _shares(self.throughput_by_type, self.throughput)

    @property
    def distribution_wip(self) -> dict[str, float]:
        return _shares(self.wip_by_type, self.wip)

    @property
    def efficiency_needs_check(self) -> bool:
        return self.efficiency is not None and self.efficiency > EFFICIENCY_CHECK_ABOVE

    @property
    def littles_warning(self) -> bool:
        return self.littles_gap is not None and abs(self.littles_gap) > LITTLE_GAP_WARNING

    @property
    def forecast_sample(self) -> list[int]:
        """Daily throughput of the window's complete days (a partial last day would bias it low)."""
        partial = (self.window.end - self.window.start) % dt.timedelta(days=1)
        return self.daily_throughput[:-1] if partial else self.daily_throughput

    @property
    def throughput_per_week(self) -> float:
        return self.throughput / ((self.window.end - self.window.start) / dt.timedelta(weeks=1))


ITEM_FIELDS = (
    "key",
    "title",
    "flow_type",
    "category",
    "created_at",
    "start",
    "finish",
    "flow_days",
    "lead_days",
    "age_days",
    "active_days",
    "waiting_days",
    "blocked_days",
    "returned_days",
    "reopens",
    "pace",
    "returned_since",
)


def item_row(facts: ItemFacts) -> dict:
    """One item's facts as plain values (ISO 8601 times, days rounded to 0.0001). CSV output
    goes through `core.csv`'s writers, which quote what a spreadsheet would run."""
    row = {}
    for name in ITEM_FIELDS:
        value = getattr(facts, name)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat()
        elif isinstance(value, float):
            value = round(value, 4)
        row[name] = value
    return row


def report_dict(report: FlowReport) -> dict:
    """The whole report as JSON-ready values: what the command prints and the API returns."""

    def dist(d: Distribution) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.__dict__.items()}

    def rounded(value):
        return None if value is None else round(value, 4)

    window = report.window
    return {
        "scope": {"kind": report.scope.kind, "id": report.scope.id, "label": report.scope.label},
        "method": report.method,
        "window": {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "as_of": window.as_of.isoformat(),
            "days": window.days,
        },
        "throughput": {
            "n": report.throughput,
            "per_week": rounded(report.throughput_per_week),
            "by_type": report.throughput_by_type,
            "weekly": [{**week, "week_start": week["week_start"].isoformat()} for week in report.weekly_throughput],
        },
        "flow_time_days": dist(report.flow_time),
        "lead_time_days": dist(report.lead_time),
        "efficiency": {
            "value": rounded(report.efficiency),
            "n": report.efficiency_n,
            "measurable": report.efficiency_measurable,
            "needs_check": report.efficiency_needs_check,
            "excluded_streams": report.efficiency_excluded_streams,
            "histogram": report.efficiency_histogram,
            "zero_flow_time": report.efficiency_zero,
        },
        "wip": {
            "n": report.wip,
            "returned": report.returned,
            "by_type": report.wip_by_type,
            "limit": report.wip_limit,
            "mean": rounded(report.mean_wip),
        },
        "distribution": {
            "finished": {k: rounded(v) for k, v in report.distribution_finished.items()},
            "wip": {k: rounded(v) for k, v in report.distribution_wip.items()},
            "target": report.target_mix,
            "target_period": report.target_period,
        },
        "bottleneck": [
            {**row, "days": round(row["days"], 4), "share": round(row["share"], 4)} for row in report.bottleneck
        ],
        **({"data_quality": report.data_quality.as_dict()} if report.data_quality is not None else {}),
        "bottleneck_state": report.bottleneck_state["state"] if report.bottleneck_state else None,
        "returned_share": round(report.returned_share, 4),
        "littles_law": {
            "mean_wip": rounded(report.mean_wip),
            "predicted_wip": rounded(report.littles_predicted_wip),
            "gap": rounded(report.littles_gap),
            "warning": report.littles_warning,
        },
        "daily": [{**day, "day": day["day"].isoformat()} for day in report.daily],
        "cumulative_flow_states": [
            {"name": state["name"], "category": state["category"]} for state in report.cfd_states
        ],
        "daily_throughput": report.daily_throughput,
        "items": [item_row(facts) for facts in report_items(report)],
    }


def report_items(report: FlowReport) -> list[ItemFacts]:
    """The per-item rows of exports: finished in the window, in progress, returned to the backlog."""
    return report.finished + report.in_progress + report.returned_items


def _shares(counts: dict[str, int], total: int) -> dict[str, float]:
    return {flow_type: (counts.get(flow_type, 0) / total if total else 0.0) for flow_type in FLOW_TYPES}


@dataclass
class StateTime:
    """Time the items finished in a window spent in one workflow state (days, within their flow)."""

    state_id: int
    n: int  # finished items that spent time in the state
    p50: float | None
    p85: float | None
    mean: float | None
    total: float  # days, summed over those items
    blocked: float  # days of it flagged blocked (active states only), summed


@dataclass
class GroupTime:
    """Per item, the time in a group of states summed; then across items."""

    group_id: int
    n: int
    p50: float | None
    p85: float | None
    active_p50: float | None  # time in the group's active states, less blocked time


@dataclass
class StateTimes:
    window: Window
    items: int = 0  # finished in the window
    flow_days: float = 0.0  # their flow time, summed
    states: dict[int, StateTime] = field(default_factory=dict)
    groups: dict[int, GroupTime] = field(default_factory=dict)


def state_times(*, scope: Scope, window: Window, groups: dict[int, list[int]] | None = None) -> StateTimes:
    """For the items finished in the window: the median and 85th percentile of the time each
    spent in each state, and the same for groups of states (`groups`: id → state ids, as the
    process blocks of a value stream map link them), time in a group summed per item first.

    Reads the history once, like `flow_report`; a fixed number of queries.
    """
    result = StateTimes(window=window)
    with transaction.atomic(), connection.cursor() as cursor:
        engine = HistoryEngine(cursor, Dialect(connection), scope, window, with_items=False)
        engine.drop()
        engine._build_segments()
        engine._build_items()
        engine._build_blocks()
        engine._build_state_time()
        sql, finished = engine.sql, engine.finished
        flow = sql.days("f.finish", "f.start")
        count, total = engine.fetchall(f"SELECT COUNT(f.start), SUM({flow}) FROM {engine.ITEM} f WHERE {finished}")[0]
        result.items, result.flow_days = int(count), float(total or 0)
        rows = engine.fetchall(
            f"""
            SELECT t.state_id, COUNT(*), {sql.percentile("t.days", 0.5)}, {sql.percentile("t.days", 0.85)},
                   AVG(t.days), SUM(t.days), SUM(t.blocked)
            FROM {engine.STATE_TIME} t JOIN {engine.ITEM} f ON f.item_id = t.item_id
            WHERE {finished} GROUP BY t.state_id
            """
        )
        for state_id, n, p50, p85, mean, days, blocked in rows:
            result.states[state_id] = StateTime(state_id, n, _f(p50), _f(p85), _f(mean), _f(days), _f(blocked))
        links = [(int(g), int(s)) for g, state_ids in (groups or {}).items() for s in state_ids]
        if links:
            values = ", ".join(f"({g}, {s})" for g, s in links)
            rows = engine.fetchall(
                f"""
                WITH link(group_id, state_id) AS (VALUES {values})
                SELECT group_id, COUNT(*), {sql.percentile("days", 0.5)}, {sql.percentile("days", 0.85)},
                       {sql.percentile("active", 0.5)}
                FROM (
                    SELECT l.group_id, t.item_id, SUM(t.days) AS days,
                           SUM(CASE WHEN t.category = 'active' THEN t.days - t.blocked ELSE 0 END) AS active
                    FROM {engine.STATE_TIME} t
                    JOIN {engine.ITEM} f ON f.item_id = t.item_id
                    JOIN link l ON l.state_id = t.state_id
                    WHERE {finished}
                    GROUP BY l.group_id, t.item_id
                ) per_item
                GROUP BY group_id
                """
            )
            for group_id, n, p50, p85, active in rows:
                result.groups[group_id] = GroupTime(group_id, n, _f(p50), _f(p85), _f(active))
        engine.drop()
    return result


class HistoryEngine:
    SEG, ITEM, BLOCK, STATE_TIME = "flow_seg", "flow_item", "flow_block", "flow_state_time"

    def __init__(self, cursor, dialect: Dialect, scope: Scope, window: Window, *, with_items: bool = True):
        self.cursor = cursor
        self.with_items = with_items
        self.sql = dialect
        self.scope = scope
        self.window = window
        self.report = FlowReport(scope=scope, window=window)
        # Window bounds as SQL literals (see Dialect.timestamp): every query below is plain text.
        self.ws, self.we, self.as_of = (dialect.timestamp(t) for t in (window.start, window.end, window.as_of))
        self.finished = f"f.finish >= {self.ws} AND f.finish < {self.we}"
        # Items whose flow the aggregates look inside: finished in the window, or in progress.
        self.measured = f"f.start IS NOT NULL AND (f.finish IS NULL OR ({self.finished}))"

    def execute(self, sql: str) -> None:
        self.cursor.execute(sql)

    effort_only = False  # set by build_effort: only items started before the window ends matter

    def item_filter(self) -> str:
        """Which items' history is read (alias `i`); `streams.flow.rollups` narrows it."""
        if self.effort_only:
            started = f"(i.started_at < {self.we} OR i.history_cut_short)"  # a cut-short item may lack its start
            return f"{self.scope.item_filter_sql('i')} AND {started}"
        return self.scope.item_filter_sql("i")

    # Below this many rows, hash joins without an index or statistics are as fast as it gets.
    LARGE_TABLE = 20_000

    def create(self, name: str, select_sql: str) -> int | None:
        """Materialise a temporary table; a large one is indexed by item and given planner
        statistics (autovacuum never analyses temporary tables, and big plans depend on it).
        Returns its number of rows where the database says it (PostgreSQL), else None."""
        self.execute(self.sql.temp_table(name, select_sql))
        rows = self.cursor.rowcount if self.cursor.rowcount is not None and self.cursor.rowcount >= 0 else None
        if rows is not None and rows > self.LARGE_TABLE:
            self.execute(f"CREATE INDEX {name}_item ON {name} (item_id)")
            self.execute(f"ANALYZE {name}")
        return rows if self.sql.postgres else None

    def fetchall(self, sql: str) -> list[tuple]:
        self.cursor.execute(sql)
        return self.cursor.fetchall()

    def drop(self) -> None:
        for name in (self.STATE_TIME, self.BLOCK, self.ITEM, self.SEG):
            self.execute(f"DROP TABLE IF EXISTS {name}")

    def run(self) -> FlowReport:
        self.build()
        return self.aggregate()

    def build(self) -> None:
        """The first half of `run`: the temporary tables and the finished items' statistics,
        all that `item_rows` needs (an export can read its items before `aggregate`)."""
        self.drop()
        self._build_segments()
        self._build_items()
        self._build_blocks()
        self._build_state_time()
        self._finished_stats()

    def aggregate(self, daily_steps: Callable[[], list[tuple]] | None = None) -> FlowReport:
        """The rest of `run` after `build`: every other figure of the report. `daily_steps`, when
        given, returns what `daily_steps` returns (computed meanwhile on another connection)."""
        self._weekly_and_daily_throughput()
        self._efficiency()
        self._wip()
        if self.with_items:
            self._items()
        self._daily_series(daily_steps() if daily_steps is not None else None)
        self._bottleneck()
        self._targets_and_limits()
        self._littles_law()
        return self.report

    EFFORT = "flow_effort"

    def build_effort(self) -> str:
        """A temporary table `flow_effort(item_id, stream_id, team_id, flow_type, active)`: each
        item's active time inside the window, in days: its stays in `active` states clipped to
        [window start, window end), less the time flagged blocked then (which waits, as in flow
        efficiency; overlapping blocks counted once). Items with none are left out; removed
        items count in no metric. Returns the table's name; `drop_effort` drops it and the rest."""
        self.drop_effort()
        # An item never started (no start: it was never active or waiting) or started after the
        # window has no active time in it: its history is not read at all.
        self.effort_only = True
        self._build_segments()
        self._build_items()
        self._build_blocks()
        sql = self.sql
        lo, hi = sql.greatest("g.seg_start", self.ws), sql.least("g.seg_end", self.we)
        overlap = sql.days(sql.least(hi, "b.e"), sql.greatest(lo, "b.s"))
        self.create(
            self.EFFORT,
            f"""
            SELECT f.item_id, f.stream_id, f.team_id, f.flow_type, SUM(stay.active) AS active
            FROM (
                SELECT g.item_id,
                       MAX({sql.days(hi, lo)})
                       - COALESCE(SUM(CASE WHEN b.item_id IS NOT NULL THEN {overlap} END), 0) AS active
                FROM {self.SEG} g
                LEFT JOIN {self.BLOCK} b ON b.item_id = g.item_id AND b.s < {hi} AND b.e > {lo}
                WHERE g.category = 'active' AND g.seg_start < {self.we} AND g.seg_end > {self.ws}
                GROUP BY g.item_id, g.seg_start, g.seg_end
            ) stay
            JOIN {self.ITEM} f ON f.item_id = stay.item_id
            GROUP BY f.item_id, f.stream_id, f.team_id, f.flow_type
            HAVING SUM(stay.active) > 0
            """,
        )
        return self.EFFORT

    def drop_effort(self) -> None:
        self.execute(f"DROP TABLE IF EXISTS {self.EFFORT}")
        self.drop()

    # --- Temporary tables -------------------------------------------------------------------------

    def _build_segments(self) -> None:
        """Every stay of an item in a state up to as_of: one row per transition, ended by the next
        (`next_at` is empty while the item is still there; `seg_end` is then as_of).

        Items done before the window starts (and done still) cannot change anything inside it;
        they are left out here and counted in the done band of the cumulative flow only.
        `finished_at` is set exactly while an item is in a done state (the state service keeps
        it so), which lets the (stream, finished_at) index find them.
        """
        select = f"""
            SELECT item_id, state_id, category, seg_start, next_at, COALESCE(next_at, {self.as_of}) AS seg_end,
                   prev_category
            FROM ({self._stays_sql(previous=True)}) stays
        """
        self.create(self.SEG, select)

    def _stays_sql(self, *, previous: bool) -> str:
        """The stays of `_build_segments` read from the moves: item_id, state_id, category,
        seg_start, next_at (and prev_category where `previous`)."""
        where = self.item_filter()
        return f"""
            SELECT t.item_id, t.to_state_id AS state_id, s.category, t.at AS seg_start,
                   LEAD(t.at) OVER w AS next_at
                   {", LAG(s.category) OVER w AS prev_category" if previous else ""}
            FROM streams_statetransition t
            JOIN streams_workflowstate s ON s.id = t.to_state_id
            JOIN streams_backlogitem i ON i.id = t.item_id
            WHERE {where} AND t.at <= {self.as_of} AND (i.finished_at IS NULL OR i.finished_at >= {self.ws})
            WINDOW w AS (PARTITION BY t.item_id ORDER BY t.at, t.id)
        """

    def _build_items(self) -> None:
        """Per item: start, finish, category and reopens as of as_of; removed items dropped.
        `returned_since` is set for a started, unfinished item in a backlog state: the end of
        its last stay outside the backlog (when it was sent back or reopened into it).

        `measurable` says whether the item's stream maps a waiting state (efficiency needs one).
        """
        select = f"""
            SELECT a.item_id, i.stream_id, i.team_id, i.flow_type, i.created_at, i.title, i.external_key,
                   a.category,
                   CASE WHEN a.category = 'done' THEN a.last_at END AS finish,
                   CASE WHEN i.history_cut_short AND a.category = 'done' THEN NULL
                        ELSE COALESCE(a.first_start, CASE WHEN a.category = 'done' THEN a.last_at END) END AS start,
                   a.reopens,
                   CASE WHEN a.category = 'backlog' AND a.first_start IS NOT NULL THEN a.left_progress END
                       AS returned_since,
                   CASE WHEN m.stream_id IS NOT NULL THEN 1 ELSE 0 END AS measurable
            FROM (
                SELECT item_id,
                       MIN(CASE WHEN category IN ('active', 'waiting') THEN seg_start END) AS first_start,
                       MAX(CASE WHEN next_at IS NULL THEN category END) AS category,
                       MAX(CASE WHEN next_at IS NULL THEN seg_start END) AS last_at,
                       SUM(CASE WHEN prev_category = 'done' AND category <> 'done' THEN 1 ELSE 0 END) AS reopens,
                       MAX(CASE WHEN category <> 'backlog' THEN next_at END) AS left_progress
                FROM {self.SEG} GROUP BY item_id
            ) a
            JOIN streams_backlogitem i ON i.id = a.item_id
            -- A join, not EXISTS per row: PostgreSQL costed the subquery once per item, and above
            -- 100,000 items the estimate crossed the JIT's thresholds (0.7 s of compiling).
            LEFT JOIN (SELECT DISTINCT w.stream_id FROM streams_workflowstate w WHERE w.category = 'waiting') m
                ON m.stream_id = i.stream_id
            WHERE a.category <> 'removed'
        """
        self.create(self.ITEM, select)

    def _build_blocks(self) -> None:
        """Blocked periods of started items up to as_of, merged where they overlap (gaps and
        islands), so that no blocked time is counted twice."""
        open_end = self.sql.least(f"COALESCE(b.ended_at, {self.as_of})", self.as_of)
        raw = f"""
            SELECT b.item_id, b.started_at AS s, {open_end} AS e
            FROM streams_blockedperiod b JOIN {self.ITEM} f ON f.item_id = b.item_id
            WHERE {self.measured} AND b.started_at < {self.as_of}
        """
        self.block_rows = self.create(self.BLOCK, merged_blocks_sql(raw))

    # Rows of the blocked periods' table when `_build_blocks` knew it (None: not known).
    block_rows: int | None = None

    def _build_state_time(self) -> None:
        """Days each started item spent in each state within its flow [start, finish or as_of],
        and for active states the part of it flagged blocked (which counts as waiting)."""
        sql = self.sql
        flow_end = f"COALESCE(f.finish, {self.as_of})"
        lo, hi = sql.greatest("g.seg_start", "f.start"), sql.least("g.seg_end", flow_end)
        if self.block_rows == 0:
            # Nothing blocked: each stay is one row, no join with the blocks to group again by
            # stay (a whole board without blocks: 0.67 -> 0.42 s of CPU). Sorted as the query
            # below sorts, so every sum adds the same numbers in the same order: the same rows.
            self.create(
                self.STATE_TIME,
                f"""
                SELECT item_id, state_id, category, SUM(days) AS days, SUM(blocked) AS blocked
                FROM (
                    SELECT g.item_id, g.state_id, g.category, g.seg_start, g.seg_end, {sql.days(hi, lo)} AS days,
                           CAST(0 AS DOUBLE PRECISION) AS blocked
                    FROM {self.SEG} g
                    JOIN {self.ITEM} f ON f.item_id = g.item_id
                    WHERE {self.measured} AND g.seg_start < {flow_end} AND g.seg_end > f.start
                    ORDER BY g.item_id, g.state_id, g.category, g.seg_start, g.seg_end
                ) stays
                GROUP BY item_id, state_id, category
                """,
            )
            return
        overlap = sql.days(sql.least(hi, "b.e"), sql.greatest(lo, "b.s"))
        select = f"""
            SELECT item_id, state_id, category, SUM(days) AS days, SUM(blocked) AS blocked
            FROM (
                SELECT g.item_id, g.state_id, g.category,
                       MAX({sql.days(hi, lo)}) AS days,
                       CASE WHEN g.category = 'active'
                            -- PostgreSQL's LEAST/GREATEST skip NULLs: rows without a block must add 0.
                            THEN COALESCE(SUM(CASE WHEN b.item_id IS NOT NULL THEN {overlap} END), 0)
                            ELSE 0 END AS blocked
                FROM {self.SEG} g
                JOIN {self.ITEM} f ON f.item_id = g.item_id
                LEFT JOIN {self.BLOCK} b ON b.item_id = g.item_id AND b.s < {hi} AND b.e > {lo}
                WHERE {self.measured} AND g.seg_start < {flow_end} AND g.seg_end > f.start
                GROUP BY g.item_id, g.state_id, g.category, g.seg_start, g.seg_end, f.start, f.finish
            ) stays
            GROUP BY item_id, state_id, category
        """
        self.create(self.STATE_TIME, select)

    # --- Aggregates -----------------------------------------------------------------------------

    def _finished_stats(self) -> None:
        columns = finished_stats_sql(self.sql, start="f.start", finish="f.finish", created="f.created_at")
        report_finished_stats(
            self.report, self.fetchall(f"SELECT {columns} FROM {self.ITEM} f WHERE {self.finished}")[0]
        )

    def _weekly_and_daily_throughput(self) -> None:
        """Finished items per day of the window by type; weeks are summed from the days."""
        day = self.sql.floor(self.sql.days("f.finish", self.ws))
        rows = self.fetchall(
            f"SELECT {day} AS day, flow_type, COUNT(*) FROM {self.ITEM} f WHERE {self.finished} GROUP BY day, flow_type"
        )
        report_throughput(self.report, rows)

    def _efficiency(self) -> None:
        """Σ active ÷ Σ flow time over finished items of streams that map a waiting state,
        with the per-item efficiencies in ten bins."""
        flow = self.sql.days("f.finish", "f.start")
        rows = self.fetchall(
            f"""
            SELECT CASE WHEN flow > 0 THEN {self.sql.least(self.sql.floor("10 * active / flow"), "9")} END AS bin,
                   COUNT(*), SUM(active), SUM(flow)
            FROM (
                SELECT f.item_id, {flow} AS flow,
                       COALESCE(SUM(CASE WHEN t.category = 'active' THEN t.days - t.blocked ELSE 0 END), 0) AS active
                FROM {self.ITEM} f LEFT JOIN {self.STATE_TIME} t ON t.item_id = f.item_id
                WHERE {self.finished} AND f.measurable = 1 AND f.start IS NOT NULL
                GROUP BY f.item_id, f.finish, f.start
            ) per_item
            GROUP BY bin
            """
        )
        report_efficiency(self.report, rows)

    def _items(self) -> None:
        """Per-item facts of the items finished in the window, of the WIP at as_of and of the
        items returned to the backlog (started, unfinished, in a backlog state)."""
        r = self.report
        for facts in map(self._item_facts, self.fetchall(self._items_sql("f.finish, f.start, f.item_id"))):
            if facts.finish is not None:
                r.finished.append(facts)
            elif facts.category == "backlog":
                r.returned_items.append(facts)
            else:
                facts.pace = pace_of(facts.age_days, r.flow_time)
                r.in_progress.append(facts)
        r.returned_items.sort(key=lambda facts: (facts.returned_since, facts.item_id))

    def item_facts(self, chunk: int = 2000) -> Iterator[ItemFacts]:
        """The per-item facts `_items` reads, in `report_items`' order (finished, in progress,
        returned to the backlog), a chunk of rows at a time: an export of a whole board's
        history writes them as they come instead of holding them all. Call it after `run`
        (`with_items=False`), before `drop`."""
        # The finished first (NULLs sort last on PostgreSQL, first on SQLite), then the others by
        # start; the few returned to the backlog are held back and come last, in their own order.
        self.cursor.execute(self._items_sql("f.finish IS NULL, f.finish, f.start, f.item_id"))
        flow_time, returned = self.report.flow_time, []
        while rows := self.cursor.fetchmany(chunk):
            for facts in map(self._item_facts, rows):
                if facts.finish is None:
                    if facts.category == "backlog":
                        returned.append(facts)
                        continue
                    facts.pace = pace_of(facts.age_days, flow_time)
                yield facts
        returned.sort(key=lambda facts: (facts.returned_since, facts.item_id))
        yield from returned

    def item_rows(self, chunk: int = 5000, cursor=None) -> Iterator[tuple]:
        """`item_row(facts).values()` of each of `item_facts`, in its order, as tuples: what an
        export writes. On PostgreSQL the times come as the ISO 8601 text `item_row` writes,
        spelled by the database: converting 360,000 timestamps to datetimes and back to text was
        most of the Python time of a whole board's export. SQLite goes through `item_facts`.

        On PostgreSQL the query runs at the call, on `cursor` (default: the engine's), and the
        rows are read from it as they are iterated: another thread may turn them into text while
        the engine's cursor, free again, answers the rest of the report (`aggregate`)."""
        if not self.sql.postgres:
            return (tuple(item_row(facts).values()) for facts in self.item_facts())
        cursor = cursor or self.cursor
        cursor.execute(self._items_sql("f.finish IS NULL, f.finish, f.start, f.item_id", iso=True))
        return self._item_rows_of(cursor, chunk)

    def _item_rows_of(self, cursor, chunk: int) -> Iterator[tuple]:
        flow_time, returned = self.report.flow_time, []
        while rows := cursor.fetchmany(chunk):
            for row in rows:
                item_id, key, title, flow_type, _stream, _team, created, start, finish, category, *days = row
                flow, lead, age, active, waiting, blocked, reopens, returned_days, since = days
                pace = pace_of(age, flow_time) if finish is None and category != "backlog" else None
                out = (
                    key or f"#{item_id}",
                    title,
                    flow_type,
                    category,
                    created,
                    start,
                    finish,
                    _round(flow),
                    _round(lead),
                    _round(age),
                    round(active, 4),
                    round(waiting, 4),
                    round(blocked, 4),
                    round(returned_days, 4),
                    int(reopens or 0),
                    pace,
                    since,
                )
                if finish is None and category == "backlog":
                    returned.append((since, item_id, out))
                else:
                    yield out
        # The same text for every time (UTC, "+00:00", six digits of microseconds or none) sorts
        # as the instants do: "+" comes before ".", as a whole second before its fractions.
        returned.sort(key=lambda entry: entry[:2])
        for *_, out in returned:
            yield out

    def _items_sql(self, order_by: str, iso: bool = False) -> str:
        sql = self.sql
        flow_end = f"COALESCE(f.finish, {self.as_of})"
        blocked = sql.days(sql.least("b.e", flow_end), sql.greatest("b.s", "f.start"))
        created, start, finish, since = (
            _iso_text(column) if iso else column
            for column in ("f.created_at", "f.start", "f.finish", "f.returned_since")
        )
        columns = [
            "f.item_id",
            "f.external_key",
            "f.title",
            "f.flow_type",
            "f.stream_id",
            "f.team_id",
            created,
            start,
            finish,
            "f.category",
            f"CASE WHEN f.finish IS NOT NULL THEN {sql.days('f.finish', 'f.start')} END",
            f"CASE WHEN f.finish IS NOT NULL THEN {sql.days('f.finish', 'f.created_at')} END",
            f"CASE WHEN f.finish IS NULL THEN {sql.days(self.as_of, 'f.start')} END",
            "COALESCE(t.active, 0)",
            "COALESCE(t.waiting, 0)",
            "COALESCE(bl.days, 0)",
            "f.reopens",
            "COALESCE(t.returned, 0)",
            since,
        ]
        keys = [term.strip() for term in order_by.split(",")]
        # The sort keys lead each row: PostgreSQL's sort compares rows by their keys, and keys
        # placed after the text of the times and titles were found again column by column at
        # every comparison (0.4 s of CPU for a whole board's 120,000 items, 0.1 s this way). The
        # outer query drops them and keeps the order it is given.
        selected = [f"{key} AS o{n}" for n, key in enumerate(keys)] + [
            f"{column} AS c{n}" for n, column in enumerate(columns)
        ]
        ordered = ", ".join(f"o{n}" for n in range(len(keys)))
        return f"""
            SELECT {", ".join(f"o.c{n}" for n in range(len(columns)))} FROM (
            SELECT {", ".join(selected)}
            FROM {self.ITEM} f
            LEFT JOIN (
                SELECT item_id,
                       SUM(CASE WHEN category = 'active' THEN days - blocked ELSE 0 END) AS active,
                       SUM(CASE WHEN category = 'active' THEN blocked WHEN category = 'waiting' THEN days ELSE 0 END)
                           AS waiting,
                       SUM(CASE WHEN category = 'backlog' THEN days ELSE 0 END) AS returned
                FROM {self.STATE_TIME} GROUP BY item_id
            ) t ON t.item_id = f.item_id
            LEFT JOIN (
                SELECT b.item_id, SUM({blocked}) AS days
                FROM {self.BLOCK} b JOIN {self.ITEM} f ON f.item_id = b.item_id
                WHERE b.e > f.start AND b.s < {flow_end}
                GROUP BY b.item_id
            ) bl ON bl.item_id = f.item_id
            WHERE ({self.finished}) OR (f.start IS NOT NULL AND f.finish IS NULL)
            ORDER BY {ordered}
            ) o ORDER BY {ordered}
            """

    def _item_facts(self, row: tuple) -> ItemFacts:
        to_dt = self.sql.to_datetime
        return ItemFacts(
            item_id=row[0],
            key=row[1] or f"#{row[0]}",
            title=row[2],
            flow_type=row[3],
            stream_id=row[4],
            team_id=row[5],
            created_at=to_dt(row[6]),
            start=to_dt(row[7]),
            finish=to_dt(row[8]),
            category=row[9],
            flow_days=_f(row[10]),
            lead_days=_f(row[11]),
            age_days=_f(row[12]),
            active_days=_f(row[13]),
            waiting_days=_f(row[14]),
            blocked_days=_f(row[15]),
            reopens=int(row[16] or 0),
            returned_days=_f(row[17]),
            returned_since=to_dt(row[18]),
        )

    def _wip(self) -> None:
        """Flow load at as_of: items started, not finished and in an active or waiting state, by
        type; and how many started items sit in a backlog state again (returned)."""
        rows = self.fetchall(
            f"SELECT CASE WHEN f.category = 'backlog' THEN 'returned' ELSE flow_type END AS kind, COUNT(*) "
            f"FROM {self.ITEM} f WHERE f.start IS NOT NULL AND f.finish IS NULL GROUP BY kind"
        )
        r = self.report
        counts = dict(rows)
        r.returned = int(counts.pop("returned", 0))
        r.wip_by_type = dict.fromkeys(FLOW_TYPES, 0) | counts
        r.wip = sum(r.wip_by_type.values())

    def daily_steps(self) -> list[tuple]:
        """The rows `_daily_series` counts its days from, read from the moves themselves rather
        than from `build`'s temporary tables: another connection computes them while this one
        builds (`manage.py flow_metrics`), and `aggregate(daily_steps=...)` takes them. The same
        stays: `_build_segments`' of the items `_build_items` keeps (not removed at as_of)."""
        stays = f"""
            SELECT item_id, state_id, seg_start, next_at FROM (
                SELECT item_id, state_id, seg_start, next_at,
                       MAX(CASE WHEN next_at IS NULL THEN category END) OVER (PARTITION BY item_id) AS last_category
                FROM ({self._stays_sql(previous=False)}) stays
            ) g WHERE last_category <> 'removed'
        """
        return self.fetchall(self._daily_steps_sql(f"({stays}) g"))

    def _daily_steps_sql(self, stays: str) -> str:
        """Entries and exits counted per state and day-end, each a row: (state, category, k, ±n), of
        the stays `stays` names (alias g: state_id, seg_start, next_at)."""
        sql = self.sql
        days = self.window.days
        first = sql.greatest(sql.ceil(sql.days("g.seg_start", self.ws)), "1")
        until = f"CASE WHEN g.next_at IS NULL THEN {days + 1} ELSE {sql.ceil(sql.days('g.next_at', self.ws))} END"
        # Counted by state alone and the category (the state's) joined to the few counts: half
        # a million stays hashed on an integer and a day, not on a text too (0.1 s of CPU).
        return f"""
            WITH stays AS (
                SELECT g.state_id AS band, {first} AS k_from, {until} AS k_to
                FROM {stays}
                WHERE (g.next_at IS NULL OR g.next_at > {self.ws}) AND g.seg_start <= {self.we}
            ),
            covering AS (SELECT * FROM stays WHERE k_from <= {days} AND k_to > k_from)
            SELECT c.band, w.category, c.k, c.n FROM (
                SELECT band, k_from AS k, COUNT(*) AS n FROM covering GROUP BY band, k_from
                UNION ALL
                SELECT band, k_to, -COUNT(*) FROM covering WHERE k_to <= {days} GROUP BY band, k_to
            ) c JOIN streams_workflowstate w ON w.id = c.band
        """

    def _daily_series(self, rows: list[tuple] | None = None) -> None:
        """Cumulative flow (items per workflow state and per category) and WIP at the end of
        each day of the window.

        A stay counts at day-end k (start + k days, the last clipped to the window's end) when
        it began at or before it and ended after it. Each stay contributes +1 at the first
        day-end it covers and −1 at the first it no longer covers; running sums of those steps
        give every series in one pass over the stays. Per state for a stream (its workflow's
        order); the categories add its states up, and the WIP is the active and waiting states'
        sum (every stay in one is after the start; a started item back in a backlog state is
        returned to the backlog, not WIP), not a series of its own read from the stays again.
        """
        days = self.window.days
        if rows is None:  # else `daily_steps`' rows, read meanwhile on another connection
            rows = self.fetchall(self._daily_steps_sql(f"{self.SEG} g JOIN {self.ITEM} f ON f.item_id = g.item_id"))
        # Items done before the window and done still sit in their done state throughout. With
        # one done state (or no per-state series) a count from the (stream, finished_at) index
        # says it all; several done states need each item's state.
        named = self._workflow_states()
        done_states = [state["id"] for state in named or () if state["category"] == "done"]
        if named is None or len(done_states) == 1:
            count = self.fetchall(
                f"""SELECT COUNT(*) FROM streams_backlogitem i
                    WHERE {self.scope.item_filter_sql("i")} AND i.finished_at < {self.ws}"""
            )[0][0]
            settled = [(done_states[0] if done_states else -1, "done", count)]
        else:
            settled = self.fetchall(
                f"""SELECT i.state_id, s.category, COUNT(*) FROM streams_backlogitem i
                    JOIN streams_workflowstate s ON s.id = i.state_id
                    WHERE {self.scope.item_filter_sql("i")} AND i.finished_at < {self.ws}
                    GROUP BY i.state_id, s.category"""
            )
        category_of: dict[int, str] = {}
        steps: dict[int, dict[int, int]] = defaultdict(dict)
        for band, category, k, delta in rows:
            category_of[int(band)] = category
            at = steps[int(band)]
            at[int(k)] = at.get(int(k), 0) + int(delta)
        running = dict.fromkeys(category_of, 0)
        for state_id, category, count in settled:
            category_of[state_id] = category
            running[state_id] = running.get(state_id, 0) + int(count)
        series = []
        for k in range(1, days + 1):
            for band in running:
                running[band] += steps[band].get(k, 0)
            totals = dict.fromkeys((*CATEGORIES, "wip"), 0)
            for band, count in running.items():
                if category_of[band] in totals:
                    totals[category_of[band]] += count
            totals["wip"] = totals["active"] + totals["waiting"]
            instant = min(self.window.start + dt.timedelta(days=k), self.window.end)
            day = {"day": (instant - dt.timedelta(microseconds=1)).date(), **totals}
            if named is not None:
                day["states"] = {state["name"]: running.get(state["id"], 0) for state in named}
            series.append(day)
        self.report.cfd_states = named or []
        report_daily(self.report, series)

    def _workflow_states(self) -> list[dict] | None:
        """A stream's states for cumulative flow per state; None for scopes of many streams,
        whose workflows differ."""
        if self.scope.kind != "stream":
            return None
        return workflow_states(self.scope.id)

    def _bottleneck(self) -> None:
        """Share of the finished items' flow time spent in each state, largest first."""
        rows = self.fetchall(
            f"""
            SELECT s.name, s.category, v.name, SUM(t.days) AS days
            FROM {self.STATE_TIME} t
            JOIN {self.ITEM} f ON f.item_id = t.item_id
            JOIN streams_workflowstate s ON s.id = t.state_id
            JOIN streams_valuestream v ON v.id = s.stream_id
            WHERE {self.finished}
            GROUP BY s.id, s.name, s.category, v.name
            ORDER BY days DESC, s.name
            """
        )
        report_bottleneck(self.report, rows)

    def _targets_and_limits(self) -> None:
        report_targets_and_limits(self.report)

    def _littles_law(self) -> None:
        report_littles_law(self.report)


def workflow_states(stream_id: int) -> list[dict]:
    """A stream's states in its workflow's order ({id, name, category}; removed ones left out):
    the bands of its cumulative flow per state."""
    return list(
        WorkflowState.objects.filter(stream_id=stream_id)
        .exclude(category=WorkflowState.Category.REMOVED)
        .order_by("order", "pk")
        .values("id", "name", "category")
    )


def merged_blocks_sql(raw_sql: str) -> str:
    """The blocked periods `(item_id, s, e)` that `raw_sql` selects, merged per item where they
    overlap (gaps and islands), so that no blocked time is counted twice."""
    return f"""
        SELECT item_id, MIN(s) AS s, MAX(e) AS e FROM (
            SELECT item_id, s, e,
                   SUM(island) OVER (PARTITION BY item_id ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS grp
            FROM (
                SELECT item_id, s, e,
                       CASE WHEN s <= MAX(e) OVER (PARTITION BY item_id ORDER BY s, e
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                            THEN 0 ELSE 1 END AS island
                FROM ({raw_sql}) raw
            ) marked
        ) islands GROUP BY item_id, grp
    """


def finished_stats_sql(sql: Dialect, *, start: str, finish: str, created: str) -> str:
    """Select list of the finished items' count, mean flow and lead time, and their percentiles."""
    flow, lead = sql.days(finish, start), sql.days(finish, created)
    pcts = ", ".join([sql.percentile(flow, p) for p in PERCENTILES] + [sql.percentile(lead, p) for p in PERCENTILES])
    return f"COUNT(*), COUNT({start}), AVG({flow}), AVG({lead}), {pcts}"


def report_finished_stats(r: FlowReport, row) -> None:
    """Throughput and the flow and lead time distributions from a `finished_stats_sql` row.
    Flow time rests on the items with a known start (not those whose history was cut short)."""
    n, n_flow, mean_flow, mean_lead, *p = row
    r.throughput = n
    r.flow_time = Distribution(n_flow, _f(mean_flow), _f(p[0]), _f(p[1]), _f(p[2]))
    r.lead_time = Distribution(n, _f(mean_lead), _f(p[3]), _f(p[4]), _f(p[5]))


def report_daily(r: FlowReport, series: list[dict]) -> None:
    """The daily series (category counts and WIP at each day's end) and the mean WIP over it."""
    r.daily = series
    r.mean_wip = sum(day["wip"] for day in series) / len(series) if series else None


def report_bottleneck(r: FlowReport, rows) -> None:
    """Share of flow time by state from (state, category, stream, days) rows, largest first."""
    total = sum(float(days or 0) for *_, days in rows)
    r.bottleneck = [
        {
            "state": name,
            "category": category,
            "stream": stream,
            "days": float(days or 0),
            "share": float(days or 0) / total if total else 0.0,
        }
        for name, category, stream, days in rows
    ]
    r.bottleneck_state = next((row for row in r.bottleneck if row["category"] in ("active", "waiting")), None)
    r.returned_share = sum(row["share"] for row in r.bottleneck if row["category"] == "backlog")


def report_throughput(r: FlowReport, rows) -> None:
    """Throughput by type, by ISO week and by day from (day index, flow type, count) rows.

    Weeks are Monday to Sunday (UTC), labelled by their Monday, whatever day the window starts
    on, so two windows show the same weeks; a week the window cuts is marked `partial`."""
    window = r.window
    first = window.start.date()
    last = first + dt.timedelta(days=window.days - 1)
    monday = first - dt.timedelta(days=first.weekday())
    weeks = []
    while monday <= last:
        partial = monday < first or monday + dt.timedelta(days=6) > last
        weeks.append({"week_start": monday, "partial": partial, **dict.fromkeys(FLOW_TYPES, 0)})
        monday += dt.timedelta(weeks=1)
    daily = [0] * window.days
    by_type = dict.fromkeys(FLOW_TYPES, 0)
    for day_index, flow_type, count in rows:
        weeks[(first.weekday() + int(day_index)) // 7][flow_type] += count
        daily[int(day_index)] += count
        by_type[flow_type] += count
    r.weekly_throughput, r.daily_throughput, r.throughput_by_type = weeks, daily, by_type


def report_efficiency(r: FlowReport, rows) -> None:
    """Flow efficiency from (bin, items, Σ active days, Σ flow days) rows of the finished items
    of streams that map a waiting state; says which streams in scope cannot be measured."""
    streams = ValueStream.objects.filter(pk__in=r.scope.stream_ids_query())
    r.efficiency_excluded_streams = list(
        streams.exclude(states__category=WorkflowState.Category.WAITING).values_list("name", flat=True)
    )
    r.efficiency_measurable = streams.filter(states__category=WorkflowState.Category.WAITING).exists()
    histogram = [0] * 10
    active = flow_total = 0.0
    for bin_index, count, active_sum, flow_sum in rows:
        r.efficiency_n += count
        active += float(active_sum or 0)
        flow_total += float(flow_sum or 0)
        if bin_index is not None:
            histogram[int(bin_index)] += count
        else:
            r.efficiency_zero += count
    r.efficiency_histogram = histogram
    r.efficiency = active / flow_total if r.efficiency_measurable and flow_total > 0 else None


def report_targets_and_limits(r: FlowReport) -> None:
    """The stream's target mix for the quarter the window ends in, and the WIP limit that
    applies: the team's, or the sum of the in-progress states' limits (else the serving
    teams' limits) of the streams in scope."""
    scope, window = r.scope, r.window
    if scope.kind == "stream":
        period = period_containing((window.end - dt.timedelta(microseconds=1)).date())
        r.target_period = period.label
        r.target_mix = dict(
            TargetMix.objects.filter(stream_id=scope.id, period=period.label).values_list("flow_type", "percent")
        )
    if scope.kind == "team":
        r.wip_limit = Team.objects.filter(pk=scope.id).values_list("wip_limit", flat=True).first()
    elif scope.kind in ("stream", "director"):
        streams = scope.stream_ids_query()
        r.wip_limit = WorkflowState.objects.filter(
            stream__in=streams, category__in=WorkflowState.IN_PROGRESS, wip_limit__isnull=False
        ).aggregate(total=Sum("wip_limit"))["total"]
        if r.wip_limit is None:
            r.wip_limit = ValueStream.objects.filter(pk__in=streams, teams__wip_limit__isnull=False).aggregate(
                total=Sum("teams__wip_limit")
            )["total"]


def report_littles_law(r: FlowReport) -> None:
    """Mean WIP against throughput per day × mean flow time over the window."""
    if r.mean_wip is None or r.flow_time.mean is None or not r.throughput:
        return
    per_day = r.throughput / ((r.window.end - r.window.start) / dt.timedelta(days=1))
    r.littles_predicted_wip = per_day * r.flow_time.mean
    if r.littles_predicted_wip:
        r.littles_gap = (r.mean_wip - r.littles_predicted_wip) / r.littles_predicted_wip


def _f(value) -> float | None:
    return None if value is None else float(value)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _iso_text(column: str) -> str:
    """PostgreSQL text of a timestamptz as `datetime.astimezone(UTC).isoformat()` writes it:
    microseconds only when there are some, the offset as "+00:00"; NULL stays NULL."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"""to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS') """
        f"|| CASE WHEN {utc} = date_trunc('second', {utc}) THEN '' ELSE to_char({utc}, '.US') END || '+00:00'"
    )


def pace_of(age: float | None, flow_time: Distribution) -> str | None:
    """Where an in-progress item's age falls among the finished items' flow times."""
    if age is None or flow_time.p50 is None:
        return None
    if age > flow_time.p95:
        return "beyond 95th"
    if age > flow_time.p85:
        return "85th–95th"
    if age > flow_time.p50:
        return "50th–85th"
    return "within 50th"
