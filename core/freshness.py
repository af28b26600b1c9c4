"""Caches that never show stale data: results stored under the data's generation.

The leaders' pages aggregate the whole organisation (500,000 items at the DESIGN.md scale) and
cost a few hundred milliseconds to compute, but most views of them happen between two changes.
So their results are cached, keyed on a *generation*: one number in the database
(`DataGeneration`) that goes up after every committed write to a domain table (the tables of
the apps teams, streams, okrs and portal). A result is stored under the generation current
when it was computed; the first read after a change finds no entry for the new generation and
computes afresh. How every write is seen:

- An execute wrapper on every database connection (installed by `TeamsConfig.ready`) looks at
  each statement. A write (INSERT, UPDATE, DELETE, MERGE, TRUNCATE) to a domain table bumps the
  generation when its transaction commits, or at once in autocommit mode.
- Writers that bypass Django's cursor (COPY in `core.bulk`) call `data_changed()` themselves.
- A connection whose transaction has written and not committed yet reads past the cache, so a
  request (and every test in a rolled-back transaction) always sees its own writes.

A second, narrower generation (`LINKS`) goes up only with writes that can change which items
serve which key results: links, key results, objectives, items created or deleted, and any
update of items naming `parent_id`. The walks down the item tree from the key results are
cached under it, so the leaders' pages after an ordinary change (a state move, a check-in)
read today's figures of the items without walking the tree again.
A third (`DELIVERY`) goes up only with writes that can change the keys of delivery
performance, which items were finished when, or which team waits on which: deployments, what
they shipped, incidents, dependencies, items inserted or deleted, and an update of items
naming `started_at`, `finished_at`, `stream_id`, `team_id`, `flow_type` or `customer_facing`
that changed a row (the lead time falls back on an item's start). The state
service writes an item's dates only when they change, so a move that starts or finishes
nothing keeps the delivery figures and the counts of finished work cached.
A fourth (`OKRS`) goes up only with writes to the objectives' own tables and the names they
show: objectives, key results, check-ins, people, teams, streams and which teams serve which
streams. The OKR tree's objectives and key results are cached under it, so an edit of work
(a move, a title) reads only the linked-work counts again.
The generation is read with one small query per cached read, so every process and every cache
backend agrees: a change committed by one gunicorn worker is visible at once in the others,
with the per-process memory cache as with Redis. A random epoch in the generation row keeps
keys unique if the table is emptied (a test database flushed, a restore). Writes made outside
the portal (psql by hand, another program) are not seen: entries expire after
`FRESH_CACHE_SECONDS` (5 minutes) at most.

Per stream: on PostgreSQL every stream also has a version (`streams.models.versions`), moved on
by the commit of any transaction that wrote that stream's data, whichever door it came through:
statement-level triggers note the streams each write touches, and the bump after the commit
counts them. `fresh_cached_by_stream` keeps a result per stream under its version, so after a
change in one stream a leader's page computes that stream's figures only. SQLite has no
triggers: there every stream's version is the global generation.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
import hashlib
import logging
import re
import secrets
import time
from typing import TypeVar

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, ProgrammingError, connections

logger = logging.getLogger(__name__)
T = TypeVar("T")

FRESH_CACHE_SECONDS = 300
DOMAIN_PREFIXES = ("teams_", "streams_", "okrs_", "portal_")
GENERATION_TABLE = "teams_datageneration"
# Written on every API call or by the cache itself; no cached result reads them.
VERSION_TABLE, CHANGE_TABLE = "streams_streamversion", "streams_streamchange"
IGNORED_TABLES = frozenset({GENERATION_TABLE, VERSION_TABLE, CHANGE_TABLE, "portal_apitoken"})
_WRITE = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?\"?([A-Za-z0-9_]+)",
    re.IGNORECASE,
)
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "WITH")
_MISSING = object()
UNDEFINED_TABLE = "42P01"
# The generations' rows: every domain write, the writes that shape links, those that move
# delivery, those to objectives and the names they show.
DATA, LINKS, DELIVERY, OKRS = 1, 2, 3, 4
LINK_TABLES = frozenset({"okrs_keyresult_items", "okrs_keyresult", "okrs_objective"})
DELIVERY_TABLES = frozenset({"streams_deployment", "streams_deploymentitem", "streams_incident", "streams_dependency"})
OKR_TABLES = frozenset(
    {"teams_person", "teams_team", "streams_valuestream", "streams_valuestream_teams"}
)  # and every okrs_ table
ITEMS_TABLE = "streams_backlogitem"
_PARENT = re.compile(r"\bparent_id\b", re.IGNORECASE)
_DATES = re.compile(r"\b(?:started_at|finished_at|stream_id|team_id|flow_type|customer_facing)\b", re.IGNORECASE)


def writes_domain_table(sql: str) -> bool:
    """Whether a statement writes to a domain table (read queries start with SELECT; a WITH
    query is searched for a data-modifying part)."""
    head = sql.lstrip()[:8].upper()
    if not head.startswith(_WRITE_VERBS):
        return False
    return any(
        table.lower().startswith(DOMAIN_PREFIXES) and table.lower() not in IGNORED_TABLES
        for table in _WRITE.findall(sql)
    )


def writes_links(sql: str) -> bool:
    """Whether a statement that writes domain data can change which items serve which key
    results: a write to links, key results or objectives; items inserted, deleted or truncated;
    an update of items naming `parent_id` (a model saved whole names every column)."""
    verb = sql.lstrip()[:8].upper()
    for table in (t.lower() for t in _WRITE.findall(sql)):
        if table in LINK_TABLES:
            return True
        if table == ITEMS_TABLE and (not verb.startswith(("UPDATE", "WITH")) or _PARENT.search(sql)):
            return True
    return False


def writes_okrs(sql: str) -> bool:
    """Whether a statement that writes domain data writes the objectives' tables (every `okrs_`
    table) or the names the OKR tree shows (people, teams, streams, a stream's teams)."""
    return any(table.startswith("okrs_") or table in OKR_TABLES for table in (t.lower() for t in _WRITE.findall(sql)))


def writes_delivery(sql: str, rowcount: int = -1) -> bool:
    """Whether a statement that writes domain data can change the delivery keys, which items
    were finished when or which team waits on which: a write to deployments, shipped items,
    incidents or dependencies; items inserted, deleted or truncated; an update of items naming
    `started_at`, `finished_at`, `stream_id`, `team_id`, `flow_type` or `customer_facing` that
    changed a row (`rowcount` 0: none; -1: unknown, so yes)."""
    verb = sql.lstrip()[:8].upper()
    for table in (t.lower() for t in _WRITE.findall(sql)):
        if table in DELIVERY_TABLES:
            return True
        if table == ITEMS_TABLE and (not verb.startswith(("UPDATE", "WITH")) or (_DATES.search(sql) and rowcount != 0)):
            return True
    return False


class _Bump:
    """The on-commit callback of a transaction that wrote; its presence in the connection's
    on-commit list is how `writes_pending` knows the transaction wrote. `links`, `delivery` and
    `okrs` say whether one of its writes could change the links, the delivery keys or the
    objectives, too."""

    def __init__(self, alias: str, links: bool = False, delivery: bool = False, okrs: bool = False):
        self.alias = alias
        self.links = links
        self.delivery = delivery
        self.okrs = okrs

    def __call__(self) -> None:
        _bump(self.alias, self.links, self.delivery, self.okrs)


# After a commit: the streams this connection's committed transactions wrote move on, with
# those a connection that has gone wrote (a process killed between its commit and its bump, a
# psql session), in the order of their ids (two connections bumping the same streams lock them
# in the same order). A new row starts at a random value, so keys stay unique if the table is
# ever emptied.
_COUNT_STREAM_CHANGES = f"""
    WITH noted AS (
        DELETE FROM {CHANGE_TABLE}
        WHERE backend = pg_backend_pid() OR backend NOT IN (SELECT pid FROM pg_stat_activity)
        RETURNING stream_id
    )
    INSERT INTO {VERSION_TABLE} (stream_id, value)
    SELECT stream_id, floor(random() * 1e15)::bigint FROM (SELECT DISTINCT stream_id FROM noted) streams
    ORDER BY stream_id
    ON CONFLICT (stream_id) DO UPDATE SET value = {VERSION_TABLE}.value + 1
"""


def _bump(alias: str, links: bool = True, delivery: bool = True, okrs: bool = True) -> None:
    rows = (DATA,) + ((LINKS,) if links else ()) + ((DELIVERY,) if delivery else ()) + ((OKRS,) if okrs else ())
    conn = connections[alias]
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"UPDATE {GENERATION_TABLE} SET value = value + 1 WHERE id IN ({', '.join(map(str, rows))})")
            if cursor.rowcount < len(rows):
                for row in rows:
                    _create_row(cursor, row)
            if conn.vendor == "postgresql":
                try:
                    cursor.execute(_COUNT_STREAM_CHANGES)
                except ProgrammingError as error:
                    if getattr(error.__cause__, "sqlstate", None) != UNDEFINED_TABLE:
                        raise  # else migrating: the tables of streams 0031 are not there yet
    except Exception:  # the write itself has committed: never fail the request for the cache
        logger.exception("could not bump the data generation; cached pages may lag for %s s", FRESH_CACHE_SECONDS)


def _create_row(cursor, row: int = DATA) -> None:
    """Create a generation's row unless it is there (another process may just have created it).
    No error to catch: on SQLite a failed INSERT left on the cursor made the next row's commit
    fail ("SQL statements in progress") when two rows were missing."""
    cursor.execute(
        f"INSERT INTO {GENERATION_TABLE} (id, value, epoch) VALUES (%s, 1, %s) ON CONFLICT (id) DO NOTHING",
        [row, secrets.token_hex(8)],
    )


def writes_pending(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the connection's open transaction has written to a domain table."""
    conn = connections[alias]
    return conn.in_atomic_block and any(isinstance(func, _Bump) for _, func, _ in conn.run_on_commit)


def data_changed(
    alias: str = DEFAULT_DB_ALIAS, *, links: bool = True, delivery: bool = True, okrs: bool = True
) -> None:
    """Say that domain data changed: the generation goes up when the transaction commits (at
    once outside a transaction). Statements through Django's cursor are seen without it. A
    writer that bypasses the cursor (COPY) may have changed links, delivery and objectives too
    unless it says not."""
    conn = connections[alias]
    if conn.in_atomic_block:
        pending = next((func for _, func, _ in conn.run_on_commit if isinstance(func, _Bump)), None)
        if pending is None:
            conn.on_commit(_Bump(alias, links, delivery, okrs))
        else:
            pending.links = pending.links or links
            pending.delivery = pending.delivery or delivery
            pending.okrs = pending.okrs or okrs
    else:
        _bump(alias, links, delivery, okrs)


def watch_writes(execute, sql, params, many, context):
    """Execute wrapper: run the statement, then note a write to a domain table."""
    result = execute(sql, params, many, context)
    if isinstance(sql, str) and writes_domain_table(sql):
        rowcount = getattr(context.get("cursor"), "rowcount", -1)
        rowcount = -1 if rowcount is None else rowcount
        data_changed(
            context["connection"].alias,
            links=writes_links(sql),
            delivery=writes_delivery(sql, rowcount),
            okrs=writes_okrs(sql),
        )
    return result


def install(connection) -> None:
    """Watch a connection's statements (idempotent; wrappers live on the connection object)."""
    if watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(watch_writes)


def current_generation(alias: str = DEFAULT_DB_ALIAS, generation: int | tuple[int, ...] = DATA) -> str:
    """The generation (or several, read in one query) as a cache key part."""
    rows = (generation,) if isinstance(generation, int) else tuple(generation)
    select = f"SELECT id, epoch, value FROM {GENERATION_TABLE} WHERE id IN ({', '.join(map(str, rows))})"
    with connections[alias].cursor() as cursor:
        cursor.execute(select)
        found = {row[0]: row[1:] for row in cursor.fetchall()}
        if len(found) < len(rows):
            for row in rows:
                if row not in found:
                    _create_row(cursor, row)
            cursor.execute(select)
            found = {row[0]: row[1:] for row in cursor.fetchall()}
    return ":".join(f"{row}.{found[row][0]}.{found[row][1]}" for row in rows)


def ids_key(ids) -> str:
    """A short, order-independent cache key part for a set of primary keys."""
    return hashlib.blake2b(",".join(map(str, sorted(ids))).encode(), digest_size=12).hexdigest()


IN_PROCESS_ENTRIES = 16
_in_process: OrderedDict[str, tuple[float, object]] = OrderedDict()


def fresh_cached(
    key: str,
    compute: Callable[[], T],
    *,
    alias: str = DEFAULT_DB_ALIAS,
    generation: int | tuple[int, ...] = DATA,
    in_process: bool = False,
) -> T:
    """`compute()`, or its result cached at the current data generation (or the `LINKS`
    generation, for results that depend only on which items serve which key results; or the
    `DELIVERY` one, for the delivery keys and finished work; or several, read in one query,
    for results that depend on what each of them covers). `key` must name everything else the
    result depends on (the user's scope, filters, the day...).

    `in_process=True` also keeps the result as an object in this process (the last
    IN_PROCESS_ENTRIES of them, for as long as the shared cache would), so a large result
    (thousands of model instances) is not unpickled at every view: the caller must not change
    it. The generation is still read at each call, so it is never stale either."""
    if writes_pending(alias):
        return compute()
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    full_key = f"fresh:{current_generation(alias, generation)}:{digest}"
    if in_process:
        kept = _in_process.get(full_key)
        if kept is not None and kept[0] > time.monotonic():
            _in_process.move_to_end(full_key)
            return kept[1]
    value = cache.get(full_key, _MISSING)
    if value is _MISSING:
        value = compute()
        cache.set(full_key, value, FRESH_CACHE_SECONDS)
    if in_process:
        _in_process[full_key] = (time.monotonic() + FRESH_CACHE_SECONDS, value)
        while len(_in_process) > IN_PROCESS_ENTRIES:
            _in_process.popitem(last=False)
    return value


def stream_versions(stream_ids, alias: str = DEFAULT_DB_ALIAS) -> dict[int, str]:
    """Each stream's version as a cache key part (one query): on PostgreSQL its own, kept by
    the triggers, with the data generation's epoch (a stream not written since the triggers
    came has no row yet: keys stay unique if the tables are emptied and filled again);
    elsewhere the global generation, the same for every stream."""
    conn = connections[alias]
    if conn.vendor != "postgresql":
        return dict.fromkeys(stream_ids, current_generation(alias))
    select = (
        f"SELECT g.epoch, v.stream_id, v.value FROM {GENERATION_TABLE} g "
        f"LEFT JOIN {VERSION_TABLE} v ON v.stream_id = ANY(%s) WHERE g.id = {DATA}"
    )
    with conn.cursor() as cursor:
        cursor.execute(select, [list(stream_ids)])
        rows = cursor.fetchall()
        if not rows:
            _create_row(cursor)
            cursor.execute(select, [list(stream_ids)])
            rows = cursor.fetchall()
    epoch, found = rows[0][0], {pk: value for _, pk, value in rows if pk is not None}
    return {pk: f"{epoch}.{found.get(pk, 0)}" for pk in stream_ids}


def fresh_cached_by_stream(
    key: str,
    stream_ids: list[int],
    compute: Callable[[list[int]], dict[int, T]],
    *,
    alias: str = DEFAULT_DB_ALIAS,
    generation: int | tuple[int, ...] = LINKS,
) -> dict[int, T]:
    """`compute(ids)` per stream: each stream's result is cached under its own version (and
    the `generation` rows, for what a stream's result reads beyond its own data; none with
    `()`), so only the streams written since are computed again, all in one call. `compute` must read nothing of
    a stream but what its version covers (`streams.models.versions`) and the generations
    given; `key` must name everything else (the period, the window, the day...)."""
    if not stream_ids:
        return {}
    if writes_pending(alias):
        return compute(list(stream_ids))
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    prefix = f"fresh:{current_generation(alias, generation) if generation != () else 'streams'}:{digest}"
    keys = {pk: f"{prefix}:{pk}:{version}" for pk, version in stream_versions(stream_ids, alias).items()}
    found = cache.get_many(list(keys.values()))
    results = {pk: found[k] for pk, k in keys.items() if k in found}
    missing = [pk for pk in stream_ids if pk not in results]
    if missing:
        computed = compute(missing)
        cache.set_many({keys[pk]: computed[pk] for pk in missing}, FRESH_CACHE_SECONDS)
        results.update(computed)
    return results
