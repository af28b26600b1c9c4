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

The generation is read with one small query per cached read, so every process and every cache
backend agrees: a change committed by one gunicorn worker is visible at once in the others,
with the per-process memory cache as with Redis. A random epoch in the generation row keeps
keys unique if the table is emptied (a test database flushed, a restore). Writes made outside
the portal (psql by hand, another program) are not seen: entries expire after
`FRESH_CACHE_SECONDS` (5 minutes) at most.
"""

from __future__ import annotations

from collections.abc import Callable
import hashlib
import logging
import re
import secrets
from typing import TypeVar

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction

logger = logging.getLogger(__name__)
T = TypeVar("T")

FRESH_CACHE_SECONDS = 300
DOMAIN_PREFIXES = ("teams_", "streams_", "okrs_", "portal_")
GENERATION_TABLE = "teams_datageneration"
# Written on every API call or by the cache itself; no cached result reads them.
IGNORED_TABLES = frozenset({GENERATION_TABLE, "portal_apitoken"})
_WRITE = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?\"?([A-Za-z0-9_]+)",
    re.IGNORECASE,
)
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "WITH")
_MISSING = object()


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


class _Bump:
    """The on-commit callback of a transaction that wrote; its presence in the connection's
    on-commit list is how `writes_pending` knows the transaction wrote."""

    def __init__(self, alias: str):
        self.alias = alias

    def __call__(self) -> None:
        _bump(self.alias)


def _bump(alias: str) -> None:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(f"UPDATE {GENERATION_TABLE} SET value = value + 1 WHERE id = 1")
            if cursor.rowcount == 0:
                _create_row(cursor)
    except Exception:  # the write itself has committed: never fail the request for the cache
        logger.exception("could not bump the data generation; cached pages may lag for %s s", FRESH_CACHE_SECONDS)


def _create_row(cursor) -> None:
    try:
        with transaction.atomic(using=cursor.db.alias):
            cursor.execute(
                f"INSERT INTO {GENERATION_TABLE} (id, value, epoch) VALUES (1, 1, %s)", [secrets.token_hex(8)]
            )
    except IntegrityError:  # another process created it meanwhile
        pass


def writes_pending(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the connection's open transaction has written to a domain table."""
    conn = connections[alias]
    return conn.in_atomic_block and any(isinstance(func, _Bump) for _, func, _ in conn.run_on_commit)


def data_changed(alias: str = DEFAULT_DB_ALIAS) -> None:
    """Say that domain data changed: the generation goes up when the transaction commits (at
    once outside a transaction). Statements through Django's cursor are seen without it."""
    conn = connections[alias]
    if conn.in_atomic_block:
        if not writes_pending(alias):
            conn.on_commit(_Bump(alias))
    else:
        _bump(alias)


def watch_writes(execute, sql, params, many, context):
    """Execute wrapper: run the statement, then note a write to a domain table."""
    result = execute(sql, params, many, context)
    if isinstance(sql, str) and writes_domain_table(sql):
        data_changed(context["connection"].alias)
    return result


def install(connection) -> None:
    """Watch a connection's statements (idempotent; wrappers live on the connection object)."""
    if watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(watch_writes)


def current_generation(alias: str = DEFAULT_DB_ALIAS) -> str:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT epoch, value FROM {GENERATION_TABLE} WHERE id = 1")
        row = cursor.fetchone()
        if row is None:
            _create_row(cursor)
            cursor.execute(f"SELECT epoch, value FROM {GENERATION_TABLE} WHERE id = 1")
            row = cursor.fetchone()
    return f"{row[0]}.{row[1]}"


def ids_key(ids) -> str:
    """A short, order-independent cache key part for a set of primary keys."""
    return hashlib.blake2b(",".join(map(str, sorted(ids))).encode(), digest_size=12).hexdigest()


def fresh_cached(key: str, compute: Callable[[], T], *, alias: str = DEFAULT_DB_ALIAS) -> T:
    """`compute()`, or its result cached at the current data generation. `key` must name
    everything else the result depends on (the user's scope, filters, the day...)."""
    if writes_pending(alias):
        return compute()
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    full_key = f"fresh:{current_generation(alias)}:{digest}"
    value = cache.get(full_key, _MISSING)
    if value is _MISSING:
        value = compute()
        cache.set(full_key, value, FRESH_CACHE_SECONDS)
    return value
