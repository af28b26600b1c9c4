"""Every main page at scale, on a PostgreSQL database filled by `manage.py seed_scale`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_scale .venv/bin/python benchmarks/pages_bench.py

Prints, and writes to benchmarks/results/pages.json, the median server time over 20 requests
(after one warm-up) and the query count of every page, twice: as the page is usually served
(its fresh caches, `core.freshness`, holding results) and with every request following an
ordinary edit in one stream (what it changed misses: the first view after an edit such as a
move within progress or a check-in; the page's own stream for a stream's pages, the streams in
turn for the organisation's), and after a change of links and delivery (a link, a new or
re-parented item, a start, a finish, a deployment: the walks down the item tree and the
delivery keys are computed again too; 5 requests). The pages are those a
user opens from the navigation, as a superuser (who sees every stream): the portfolio (goal:
median <= 200 ms) and its sorted form, the stream page of the stream with about 5,000 items
(goal: median <= 100 ms) and its flow health, backlog, maps and experiments, an item page,
the leadership and teams pages (250 ms), the OKR tree, the alignment page and the key result
page with the most linked work (250 ms) and its search for work to link, operations readiness
and its criteria, the imports list, the API tokens page and the admin lists of items and
transitions. Goals apply to the cached figure and to the one after a change. `--only
portfolio,stream` times those pages alone and keeps the others' last figures in pages.json.
"""

import argparse
import json
import sys

from common import admin_client, edits_in_turn, require_scale_database, time_page, typical_stream
from django.db.models import Count  # noqa: E402
from django.urls import reverse  # noqa: E402
from goals import RESULTS, budget

from okrs.models import KeyResult  # noqa: E402
from streams.flow.rollups import rollups_refresh  # noqa: E402
from streams.models import BacklogItem, ValueStream  # noqa: E402

# Issue 32's goals (the first view after a change counts as much as a cached one).
GOALS_MS = {
    "portfolio": 200,
    "portfolio_sorted_by_wip": 200,
    "okr_tree": 250,
    "alignment": 250,
    "key_result": 250,
    "leadership": 250,
    "teams": 250,
    "stream": 100,
}
# The pages of one stream: their edit is in that stream (the worst case for its cache).
OF_THE_STREAM = {"stream", "stream_health", "delivery_timeline", "backlog", "item", "stream_maps", "experiments"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        help="comma-separated page names (those with a goal: " + ", ".join(GOALS_MS) + "); their figures "
        "replace theirs in pages.json and the others are kept",
    )
    only = set(filter(None, (parser.parse_args().only or "").split(",")))
    items = require_scale_database()
    rollups_refresh()  # what the beat job keeps true every 5 minutes
    client = admin_client()
    busiest = KeyResult.objects.annotate(n=Count("items")).order_by("-n").first()
    stream = typical_stream()
    # An item in progress with a full history: what a product owner opens most.
    item = (
        BacklogItem.objects.filter(stream=stream, started_at__isnull=False, finished_at__isnull=True)
        .annotate(moves=Count("transitions"))
        .order_by("-moves", "pk")
        .first()
    )
    slug = stream.slug
    pages = {
        "portfolio": reverse("home"),
        "portfolio_sorted_by_wip": reverse("home") + "?sort=-wip",
        "stream": reverse("streams:stream-detail", args=[slug]),
        "stream_health": reverse("stream-health", args=[slug]),
        "delivery_timeline": reverse("streams:delivery", args=[slug]),
        "backlog": reverse("streams:backlog-stream", args=[slug]),
        "item": reverse("item-detail", args=[item.pk]),
        "stream_maps": reverse("streams:stream-maps", args=[slug]),
        "experiments": reverse("streams:experiments", args=[slug]),
        "maps_home": reverse("streams:maps"),
        "leadership": reverse("leadership"),
        "teams": reverse("teams"),
        "okr_tree": reverse("okrs:objective-list"),
        "alignment": reverse("okrs:alignment"),
        "key_result": reverse("okrs:key-result-detail", args=[busiest.pk]),
        # Search-as-you-type for work to link: a rare word, which no early LIMIT saves.
        "item_search": reverse("okrs:key-result-item-search", args=[busiest.pk]) + "?q=checkout+retry",
        "readiness": reverse("readiness:queue"),
        "readiness_criteria": reverse("readiness:criteria"),
        "imports": reverse("imports:list"),
        "api_tokens": reverse("api-tokens"),
        "admin_items": reverse("admin:streams_backlogitem_changelist"),
        "admin_transitions": reverse("admin:streams_statetransition_changelist"),
    }
    results = {
        "items": items,
        "streams": ValueStream.objects.count(),
        "stream": {"slug": slug, "items": stream.n},
        "pages": {},
    }
    # Each view after an edit in one stream: the page's own stream for the pages of a stream,
    # the streams in turn for the organisation's pages (a colleague's edit somewhere).
    in_its_stream = edits_in_turn([stream.pk])
    anywhere = edits_in_turn(list(ValueStream.objects.order_by("pk").values_list("pk", flat=True)))
    unknown = only - set(pages)
    if unknown:
        sys.exit(f"no such page: {', '.join(sorted(unknown))}; the pages are {', '.join(pages)}")
    if only:
        kept = RESULTS / "pages.json"
        if kept.exists():
            results["pages"] = json.loads(kept.read_text()).get("pages", {})
        pages = {name: url for name, url in pages.items() if name in only}
    for name, url in pages.items():
        figures = time_page(client, url)
        edit = in_its_stream if name in OF_THE_STREAM else anywhere
        changed = time_page(client, url, after_change=True, edit=edit)
        links = time_page(client, url, repeat=5, after_change=True, links_changed=True)
        goal = budget(GOALS_MS.get(name))
        results["pages"][name] = {
            "url": url,
            **figures,
            "after_change_ms": changed["median_ms"],
            "after_change_queries": changed["queries"],
            "after_link_change_ms": links["median_ms"],
            "goal_ms": goal,
        }
        note = ""
        if goal:
            met = figures["median_ms"] <= goal and changed["median_ms"] <= goal
            note = f" (goal {goal} ms: {'met' if met else 'NOT met'})"
        print(
            f"{name:>24}: median {figures['median_ms']:>6.0f} ms over 20 requests, {figures['queries']:>3} queries; "
            f"after a change {changed['median_ms']:>6.0f} ms, {changed['queries']:>3} queries; "
            f"after a change of links {links['median_ms']:>6.0f} ms{note}"
        )
    out = RESULTS
    out.mkdir(parents=True, exist_ok=True)
    (out / "pages.json").write_text(json.dumps(results, indent=2))
    print(f"written to {out / 'pages.json'}")


if __name__ == "__main__":
    main()
