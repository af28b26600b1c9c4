"""Jira import benchmark: 100,000 issues with 600,000 status changes through `manage.py import_jira`.

Run it on a scratch PostgreSQL database (it deletes and re-creates the stream `bench-import`
there, nothing else):

    createdb -h 127.0.0.1 -U postgres portal_import_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_import_bench .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_import_bench .venv/bin/python benchmarks/import_bench.py

`--issues 200` (transitions default to 6 per issue, `--transitions N` to choose) makes a quick
smoke run. The stream is kept afterwards (`--no-keep` deletes it); the next run deletes it first.

Prints, and writes to benchmarks/results/import.json:
- the time to delete the previous run's stream through the ORM (about a minute for 100,000 items:
  the post_delete signal invalidates the rollups once per item);
- the size of the generated export (the REST format of `GET /rest/api/2/search?expand=changelog`,
  written issue by issue to a temporary file) and the time to write it;
- the wall-clock time and the peak RSS of `manage.py import_jira FILE --stream bench-import`, run
  as a user runs it, in a fresh process (DEBUG off, as in production), and the same for a second
  run of the same file, which should change nothing;
- the items, transitions and dependencies the stream holds afterwards.
Goals: 100,000 issues with 600,000 transitions imported in <= 20 s (issue 32; the Jira import
issue asked for 60 s) with a peak memory <= 500 MB.
"""

import argparse
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
from streams.models import BacklogItem, Dependency, StateTransition, ValueStream  # noqa: E402

STREAM = "bench-import"
GOAL_SECONDS = 20
GOAL_PEAK_RSS_MB = 500

# The Jira workflow of the export: status name -> (status id, status category key).
STATUSES = {
    "To Do": ("10000", "new"),
    "In Progress": ("3", "indeterminate"),
    "In Review": ("10001", "indeterminate"),
    "Waiting for QA": ("10002", "indeterminate"),
    "Done": ("10003", "done"),
    "Won't Do": ("10004", "done"),
}
# Where an issue may move from each status; repeats weigh the choice.
MOVES = {
    "To Do": ["In Progress"] * 6 + ["Won't Do"],
    "In Progress": ["In Review"] * 5 + ["Waiting for QA", "To Do", "Won't Do"],
    "In Review": ["Waiting for QA"] * 3 + ["In Progress"] * 2 + ["Done"],
    "Waiting for QA": ["Done"] * 3 + ["In Progress"],
    "Done": ["In Progress", "To Do"],
    "Won't Do": ["To Do"],
}
PEOPLE = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Ken Thompson"]
CREATED_FIRST = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
CREATED_LAST = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
HISTORY_LAST = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)  # no change is dated after this


def jira_time(at: dt.datetime) -> str:
    """Jira's own format: milliseconds and an offset without a colon."""
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}+0000"


def changes_per_issue(rng: random.Random, issues: int, transitions: int) -> list[int]:
    """How many status changes each issue gets: 2 to 10 (when the totals allow), summing to `transitions`."""
    low, high = min(2, transitions // issues), max(10, -(-transitions // issues))
    counts = [rng.randint(low, high) for _ in range(issues)]
    gap = transitions - sum(counts)
    step = 1 if gap > 0 else -1
    while gap:
        n = rng.randrange(issues)
        if low <= counts[n] + step <= high:
            counts[n] += step
            gap -= step
    return counts


def write_jira_export(path: Path, issues: int, transitions: int) -> dict:
    """Write a Jira search export of `issues` issues and exactly `transitions` status changes, one issue at a time."""
    rng = random.Random(7)
    counts = changes_per_issue(rng, issues, transitions)
    epics = [n for n in range(1, issues + 1) if rng.random() < 0.02] or [1]
    epic_set = set(epics)
    # Spread the changes so the last of the longest history still lands before HISTORY_LAST.
    longest = max(counts)
    step_max = max(1, min(5 * 86_400, int((HISTORY_LAST - CREATED_LAST).total_seconds()) // max(longest, 1)))
    step_min = min(60, step_max)
    created_span = int((CREATED_LAST - CREATED_FIRST).total_seconds())
    history_id = 100_000
    written = {"issues": issues, "status_changes": 0, "other_changes": 0, "epics": 0, "parents": 0, "links": 0}
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as f:
        f.write(f'{{"startAt":0,"maxResults":{issues},"total":{issues},"issues":[\n')
        for n in range(1, issues + 1):
            created = CREATED_FIRST + dt.timedelta(
                seconds=rng.randint(0, created_span), milliseconds=rng.randint(0, 999)
            )
            if n in epic_set:
                issue_type = "Epic"
            else:
                issue_type = rng.choices(["Story", "Task", "Bug"], weights=[55, 25, 20])[0]
            status, at, histories = "To Do", created, []
            for _ in range(counts[n - 1]):
                target = rng.choice(MOVES[status])
                at += dt.timedelta(seconds=rng.randint(step_min, step_max))
                history_id += 1
                items = [
                    {
                        "field": "status",
                        "fieldtype": "jira",
                        "from": STATUSES[status][0],
                        "fromString": status,
                        "to": STATUSES[target][0],
                        "toString": target,
                    }
                ]
                if rng.random() < 0.2:
                    person = rng.choice(PEOPLE)
                    other = {
                        "field": "assignee",
                        "fieldtype": "jira",
                        "from": None,
                        "fromString": None,
                        "to": person.split()[0].lower(),
                        "toString": person,
                    }
                    items.insert(rng.randint(0, 1), other)
                    written["other_changes"] += 1
                histories.append({"id": str(history_id), "created": jira_time(at), "items": items})
                status = target
            written["status_changes"] += len(histories)
            labels = []
            if rng.random() < 0.1:
                labels.append("tech-debt")
            if rng.random() < 0.05:
                labels.append("security")
            fields = {
                "summary": f"{issue_type} {n}: benchmark work item {rng.randint(1, 9999)}",
                "issuetype": {"name": issue_type},
                "status": {"name": status, "statusCategory": {"key": STATUSES[status][1]}},
                "created": jira_time(created),
                "labels": labels,
                "issuelinks": [],
            }
            if issue_type == "Epic":
                written["epics"] += 1
            elif rng.random() < 0.6:
                fields["parent"] = {"key": f"BEN-{rng.choice(epics)}"}
                written["parents"] += 1
            if issues > 1 and rng.random() < 0.05:
                blocker = rng.randint(1, issues - 1)
                blocker += blocker >= n  # never the issue itself
                link_type = {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"}
                fields["issuelinks"].append({"id": str(n), "type": link_type, "inwardIssue": {"key": f"BEN-{blocker}"}})
                written["links"] += 1
            issue = {
                "id": str(10_000 + n),
                "key": f"BEN-{n}",
                "fields": fields,
                "changelog": {
                    "startAt": 0,
                    "maxResults": len(histories),
                    "total": len(histories),
                    "histories": histories,
                },
            }
            f.write(json.dumps(issue, separators=(",", ":")))
            f.write(",\n" if n < issues else "\n")
        f.write("]}\n")
    return written


def run_import(path: Path) -> dict:
    """`manage.py import_jira` in a fresh process, as a user runs it: wall-clock time and its own peak RSS."""
    return {"summary": "", **run_manage(["import_jira", str(path), "--stream", STREAM], summary_line=-1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=100_000, help="issues in the export (default 100,000)")
    parser.add_argument("--transitions", type=int, help="status changes in the export (default 6 per issue)")
    parser.add_argument(
        "--keep",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the stream afterwards (default; the next run deletes it first)",
    )
    options = parser.parse_args()
    issues = options.issues
    transitions = 6 * issues if options.transitions is None else options.transitions
    if issues < 1 or transitions < 0:
        parser.error("--issues must be at least 1 and --transitions not negative")

    if not os.environ.get("DATABASE_URL") or connection.vendor != "postgresql":
        sys.exit(
            "Point DATABASE_URL at a scratch PostgreSQL database, migrated (see README, Benchmarks), e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_import_bench"
        )
    results: dict = {"database": connection.settings_dict["NAME"], "stream": STREAM}

    print(f"deleting the previous run's stream {STREAM!r}, if any...", flush=True)
    started = time.perf_counter()
    deleted, _ = delete_with_history(ValueStream.objects.filter(slug=STREAM))
    results["delete_previous_s"] = round(time.perf_counter() - started, 2)
    print(f"previous stream {STREAM!r} deleted: {deleted:,} rows in {results['delete_previous_s']:.1f} s")

    handle, name = tempfile.mkstemp(prefix="jira-bench-", suffix=".json")
    os.close(handle)
    path = Path(name)
    try:
        started = time.perf_counter()
        written = write_jira_export(path, issues, transitions)
        results["generate_s"] = round(time.perf_counter() - started, 2)
        results["issues"] = issues
        results["transitions_in_file"] = written["status_changes"]
        results["file_mb"] = round(path.stat().st_size / 1e6, 1)
        print(
            f"export written: {issues:,} issues, {written['status_changes']:,} status changes "
            f"({written['epics']:,} epics, {written['links']:,} links), {results['file_mb']:.1f} MB "
            f"in {results['generate_s']:.1f} s"
        )

        results["first_import"] = run_import(path)
        print(f"first import: {results['first_import']['summary']}")
        results["rerun"] = run_import(path)
        print(f"re-run: {results['rerun']['summary']}")
    finally:
        path.unlink(missing_ok=True)

    items = BacklogItem.objects.filter(stream__slug=STREAM)
    results["stored"] = {
        "items": items.count(),
        "transitions": StateTransition.objects.filter(item__stream__slug=STREAM).count(),
        "dependencies": Dependency.objects.filter(item__stream__slug=STREAM).count(),
    }
    stored = results["stored"]
    print(
        f"stored in {STREAM!r}: {stored['items']:,} items, {stored['transitions']:,} transitions, "
        f"{stored['dependencies']:,} dependencies"
    )

    first, rerun = results["first_import"], results["rerun"]
    results["goals"] = {
        "seconds": GOAL_SECONDS,
        "peak_rss_mb": GOAL_PEAK_RSS_MB,
        "at_goal_scale": issues == 100_000 and written["status_changes"] == 600_000,
        "first_import_seconds_met": first["seconds"] <= GOAL_SECONDS,
        "first_import_peak_rss_met": first["peak_rss_mb"] <= GOAL_PEAK_RSS_MB,
        "rerun_seconds_met": rerun["seconds"] <= GOAL_SECONDS,
        "rerun_peak_rss_met": rerun["peak_rss_mb"] <= GOAL_PEAK_RSS_MB,
    }
    goals = results["goals"]

    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    print()
    print(f"{'':14}{'seconds':>10}{'peak RSS MB':>14}")
    print(f"{'first import':14}{first['seconds']:>10.1f}{first['peak_rss_mb']:>14.0f}")
    print(f"{'re-run':14}{rerun['seconds']:>10.1f}{rerun['peak_rss_mb']:>14.0f}")
    print(f"{'goal':14}{GOAL_SECONDS:>10}{GOAL_PEAK_RSS_MB:>14}")
    print(
        f"first import: time {verdict(goals['first_import_seconds_met'])}, "
        f"memory {verdict(goals['first_import_peak_rss_met'])}; "
        f"re-run: time {verdict(goals['rerun_seconds_met'])}, memory {verdict(goals['rerun_peak_rss_met'])}"
        + ("" if goals["at_goal_scale"] else " (the goals are for 100,000 issues and 600,000 transitions)")
    )

    if not options.keep:
        started = time.perf_counter()
        delete_with_history(ValueStream.objects.filter(slug=STREAM))
        print(f"stream {STREAM!r} deleted in {time.perf_counter() - started:.1f} s")

    out = RESULTS
    out.mkdir(parents=True, exist_ok=True)
    (out / "import.json").write_text(json.dumps(results, indent=2))
    print(f"written to {out / 'import.json'}")


if __name__ == "__main__":
    main()
