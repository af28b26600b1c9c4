"""Maps and experiments at scale, on a PostgreSQL database filled by `manage.py seed_scale`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_scale .venv/bin/python benchmarks/maps_bench.py

On the stream with the most items, inside a transaction rolled back at the end (the database
is left as it was), prints and writes to benchmarks/results/maps.json:
- the measured map over 12 weeks with a drawn map of one activity per state (median of 5);
- the maps page's server time (median of 10 requests) and its query count;
- the time and peak memory (tracemalloc) to judge one experiment of each target metric.
"""

import datetime as dt
from decimal import Decimal
import json
import statistics
import time
import tracemalloc

from common import ROOT, admin_client, require_scale_database, time_page, timed
from django.db import transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402
from goals import RESULTS

from streams.experiments.services import experiment_decide  # noqa: E402
from streams.flow.engine import Window  # noqa: E402
from streams.maps.services import map_blocks, measured_map  # noqa: E402
from streams.models import ImprovementExperiment, ProcessBlock, ValueStream, ValueStreamMap  # noqa: E402


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
            started = time.perf_counter()
            experiment_decide(experiment_id=experiment.pk, today=today)
            seconds = time.perf_counter() - started
            # Again under tracemalloc (slower), for the peak memory it allocates.
            ImprovementExperiment.objects.filter(pk=experiment.pk).update(verdict="pending", decided_at=None)
            tracemalloc.start()
            experiment_decide(experiment_id=experiment.pk, today=today)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            experiment.refresh_from_db()
            judged[metric] = {
                "ms": round(seconds * 1000),
                "peak_mb": round(peak / 2**20, 1),
                "verdict": experiment.verdict,
                "n_before": experiment.result["before"]["started_and_finished"],
                "n_after": experiment.result["after"]["started_and_finished"],
            }
        results["experiment_verdicts"] = judged
        results["experiment_verdict_median_ms"] = statistics.median(v["ms"] for v in judged.values())
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
            f"Verdict on {metric}: {v['ms']} ms, peak {v['peak_mb']} MB allocated "
            f"({v['verdict']}, n = {v['n_before']} / {v['n_after']})"
        )
    out = RESULTS / "maps.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
