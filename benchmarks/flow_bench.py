"""Flow benchmarks on a PostgreSQL database filled by `manage.py seed_scale`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_scale .venv/bin/python benchmarks/flow_bench.py

Prints, and writes to benchmarks/results/flow.json:
- the time to compute every metric of one stream of about 5,000 items (median of 5);
- the time to refresh the daily rollups for one new day (the beat job after midnight);
- the time to compute every metric of the whole portfolio from the rollups (median of 5),
  and once from the whole history for reference;
- the stream page's server time (median of 20 requests) and its query count;
- the time to import 100,000 transitions with import_flow_csv (in a transaction rolled back
  afterwards, so the database is left as it was).
Goals from the flow issue: stream page median <= 150 ms, portfolio metrics <= 2 s, query count flat.
"""

import csv
import datetime as dt
import json
from pathlib import Path
import random
import sys
import tempfile
import time

from common import admin_client, require_scale_database, time_page, timed, typical_stream
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from goals import RESULTS, ROLLUP_DAY_GOAL_S, budget

from streams.flow.engine import Scope  # noqa: E402
from streams.flow.report import flow_report  # noqa: E402
from streams.flow.rollups import rollups_invalidate, rollups_refresh  # noqa: E402
from streams.integrations.writer import flow_csv_import  # noqa: E402
from streams.models import ValueStream  # noqa: E402


def write_import_files(folder: Path, transitions: int) -> None:
    """About `transitions` moves: items of six moves each through a five-state workflow."""
    rng = random.Random(7)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    moves = ["Backlog", "In progress", "Waiting", "In progress", "Review", "Done"]
    with open(folder / "states.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "category", "order"])
        writer.writerows(
            [
                ("Backlog", "backlog", 0),
                ("In progress", "active", 1),
                ("Waiting", "waiting", 2),
                ("Review", "active", 3),
                ("Done", "done", 4),
            ]
        )
    with open(folder / "items.csv", "w", newline="") as fi, open(folder / "transitions.csv", "w", newline="") as ft:
        items, history = csv.writer(fi), csv.writer(ft)
        items.writerow(["key", "title", "type", "created_at"])
        history.writerow(["key", "to_state", "at"])
        for n in range(transitions // len(moves)):
            key, created = f"BENCH-{n}", start + dt.timedelta(minutes=rng.randint(0, 600_000))
            items.writerow(
                [key, f"Benchmark item {n}", rng.choice(["feature", "defect", "risk", "debt"]), created.isoformat()]
            )
            at = created
            for state in moves:
                history.writerow([key, state, at.isoformat()])
                at += dt.timedelta(hours=rng.randint(1, 200))


def main() -> None:
    total = require_scale_database()
    results: dict = {"items": total, "transitions": None}
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'streams_statetransition'")
        results["transitions"] = cursor.fetchone()[0]

    stream = typical_stream()
    results["stream"] = {"slug": stream.slug, "items": stream.n}
    median, runs = timed(lambda: flow_report(scope=Scope.stream(stream)), 5)
    results["stream_metrics_s"] = {"median": round(median, 3), "runs": [round(r, 3) for r in runs]}
    print(f"stream metrics ({stream.n:,} items): median {median * 1000:.0f} ms")

    # The portfolio reads the daily rollups; bring them up to date first (seed_scale stored them).
    started = time.perf_counter()
    days = rollups_refresh()
    print(f"rollups brought up to date: {days:,} days in {time.perf_counter() - started:.1f} s")
    # What the beat job does after midnight: one new day for every stream.
    yesterday = timezone.now().astimezone(dt.UTC).date() - dt.timedelta(days=1)
    for stream_id in ValueStream.objects.values_list("pk", flat=True):
        rollups_invalidate(stream_id=stream_id, since=yesterday)
    started = time.perf_counter()
    days = rollups_refresh()
    nightly = time.perf_counter() - started
    results["rollups_one_day_s"] = round(nightly, 2)
    print(f"rollups refresh of one day for {days:,} streams: {nightly:.1f} s (goal {ROLLUP_DAY_GOAL_S} s)")

    report = flow_report(scope=Scope.portfolio(), with_items=False)
    if report.method != "daily rollups":
        sys.exit(f"the portfolio report was read from {report.method}, not the daily rollups")
    median, runs = timed(lambda: flow_report(scope=Scope.portfolio(), with_items=False), 5)
    results["portfolio_metrics_s"] = {"median": round(median, 3), "runs": [round(r, 3) for r in runs]}
    print(f"portfolio metrics ({total:,} items, daily rollups): median {median:.2f} s (goal {budget(2):g} s)")
    median, runs = timed(lambda: flow_report(scope=Scope.portfolio(), with_items=False, use_rollups=False), 1)
    results["portfolio_from_history_s"] = round(median, 3)
    print(f"portfolio metrics read from the whole history (reference): {median:.2f} s")

    url = stream.get_absolute_url()
    page = time_page(admin_client(), url)
    results["stream_page"] = {"median_ms": page["median_ms"], "queries": page["queries"]}
    print(
        f"stream page: median {page['median_ms']:.0f} ms over 20 requests, {page['queries']} queries "
        f"(goal {budget(100):g} ms)"
    )

    with tempfile.TemporaryDirectory() as folder:
        write_import_files(Path(folder), 100_000)
        with transaction.atomic():
            with (
                open(Path(folder) / "states.csv") as s,
                open(Path(folder) / "items.csv") as i,
                open(Path(folder) / "transitions.csv") as t,
            ):
                result = flow_csv_import(
                    stream_slug="benchmark-import", states_file=s, items_file=i, transitions_file=t
                )
            transaction.set_rollback(True)  # leave the benchmark database as it was
    results["import_100k_s"] = round(result.seconds, 2)
    print(f"import of {result.transitions_written:,} transitions: {result.seconds:.2f} s")

    out = RESULTS
    out.mkdir(parents=True, exist_ok=True)
    (out / "flow.json").write_text(json.dumps(results, indent=2))
    print(f"written to {out / 'flow.json'}")


if __name__ == "__main__":
    main()
