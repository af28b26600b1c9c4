"""Measured key results and investment at scale, on a database filled by `manage.py seed_scale`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_scale .venv/bin/python benchmarks/okrs_bench.py

The objectives and key results it creates are committed, as the job's own writes are (it
commits each reading on its own, as it does in production; inside one transaction the
engine's temporary tables of 5,000 readings at ten times the scale outgrew PostgreSQL's lock
table), and deleted at the end with what hangs off them. Prints and writes to
benchmarks/results/okrs.json:
- the daily measure job (`okrs.measures.key_results_measure`) over 500 measured key results,
  five on each of the 100 streams (flow time p85, velocity, WIP, aged WIP, deployment
  frequency), first when every figure is new, then again the same day (nothing recorded);
- saving one measured key result (its start and its weekly readings so far are read);
- the investment panel (`/investment/`) of the largest stream and of the whole portfolio.
"""

import datetime as dt
from decimal import Decimal
import json
import time

from common import ROOT, admin_client, require_scale_database, time_page
from django.db import transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402
from goals import RESULTS

from okrs.measures import key_results_measure  # noqa: E402
from okrs.models import KeyResult, Measure, Objective  # noqa: E402
from okrs.selectors import current_period  # noqa: E402
from okrs.services import key_result_save  # noqa: E402
from streams.models import ValueStream  # noqa: E402

MEASURES = [
    Measure.FLOW_TIME_P85,
    Measure.FLOW_VELOCITY,
    Measure.WIP,
    Measure.AGED_WIP,
    Measure.DEPLOYMENT_FREQUENCY,
]
JOB_GOAL_SECONDS = 60  # not an issue's goal: a daily job should be done well within a minute


def main() -> None:
    total = require_scale_database()
    period = current_period()
    streams = list(ValueStream.objects.annotate(n=Count("items")).order_by("-n"))
    results = {"items_in_database": total, "streams": len(streams), "period": period.label}
    objectives = []
    try:
        objectives = Objective.objects.bulk_create(
            [
                Objective(title=f"Benchmark {s.name}", level=Objective.Level.STREAM, stream=s, period=period.label)
                for s in streams
            ]
        )
        KeyResult.objects.bulk_create(
            [
                KeyResult(
                    objective=objective,
                    title=f"Benchmark {measure}",
                    source=KeyResult.Source.MEASURED,
                    measure=measure,
                    measure_stream=objective.stream,
                    start_value=Decimal("0"),
                    target_value=Decimal("1"),
                    order=order,
                )
                for objective in objectives
                for order, measure in enumerate(MEASURES)
            ]
        )
        today = timezone.localdate()
        began = time.perf_counter()
        first = key_results_measure(today)
        first_seconds = time.perf_counter() - began
        began = time.perf_counter()
        again = key_results_measure(today)
        again_seconds = time.perf_counter() - began
        results["daily_job"] = {
            "key_results": first["measured"],
            "first_seconds": round(first_seconds, 2),
            "first": first,
            "again_seconds": round(again_seconds, 2),
            "again": again,
            "goal_seconds": JOB_GOAL_SECONDS,
        }

        largest = streams[0]
        one = KeyResult(
            objective=objectives[0],
            title="Benchmark save",
            source=KeyResult.Source.MEASURED,
            measure=Measure.FLOW_TIME_P85,
            measure_stream=largest,
            start_value=Decimal("0"),
            target_value=Decimal("0.5"),
        )
        began = time.perf_counter()
        key_result_save(key_result=one)
        results["save_one"] = {
            "stream_items": largest.n,
            "seconds": round(time.perf_counter() - began, 2),
            "readings": one.check_ins.filter(system=True).count(),
            "since": str(period.start),
            "until": str(dt.date.today()),
        }

        client = admin_client()
        results["investment_stream"] = time_page(client, f"/investment/?stream={largest.slug}", repeat=5)
        results["investment_portfolio"] = time_page(client, "/investment/", repeat=3)
    finally:
        with transaction.atomic():
            Objective.objects.filter(pk__in=[objective.pk for objective in objectives]).delete()

    job = results["daily_job"]
    print(
        f"Daily measure job, {job['key_results']} measured key results on {len(streams)} streams: "
        f"{job['first_seconds']} s recording {job['first']['recorded']}, "
        f"then {job['again_seconds']} s the same day ({job['again']['recorded']} recorded)"
    )
    save = results["save_one"]
    print(
        f"Saving a measured key result on a stream of {save['stream_items']:,} items: {save['seconds']} s "
        f"({save['readings']} readings since {save['since']})"
    )
    for name in ("investment_stream", "investment_portfolio"):
        page = results[name]
        print(f"{name.replace('_', ' ').capitalize()}: median {page['median_ms']} ms, {page['queries']} queries")
    out = RESULTS / "okrs.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
