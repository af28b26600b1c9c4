"""The few SQL spellings that differ between PostgreSQL and SQLite, for the flow engine.

Each helper returns SQL text for the connection's vendor. The engine inlines only integers
and timestamps its own code computed (see `timestamp`); nothing a user typed reaches SQL text.
"""

import datetime as dt
import math

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.utils import timezone
from django.utils.dateparse import parse_datetime


class Dialect:
    def __init__(self, connection: BaseDatabaseWrapper):
        self.connection = connection
        self.postgres = connection.vendor == "postgresql"

    def days(self, later: str, earlier: str) -> str:
        """Calendar days, with fractions, from `earlier` to `later`."""
        if self.postgres:
            # date_part gives double precision; EXTRACT gives numeric, several times slower here.
            return f"(date_part('epoch', ({later}) - ({earlier})) / 86400.0)"
        return f"(julianday({later}) - julianday({earlier}))"

    def minute(self, expr: str) -> str:
        """The instant truncated to its minute, as a value to group by."""
        if self.postgres:
            return f"date_trunc('minute', {expr})"
        # Django stores instants as 'YYYY-MM-DD HH:MM:SS...' text in UTC; no strftime, whose '%'
        # would clash with the query's parameter markers.
        return f"substr({expr}, 1, 16)"

    def least(self, *exprs: str) -> str:
        return f"{'LEAST' if self.postgres else 'MIN'}({', '.join(exprs)})"

    def greatest(self, *exprs: str) -> str:
        return f"{'GREATEST' if self.postgres else 'MAX'}({', '.join(exprs)})"

    def floor(self, expr: str) -> str:
        if self.postgres:
            return f"FLOOR({expr})"
        # CAST truncates toward zero; step down for negative non-integers.
        return f"(CAST({expr} AS INTEGER) - (({expr}) < CAST({expr} AS INTEGER)))"

    def ceil(self, expr: str) -> str:
        if self.postgres:
            return f"CEIL({expr})"
        return f"(CAST({expr} AS INTEGER) + (({expr}) > CAST({expr} AS INTEGER)))"

    def percentile(self, expr: str, fraction: float) -> str:
        """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
        if self.postgres:
            return f"percentile_cont({fraction:.4f}) WITHIN GROUP (ORDER BY {expr})"
        return f"percentile_cont({expr}, {fraction:.4f})"

    def percentiles(self, expr: str, fractions: tuple[float, ...]) -> str:
        """Several percentiles of one expression as comma-separated columns; on PostgreSQL one
        array-valued aggregate (one sort per group instead of one per fraction): read the
        row with `percentile_values`."""
        if self.postgres:
            listed = ", ".join(f"{f:.4f}" for f in fractions)
            return f"percentile_cont(ARRAY[{listed}]) WITHIN GROUP (ORDER BY {expr})"
        return ", ".join(self.percentile(expr, f) for f in fractions)

    def percentile_values(self, row: tuple, at: int, count: int) -> list:
        """The `count` values of a `percentiles` column group starting at column `at` of `row`."""
        if self.postgres:
            return list(row[at] or [None] * count)
        return list(row[at : at + count])

    def children_join(self, parent_id: str, alias: str = "c") -> str:
        """`JOIN` the backlog items whose parent is `parent_id`, for the step of a recursive
        walk down the item tree, through the parent index.

        On PostgreSQL a LATERAL subquery fenced with OFFSET 0: a recursive query's row
        estimates are far too high, and a plain join makes it hash all items at every step
        (0.33 s instead of 0.09 s for 35,000 items out of 500,000)."""
        if self.postgres:
            return (
                f"CROSS JOIN LATERAL (SELECT i.id FROM streams_backlogitem i WHERE i.parent_id = {parent_id} "
                f"OFFSET 0) {alias}"
            )
        return f"JOIN streams_backlogitem {alias} ON {alias}.parent_id = {parent_id}"

    def parent_join(self, child: str, alias: str, columns: str) -> str:
        """`JOIN` each item `child` to its parent item as `alias`, with the parent's `columns`
        (named on `p`): `item_join` of the parent's id, each parent one probe of the primary key
        (0.04 s instead of 0.10 s for 22,000 children out of 500,000)."""
        return self.item_join(f"{child}.parent_id", alias, columns, inner="p")

    def item_join(self, item_id: str, alias: str, columns: str, inner: str = "x") -> str:
        """`JOIN` the backlog item whose id is `item_id` as `alias`, with its `columns`, for rows
        coming out of a recursive walk. On PostgreSQL one probe of the primary key per row: the
        walk's row estimate is far too high (160,000 for 1,300), and a plain join hashed all
        500,000 items (0.30 s instead of 0.01 s for a key result's linked work). `columns` are named
        on `inner`."""
        if self.postgres:
            return (
                f"CROSS JOIN LATERAL (SELECT {columns} FROM streams_backlogitem {inner} WHERE {inner}.id = {item_id} "
                f"OFFSET 0) {alias}"
            )
        return f"JOIN streams_backlogitem {alias} ON {alias}.id = {item_id}"

    def id_list(self, select_ids: str) -> str:
        """A subquery of ids (for `IN (...)`) computed once: on PostgreSQL the ids of a
        recursive walk are gathered into an array first, so the query using them probes items
        by id instead of hashing the whole table on the walk's far too high row estimate."""
        if self.postgres:
            return f"SELECT UNNEST(ARRAY({select_ids}))"
        return select_ids

    def distinct(self, a: str, b: str) -> str:
        """`a` differs from `b`, NULL being a value (NULL differs from a date, not from NULL)."""
        return f"{a} IS DISTINCT FROM {b}" if self.postgres else f"{a} IS NOT {b}"

    def temp_table(self, name: str, select_sql: str) -> str:
        return f"CREATE TEMP TABLE {name} AS {select_sql}"

    def timestamp(self, value: dt.datetime) -> str:
        """A SQL literal for an aware datetime our code computed (never text from a user).

        Literals rather than placeholders: the helpers above repeat their arguments, and a
        repeated placeholder would need its value passed as many times.
        """
        if not isinstance(value, dt.datetime) or timezone.is_naive(value):
            raise TypeError(f"expected an aware datetime, got {value!r}")
        utc = value.astimezone(dt.UTC)
        if self.postgres:
            return f"TIMESTAMPTZ '{utc.isoformat()}'"
        # SQLite holds Django's naive UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]".
        return f"'{self.connection.ops.adapt_datetimefield_value(value)}'"

    @staticmethod
    def to_datetime(value) -> dt.datetime | None:
        """A timestamp read back from a raw query, as an aware datetime."""
        if value is None or isinstance(value, dt.datetime):
            if value is not None and timezone.is_naive(value):
                return timezone.make_aware(value, dt.UTC)
            return value
        parsed = parse_datetime(str(value))
        return timezone.make_aware(parsed, dt.UTC) if timezone.is_naive(parsed) else parsed


class _PercentileCont:
    """SQLite aggregate percentile_cont(value, fraction) with PostgreSQL's interpolation.

    SQLite has no ordered-set aggregates; this keeps the computation inside the query.
    """

    def __init__(self):
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction):
        if value is not None:
            self.values.append(float(value))
            self.fraction = float(fraction)

    def finalize(self):
        return percentile_cont(self.values, self.fraction)


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL and NumPy's default do."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@receiver(connection_created)
def _register_sqlite_functions(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("percentile_cont", 2, _PercentileCont)
