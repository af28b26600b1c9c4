"""The CSV lists PostgreSQL writes (`core.api.csv_sql`, issue 32) are byte-for-byte the ones the
Python path writes (`core.api.csv.csv_rows`), on every endpoint with `CsvListMixin`.

The data exercise every formatter: NULLs and empty text, timestamps given in other offsets and
with and without microseconds, dates, booleans, negative decimals, floats Python and PostgreSQL
spell differently (100.0, -0.0, 1e16, 1e-05, inf, nan), JSON, text a spreadsheet would run
(`=cmd`, `+1`, `-2`, `@x`, a leading tab or CR, full-width `＝`), plain numbers with Unicode
digits that must stay unquoted, quotes, commas, line breaks and non-ASCII text.
"""

import datetime as dt
from decimal import Decimal
import sys

from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
import pytest

from core.api import csv as api_csv
from core.api.csv import CsvListMixin
from core.api.csv_sql import copy_statement, plain_number_regex
from core.csv import PLAIN_NUMBER
from okrs.tests.factories import CheckInFactory, KeyResultFactory
from streams.models import BacklogItem, Connection, ImprovementExperiment, StateTransition, SyncRun
from streams.tests.factories import BacklogItemFactory, ValueStreamFactory, state
from teams.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

POSTGRESQL = connection.vendor == "postgresql"
TEXTS = [
    "=cmd|' /C calc'!A0",
    "+1",
    "-2",
    "@x",
    "\tleading tab",
    "\rleading CR",
    "\uff1dfull-width",
    "-1.5e3",
    "-\u0661\u0662",  # a plain number in Arabic-Indic digits: Python's \d takes it, so no quote
    "+\U0001d7ce.5",  # mathematical bold digit zero, outside the BMP
    "-1+1",
    'say "hi", then go',
    "two\nlines",
    "cr\rinside",
    "Zürich ✓ 日本 🚀",
    "'already quoted",
    "\\.",
    "",
]
FLOATS = [0.0, 100.0, -3.25, 1e16, 1.5e15, 9999999999999998.0, 1e-05, 0.0001, 0.00012345, 1 / 3, 2.5e-300]
OFFSETS = [dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-7)), dt.UTC]


def csv_lists() -> list[str]:
    """The list URL of every viewset with CsvListMixin in the URL conf."""
    urls = []

    def walk(patterns):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns)
            elif isinstance(entry, URLPattern):
                yield entry

    names = {
        entry.name
        for entry in walk(get_resolver().url_patterns)
        if issubclass(getattr(entry.callback, "cls", object), CsvListMixin) and (entry.name or "").endswith("-list")
    }
    for name in sorted(names):
        urls.append(reverse(f"api:{name}"))
    return urls


@pytest.fixture
def varied_world():
    stream = ValueStreamFactory(name="=1+2", industry="")
    team = TeamFactory(slug="team-1")
    moments = [
        dt.datetime(2026, 3, 1, 12, 30, 15, tzinfo=OFFSETS[n % 3]) + dt.timedelta(microseconds=(n % 2) * 1234 * n)
        for n in range(len(TEXTS))
    ]
    for n, text in enumerate(TEXTS):
        BacklogItemFactory(
            stream=stream,
            team=team if n % 2 else None,
            title=text or "untitled",
            description=text,
            external_key=text[:100] if n % 3 else "",
            rank=FLOATS[n % len(FLOATS)],
            size=None if n % 4 == 0 else n,
            created_at=moments[n],
            target_date=None if n % 3 == 0 else dt.date(2026, 1, 1) + dt.timedelta(days=n),
            customer_facing=bool(n % 2),
            state=state(stream, "In progress" if n % 2 else "Backlog"),
        )
    items = list(BacklogItem.objects.order_by("pk"))
    if POSTGRESQL:  # what SQLite cannot hold, and -0, which the driver sends as 0
        with connection.cursor() as cursor:
            for value, item in zip(("Infinity", "-Infinity", "NaN", "1e300", "-1e-300", "-0"), items, strict=False):
                cursor.execute("UPDATE streams_backlogitem SET rank = %s::float8 WHERE id = %s", [value, item.pk])
    for n, item in enumerate(items[:6]):
        StateTransition.objects.create(item=item, to_state=item.state, at=moments[n], source=TEXTS[n][:16])
    for n, text in enumerate(TEXTS[:6]):
        key_result = KeyResultFactory(title=text, start_value=Decimal("-5.25") * n, current_value=Decimal("0.10"))
        CheckInFactory(key_result=key_result, value=Decimal("-1.5") - n, note=text, confidence=Decimal("0.3"))
    ImprovementExperiment.objects.create(
        stream=stream,
        title="=json",
        hypothesis="h",
        change="c",
        start_date=dt.date(2026, 3, 9),
        review_date=dt.date(2026, 3, 30),
        baseline={"b": 1.10, "a": "é", "n": [1, None, True]},
    )
    link = Connection.objects.create(stream=stream, tool="azure_devops", base_url="https://dev.azure.com/contoso")
    SyncRun.objects.create(connection=link, kind="backfill", status="failed", waited_seconds=1e-7, tool_seconds=2.0)
    return stream


def python_csv(client, url, monkeypatch) -> bytes:
    with monkeypatch.context() as patched:
        patched.setattr(api_csv, "copy_statement", lambda queryset, columns: None)
        return b"".join(client.get(url, {"format": "csv"}).streaming_content)


def test_every_csv_list_written_by_postgresql_is_the_python_csv_byte_for_byte(admin_client, varied_world, monkeypatch):
    urls = csv_lists()
    assert len(urls) >= 20 and "/api/v1/items/" in urls
    for url in urls:
        response = admin_client.get(url, {"format": "csv"})
        assert response.status_code == 200, url
        written = b"".join(response.streaming_content)
        assert written == python_csv(admin_client, url, monkeypatch), url
    items = b"".join(admin_client.get("/api/v1/items/", {"format": "csv"}).streaming_content).decode()
    assert "'=cmd" in items and ",-\u0661\u0662," in items and ",'-1+1," in items and ',"two\nlines",' in items


def test_postgresql_writes_the_items_and_the_key_results_and_python_the_json_lists(
    admin_client, varied_world, monkeypatch
):
    planned = {}

    def spy(queryset, columns):
        statement = copy_statement(queryset, columns)
        planned[queryset.model.__name__] = statement is not None
        return statement

    monkeypatch.setattr(api_csv, "copy_statement", spy)
    for url in ("/api/v1/items/", "/api/v1/check-ins/", "/api/v1/sync-runs/", "/api/v1/experiments/"):
        b"".join(admin_client.get(url, {"format": "csv"}).streaming_content)
    on_postgresql = {"BacklogItem": POSTGRESQL, "CheckIn": POSTGRESQL, "SyncRun": POSTGRESQL}
    # JSON goes through Python: json.dumps spells 1.10 and é its own way.
    assert planned == {**on_postgresql, "ImprovementExperiment": False}


def test_a_filtered_list_keeps_its_filters_and_its_parameters(admin_client, varied_world, monkeypatch):
    other = ValueStreamFactory(slug="other")
    BacklogItemFactory(stream=other, title="elsewhere")
    hostile = {"stream": varied_world.slug, "q": "x'; DROP TABLE streams_backlogitem; --"}
    for params in ({"stream": "other"}, {"q": "two"}, {"created_after": "2026-03-01", "team": "team-1"}, hostile):
        sql = b"".join(admin_client.get("/api/v1/items/", {**params, "format": "csv"}).streaming_content)
        with monkeypatch.context() as patched:
            patched.setattr(api_csv, "copy_statement", lambda queryset, columns: None)
            python = b"".join(admin_client.get("/api/v1/items/", {**params, "format": "csv"}).streaming_content)
        assert sql == python
    assert BacklogItem.objects.count() == len(TEXTS) + 1


def test_a_time_zone_other_than_utc_is_written_by_python_with_its_offsets(admin_client, varied_world, monkeypatch):
    planned = []
    monkeypatch.setattr(api_csv, "copy_statement", lambda *args: planned.append(copy_statement(*args)))
    with timezone.override("Europe/Amsterdam"):
        body = b"".join(admin_client.get("/api/v1/items/", {"format": "csv"}).streaming_content).decode()
    assert planned == [None]
    assert "2026-03-01T13:30:15+01:00" in body


@pytest.mark.skipif(not POSTGRESQL, reason="COPY is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_client_that_hangs_up_mid_export_leaves_the_connection_usable(admin_client, monkeypatch):
    stream = ValueStreamFactory()
    BacklogItemFactory.create_batch(50, stream=stream)
    monkeypatch.setattr("core.api.csv_sql.CHUNK_ROWS", 1)
    response = admin_client.get("/api/v1/items/", {"format": "csv"})
    chunks = iter(response.streaming_content)
    next(chunks), next(chunks)  # the header, one row
    response.close()
    assert BacklogItem.objects.count() == 50


@pytest.mark.skipif(not POSTGRESQL, reason="the pattern is PostgreSQL's")
def test_postgresql_takes_for_a_plain_number_exactly_what_python_does():
    digits = [chr(code) for code in range(sys.maxunicode + 1) if chr(code).isdecimal()]
    samples = [f"-{digit}" for digit in digits] + [f"+{digit}.{digit}e-{digit}" for digit in digits[::7]]
    samples += ["-1.", "-.5", "+1e5", "-1e", "-1.5E+3", "--1", "+ 1", "-1\n", "-1 ", "-\u00b2", "-\u00bd", "-\u216b"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s ~ %s FROM unnest(%s::text[]) WITH ORDINALITY AS t(s, n) ORDER BY n",
            [plain_number_regex(), samples],
        )
        matched = [row[0] for row in cursor.fetchall()]
    assert matched == [bool(PLAIN_NUMBER.fullmatch(sample)) for sample in samples]
    assert sum(matched) == len(digits) + len(digits[::7]) + 4
