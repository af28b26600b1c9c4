"""Locks that last as long as a piece of work, and die with the process that holds it.

On PostgreSQL a session-level advisory lock: held by the database connection, released when
the work ends or when the process holding it dies (the server ends its session), so a worker
killed mid-run never leaves a lock behind and the next run knows at once that the earlier one
is dead. On SQLite (the embedded default, one process) there is nothing to coordinate with:
the lock is always granted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

# The first half of the two-int advisory lock key: which kind of work; the second: which one.
NAMESPACES = {"connection-sync": 7301}


@contextmanager
def work_lock(namespace: str, key: int) -> Iterator[bool]:
    """Yields whether the lock was taken (False: someone alive holds it); released on exit."""
    if connection.vendor != "postgresql":
        yield True
        return
    ids = (NAMESPACES[namespace], key)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", ids)
        taken = cursor.fetchone()[0]
    try:
        yield taken
    finally:
        if taken:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", ids)
