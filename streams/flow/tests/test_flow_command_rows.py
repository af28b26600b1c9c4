"""`manage.py flow_metrics` writes the items from `HistoryEngine.item_rows` a thousand at a time
through json's C encoder and `core.csv`: the very text of the whole report, for awkward titles
and across chunk boundaries too."""

import datetime as dt
import io
import json

from django.core.management import call_command
import pytest

from core.csv import SafeDictWriter
from core.parallel import default_workers
from streams.flow.engine import ITEM_FIELDS, Scope, item_row, report_dict, report_items
from streams.flow.quality import with_data_quality
from streams.flow.report import flow_report
from streams.selectors import data_sources
from streams.tests.flow_history import WINDOW, build_history, bulk_items, d, make

pytestmark = pytest.mark.django_db

WINDOW_ARGS = ["--from", "2026-03-02", "--to", "2026-03-15", "--as-of", "2026-03-16T00:00:00+00:00"]
TITLES = [
    "control \x01 inside",  # PostgreSQL stores no NUL; json spells both as \u00XX
    'quotes " and \\ back',
    "%s and %(x)s",
    "caf\u00e9 \u2603 \U0001f600",
    "=HYPERLINK(1)",
    "a\r\nb",
]


def run(*args) -> str:
    out = io.StringIO()
    call_command("flow_metrics", *args, stdout=out)
    return out.getvalue()


def board():
    stream = build_history()
    for n, title in enumerate(TITLES):
        make(stream, title, "feature", [("In progress", d(1 + n / 7)), ("Done", d(2 + n / 3))])
    # Enough items for more than one chunk, finished and in progress, some at whole seconds.
    specs = []
    for n in range(1100):
        created = d(n / 100) + dt.timedelta(microseconds=n % 3)
        moves = [("In progress", created + dt.timedelta(hours=1))]
        if n % 4:
            moves.append(("Done", created + dt.timedelta(hours=5 + n % 50)))
        specs.append((created, moves))
    bulk_items(stream, specs)
    return stream


def test_json_and_csv_are_the_text_of_the_whole_report():
    stream = board()
    report = with_data_quality(flow_report(scope=Scope.stream(stream), window=WINDOW))
    data = report_dict(report)
    data["data_sources"] = data_sources(Scope.stream(stream).stream_ids_query())
    assert len(data["items"]) > 1000  # the command writes them a thousand at a time
    assert {row["title"] for row in data["items"]} >= set(TITLES)

    assert run("--stream", stream.slug, *WINDOW_ARGS) == json.dumps(data, indent=2) + "\n"

    out = io.StringIO()
    writer = SafeDictWriter(out, fieldnames=ITEM_FIELDS, lineterminator="\n")
    writer.writeheader()
    for facts in report_items(report):
        writer.writerow(item_row(facts))
    assert run("--stream", stream.slug, *WINDOW_ARGS, "--format", "csv").split("\n\n", 1)[1] == out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_data_quality_read_on_a_connection_of_its_own_is_the_same():
    """Outside a transaction, on PostgreSQL, the command reads the data quality on a second
    connection while the engine runs on the first, and the items become text on a thread: the
    same text as the whole report computed one step after the other."""
    if default_workers() < 2:
        pytest.skip("side by side needs PostgreSQL and two cores")
    stream = board()
    report = with_data_quality(flow_report(scope=Scope.stream(stream), window=WINDOW))
    assert report.data_quality is not None and not report.data_quality.clean
    data = report_dict(report)
    data["data_sources"] = data_sources(Scope.stream(stream).stream_ids_query())

    assert run("--stream", stream.slug, *WINDOW_ARGS) == json.dumps(data, indent=2) + "\n"
    out = io.StringIO()
    writer = SafeDictWriter(out, fieldnames=ITEM_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(data["items"])
    metrics, items = run("--stream", stream.slug, *WINDOW_ARGS, "--format", "csv").split("\n\n", 1)
    assert items == out.getvalue()
    assert f"data_quality.reopens,{data['data_quality']['reopens']}\n" in metrics + "\n"
