"""API benchmarks on a PostgreSQL database filled by `manage.py seed_scale`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_scale .venv/bin/python benchmarks/api_bench.py

Prints, and writes to benchmarks/results/api.json:
- the CSV export of every item (`/api/v1/items/?format=csv`, 500,000 rows): rows per second and
  the process's peak memory, measured in a fresh process for a tenth of the rows and for all of
  them; equal peaks show the export streams with flat memory;
- a page of 100 items (JSON): median server time of 20 requests and its query count, for the
  first page, a page deep into the cursor, and a filtered page;
- one stream's flow metrics and per-item facts through the API (median of 5);
- a page of 100 deployments with their shipped items, and what a pipeline's POST of a
  deployment shipping 10 items costs: created, then sent again (the idempotent update).
  The deployments it posts are deleted at the end.
"""

import datetime as dt
import json
from pathlib import Path
import statistics
import subprocess
import sys
import time

from common import ROOT, admin_client, require_scale_database, time_page
from goals import RESULTS

from streams.models import ValueStream  # noqa: E402


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def export_in_fresh_process(stream_slug: str | None) -> dict:
    args = [sys.executable, __file__, "--export"] + ([stream_slug] if stream_slug else [])
    result = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def export_main(stream_slug: str | None) -> None:
    client = admin_client()
    url = "/api/v1/items/?format=csv" + (f"&stream={stream_slug}" if stream_slug else "")
    before = peak_rss_mb()
    started = time.perf_counter()
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    rows, size = -1, 0
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
        size += len(chunk)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "url": url,
                "rows": rows,
                "mb": round(size / 1e6, 1),
                "seconds": round(seconds, 2),
                "rows_per_second": round(rows / seconds),
                "peak_rss_mb_at_start": round(before, 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
        )
    )


def post_deployments(client, stream, repeat: int = 20) -> dict:
    """Median time of POST /api/v1/deployments/ for a new deployment shipping 10 items, and of
    sending each again unchanged (the retry a pipeline makes)."""
    from django.utils import timezone

    from streams.models import Deployment

    keys = list(stream.items.exclude(external_key="").values_list("external_key", flat=True)[:10])
    now = timezone.now()
    body = {
        "stream": stream.slug,
        "service": "bench",
        "started_at": (now - dt.timedelta(minutes=10)).isoformat(),
        "finished_at": now.isoformat(),
        "items": [{"item": key} for key in keys],
    }
    timings: dict[str, list[float]] = {"deployment_post_new": [], "deployment_post_again": []}
    try:
        for n in range(repeat):
            for label in timings:
                started = time.perf_counter()
                response = client.post(
                    "/api/v1/deployments/", {**body, "external_id": f"bench-{n}"}, content_type="application/json"
                )
                timings[label].append(time.perf_counter() - started)
                if response.status_code not in (200, 201):
                    sys.exit(f"POST /api/v1/deployments/ answered {response.status_code}: {response.content[:300]}")
    finally:
        Deployment.objects.filter(source="api", external_id__startswith="bench-").delete()
    results = {}
    for label, runs in timings.items():
        results[label] = {"median_ms": round(statistics.median(runs) * 1000, 1), "items": len(keys)}
        print(f"{label:>18}: median {results[label]['median_ms']:>7} ms ({len(keys)} items shipped)")
    return results


def main() -> None:
    total = require_scale_database()
    results: dict = {"items": total}
    # A stream with about a hundredth of the items, then all of them: the peak must not grow.
    stream = ValueStream.objects.order_by("pk").first()
    for label, slug in (("export_one_stream", stream.slug), ("export_all", None)):
        results[label] = export_in_fresh_process(slug)
        r = results[label]
        print(
            f"{label:>18}: {r['rows']:>8,} rows, {r['mb']:>6} MB in {r['seconds']:>6.2f} s = "
            f"{r['rows_per_second']:>7,} rows/s; peak RSS {r['peak_rss_mb']} MB "
            f"(at start {r['peak_rss_mb_at_start']} MB)"
        )

    client = admin_client()
    first = client.get("/api/v1/items/?page_size=100").json()
    pages = {
        "page_first": "/api/v1/items/?page_size=100",
        "page_second": first["next"].replace("http://testserver", ""),
        "page_filtered": f"/api/v1/items/?page_size=100&stream={stream.slug}&view=open&flow_type=feature",
        "transitions_page": "/api/v1/transitions/?page_size=100",
    }
    for label, url in pages.items():
        results[label] = time_page(client, url)
        r = results[label]
        print(f"{label:>18}: median {r['median_ms']:>7} ms, {r['queries']} queries  ({url[:70]})")

    for label, url in (
        ("metrics_flow_stream", f"/api/v1/metrics/flow/?stream={stream.slug}"),
        ("metrics_flow_items", f"/api/v1/metrics/flow/items/?stream={stream.slug}"),
        ("metrics_alignment", "/api/v1/metrics/alignment/"),
    ):
        results[label] = time_page(client, url, repeat=5)
        r = results[label]
        print(f"{label:>18}: median {r['median_ms']:>7} ms, {r['queries']} queries")

    results["deployments_page"] = time_page(client, "/api/v1/deployments/?page_size=100")
    r = results["deployments_page"]
    print(f"{'deployments_page':>18}: median {r['median_ms']:>7} ms, {r['queries']} queries")
    results |= post_deployments(client, stream)

    out = RESULTS
    out.mkdir(parents=True, exist_ok=True)
    (out / "api.json").write_text(json.dumps(results, indent=2))
    print(f"written to {out / 'api.json'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--export":
        export_main(sys.argv[2] if len(sys.argv) > 2 else None)
    else:
        main()
