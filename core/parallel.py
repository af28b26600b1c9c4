"""Independent database jobs run side by side, each thread on its own connection.

Jobs whose time is mostly the database's (a stream's daily rollups, say) keep one core each
busy when several connections run them at once. Only on PostgreSQL, and only outside a
transaction: SQLite has a single writer, and other connections cannot see what an open
transaction (a test's, say) has written.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
import os
import threading
from typing import TypeVar

from django.db import connection, connections

MAX_WORKERS = 4

T = TypeVar("T")
R = TypeVar("R")


def _possible() -> bool:
    """Other connections can write beside this one and see what it has committed."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def default_workers() -> int:
    """One connection per core, at most MAX_WORKERS, where side by side is possible; else 1."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS)) if _possible() else 1


def each_side_by_side(jobs: Iterable[T], run: Callable[[T], R], workers: int | None = None) -> list[R]:
    """`run(job)` for every job, `workers` at a time (default `default_workers()`), each thread
    on its own connection, closed when it ends. Results come in the jobs' order. The first
    failure stops the others after their current job and is raised here. Whatever `workers`
    says, jobs run one after the other on the caller's connection where side by side is not
    possible (SQLite, or inside a transaction)."""
    pending = deque(enumerate(jobs))
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(pending) <= 1 or not _possible():
        return [run(job) for _, job in pending]
    results: dict[int, R] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            while not failures:
                with lock:
                    if not pending:
                        return
                    number, job = pending.popleft()
                results[number] = run(job)
        except BaseException as exc:  # handed to the calling thread, which raises it
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, name=f"side-by-side-{n}") for n in range(min(workers, len(pending)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return [results[number] for number in sorted(results)]
