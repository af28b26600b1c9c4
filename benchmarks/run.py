"""Every benchmark in one command, with one report.

    .venv/bin/python benchmarks/run.py              # make bench
    .venv/bin/python benchmarks/run.py --times 10   # make bench10: ten times the scale

1. Builds the DESIGN.md scale on PostgreSQL (`manage.py seed_scale --items 500000` on the
   database `portal_scale`, then VACUUM ANALYZE), or reuses it when it is there and full
   (`--reseed` rebuilds it); pending migrations are applied either way.
2. Runs each benchmark in its own process, in this order (`--only`/`--skip` choose):
   - `pages`: every main page's median server time over 20 requests and its query count;
   - `flow`: flow metrics of a stream and of the portfolio, the rollups job, the stream page,
     the import of 100,000 transitions;
   - `api`: the CSV export of every item (rows/s, peak memory) and API pages;
   - `maps`: value stream maps and experiments;
   - `load`: gunicorn under wrk (requests per second, p95) for the portfolio, a stream page and
     an API list;
   - `import`: the Jira import of 100,000 issues with 600,000 status changes, on a scratch
     database (`portal_import_bench`, dropped, created and migrated here);
   - `board`: a board of 132,000 items and 630,000 moves over eleven years through
     `import_flow_csv`, then `flow_metrics` over the whole span (`portal_board`, likewise);
   - `connector`: an Azure DevOps backfill of 100,000 work items with 600,000 revisions from a
     local server, then an incremental sync of 1,000 changed items (`portal_connector_bench`).
   After `flow` and `maps`, which roll back their writes, the items and transitions tables
   are vacuumed, as autovacuum would within minutes.
3. Merges their results into `benchmarks/results/report.json` and `report.md`: every figure
   with its goal, where an issue set one, and whether it is met.

With `--times 10` (issue 32) the database is `portal_scale10`, with ten times the items,
streams, teams and people (5,000,000 items; seed_scale's goal is 45 minutes: 19-24 measured,
and the database takes 12 GB of disk); the results go to `benchmarks/results/x10/`; every time budget doubles and
every throughput goal halves (`goals.py`); each page's query count is compared with the last
run at the DESIGN.md scale, which must have run first; `import`, `board` and `connector`,
whose sizes are fixed by their issues rather than by the organisation, are left out unless
named in `--only`.

Exits non-zero if a benchmark failed or a goal is not met. Run nothing else meanwhile: the
machine's timings vary by up to a quarter between runs even when idle.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from pathlib import Path
import platform
import subprocess
import sys
import time

from goals import BASE_RESULTS, ROLLUP_DAY_GOAL_S, budget, rate, results_folder
import psycopg

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SERVER = "postgres://postgres@127.0.0.1:5432"
BENCHES = ["pages", "flow", "api", "maps", "okrs", "forecast", "load", "import", "board", "connector"]
SCRIPTS = {
    "pages": "pages_bench.py",
    "flow": "flow_bench.py",
    "api": "api_bench.py",
    "maps": "maps_bench.py",
    "okrs": "okrs_bench.py",
    "forecast": "forecast_bench.py",
    "load": "load_bench.py",
    "import": "import_bench.py",
    "board": "board_bench.py",
    "connector": "connector_bench.py",
}


def say(message: str) -> None:
    print(f"\033[1m==> {message}\033[0m", flush=True)


def database_exists(server: str, name: str) -> bool:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def create_database(server: str, name: str, *, drop: bool = False) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def manage(*args: str, url: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], check=True, cwd=ROOT, env={**os.environ, "DATABASE_URL": url})


def item_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM streams_backlogitem").fetchone()[0]


# The DESIGN.md scale; `--times N` multiplies every count.
SCALE = {"items": 500_000, "streams": 100, "teams": 400, "people": 5_000}
# Issue 32: seed_scale builds ten times the scale in under 45 minutes.
SEED_GOAL_S = {10: 45 * 60}
# Issue 32's goals for the CSV export of every item and an experiment's verdict.
CSV_EXPORT_GOAL_ROWS_S = 50_000
VERDICT_GOAL_MS = 500


def prepare_scale_database(server: str, name: str, scale: dict, reseed: bool, folder: Path) -> dict:
    """The scale database, built now or reused. How long the build took is kept in the results
    folder's seed.json, so a later run on the same database still reports it."""
    url = f"{server}/{name}"
    items = scale["items"]
    started = time.perf_counter()
    fresh = reseed or not database_exists(server, name)
    if fresh:
        minutes = max(2, round(2.5 * items / 500_000))  # 1.5 min at 500,000 items, 19-24 at 5 million
        say(f"Building the scale in {name}: {items:,} items (about {minutes} minutes on 2 cores)")
        create_database(server, name, drop=True)
        manage("migrate", "--noinput", "-v0", url=url)
        seeding = time.perf_counter()
        counts = [arg for key, value in scale.items() for arg in (f"--{key}", str(value))]
        manage("seed_scale", *counts, "--force", url=url)
        seed = {"seconds": round(time.perf_counter() - seeding, 1), **scale, "database": name}
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        seed["vacuum_analyze_s"] = round(time.perf_counter() - seeding - seed["seconds"], 1)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "seed.json").write_text(json.dumps(seed, indent=2))
    else:
        say(f"Reusing {name} (--reseed rebuilds it); applying pending migrations")
        manage("migrate", "--noinput", "-v0", url=url)
        have = item_count(url)
        if have < items * 0.95:
            sys.exit(f"{name} holds {have:,} items, fewer than the {items:,} asked: run again with --reseed.")
    return {"database": name, "seeded_now": fresh, "prepare_s": round(time.perf_counter() - started, 1)}


def prepare_import_database(server: str, name: str) -> None:
    """A new, empty scratch database: dropping it is quicker than deleting the previous run's
    100,000 items through the ORM (about 2 minutes), which import_bench would do otherwise."""
    url = f"{server}/{name}"
    create_database(server, name, drop=True)
    manage("migrate", "--noinput", "-v0", url=url)


SERVER_SETTINGS = ("shared_buffers", "wal_buffers", "max_wal_size", "work_mem", "synchronous_commit")


def environment(url: str) -> dict:
    with psycopg.connect(url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        # The server's settings that bulk writes and large reads depend on, printed with the figures.
        settings = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
                [list(SERVER_SETTINGS)],
            ).fetchall()
        )
        transitions = conn.execute("SELECT count(*) FROM streams_statetransition").fetchone()[0]
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM streams_backlogitem), (SELECT count(*) FROM streams_valuestream), "
            "(SELECT count(*) FROM teams_team), (SELECT count(*) FROM teams_person)"
        ).fetchone()
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "python": platform.python_version(),
        "postgresql": pg,
        "postgresql_settings": settings,
        "items": counts[0],
        "streams": counts[1],
        "teams": counts[2],
        "people": counts[3],
        "transitions": transitions,
    }


def machine_speed(url: str) -> dict:
    """How fast the machine is now, in two fixed pieces of work (seconds, best of three): a loop of
    pure Python, and a count PostgreSQL does on one core. Machines of the same kind differ: the
    figures of runs on two machines compare only as these do (README, "Benchmarks")."""

    def best(work) -> float:
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            work()
            runs.append(time.perf_counter() - started)
        return round(min(runs), 3)

    python = best(lambda: sum(n * n for n in range(3_000_000)))
    with psycopg.connect(url) as conn:
        conn.execute("SET jit = off")
        query = "SELECT count(*) FROM generate_series(1, 5000000) g WHERE g % 7 = 3"
        postgresql = best(lambda: conn.execute(query).fetchone())
    return {"python_s": python, "postgresql_s": postgresql}


def speed_line(env: dict) -> str:
    before, after = env["speed_before"], env.get("speed_after") or env["speed_before"]
    return (
        f"Machine speed (lower is faster; before / after the run): a Python loop {before['python_s']:.2f} / "
        f"{after['python_s']:.2f} s, a PostgreSQL count {before['postgresql_s']:.2f} / {after['postgresql_s']:.2f} s."
    )


# Benchmarks that write a scratch database of their own, whole (then left to autovacuum).
WRITE_THEIR_OWN = {"import", "board", "connector"}


def settle(url: str, *, vacuum: bool = False) -> float:
    """Leave the server quiet for the next benchmark: what an earlier step wrote is vacuumed
    (`vacuum`: the whole database, as autovacuum would within minutes, here rather than beside the
    next one's timing on 2 cores) and its dirty buffers are written out now, not by a checkpoint
    during the next timing (after the seed, 2 GB of them). Returns the seconds it took."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        if vacuum:
            conn.execute("VACUUM (ANALYZE)")
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:  # another server, as a user that may not
            pass
    return round(time.perf_counter() - started, 1)


def run_bench(name: str, *, url: str, extra: list[str], times: int = 1) -> dict:
    say(f"Benchmark: {name}")
    settled = settle(url)
    started = time.perf_counter()
    completed = subprocess.run(
        [PYTHON, str(ROOT / "benchmarks" / SCRIPTS[name]), *extra],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "BENCH_TIMES": str(times)},
    )
    seconds = round(time.perf_counter() - started, 1)
    vacuumed = settle(url, vacuum=True) if name in WRITE_THEIR_OWN else 0.0
    return {"exit_code": completed.returncode, "seconds": seconds, "settle_s": round(settled + vacuumed, 1)}


# --- The report ---------------------------------------------------------------------------


def _load(folder: Path, name: str) -> dict | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def rows_for(name: str, data: dict, times: int = 1) -> list[dict]:
    """(measure, value, unit, goal, met) rows of one benchmark's results; goals are the issues'.
    Beyond the DESIGN.md scale, time goals double and throughput goals halve (`goals.py`); the
    pages' query counts must equal those of the DESIGN.md scale's last run, when there is one."""
    rows: list[dict] = []
    baseline = _load(BASE_RESULTS, name) if times > 1 else None

    def add(measure, value, unit, goal=None, *, at_most=True, note=""):
        met = None if goal is None or value is None else (value <= goal if at_most else value >= goal)
        rows.append(
            {
                "measure": measure,
                "value": value,
                "unit": unit,
                "goal": goal,
                "at_most": at_most,
                "met": met,
                "note": note,
            }
        )

    if name == "seed":
        add(
            f"seed_scale: {data['items']:,} items, {data['streams']:,} streams",
            data["seconds"],
            "s",
            SEED_GOAL_S.get(times),
            note=f"then VACUUM ANALYZE {data['vacuum_analyze_s']} s",
        )
    elif name == "pages":
        for page, r in data["pages"].items():
            add(
                f"{page} page ({r['url']})",
                r["median_ms"],
                "ms",
                r.get("goal_ms"),
                note=f"{r['queries']} queries; after a change {r['after_change_ms']} ms, "
                f"{r['after_change_queries']} queries; after a change of links {r.get('after_link_change_ms')} ms",
            )
            # A page with a cache runs more queries when it misses; one without has nothing to miss.
            if r.get("goal_ms") and r["after_change_queries"] != r["queries"]:
                add(f"{page} page after a change (caches miss)", r["after_change_ms"], "ms", r["goal_ms"])
            base = (baseline or {}).get("pages", {}).get(page)
            if base:
                for key, label in (("queries", ""), ("after_change_queries", " after a change")):
                    add(f"{page} page: queries{label}, as at the DESIGN.md scale", r[key], "queries", base[key])
    elif name == "flow":
        add(
            f"stream flow metrics ({data['stream']['items']:,} items)",
            round(data["stream_metrics_s"]["median"] * 1000),
            "ms",
        )
        add(
            "portfolio flow metrics (daily rollups)",
            round(data["portfolio_metrics_s"]["median"] * 1000),
            "ms",
            budget(2000, times),
        )
        add(
            "portfolio flow metrics from the whole history (reference)",
            round(data["portfolio_from_history_s"] * 1000),
            "ms",
        )
        add("rollups job: one new day for every stream", data["rollups_one_day_s"], "s", ROLLUP_DAY_GOAL_S)
        add(
            "stream page",
            data["stream_page"]["median_ms"],
            "ms",
            budget(100, times),
            note=f"{data['stream_page']['queries']} queries",
        )
        add("import_flow_csv: 100,000 transitions", data["import_100k_s"], "s")
    elif name == "api":
        for key in ("export_one_stream", "export_all"):
            r = data[key]
            add(
                f"CSV export {key.removeprefix('export_').replace('_', ' ')} ({r['rows']:,} rows)",
                r["rows_per_second"],
                "rows/s",
                # The goal is the export of every item's; one stream's is mostly the process starting.
                rate(CSV_EXPORT_GOAL_ROWS_S, times) if key == "export_all" else None,
                at_most=False,
                note=f"{r['seconds']} s, peak RSS {r['peak_rss_mb']} MB",
            )
        for key in (
            "page_first",
            "page_second",
            "page_filtered",
            "transitions_page",
            "metrics_flow_stream",
            "metrics_flow_items",
            "metrics_alignment",
        ):
            r = data[key]
            add(f"API {key.replace('_', ' ')}", r["median_ms"], "ms", note=f"{r['queries']} queries")
    elif name == "maps":
        m = data["measured_map"]
        add(f"measured value stream map, 12 weeks ({m['finished_items']:,} finished items)", m["median_ms"], "ms")
        add("stream maps page", data["maps_page"]["median_ms"], "ms", note=f"{data['maps_page']['queries']} queries")
        for metric, v in data["experiment_verdicts"].items():
            add(
                f"experiment verdict on {metric.replace('_', ' ')}",
                v["ms"],
                "ms",
                budget(VERDICT_GOAL_MS, times),
                note=f"peak {v['peak_mb']} MB",
            )
    elif name == "load":
        for key, r in data["urls"].items():
            add(
                f"load {key}: requests per second",
                r["requests_per_second"],
                "req/s",
                r.get("goal_requests_per_second"),
                at_most=False,
                note=f"{r['requests']:,} requests in {r['duration_s']} s, {data['connections']} connections, "
                f"{data['gunicorn_workers']} workers",
            )
            add(
                f"load {key}: p95 latency",
                r["p95_ms"],
                "ms",
                r.get("goal_p95_ms"),
                note=f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                f"errors {r['non_2xx_3xx'] + r['socket_errors'] + r['timeouts']}",
            )
    elif name == "import":
        first, rerun = data["first_import"], data["rerun"]
        add(
            f"Jira import: {data['issues']:,} issues, {data['transitions_in_file']:,} changes",
            first["seconds"],
            "s",
            data["goals"]["seconds"],
        )
        add("Jira import: peak memory", first["peak_rss_mb"], "MB", 500)
        add("Jira import re-run (changes nothing)", rerun["seconds"], "s", data["goals"]["seconds"])
        add("Jira import throughput", round(data["transitions_in_file"] / first["seconds"]), "transitions/s")
    elif name == "board":
        goals, board = data["goals"], data["board"]
        add(
            f"import_flow_csv: {board['items']:,} items, {board['transitions']:,} moves",
            data["first_import"]["seconds"],
            "s",
            goals["import_seconds"],
            note=f"peak RSS {data['first_import']['peak_rss_mb']} MB",
        )
        add("import_flow_csv re-run (changes nothing)", data["rerun"]["seconds"], "s", goals["import_seconds"])
        for fmt in ("json", "csv"):
            figure = data[f"metrics_{fmt}"]
            add(
                f"flow_metrics over eleven years as {fmt.upper()} ({data['metrics_items']:,} items)",
                figure["seconds"],
                "s",
                goals["metrics_seconds"],
            )
            add(
                f"flow_metrics as {fmt.upper()}: peak memory", figure["peak_rss_mb"], "MB", goals["metrics_peak_rss_mb"]
            )
    elif name == "okrs":
        job, save = data["daily_job"], data["save_one"]
        add(
            f"Daily measure job: {job['key_results']} measured key results, {data['streams']} streams",
            job["first_seconds"],
            "s",
            note=f"{job['first']['recorded']} readings recorded; run again the same day: {job['again_seconds']} s, "
            f"{job['again']['recorded']} recorded",
        )
        add(
            "Saving a measured key result (its start and weekly readings)",
            save["seconds"],
            "s",
            note=f"{save['readings']} readings on a stream of {save['stream_items']:,} items",
        )
        for key, label in (("investment_stream", "the largest stream"), ("investment_portfolio", "the portfolio")):
            page = data[key]
            add(f"Investment panel of {label}", page["median_ms"], "ms", note=f"{page['queries']} queries")
    elif name == "forecast":
        for key, label in (
            ("item_forecast", f"One item's releasable forecast ({data['item_forecast']['children']} children)"),
            ("item_page", "The item page with its forecast"),
            ("item_api", "The item's releasable forecast in the API"),
            ("stream_scenario", f"A scenario of the largest stream ({data['stream_items']:,} items), WIP capped"),
            ("kr_scenario", "A key result's scenario (200 linked items, capped, one left out)"),
        ):
            figure = data[key]
            queries = f"{figure['queries']} queries" if "queries" in figure else ""
            add(label, figure["median_ms"], "ms", figure["goal_ms"], note=queries)
    elif name == "connector":
        backfill, incremental = data["backfill"], data["incremental"]
        add(
            f"Azure DevOps backfill: {data['items']:,} items, {data['revisions']:,} revisions",
            backfill["seconds"],
            "s",
            note=f"waiting for the server {backfill['tool_seconds']} s, the portal's own work "
            f"{backfill['portal_seconds']} s; {backfill['requests']:,} requests",
        )
        add(
            "Azure DevOps backfill: the portal's own work per page of 1,000 revisions",
            backfill["portal_ms_per_page"],
            "ms",
            note=f"the local server answers a page in {backfill['tool_ms_per_page']} ms; a tool slower than the "
            "portal's figure sets the pace",
        )
        add("Azure DevOps backfill: peak memory", backfill["peak_rss_mb"], "MB")
        add(
            f"Incremental sync of {incremental['changed']:,} changed items",
            incremental["seconds"],
            "s",
            incremental["goal_seconds"],
            note=f"{incremental['requests']} requests, waiting for the server {incremental['tool_seconds']} s",
        )
    return rows


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def write_report(env: dict, runs: dict, times: int = 1) -> tuple[dict, list[str]]:
    """The report of this run's benchmarks, and of earlier runs' where a benchmark was left out
    this time (`--only`, `--skip`) but its results are there (marked "earlier run"), with the
    build of the scale database when run.py built it (`seed.json`)."""
    folder = results_folder(times)
    folder.mkdir(parents=True, exist_ok=True)
    sections = {}
    seed = _load(folder, "seed")
    if seed:
        sections["seed"] = {
            "run": {"exit_code": 0, "seconds": seed["seconds"], "earlier_run": not env.get("seeded_now")},
            "results": seed,
            "rows": rows_for("seed", seed, times),
        }
    for name in BENCHES:
        run_file = folder / f"{name}.run.json"
        if name in runs:
            run_file.write_text(json.dumps(runs[name]))
        elif run_file.exists() and (folder / f"{name}.json").exists():
            runs[name] = {**json.loads(run_file.read_text()), "earlier_run": True}
        else:
            continue
        data = _load(folder, name)
        sections[name] = {"run": runs[name], "results": data, "rows": rows_for(name, data, times) if data else []}
    report = {"environment": env, "times": times, "benchmarks": sections}
    (folder / "report.json").write_text(json.dumps(report, indent=2))

    missed = []
    lines = [
        "# Benchmark report" + ("" if times == 1 else f": {times} times the DESIGN.md scale"),
        "",
        *(
            []
            if any(not section["run"].get("earlier_run") for section in sections.values())
            else ["Written again from earlier runs' results (`--report-only`): each row says so.", ""]
        ),
        f"{env['date']}, commit {env['commit']}; {env['cores']} cores, {env['memory_gb']} GB, Python {env['python']}, "
        f"PostgreSQL {env['postgresql']} ("
        + ", ".join(f"{name} {value}" for name, value in env.get("postgresql_settings", {}).items())
        + f"). Database: {env['items']:,} items, {env['transitions']:,} transitions, "
        f"{env['streams']:,} streams, {env['teams']:,} teams, {env['people']:,} people.",
        "",
        *([speed_line(env), ""] if "speed_before" in env else []),
        "| Benchmark | Measure | Value | Goal | Met | Notes |",
        "|---|---|---:|---:|---|---|",
    ]
    for name, section in sections.items():
        if section["run"]["exit_code"] != 0:
            missed.append(f"{name}: the benchmark failed (exit code {section['run']['exit_code']})")
            lines.append(f"| {name} | **failed** (exit code {section['run']['exit_code']}) | | | | |")
            continue  # its results file, if any, is an earlier run's
        for row in section["rows"]:
            goal = (
                "" if row["goal"] is None else ("≤ " if row["at_most"] else "≥ ") + f"{_fmt(row['goal'])} {row['unit']}"
            )
            met = {None: "", True: "yes", False: "**no**"}[row["met"]]
            if row["met"] is False:
                missed.append(f"{name}: {row['measure']} {_fmt(row['value'])} {row['unit']}, goal {goal}")
            note = row["note"] + (" (earlier run)" if section["run"].get("earlier_run") else "")
            lines.append(
                f"| {name} | {row['measure']} | {_fmt(row['value'])} {row['unit']} | {goal} | {met} | {note} |"
            )
    lines += [
        "",
        "Benchmark run times: "
        + ", ".join(
            f"{n} {s['run']['seconds']:.0f} s"
            + (f" (+{s['run']['settle_s']:.0f} s settling)" if s["run"].get("settle_s", 0) >= 1 else "")
            for n, s in sections.items()
        )
        + ". Before each benchmark the server writes out its dirty buffers (CHECKPOINT); after the ones "
        "that write a database of their own it is vacuumed.",
    ]
    (folder / "report.md").write_text("\n".join(lines) + "\n")
    return report, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--times",
        type=int,
        default=1,
        help="build and measure this many times the DESIGN.md scale (10: 5,000,000 items in portal_scale10, "
        "budgets doubled, results in benchmarks/results/x10; the fixed-size import, board and connector "
        "benchmarks are left out unless named in --only)",
    )
    parser.add_argument("--items", type=int, help="items to seed (default: 500,000 times --times)")
    parser.add_argument("--database", help="the scale database (default portal_scale; portal_scale10 at --times 10)")
    parser.add_argument("--import-database", default="portal_import_bench", help="scratch database of the import")
    parser.add_argument("--board-database", default="portal_board", help="scratch database of the board benchmark")
    parser.add_argument(
        "--connector-database", default="portal_connector_bench", help="scratch database of the connector benchmark"
    )
    parser.add_argument("--connector-items", type=int, default=100_000, help="work items the connector backfills")
    parser.add_argument(
        "--server", default=os.environ.get("BENCH_POSTGRES", SERVER), help=f"PostgreSQL server URL ({SERVER})"
    )
    parser.add_argument("--reseed", action="store_true", help="drop and rebuild the scale database")
    parser.add_argument(
        "--no-tune",
        action="store_true",
        help="leave the local PostgreSQL's settings as they are (by default scripts/tune_postgres.sh sets its "
        "shared_buffers, wal_buffers and max_wal_size, restarting it if they change)",
    )
    parser.add_argument("--only", help=f"comma-separated benchmarks to run ({','.join(BENCHES)})")
    parser.add_argument("--skip", default="", help="comma-separated benchmarks to leave out")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: write the report again from the results already there (after a run at "
        "the DESIGN.md scale, to compare the ten-times run's query counts with it)",
    )
    parser.add_argument("--import-issues", type=int, default=100_000, help="issues in the Jira import (100,000)")
    parser.add_argument("--load-seconds", type=int, default=30, help="load test: at most this long per URL")
    parser.add_argument("--load-requests", type=int, default=2000, help="load test: at most this many requests per URL")
    options = parser.parse_args()
    times = options.times
    if times < 1:
        parser.error("--times must be 1 or more")
    scale = {key: value * times for key, value in SCALE.items()}
    scale["items"] = options.items or scale["items"]
    database = options.database or ("portal_scale" if times == 1 else f"portal_scale{times}")
    fixed_size = ["import", "board", "connector"] if times > 1 else []
    chosen = options.only.split(",") if options.only else [b for b in BENCHES if b not in fixed_size]
    chosen = [b for b in BENCHES if b in chosen and b not in options.skip.split(",")]
    if options.report_only:
        chosen = []
    unknown = set((options.only or "").split(",") + options.skip.split(",")) - set(BENCHES) - {""}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(BENCHES)}")

    subprocess.run(["bash", "scripts/services.sh"], check=True, cwd=ROOT)
    if options.server == SERVER and not options.no_tune:
        # The local server set as a server at this scale is (shared buffers, WAL buffers and
        # checkpoint distance; README, "Running on PostgreSQL"); restarted only if it was not.
        subprocess.run(["bash", "scripts/tune_postgres.sh"], check=True, cwd=ROOT)
    scale_url = f"{options.server}/{database}"
    prepared = prepare_scale_database(options.server, database, scale, options.reseed, results_folder(times))
    env = {**environment(scale_url), **prepared, "speed_before": machine_speed(scale_url)}
    runs = {}
    for name in chosen:
        if name == "import":
            prepare_import_database(options.server, options.import_database)
            runs[name] = run_bench(
                name, url=f"{options.server}/{options.import_database}", extra=["--issues", str(options.import_issues)]
            )
        elif name == "board":
            prepare_import_database(options.server, options.board_database)
            runs[name] = run_bench(name, url=f"{options.server}/{options.board_database}", extra=[])
        elif name == "connector":
            prepare_import_database(options.server, options.connector_database)
            runs[name] = run_bench(
                name,
                url=f"{options.server}/{options.connector_database}",
                extra=["--items", str(options.connector_items)],
            )
        elif name == "load":
            runs[name] = run_bench(
                name,
                url=scale_url,
                extra=["--seconds", str(options.load_seconds), "--requests", str(options.load_requests)],
                times=times,
            )
        else:
            runs[name] = run_bench(name, url=scale_url, extra=[], times=times)
        if name in ("flow", "maps"):
            # Their rolled-back writes (100,000 transitions) leave dead rows that cost the next
            # benchmark's index-only scans heap visits until autovacuum, minutes later, clears
            # them: measure the steady state, as production would be by then.
            with psycopg.connect(scale_url, autocommit=True) as conn:
                conn.execute("VACUUM (ANALYZE) streams_backlogitem, streams_statetransition")
    env["speed_after"] = machine_speed(scale_url)
    _, missed = write_report(env, runs, times)
    folder = results_folder(times)
    print((folder / "report.md").read_text())
    say(f"Report: {folder / 'report.md'} and report.json")
    if missed:
        print("Not met:\n  " + "\n  ".join(missed))
        sys.exit(1)


if __name__ == "__main__":
    main()
