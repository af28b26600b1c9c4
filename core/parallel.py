"""Independent database jobs run side by side, each thread on its own connection.

Jobs whose time is mostly the database's (a stream's daily rollups, say) keep one core each
busy when several connections run them at once. Only on PostgreSQL, and only outside a
transaction: SQLite has a single writer, and other connections cannot see what an open
transaction (a test's, say) has written.

`quick_switches` is for a thread of Python work beside one that talks to the database.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
import os
import sys
import threading
from typing import TypeVar

from django.db import connection, connections

MAX_WORKERS = 4
# Seconds a thread holds the GIL while another waits for it, inside `quick_switches` (Python's
# default is 5 ms).
QUICK_SWITCH = 0.0005

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


class _QuickSwitches:
    """Who is inside `quick_switches`, and the interval to restore when the last one leaves."""

    def __init__(self):
        self.lock = threading.Lock()
        self.inside = 0
        self.saved = sys.getswitchinterval()


_quick = _QuickSwitches()


@contextmanager
def quick_switches() -> Iterator[None]:
    """Python's switch interval at most `QUICK_SWITCH` inside the block, for the whole process.

    A thread that waits on the database gives the GIL up, and gets it back, once its answer has
    come, only when the thread holding it lets it go: after the switch interval, 5 ms by default.
    Beside a thread of Python work (a file read while the rows are written), each of the small
    queries before a COPY, and each wait inside it, cost up to those 5 ms: a board's import
    began its COPY at 3.3 s instead of 2.3 s with 0.5 ms (six runs each, in turns). The work
    itself switches ten times as often, which costs it less than it lets the other thread go on.
    Blocks may overlap, on any threads: the interval comes back when the last one ends."""
    with _quick.lock:
        if _quick.inside == 0:
            _quick.saved = sys.getswitchinterval()
            sys.setswitchinterval(min(QUICK_SWITCH, _quick.saved))
        _quick.inside += 1
    try:
        yield
    finally:
        with _quick.lock:
            _quick.inside -= 1
            if _quick.inside == 0:
                sys.setswitchinterval(_quick.saved)
