"""What every benchmark shares: Django set up as production runs it, timing, and page timing."""

from collections.abc import Callable
import itertools
import os
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Measure as production runs: DEBUG off (no query log, no debug templates).
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "benchmark-only-" + "k" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # the test client speaks plain HTTP

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# Hashed static names need collectstatic's manifest; the benchmark needs no real files.
settings.WHITENOISE_AUTOREFRESH = True  # no collectstatic output either
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402


def timed(fn, repeat: int) -> tuple[float, list[float]]:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), runs


def admin_client() -> Client:
    user, _ = get_user_model().objects.update_or_create(
        username="benchmark", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user)
    return client


def edits_in_turn(stream_ids: list[int]) -> Callable[[], None]:
    """An ordinary edit, each call in the next of the streams in turn: one item in progress has
    its title written again, a committed UPDATE that the data generation and the stream's
    version (`core.freshness`, PostgreSQL's triggers) count as any edit of that stream. It
    starts and finishes nothing, so the links and the delivery keys stay cached."""
    from streams.models import BacklogItem

    items = [
        BacklogItem.objects.filter(stream_id=pk, started_at__isnull=False, finished_at__isnull=True)
        .values_list("pk", flat=True)
        .first()
        for pk in stream_ids
    ]
    turn = itertools.cycle([pk for pk in items if pk is not None])

    def edit() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {BacklogItem._meta.db_table} SET title = title WHERE id = %s", [next(turn)])

    return edit


def time_page(
    client: Client,
    url: str,
    repeat: int = 20,
    after_change: bool = False,
    links_changed: bool = False,
    edit: Callable[[], None] | None = None,
) -> dict:
    """Median server time of GET url over `repeat` requests (after a warm-up), and its query count.

    With `after_change`, each request follows an edit, so the pages' fresh caches
    (`core.freshness`) miss what it changed: what the first view after an edit costs. An
    ordinary edit (`edit`, see `edits_in_turn`: a move that starts and finishes nothing, a
    check-in, an edit of a title, in one stream) keeps the walks down the item tree (`LINKS`),
    the delivery keys (`DELIVERY`) and the other streams' figures cached; without `edit` the
    data generation alone moves. With `links_changed` the edit is one of links (a link, a new
    or re-parented item), and the walks, the delivery keys and every stream's figures miss (as
    after a start, a finish or a deployment).
    """
    from core.freshness import data_changed

    def change() -> None:
        if after_change and edit is not None and not links_changed:
            edit()
        elif after_change:
            data_changed(links=links_changed, delivery=links_changed, okrs=links_changed)

    change()
    warm = client.get(url)
    if warm.status_code != 200:
        sys.exit(f"GET {url} answered {warm.status_code}; expected 200.")
    # Queries are counted on every timed request and the median reported, as the time is: one
    # request that met the minute turning (the portfolio's "synced N minutes ago" is part of
    # its cached body's key) counted the body's rebuild as the page's usual cost.
    runs, counts = [], []

    def counted(execute, sql, params, many, context):
        counts[-1] += 1
        return execute(sql, params, many, context)

    for _ in range(repeat):
        change()
        counts.append(0)
        with connection.execute_wrapper(counted):
            started = time.perf_counter()
            client.get(url)
            runs.append(time.perf_counter() - started)
    return {
        "median_ms": round(statistics.median(runs) * 1000, 1),
        "queries": statistics.median_low(counts),
        "runs_ms": [round(r * 1000) for r in runs],
    }


def require_scale_database(minimum: int = 100_000) -> int:
    from streams.models import BacklogItem

    if connection.vendor != "postgresql":
        sys.exit("Point DATABASE_URL at the PostgreSQL database seed_scale filled (see README, Benchmarks).")
    total = BacklogItem.objects.count()
    if total < minimum:
        sys.exit(f"Only {total:,} items here: run `manage.py seed_scale --items 500000` on this database first.")
    return total


def typical_stream():
    """The stream whose item count is closest to 5,000: the one the page, flow and load
    benchmarks time, so their figures are comparable. Its `n` is its item count."""
    from django.db.models import Count

    from streams.models import ValueStream

    return min(ValueStream.objects.annotate(n=Count("items")), key=lambda s: abs(s.n - 5000))


# On Linux a process's ru_maxrss starts at its parent's peak (the high-water mark survives
# fork and exec), so the import started straight from this process, which holds Django and
# deleted the previous stream, could not report less than this process's own peak. A small
# launcher starts it instead and writes the import's own rusage (os.wait4) to the file argv[1].
LAUNCHER = """
import os, sys
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_manage(args: list[str], out: Path | None = None, *, summary_line: int = 0) -> dict:
    """`manage.py ...` in a fresh process, as a user runs it: wall-clock time and its own peak
    RSS (see LAUNCHER); its output goes to `out` when given, else its `summary_line`-th
    non-empty line is the summary."""
    handle, rss_name = tempfile.mkstemp(prefix="bench-rss-")
    os.close(handle)
    try:
        with open(out or os.devnull, "wb") as sink:
            started = time.perf_counter()
            child = subprocess.run(
                [sys.executable, "-c", LAUNCHER, rss_name, sys.executable, "manage.py", *args],
                cwd=ROOT,
                env=os.environ.copy(),
                stdout=sink if out else subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            seconds = time.perf_counter() - started
        max_rss = int(Path(rss_name).read_text() or 0)
    finally:
        os.unlink(rss_name)
    stdout = (child.stdout or b"").decode(errors="replace")
    if child.returncode != 0:
        sys.exit(f"`manage.py {' '.join(args)}` exited with {child.returncode}:\n{child.stderr.decode()}{stdout}")
    lines = [line for line in stdout.splitlines() if line.strip()]
    return {
        "seconds": round(seconds, 2),
        # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
        "peak_rss_mb": round(max_rss / (1024 * 1024 if sys.platform == "darwin" else 1024), 1),
        **({"summary": lines[summary_line]} if lines else {}),
        **({"output_mb": round(out.stat().st_size / 1e6, 1)} if out else {}),
    }
