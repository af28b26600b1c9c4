"""Maps and experiments at scale, on a PostgreSQL database filled by `manage.py seed_scale`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_scale .venv/bin/python benchmarks/maps_bench.py

On the stream with the most items, inside a transaction rolled back at the end (the database
is left as it was), prints and writes to benchmarks/results/maps.json:
- the measured map over 12 weeks with a drawn map of one activity per state (median of 5);
- the maps page's server time (median of 10 requests) and its query count;
- the time and peak memory (tracemalloc) to judge one experiment of each target metric: each
  judged `VERDICT_RUNS` times (the first in a fresh process pays for its imports), the median
  and the CPU time of this process and of its PostgreSQL backend (when on this machine) printed
  beside the goal (`goals.VERDICT_GOAL_MS`), with the load: under load the CPU time is the steadier figure.
"""

import datetime as dt
from decimal import Decimal
import json
import os
from pathlib import Path
import statistics
import time
import tracemalloc

from common import ROOT, admin_client, require_scale_database, time_page, timed
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402
from goals import RESULTS, VERDICT_GOAL_MS, budget

from streams.experiments.services import experiment_decide  # noqa: E402
from streams.flow.engine import Window  # noqa: E402
from streams.maps.services import map_blocks, measured_map  # noqa: E402
from streams.models import ImprovementExperiment, ProcessBlock, ValueStream, ValueStreamMap  # noqa: E402

VERDICT_RUNS = 3


def database_cpu() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend, when it runs on this
    machine (/proc): with the process's own CPU time, what a verdict costs whatever the load."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    total = require_scale_database()
    stream = ValueStream.objects.annotate(n=Count("items")).order_by("-n").first()
    results = {"items_in_database": total, "stream": stream.name, "stream_items": stream.n}
    with transaction.atomic():
        vsm = ValueStreamMap.objects.create(stream=stream, name="Benchmark", kind="current", as_of=dt.date.today())
        for order, state in enumerate(stream.states.exclude(category__in=["done", "removed"]).order_by("order")):
            block = ProcessBlock.objects.create(
                map=vsm,
                order=order,
                activity=state.name,
                process_time_hours=Decimal(4),
                lead_time_hours=Decimal(24),
            )
            block.states.set([state])
        blocks = map_blocks(vsm)
        window = Window.build()
        median, runs = timed(lambda: measured_map(stream=stream, window=window, blocks=blocks), 5)
        measured = measured_map(stream=stream, window=window, blocks=blocks)
        results["measured_map"] = {
            "median_ms": round(median * 1000, 1),
            "runs_ms": [round(r * 1000) for r in runs],
            "finished_items": measured.items,
            "states": len(measured.states),
            "blocks": len(blocks),
        }
        page = time_page(admin_client(), f"/streams/{stream.slug}/maps/", repeat=10)
        results["maps_page"] = page

        today = timezone.now().astimezone(dt.UTC).date()
        judged = {}
        for metric in ImprovementExperiment.Metric.values:
            experiment = ImprovementExperiment.objects.create(
                stream=stream,
                title=f"Benchmark {metric}",
                hypothesis="-",
                change="-",
                target_metric=metric,
                expected_direction="decrease",
                start_date=today - dt.timedelta(days=70),
                review_date=today - dt.timedelta(days=14),
            )
            runs, cpu, db_cpu = [], [], []
            for _ in range(VERDICT_RUNS):
                ImprovementExperiment.objects.filter(pk=experiment.pk).update(verdict="pending", decided_at=None)
                started_db = database_cpu()
                started, started_cpu = time.perf_counter(), time.process_time()
                experiment_decide(experiment_id=experiment.pk, today=today)
                runs.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
                ended_db = database_cpu()
                db_cpu.append(None if started_db is None or ended_db is None else ended_db - started_db)
            # Again under tracemalloc (slower), for the peak memory it allocates.
            ImprovementExperiment.objects.filter(pk=experiment.pk).update(verdict="pending", decided_at=None)
            tracemalloc.start()
            experiment_decide(experiment_id=experiment.pk, today=today)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            experiment.refresh_from_db()
            judged[metric] = {
                "ms": round(statistics.median(runs) * 1000),
                "runs_ms": [round(r * 1000) for r in runs],
                "cpu_ms": [round(c * 1000) for c in cpu],
                "database_cpu_ms": [None if c is None else round(c * 1000) for c in db_cpu],
                "peak_mb": round(peak / 2**20, 1),
                "verdict": experiment.verdict,
                "n_before": experiment.result["before"]["started_and_finished"],
                "n_after": experiment.result["after"]["started_and_finished"],
            }
        results["experiment_verdicts"] = judged
        results["experiment_verdict_median_ms"] = statistics.median(v["ms"] for v in judged.values())
        results["experiment_verdict_slowest_ms"] = max(v["ms"] for v in judged.values())
        results["experiment_verdict_goal_ms"] = budget(VERDICT_GOAL_MS)
        results["load_average"] = round(os.getloadavg()[0], 2)
        transaction.set_rollback(True)

    print(f"Stream {stream.name!r}: {stream.n:,} items of {total:,}")
    m = results["measured_map"]
    print(
        f"Measured map (12 weeks, {m['finished_items']:,} finished items, {m['blocks']} activities): "
        f"median {m['median_ms']} ms"
    )
    print(f"Maps page: median {page['median_ms']} ms, {page['queries']} queries")
    for metric, v in judged.items():
        print(
            f"Verdict on {metric}: median {v['ms']} ms (runs {v['runs_ms']} ms; CPU here {v['cpu_ms']} ms, "
            f"PostgreSQL's {v['database_cpu_ms']} ms), "
            f"peak {v['peak_mb']} MB allocated ({v['verdict']}, n = {v['n_before']} / {v['n_after']})"
        )
    verdict, goal = results["experiment_verdict_slowest_ms"], results["experiment_verdict_goal_ms"]
    print(
        f"Experiment verdict (the slowest metric's median): {verdict} ms, goal {goal} ms: "
        f"{'met' if verdict <= goal else 'NOT met'} (load average {results['load_average']})"
    )
    out = RESULTS / "maps.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
