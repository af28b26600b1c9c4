"""What every benchmark shares: Django set up as production runs it, timing, and page timing."""

import os
from pathlib import Path
import statistics
import sys
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Measure as production runs: DEBUG off (no query log, no debug templates).
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "benchmark-only-" + "k" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # the test client speaks plain HTTP

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# Hashed static names need collectstatic's manifest; the benchmark needs no real files.
settings.WHITENOISE_AUTOREFRESH = True  # no collectstatic output either
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402


def timed(fn, repeat: int) -> tuple[float, list[float]]:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), runs


def admin_client() -> Client:
    user, _ = get_user_model().objects.update_or_create(
        username="benchmark", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user)
    return client


def time_page(
    client: Client, url: str, repeat: int = 20, after_change: bool = False, links_changed: bool = False
) -> dict:
    """Median server time of GET url over `repeat` requests (after a warm-up), and its query count.

    With `after_change`, each request follows a change of the data generation, so the pages'
    fresh caches (`core.freshness`) miss: what the first view after an edit costs. An ordinary
    edit (a move that starts and finishes nothing, a check-in, an edit of a title) keeps the
    walks down the item tree (`LINKS`) and the delivery keys (`DELIVERY`) cached; with
    `links_changed` the edit is one of links (a link, a new or re-parented item), and the
    walks and the delivery keys miss too (as after a start, a finish or a deployment).
    """
    from core.freshness import data_changed

    def get():
        if after_change:
            data_changed(links=links_changed, delivery=links_changed)
        started = time.perf_counter()
        response = client.get(url)
        return response, time.perf_counter() - started

    warm, _ = get()
    if warm.status_code != 200:
        sys.exit(f"GET {url} answered {warm.status_code}; expected 200.")
    executed = []
    if after_change:
        data_changed(links=links_changed, delivery=links_changed)
    with connection.execute_wrapper(
        lambda execute, sql, params, many, context: executed.append(sql) or execute(sql, params, many, context)
    ):
        client.get(url)
    runs = [get()[1] for _ in range(repeat)]
    return {
        "median_ms": round(statistics.median(runs) * 1000, 1),
        "queries": len(executed),
        "runs_ms": [round(r * 1000) for r in runs],
    }


def require_scale_database(minimum: int = 100_000) -> int:
    from streams.models import BacklogItem

    if connection.vendor != "postgresql":
        sys.exit("Point DATABASE_URL at the PostgreSQL database seed_scale filled (see README, Benchmarks).")
    total = BacklogItem.objects.count()
    if total < minimum:
        sys.exit(f"Only {total:,} items here: run `manage.py seed_scale --items 500000` on this database first.")
    return total


def typical_stream():
    """The stream whose item count is closest to 5,000: the one the page, flow and load
    benchmarks time, so their figures are comparable. Its `n` is its item count."""
    from django.db.models import Count

    from streams.models import ValueStream

    return min(ValueStream.objects.annotate(n=Count("items")), key=lambda s: abs(s.n - 5000))
