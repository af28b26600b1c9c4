"""Leaders' pages at scale, on a PostgreSQL database filled by `manage.py seed_scale`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_scale .venv/bin/python benchmarks/portfolio_bench.py

Prints, and writes to benchmarks/results/portfolio.json, the median server time over 20
requests and the query count of: the portfolio page (goal: median <= 400 ms), the portfolio
alignment page, the leadership page, operations readiness, a stream's backlog, the OKR tree of
the current quarter, and the key result page with the most linked work (its flow and forecast).
"""

import json

from common import ROOT, admin_client, require_scale_database, time_page
from django.db.models import Count  # noqa: E402
from django.urls import reverse  # noqa: E402

from okrs.models import KeyResult  # noqa: E402
from streams.models import ValueStream  # noqa: E402
from streams.rollups import rollups_refresh  # noqa: E402


def main() -> None:
    items = require_scale_database()
    rollups_refresh()  # what the beat job keeps true every 5 minutes
    client = admin_client()
    busiest = KeyResult.objects.annotate(n=Count("items")).order_by("-n").first()
    pages = {
        "portfolio": (reverse("home"), 400),
        "portfolio_sorted_by_wip": (reverse("home") + "?sort=-wip", 400),
        "alignment": (reverse("okrs:alignment"), None),
        "leadership": (reverse("leadership"), None),
        "teams": (reverse("teams"), None),
        "readiness": (reverse("readiness:queue"), None),
        "backlog": (reverse("streams:backlog-stream", args=[ValueStream.objects.order_by("pk").first().slug]), None),
        "okr_tree": (reverse("okrs:objective-list"), None),
        "key_result": (reverse("okrs:key-result-detail", args=[busiest.pk]), None),
    }
    results = {"items": items, "streams": ValueStream.objects.count(), "pages": {}}
    for name, (url, goal) in pages.items():
        figures = time_page(client, url)
        results["pages"][name] = {"url": url, **figures, "goal_ms": goal}
        note = f" (goal {goal} ms)" if goal else ""
        print(f"{name}: median {figures['median_ms']:.0f} ms over 20 requests, {figures['queries']} queries{note}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "portfolio.json").write_text(json.dumps(results, indent=2))
    print(f"written to {out / 'portfolio.json'}")


if __name__ == "__main__":
    main()
