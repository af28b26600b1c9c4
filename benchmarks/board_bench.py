"""Large-board benchmark: one stream of 132,000 items and 630,000 moves over eleven years,
imported with `manage.py import_flow_csv`, then measured with `manage.py flow_metrics`.

Run it on a scratch PostgreSQL database (it deletes and re-creates the stream `bench-board`
there, nothing else):

    createdb -h 127.0.0.1 -U postgres portal_board
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_board .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_board .venv/bin/python benchmarks/board_bench.py

`--items 2000 --transitions 9500` makes a quick smoke run; `--import-only` measures the import
and its re-run alone (results in board_import.json). The stream is kept afterwards (`--no-keep`
deletes it); the next run deletes it first.

The board is generated, seeded and the same on every run, into a temporary folder: the three
files `import_flow_csv` reads (states.csv, items.csv, transitions.csv). An eight-state
workflow; four flow types; epics that parent about a third of the items; items sent back
(review to development, development to the backlog) and a few reopened; most finished or
removed, a few thousand still open (most of them recent).

Prints, and writes to benchmarks/results/board.json:
- the time to delete the previous run's stream (per-item signals: a minute or two);
- the wall-clock time and the peak RSS of each command, run as a user runs it, in a fresh
  process (DEBUG off, as in production): the import, the same import again (changes nothing),
  and, once the tables are vacuumed and analysed (as autovacuum does within a minute of a bulk load),
  `flow_metrics --stream bench-board --from FIRST --to LAST` over the whole span, with its
  per-item facts, as JSON (the default) and as CSV.
Goals from issue 32: the import <= 10 s (41.6 s, 458 MB measured before), flow metrics <= 5 s
with a peak memory <= 400 MB (9.4 s, 715 MB measured before).
"""

import argparse
import csv
import datetime as dt
import json
import os
from pathlib import Path
import random
import sys
import tempfile
import time

from common import run_manage
from django.db import connection  # noqa: E402
from goals import RESULTS

from core.history import delete_with_history  # noqa: E402
from streams.models import BacklogItem, StateTransition, ValueStream  # noqa: E402

STREAM = "bench-board"
GOAL_IMPORT_SECONDS = 10
GOAL_METRICS_SECONDS = 5
GOAL_METRICS_PEAK_RSS_MB = 400

FIRST_DAY = dt.date(2015, 12, 1)
LAST_DAY = dt.date(2026, 11, 30)  # eleven years; no move is dated after this day
FIRST = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC)
LAST = dt.datetime.combine(LAST_DAY, dt.time(23, 0), dt.UTC)
RECENT = dt.timedelta(days=120)  # items created this close to the end are often still open

STATES = [
    ("Backlog", "backlog", 0),
    ("Ready", "backlog", 1),
    ("In Progress", "active", 2),
    ("Code Review", "active", 3),
    ("Waiting for QA", "waiting", 4),
    ("Testing", "active", 5),
    ("Done", "done", 6),
    ("Won't Do", "removed", 7),
]
# Where work goes next on its way (repeats weigh the choice); backward moves included.
MOVES = {
    "Backlog": ["Ready"] * 3 + ["In Progress"] * 2,
    "Ready": ["In Progress"] * 5 + ["Backlog"],
    "In Progress": ["Code Review"] * 5 + ["Waiting for QA", "Backlog"],
    "Code Review": ["Testing"] * 2 + ["Waiting for QA"] * 2 + ["In Progress"] * 2,
    "Waiting for QA": ["Testing"] * 4 + ["In Progress"],
    "Testing": ["Waiting for QA", "In Progress", "Code Review"],
}
# How long work stays in a state before its next move, in hours (low, high).
STAY_HOURS = {
    "Backlog": (2, 24 * 60),
    "Ready": (1, 24 * 14),
    "In Progress": (1, 24 * 8),
    "Code Review": (1, 24 * 3),
    "Waiting for QA": (1, 24 * 6),
    "Testing": (1, 24 * 4),
    "Done": (24, 24 * 30),
}
TYPES = ["feature"] * 60 + ["defect"] * 25 + ["debt"] * 10 + ["risk"] * 5


def moves_per_item(rng: random.Random, items: int, transitions: int) -> list[int]:
    """How many moves each item gets (its entry into the backlog included): 2 to 12, summing to `transitions`."""
    low, high = min(2, transitions // items), max(12, -(-transitions // items))
    counts = [min(high, max(low, round(rng.lognormvariate(1.45, 0.45)))) for _ in range(items)]
    gap = transitions - sum(counts)
    step = 1 if gap > 0 else -1
    while gap:
        n = rng.randrange(items)
        if low <= counts[n] + step <= high:
            counts[n] += step
            gap -= step
    return counts


def item_path(rng: random.Random, moves: int, fate: str) -> list[str]:
    """The states an item enters, `moves` of them: the backlog first, then its way through the
    workflow, ending in Done or Won't Do unless it is still open; sometimes reopened once."""
    path = ["Backlog"]
    walk = moves - 1 if fate == "open" else moves - 2
    reopen_at = rng.randrange(2, walk - 2) if fate == "done" and walk >= 5 and rng.random() < 0.04 else None
    while len(path) - 1 < walk:
        if len(path) == reopen_at:
            path += ["Done", "In Progress"]
            continue
        path.append(rng.choice(MOVES[path[-1]]))
    del path[walk + 1 :]
    if fate == "done":
        path.append("Done")
    elif fate == "removed":
        path.append("Won't Do")
    return path


def write_board(folder: Path, items: int, transitions: int) -> dict:
    """Write states.csv, items.csv and transitions.csv of one board into `folder`."""
    rng = random.Random(11)
    counts = moves_per_item(rng, items, transitions)
    span = int((LAST - FIRST).total_seconds())
    epics = set(rng.sample(range(items), max(1, items // 50)))
    epic_keys = [f"BRD-{n + 1}" for n in sorted(epics)]
    written = {"items": items, "transitions": 0, "epics": len(epics), "parents": 0, "open": 0, "reopened": 0}
    with open(folder / "states.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "category", "order"])
        writer.writerows(STATES)
    with (
        open(folder / "items.csv", "w", newline="") as fi,
        open(folder / "transitions.csv", "w", newline="") as ft,
    ):
        item_rows, move_rows = csv.writer(fi), csv.writer(ft)
        item_rows.writerow(["key", "title", "type", "created_at", "parent_key"])
        move_rows.writerow(["key", "to_state", "at"])
        for n in range(items):
            key = f"BRD-{n + 1}"
            created = FIRST + dt.timedelta(seconds=rng.randrange(span))
            recent = created > LAST - RECENT
            roll = rng.random()
            if roll < (0.55 if recent else 0.012):
                fate = "open"
            elif roll < (0.6 if recent else 0.09):
                fate = "removed"
            else:
                fate = "done"
            path = item_path(rng, counts[n], fate)
            stays = [rng.uniform(*STAY_HOURS.get(state, (1, 48))) for state in path[:-1]]
            room = (LAST - created).total_seconds() / 3600
            if sum(stays) > room:  # an item created late moves faster, so its last move is in the span
                stays = [hours * room / sum(stays) for hours in stays]
            flow_type = "feature" if n in epics else rng.choice(TYPES)
            parent = ""
            if n not in epics and rng.random() < 0.35:
                parent = rng.choice(epic_keys)
                written["parents"] += 1
            item_rows.writerow([key, f"{flow_type.title()} {n + 1}: board work item", flow_type, _iso(created), parent])
            at = created
            for index, state in enumerate(path):
                if index:
                    at += dt.timedelta(hours=stays[index - 1])
                move_rows.writerow([key, state, _iso(at)])
            written["transitions"] += len(path)
            written["open"] += fate == "open"
            written["reopened"] += path.count("Done") > 1
    return written


def _iso(at: dt.datetime) -> str:
    return at.replace(microsecond=0).isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=132_000, help="items on the board (default 132,000)")
    parser.add_argument("--transitions", type=int, default=630_000, help="moves, entries included (630,000)")
    parser.add_argument(
        "--import-only",
        action="store_true",
        help="measure the import and its re-run only, not flow_metrics afterwards",
    )
    parser.add_argument(
        "--keep",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the stream afterwards (default; the next run deletes it first)",
    )
    options = parser.parse_args()
    if options.items < 1 or options.transitions < 2 * options.items:
        parser.error("--items must be at least 1 and --transitions at least twice --items")
    if not os.environ.get("DATABASE_URL") or connection.vendor != "postgresql":
        sys.exit(
            "Point DATABASE_URL at a scratch PostgreSQL database, migrated (see this file's docstring), e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_board"
        )
    results: dict = {"database": connection.settings_dict["NAME"], "stream": STREAM}

    print(f"deleting the previous run's stream {STREAM!r}, if any...", flush=True)
    started = time.perf_counter()
    deleted, _ = delete_with_history(ValueStream.objects.filter(slug=STREAM))
    results["delete_previous_s"] = round(time.perf_counter() - started, 2)
    print(f"previous stream {STREAM!r} deleted: {deleted:,} rows in {results['delete_previous_s']:.1f} s")

    with tempfile.TemporaryDirectory(prefix="board-bench-") as name:
        folder = Path(name)
        started = time.perf_counter()
        written = write_board(folder, options.items, options.transitions)
        results["generate_s"] = round(time.perf_counter() - started, 2)
        results["board"] = written
        results["files_mb"] = round(sum(p.stat().st_size for p in folder.iterdir()) / 1e6, 1)
        print(
            f"board written: {written['items']:,} items ({written['epics']:,} epics, {written['parents']:,} with a "
            f"parent, {written['open']:,} open, {written['reopened']:,} reopened), {written['transitions']:,} moves, "
            f"{results['files_mb']:.1f} MB in {results['generate_s']:.1f} s"
        )
        files = [f"--{part}={folder / f'{part}.csv'}" for part in ("states", "items", "transitions")]
        results["first_import"] = run_manage(["import_flow_csv", "--stream", STREAM, *files])
        print(f"first import: {results['first_import'].get('summary', '')}")
        results["rerun"] = run_manage(["import_flow_csv", "--stream", STREAM, *files])
        print(f"re-run: {results['rerun'].get('summary', '')}")

        # Autovacuum gets to tables within a minute of a bulk load; until then the first reports
        # plan with the empty tables' statistics (flow_metrics took twice as long) and read the
        # heap behind every index-only scan.
        if not options.import_only:
            with connection.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE) streams_backlogitem, streams_statetransition")
        window = ["--stream", STREAM, "--from", FIRST_DAY.isoformat(), "--to", LAST_DAY.isoformat()]
        for fmt in () if options.import_only else ("json", "csv"):
            out = folder / f"metrics.{fmt}"
            results[f"metrics_{fmt}"] = run_manage(["flow_metrics", *window, "--format", fmt], out)
            if fmt == "json":
                report = json.loads(out.read_text())
                results["metrics_items"] = len(report["items"])
                results["metrics_throughput"] = report["throughput"]["n"]
                results["metrics_wip"] = report["wip"]["n"]
                del report
            print(
                f"flow metrics as {fmt}: {results[f'metrics_{fmt}']['output_mb']:.1f} MB, "
                f"{results['metrics_items']:,} items"
            )

    results["stored"] = {
        "items": BacklogItem.objects.filter(stream__slug=STREAM).count(),
        "transitions": StateTransition.objects.filter(item__stream__slug=STREAM).count(),
    }
    print(f"stored in {STREAM!r}: {results['stored']['items']:,} items, {results['stored']['transitions']:,} moves")

    at_scale = options.items == 132_000 and options.transitions == 630_000
    rows = [
        ("first import", results["first_import"], GOAL_IMPORT_SECONDS, None),
        ("re-run", results["rerun"], GOAL_IMPORT_SECONDS, None),
    ]
    if not options.import_only:
        rows += [
            ("metrics json", results["metrics_json"], GOAL_METRICS_SECONDS, GOAL_METRICS_PEAK_RSS_MB),
            ("metrics csv", results["metrics_csv"], GOAL_METRICS_SECONDS, GOAL_METRICS_PEAK_RSS_MB),
        ]
    results["goals"] = {
        "import_seconds": GOAL_IMPORT_SECONDS,
        "metrics_seconds": GOAL_METRICS_SECONDS,
        "metrics_peak_rss_mb": GOAL_METRICS_PEAK_RSS_MB,
        "at_goal_scale": at_scale,
    }

    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    print()
    print(f"{'':14}{'seconds':>9}{'goal':>7}{'peak RSS MB':>13}{'goal':>7}")
    for label, figure, goal_s, goal_mb in rows:
        met = figure["seconds"] <= goal_s and (goal_mb is None or figure["peak_rss_mb"] <= goal_mb)
        results["goals"][f"{label.replace(' ', '_')}_met"] = met
        print(
            f"{label:14}{figure['seconds']:>9.1f}{goal_s:>7}{figure['peak_rss_mb']:>13.0f}{goal_mb or '':>7}  "
            f"{verdict(met)}"
        )
    if not at_scale:
        print("(the goals are for 132,000 items and 630,000 moves)")

    if not options.keep:
        started = time.perf_counter()
        delete_with_history(ValueStream.objects.filter(slug=STREAM))
        print(f"stream {STREAM!r} deleted in {time.perf_counter() - started:.1f} s")

    out = RESULTS
    out.mkdir(parents=True, exist_ok=True)
    name = "board_import.json" if options.import_only else "board.json"  # the full report stays whole
    (out / name).write_text(json.dumps(results, indent=2))
    print(f"written to {out / name}")


if __name__ == "__main__":
    main()
