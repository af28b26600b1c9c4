"""Forecasts and scenarios at scale, on a database filled by `manage.py seed_scale`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_scale .venv/bin/python benchmarks/forecast_bench.py

Inside a transaction rolled back at the end, prints beside their goals and writes to
benchmarks/results/forecast.json, on the largest stream:
- one item's releasable forecast (the item in progress with the most children);
- its item page, and its API answer `/api/v1/items/<id>/releasable/`;
- the stream's scenario page capped at half its WIP (both columns: today's and the scenario's);
- a key result's scenario page, its linked work the stream's 200 first items in progress,
  capped at half the WIP and one item left out.
The goals are not an issue's: a forecast is read while someone waits on the page.
"""

import json
import time

from common import ROOT, admin_client, require_scale_database, time_page
from django.db import transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from goals import RESULTS, budget

from okrs.models import KeyResult, Objective  # noqa: E402
from okrs.selectors import current_period  # noqa: E402
from streams.flow.releasable import releasable_forecast  # noqa: E402
from streams.models import BacklogItem, ValueStream  # noqa: E402

GOALS_MS = {"item_forecast": 250, "item_page": 500, "item_api": 300, "stream_scenario": 2000, "kr_scenario": 2000}


def main() -> None:
    total = require_scale_database()
    stream = ValueStream.objects.annotate(n=Count("items")).order_by("-n").first()
    in_progress = BacklogItem.objects.in_progress().filter(stream=stream)
    wip = in_progress.count()
    item = (
        in_progress.annotate(kids=Count("children"))
        .filter(kids__gt=0)
        .order_by("-kids")
        .select_related("state")
        .first()
    )
    results = {"items_in_database": total, "stream": stream.name, "stream_items": stream.n, "wip": wip}
    with transaction.atomic():
        runs = []
        for _ in range(6):
            began = time.perf_counter()
            forecast = releasable_forecast(item)
            runs.append(time.perf_counter() - began)
        runs.sort()
        results["item_forecast"] = {
            "median_ms": round(runs[len(runs) // 2] * 1000, 1),
            "children": item.kids,
            "p85": str(forecast.p85),
            "breakdown": forecast.breakdown,
        }
        client = admin_client()
        results["item_page"] = time_page(client, f"/items/{item.pk}/", repeat=5)
        results["item_api"] = time_page(client, f"/api/v1/items/{item.pk}/releasable/", repeat=5)
        cap = max(1, wip // 2)
        results["stream_scenario"] = time_page(
            client, f"/scenarios/new/?stream={stream.slug}&cap_stream={stream.pk}&cap={cap}", repeat=3
        )
        objective = Objective.objects.create(
            title="Benchmark", level=Objective.Level.STREAM, stream=stream, period=current_period().label
        )
        kr = KeyResult.objects.create(objective=objective, title="Benchmark scenario", target_value=1)
        linked = list(in_progress.order_by("rank", "pk")[:200])
        kr.items.add(*linked)
        results["kr_scenario"] = time_page(
            client,
            f"/scenarios/new/?key_result={kr.pk}&cap_stream={stream.pk}&cap={cap}&descope={linked[0].pk}",
            repeat=3,
        )
        results["kr_scenario"]["linked"] = len(linked)
        transaction.set_rollback(True)

    print(f"On {stream.name} ({stream.n:,} items, {wip:,} in progress), of {total:,} items:")
    for name, goal in GOALS_MS.items():
        goal = budget(goal)
        figure = results[name]
        queries = f", {figure['queries']} queries" if "queries" in figure else ""
        verdict = "met" if figure["median_ms"] <= goal else "NOT met"
        print(f"  {name.replace('_', ' ')}: median {figure['median_ms']} ms{queries} (goal {goal} ms: {verdict})")
        figure["goal_ms"] = goal
    out = RESULTS / "forecast.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
