"""Load test: gunicorn on loopback, driven by Debian's `wrk`, on a database filled by `seed_scale`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_scale .venv/bin/python benchmarks/load_bench.py

Starts gunicorn as production would run it (DEBUG off, collected static files, the cache in
Redis shared by the workers) with gunicorn's recommended (2 × cores) + 1 sync workers, then
loads three URLs one after the other, each bounded both in time (`--seconds`) and in requests
(`--requests`), with `--connections` concurrent connections:

- the portfolio `/` (a logged-in leader's session),
- a stream page (the stream with about 5,000 items, as flow_bench uses),
- the API list `/api/v1/items/?page_size=100` (a token).

Prints, and writes to benchmarks/results/load.json, requests per second and latency
percentiles (p50, p95, p99) as wrk measured them on the client side, and any non-2xx answer or
socket error (the run fails if there is one). Goals (issue 32): the portfolio >= 50 requests a
second with p95 <= 300 ms, the stream page >= 30 a second with p95 <= 300 ms. `wrk` comes
from `scripts/setup.sh --bench`.
"""

import argparse
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import time
import urllib.request

from common import ROOT, admin_client, require_scale_database, typical_stream
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from goals import RESULTS, budget, rate

from portal.tokens import token_create, token_revoke  # noqa: E402
from streams.flow.rollups import rollups_refresh  # noqa: E402

LUA = Path(__file__).with_name("load.lua")
# Issue 32's goals: (at least this many requests a second, p95 at most this many ms).
GOALS = {"portfolio": (50, 300), "stream_page": (30, 300)}


def wait_until_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:  # refused, reset or timed out (URLError is one) while the workers boot
            time.sleep(0.3)
    sys.exit(f"gunicorn did not answer {url} within {seconds:.0f} s")


def warm(url: str, headers: dict[str, str], times: int = 3) -> None:
    for _ in range(times):
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            if response.status != 200:
                sys.exit(f"GET {url} answered {response.status}; expected 200")
            response.read()


def run_wrk(url: str, headers: dict[str, str], *, seconds: int, requests: int, connections: int, threads: int) -> dict:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(LUA), url, "--"]
    args += [str(requests), *(f"{name}: {value}" for name, value in headers.items())]
    result = subprocess.run(
        args, check=True, capture_output=True, text=True, env={**os.environ, "WRK_THREADS": str(threads)}
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["requests_per_second"] = round(figures["requests"] / figures["duration_s"], 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="at most this long per URL (default 30)")
    parser.add_argument("--requests", type=int, default=2000, help="at most this many requests per URL (default 2000)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (default 4)")
    parser.add_argument("--port", type=int, default=8799)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run `bash scripts/setup.sh --bench` (Debian's wrk package).")
    items = require_scale_database()
    rollups_refresh()  # what the beat job keeps true every 5 minutes

    cores = os.cpu_count() or 1
    workers = 2 * cores + 1
    threads = min(2, options.connections)
    client = admin_client()  # a superuser session, as a leader sees every stream
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    user = client.session.get("_auth_user_id")
    owner = get_user_model().objects.get(pk=user)
    token, key = token_create(user=owner, name=f"load test {time.time():.0f}")
    stream = typical_stream()  # the stream pages_bench and flow_bench time

    static_root = ROOT / "artifacts" / "bench-static"
    env = {
        **os.environ,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "STATIC_ROOT": str(static_root),
        "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/3"),
        # The load test measures the server, not the per-user API throttle (2,000 a minute).
        "API_THROTTLE_USER": "100000000/min",
        "CELERY_BROKER_URL": "",
        "LOG_LEVEL": "WARNING",
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "collectstatic", "--noinput", "-v0"], check=True, cwd=ROOT, env=env)
    log = ROOT / "artifacts" / "load-gunicorn.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{options.port}"
    server = subprocess.Popen(
        [
            str(Path(python).with_name("gunicorn")),
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{options.port}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
            "--access-logfile",
            "/dev/null",
            "--error-logfile",
            str(log),
        ],
        cwd=ROOT,
        env=env,
    )
    results: dict = {
        "items": items,
        "cores": cores,
        "gunicorn_workers": workers,
        "connections": options.connections,
        "wrk_threads": threads,
        "bound_seconds": options.seconds,
        "bound_requests": options.requests,
        "urls": {},
    }
    try:
        wait_until_up(f"{base}/healthz/")
        targets = {
            "portfolio": ("/", {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"}),
            "stream_page": (stream.get_absolute_url(), {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"}),
            "api_items_list": ("/api/v1/items/?page_size=100", {"Authorization": f"Token {key}"}),
        }
        for name, (path, headers) in targets.items():
            warm(base + path, headers, times=workers)  # every worker has its connection and imports
            figures = run_wrk(
                base + path,
                headers,
                seconds=options.seconds,
                requests=options.requests,
                connections=options.connections,
                threads=threads,
            )
            goal = (rate(GOALS[name][0]), budget(GOALS[name][1])) if name in GOALS else None
            if goal:
                figures["goal_requests_per_second"], figures["goal_p95_ms"] = goal
            results["urls"][name] = {"path": path, **figures}
            met = ""
            if goal:
                ok = figures["requests_per_second"] >= goal[0] and figures["p95_ms"] <= goal[1]
                met = f" (goal >= {goal[0]} req/s, p95 <= {goal[1]} ms: {'met' if ok else 'NOT met'})"
            print(
                f"{name:>15}: {figures['requests']:>6,} requests in {figures['duration_s']:>5.1f} s = "
                f"{figures['requests_per_second']:>6.1f} req/s; p50 {figures['p50_ms']:.0f} ms, "
                f"p95 {figures['p95_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms; "
                f"errors: {figures['non_2xx_3xx']} non-2xx, {figures['socket_errors']} socket, "
                f"{figures['timeouts']} timeouts{met}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        token_revoke(token=token, actor=owner)

    out = RESULTS
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(results, indent=2))
    print(f"written to {out / 'load.json'}")
    failed = [n for n, r in results["urls"].items() if r["non_2xx_3xx"] or r["socket_errors"] or r["timeouts"]]
    if failed:
        sys.exit(f"errors under load on: {', '.join(failed)} (see {log})")


if __name__ == "__main__":
    main()
