"""Live connector benchmark: an Azure DevOps backfill of 100,000 work items with 600,000
revisions from a local server, then an incremental sync after 1,000 items changed.

    createdb -h 127.0.0.1 -U postgres portal_connector_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_connector_bench
    .venv/bin/python manage.py migrate && .venv/bin/python benchmarks/connector_bench.py

(`make bench` does this on a fresh scratch database.) `--items 2000` makes a quick smoke run.

The server (`connector_server.py`) runs in its own process and answers the Reporting Work Item Revisions API as Azure
DevOps does (batches of at most 1,000 revisions in the order they were made, a continuation
token, `isLastBatch`), making each batch's revisions as it is asked for, so that its memory
is not the portal's. The revisions come as a real organisation's do: interleaved, every item's
first revision, then every item's second, and so on, so that most batches hold items already
stored, whose new moves are merged with their stored history.

Prints, and writes to benchmarks/results/connector.json:
- the backfill's wall-clock time, the part of it spent waiting for the server's answers and the
  rest (the portal's own work), requests made, and the portal process's peak RSS;
- an incremental sync after 1,000 items changed: its time and requests.
Goals from issue 26: a backfill limited by the server, not by the portal (both are reported,
in all and per page: against this local server, which answers a page in about 11 ms, the
portal's own work is the larger; a tool answering a page more slowly than the portal's own
figure per page sets the pace);
an incremental sync of 1,000 changed items in under 10 seconds.
"""

import argparse
import json
import os
from pathlib import Path
import resource
import subprocess
import sys
import time
import urllib.request

os.environ["OUTBOUND_ALLOW_PRIVATE"] = "true"  # the tool server listens on loopback

from common import ROOT  # noqa: E402,F401 (sets Django up as production runs)
from goals import RESULTS

from core.history import delete_with_history  # noqa: E402
from streams.integrations.connectors.services import connection_create, connection_mapping_save  # noqa: E402
from streams.integrations.connectors.sync import connection_sync  # noqa: E402
from streams.integrations.toolchain import Mapping  # noqa: E402
from streams.models import BacklogItem, StateTransition, ValueStream  # noqa: E402

GOAL_INCREMENTAL_SECONDS = 10


def start_server(items: int, revisions: int) -> tuple[subprocess.Popen, str]:
    port_file = Path(f"/tmp/connector-bench-{os.getpid()}.port")
    port_file.unlink(missing_ok=True)
    script = Path(__file__).resolve().parent / "connector_server.py"
    server = subprocess.Popen([sys.executable, str(script), str(items), str(revisions), str(port_file)])
    for _ in range(100):
        if port_file.exists() and port_file.read_text():
            return server, f"http://127.0.0.1:{port_file.read_text()}/bench"
        time.sleep(0.05)
    server.kill()
    sys.exit("the benchmark's tool server did not start")


# --- The benchmark ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--revisions", type=int, default=6, help="revisions per item")
    parser.add_argument("--changed", type=int, default=1_000, help="items changed before the incremental sync")
    options = parser.parse_args()

    old = ValueStream.objects.filter(slug="bench-connector").first()
    if old is not None:
        delete_with_history(BacklogItem.objects.filter(stream=old))
        old.delete()
    stream = ValueStream.objects.create(slug="bench-connector", name="Connector benchmark")
    server, base_url = start_server(options.items, options.revisions)
    try:
        connection = connection_create(
            stream=stream,
            tool="azure_devops",
            base_url=base_url,
            token="bench",
            scope={"project": "Scale"},
            rate=100,
        )
        mapping = Mapping(
            statuses={
                "New": ("Backlog", "backlog"),
                "Active": ("In progress", "active"),
                "Resolved": ("Verifying", "waiting"),
                "Closed": ("Done", "done"),
            },
            types={"User Story": "feature", "Bug": "defect"},
        )
        connection_mapping_save(connection=connection, mapping=mapping)

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        backfill = connection_sync(connection.pk)
        backfill_s = time.perf_counter() - started
        backfill.refresh_from_db()
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if backfill.status != "succeeded":
            sys.exit(f"the backfill {backfill.status}: {backfill.error}")

        urllib.request.urlopen(
            urllib.request.Request(f"{base_url}/_bench/change?count={options.changed}", method="POST")
        ).read()
        started = time.perf_counter()
        incremental = connection_sync(connection.pk)
        incremental_s = time.perf_counter() - started
        incremental.refresh_from_db()
    finally:
        server.kill()

    results = {
        "items": options.items,
        "revisions": options.items * options.revisions,
        "backfill": {
            "seconds": round(backfill_s, 1),
            "tool_seconds": round(backfill.tool_seconds, 1),
            "portal_seconds": round(backfill_s - backfill.tool_seconds, 1),
            # The portal's own work per request (a page of up to 1,000 revisions): a tool that
            # takes longer than this to answer a page sets the backfill's pace.
            "portal_ms_per_page": round(1000 * (backfill_s - backfill.tool_seconds) / max(1, backfill.requests)),
            "tool_ms_per_page": round(1000 * backfill.tool_seconds / max(1, backfill.requests)),
            "requests": backfill.requests,
            "batches": backfill.batches,
            "items_new": backfill.items_new,
            "moves_written": backfill.moves_written,
            "peak_rss_mb": round(peak_rss, 1),
            "rss_at_start_mb": round(rss_before, 1),
        },
        "incremental": {
            "changed": options.changed,
            "seconds": round(incremental_s, 2),
            "tool_seconds": round(incremental.tool_seconds, 2),
            "requests": incremental.requests,
            "read": incremental.read,
            "items_changed": incremental.items_changed,
            "goal_seconds": GOAL_INCREMENTAL_SECONDS,
        },
        "stored": {
            "items": BacklogItem.objects.filter(stream=stream).count(),
            "transitions": StateTransition.objects.filter(item__stream=stream).count(),
        },
    }
    b, i = results["backfill"], results["incremental"]
    print(
        f"backfill: {results['items']:,} items, {results['revisions']:,} revisions in {b['seconds']} s "
        f"(waiting for the server {b['tool_seconds']} s, the portal's own work {b['portal_seconds']} s); "
        f"{b['requests']:,} requests, {b['batches']} batches; peak RSS {b['peak_rss_mb']} MB"
    )
    print(
        f"per page of 1,000 revisions: the server {b['tool_ms_per_page']} ms, the portal {b['portal_ms_per_page']} ms "
        f"(a tool slower than {b['portal_ms_per_page']} ms a page sets the pace)"
    )
    print(
        f"incremental: {i['changed']:,} changed items in {i['seconds']} s (goal {GOAL_INCREMENTAL_SECONDS} s), "
        f"{i['requests']} requests, {i['items_changed']:,} items changed"
    )
    print(f"stored: {results['stored']['items']:,} items, {results['stored']['transitions']:,} transitions")
    out = RESULTS
    out.mkdir(parents=True, exist_ok=True)
    (out / "connector.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
