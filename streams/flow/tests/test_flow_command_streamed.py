"""`manage.py flow_metrics` writes its items as the engine reads them: the very text it wrote
when it held the whole report (`json.dumps` of `report_dict`, the CSV of `item_row`s)."""

import csv
import io
import json

from django.core.management import call_command
import pytest

from core.csv import SafeDictWriter
from streams.flow.engine import ITEM_FIELDS, Scope, Window, item_row, report_dict, report_items
from streams.flow.quality import with_data_quality
from streams.flow.report import flow_report
from streams.selectors import data_sources
from streams.tests.flow_history import WINDOW, build_history

pytestmark = pytest.mark.django_db

WINDOW_ARGS = ["--from", "2026-03-02", "--to", "2026-03-15", "--as-of", "2026-03-16T00:00:00+00:00"]


def run(*args) -> str:
    out = io.StringIO()
    call_command("flow_metrics", *args, stdout=out)
    return out.getvalue()


def held_report(stream, window=WINDOW):
    return with_data_quality(flow_report(scope=Scope.stream(stream), window=window))


def test_json_is_the_text_of_the_whole_report():
    stream = build_history()
    report = held_report(stream)
    data = report_dict(report)
    data["data_sources"] = data_sources(Scope.stream(stream).stream_ids_query())
    assert data["items"]

    assert run("--stream", stream.slug, *WINDOW_ARGS) == json.dumps(data, indent=2) + "\n"


def test_items_come_in_the_reports_order_finished_in_progress_then_returned():
    stream = build_history()
    expected = [facts.key for facts in report_items(held_report(stream))]
    rows = csv.DictReader(io.StringIO(run("--stream", stream.slug, *WINDOW_ARGS, "--format", "csv").split("\n\n")[1]))

    assert [row["key"] for row in rows] == expected


def test_csv_items_are_the_rows_of_the_whole_report():
    stream = build_history()
    out = io.StringIO()
    writer = SafeDictWriter(out, fieldnames=ITEM_FIELDS, lineterminator="\n")
    writer.writeheader()
    for facts in report_items(held_report(stream)):
        writer.writerow(item_row(facts))

    assert run("--stream", stream.slug, *WINDOW_ARGS, "--format", "csv").split("\n\n", 1)[1] == out.getvalue()


def test_a_window_without_items_writes_an_empty_list():
    stream = build_history()
    day = WINDOW.start.date().replace(year=2025)  # a year before the board's history
    window = Window.build(start=day, end=day, as_of=WINDOW.as_of.replace(year=2025))
    data = report_dict(held_report(stream, window))
    data["data_sources"] = []
    assert data["items"] == []

    text = run(
        "--stream", stream.slug, "--from", "2025-03-02", "--to", "2025-03-02", "--as-of", "2025-03-16T00:00:00+00:00"
    )

    assert text == json.dumps(data, indent=2) + "\n"
