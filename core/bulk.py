"""Insert many rows fast: COPY on PostgreSQL, bulk_create elsewhere.

Used where volume matters (imports, scale data). Rows are tuples of attribute values in the
order of `attnames`; no model `save()` runs and no signal fires, so callers keep derived
columns consistent themselves (e.g. with `items_refresh_flow_dates`).
"""

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
import itertools
import logging

from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, connection, models, transaction
import psycopg
from psycopg.pq import Format

from core.freshness import data_changed

TIMESTAMPTZ_OID = 1184
# Column types COPY writes in PostgreSQL's binary format (psycopg's C dumpers, no text to build or
# parse): int2, int4, int8, float8, bool, text, varchar, date, timestamptz. A table with a column
# of another type is written as text.
BINARY_COPY_TYPES = frozenset({21, 23, 20, 701, 16, 25, 1043, 1082, TIMESTAMPTZ_OID})
# A table is analysed after a write that added at least this share of its rows (autovacuum's own
# threshold, autovacuum_analyze_scale_factor), or any rows to a table never analysed.
ANALYZE_SHARE = 0.1
_cursor_names = itertools.count()
logger = logging.getLogger(__name__)


def analyze_after_commit(written: dict[type[models.Model], int]) -> list[str]:
    """ANALYZE, once the transaction commits, each table that `written` (model -> rows added) grew
    by a tenth or more; returns the tables chosen.

    Until autovacuum gets to them (up to a minute or more after a bulk load), the planner sees
    the tables as they were: `flow_metrics` right after a 630,000-move import took 42 s instead
    of 24. Run after the COMMIT, in the transaction's process, so that the import's own lock on
    the tables (ANALYZE's SHARE UPDATE EXCLUSIVE would be held to the end) is not widened; an
    ANALYZE that fails is logged, not raised (the import is in). PostgreSQL only.
    """
    if connection.vendor != "postgresql":
        return []
    tables = {model._meta.db_table: rows for model, rows in written.items() if rows > 0}
    if not tables:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s) AND relkind IN ('r', 'p')",
            [list(tables)],
        )
        sizes = dict(cursor.fetchall())
    chosen = sorted(
        table for table, rows in tables.items() if sizes.get(table, -1) < 0 or rows >= ANALYZE_SHARE * sizes[table]
    )
    if chosen:

        def analyze() -> None:
            # One table on this connection, each other one at the same time on a connection of its
            # own: a board import's two ANALYZEs took 0.65 and 0.75 s one after the other.
            with ThreadPoolExecutor(max_workers=max(1, len(chosen) - 1)) as pool:
                others = [pool.submit(analyze_on_own_connection, table) for table in chosen[1:]]
                analyze_tables(chosen[:1])
                for other in others:
                    other.result()  # raises what the thread raised

        transaction.on_commit(analyze, robust=True)
    return chosen


def analyze_tables(tables: Sequence[str]) -> None:
    """ANALYZE the tables, on this thread's connection."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(connection.ops.quote_name(table) for table in tables)}")


class GinPendingLists:
    """A bulk write's entries into the table's GIN indexes, moved into the indexes beside it.

    A GIN index (the items' title trigrams) takes new entries into a pending list, and the
    writing backend moves that list into the index each time it outgrows
    gin_pending_list_limit (4 MB): for a board's 132,000 items, ~0.5 s of the items' COPY on the
    one core its backend uses, while the other core waited (perf). `defer()` raises the limit
    for this transaction's next statements (the COPY); `clean_meanwhile()` then has another
    connection move the list into the index (`gin_clean_pending_list`, which takes any
    entries, committed or not) while this one goes on writing; `join()` waits for it.
    Only when `active` (a write large enough to be worth it) and on PostgreSQL: else each is a
    no-op."""

    LIMIT = "2GB"  # the list is kept on the index's own pages, not in memory

    def __init__(self, model: type[models.Model], *, active: bool = True):
        self.table = model._meta.db_table
        self.active = active and connection.vendor == "postgresql"
        self._pool: ThreadPoolExecutor | None = None
        self._cleaned = None

    def defer(self) -> None:
        if self.active:
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL gin_pending_list_limit = '{self.LIMIT}'")

    def clean_meanwhile(self) -> None:
        """Back to the server's limit for what follows, and the list moved on another connection."""
        if not self.active:
            return
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL gin_pending_list_limit TO DEFAULT")
            cursor.execute(
                "SELECT i.indexrelid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = %s::regclass AND am.amname = 'gin'",
                [self.table],
            )
            indexes = [oid for (oid,) in cursor.fetchall()]
        if indexes:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gin-pending")
            self._cleaned = self._pool.submit(_clean_pending_lists, indexes)

    def join(self) -> int:
        """Wait for the list to be moved; returns its pages moved (0 when there was nothing)."""
        if self._pool is None:
            return 0
        try:
            return self._cleaned.result()
        finally:
            self._pool.shutdown()
            self._pool = None


def _clean_pending_lists(indexes: list[int]) -> int:
    """`gin_clean_pending_list` of each index, on this thread's own connection, closed afterwards.
    A failure is logged, not raised: the write stands, and the list is moved later (by the next
    write past the server's limit, or autovacuum)."""
    pages = 0
    try:
        with connection.cursor() as cursor:
            for oid in indexes:
                cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [oid])
                pages += cursor.fetchone()[0]
    except DatabaseError:
        logger.warning("A GIN index's pending list could not be moved into it; it will be later.", exc_info=True)
    finally:
        connection.close()
    return pages


def analyze_on_own_connection(table: str) -> None:
    """ANALYZE the table on a connection of this thread's own, closed afterwards (a thread's)."""
    try:
        analyze_tables([table])
    finally:
        connection.close()


def values_rows(queryset: models.QuerySet, *fields: str, chunk_size: int = 20000) -> Iterator[tuple]:
    """`queryset.values_list(*fields).iterator(chunk_size)`, with times read by psycopg's own loader.

    Django reads every timestamptz through a Python subclass of psycopg's pure-Python loader
    (to set the time zone): 3.3 s of CPU for the 630,000 stored moves a board's re-import
    compares, 0.6 s with psycopg's C loader, which this uses, in the session's time zone (UTC,
    as Django sets it): the same instants, equal to Django's values. Rows come from a server-side
    cursor, `chunk_size` at a time, as the ORM's iterator does. Elsewhere than PostgreSQL, the
    ORM reads them.
    """
    rows = queryset.values_list(*fields)
    if connection.vendor != "postgresql" or connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
        yield from rows.iterator(chunk_size=chunk_size)  # (behind a transaction pooler, as the ORM does)
        return
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:  # e.g. `none()`, or an IN of no values: nothing to read
        return
    connection.ensure_connection()
    name = f"values_rows_{next(_cursor_names)}"
    with (
        connection.wrap_database_errors,
        connection.connection.cursor(name=name, withhold=connection.get_autocommit()) as cursor,
    ):
        cursor.adapters.register_loader("timestamptz", psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT))
        cursor.itersize = chunk_size
        cursor.execute(sql, params)
        yield from cursor


class RowWriter:
    def __init__(self, use_copy: bool | None = None, binary: bool = True):
        """`binary`: COPY in PostgreSQL's binary format where every column's type allows it
        (`BINARY_COPY_TYPES`); the values must then be of the column's Python type (an aware
        datetime for a timestamptz, a str for a varchar), as the ORM would give them."""
        self.use_copy = connection.vendor == "postgresql" if use_copy is None else use_copy
        self.binary = binary

    def write(self, model: type[models.Model], attnames: Sequence[str], rows: Iterable[tuple]) -> int:
        """Insert the rows into the model's table and return how many were written."""
        if not self.use_copy:
            objs = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
            model._default_manager.bulk_create(objs, batch_size=1000)
            return len(objs)
        quote = connection.ops.quote_name
        names = [model._meta.get_field(name).column for name in attnames]
        columns = ", ".join(quote(name) for name in names)
        count = 0
        data_changed()  # COPY bypasses Django's cursor, where writes are otherwise noticed
        connection.ensure_connection()
        # Django's error classes, as its own cursor gives: a trigger refusing a row raises IntegrityError.
        with connection.wrap_database_errors, connection.connection.cursor() as cursor:
            types = self._binary_types(cursor, model._meta.db_table, names) if self.binary else None
            binary = " (FORMAT BINARY)" if types else ""
            with cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN{binary}") as copy:
                if types:
                    # Formatting rows as text took 0.9 s of CPU for 630,000 moves, binary 0.12 s.
                    copy.set_types(types)
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
                    count += 1
        return count

    @staticmethod
    def _binary_types(cursor, table: str, columns: list[str]) -> list[int] | None:
        """The type oids of the table's columns, in order, if all can be copied in binary."""
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped",
            [connection.ops.quote_name(table)],
        )
        types = dict(cursor.fetchall())
        oids = [types.get(column) for column in columns]
        return [int(oid) for oid in oids] if all(oid in BINARY_COPY_TYPES for oid in oids) else None

    def reserve_ids(self, model: type[models.Model], count: int) -> list[int]:
        """`count` primary keys for rows about to be written with `write`, in increasing order,
        so that rows written together can point at each other (an item at its parent) at once.

        PostgreSQL draws them from the table's sequence; elsewhere (SQLite, one writer at a
        time) they follow the largest id in the table.
        """
        if count <= 0:
            return []
        quote = connection.ops.quote_name
        table, pk = model._meta.db_table, model._meta.pk.column
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # The sequence named once: pg_get_serial_sequence in the select list runs per row
                # (132,000 ids in 0.60 s that way, 0.08 s this way).
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [quote(table), pk])
                cursor.execute(
                    "SELECT nextval(%s::regclass) FROM generate_series(1, %s) ORDER BY 1",
                    [cursor.fetchone()[0], count],
                )
                return [row[0] for row in cursor.fetchall()]
            cursor.execute(f"SELECT MAX({quote(pk)}) FROM {quote(table)}")
            last = cursor.fetchone()[0] or 0
        return list(range(last + 1, last + 1 + count))

    def update_column(self, model: type[models.Model], attname: str, pairs: Sequence[tuple[int, object]]) -> int:
        """Set one column of many rows: `pairs` are (primary key, value). Returns the rows given.

        PostgreSQL copies the pairs into a temporary table and updates from it in one statement
        (bulk_update's CASE expressions grow with the batch); elsewhere bulk_update does it.
        """
        if not pairs:
            return 0
        field = model._meta.get_field(attname)
        if not self.use_copy:
            objs = [model(**{model._meta.pk.attname: pk, attname: value}) for pk, value in pairs]
            model._default_manager.bulk_update(objs, [field.name], batch_size=1000)
            return len(objs)
        quote = connection.ops.quote_name
        table, column, pk = quote(model._meta.db_table), quote(field.column), quote(model._meta.pk.column)
        value_type = field.db_type(connection)
        data_changed()
        connection.ensure_connection()
        with connection.wrap_database_errors, connection.connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE _column_update (id bigint PRIMARY KEY, value {value_type})")
            try:
                with cursor.copy("COPY _column_update (id, value) FROM STDIN") as copy:
                    for row in pairs:
                        copy.write_row(row)
                cursor.execute(
                    f"UPDATE {table} t SET {column} = u.value FROM _column_update u "
                    f"WHERE t.{pk} = u.id AND t.{column} IS DISTINCT FROM u.value"
                )
            finally:
                cursor.execute("DROP TABLE _column_update")
        return len(pairs)
