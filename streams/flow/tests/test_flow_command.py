"""`manage.py flow_metrics` prints the engine's numbers, as JSON or CSV, and explains bad input."""

import csv
import io
import json

from django.core.management import CommandError, call_command
import pytest

from streams.tests.flow_history import build_history

pytestmark = pytest.mark.django_db

WINDOW_ARGS = ["--from", "2026-03-02", "--to", "2026-03-15", "--as-of", "2026-03-16T00:00:00+00:00"]


def run(*args) -> str:
    out = io.StringIO()
    call_command("flow_metrics", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def stream():
    return build_history()


def test_json_has_the_hand_computed_aggregates_and_items(stream):
    data = json.loads(run("--stream", stream.slug, *WINDOW_ARGS))
    assert data["throughput"]["n"] == 6
    assert data["flow_time_days"]["p50"] == 4.0 and data["flow_time_days"]["p85"] == 6.25
    assert data["efficiency"]["value"] == round(15.25 / 21.25, 4)
    assert data["wip"]["n"] == 2
    assert [day["wip"] for day in data["daily"]] == [3, 4, 3, 4, 4, 3, 2, 1, 1, 2, 2, 2, 2, 2]
    items = {item["key"]: item for item in data["items"]}
    assert items["G"]["blocked_days"] == 3 and items["B"]["reopens"] == 1
    assert data["window"]["start"] == "2026-03-02T00:00:00+00:00"


def test_csv_has_metric_rows_then_one_row_per_item(stream):
    text = run("--stream", stream.slug, *WINDOW_ARGS, "--format", "csv")
    metrics_part, items_part = text.split("\n\n", 1)
    metrics = dict(csv.reader(io.StringIO(metrics_part)))
    assert metrics["throughput.n"] == "6"
    assert metrics["flow_time_days.p95"] == "6.75"
    assert metrics["bottleneck.Payments.In progress.share"] == str(round(13.25 / 21.25, 4))
    rows = list(csv.DictReader(io.StringIO(items_part)))
    assert sorted(row["key"] for row in rows) == ["A", "B", "D", "E", "G", "H", "I", "J"]
    assert next(row for row in rows if row["key"] == "H")["flow_days"] == "0.25"


def test_an_earlier_as_of_changes_the_answer(stream):
    data = json.loads(
        run(
            "--stream",
            stream.slug,
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-06",
            "--as-of",
            "2026-03-06T12:00:00+00:00",
        )
    )
    assert data["throughput"]["n"] == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["--stream", "nope"], "No value stream has the slug 'nope'"),
        (["--team", "nope"], "No team has the slug 'nope'"),
        (["--portfolio", "--from", "2026-13-01"], "is not a date"),
        (["--portfolio", "--as-of", "2026-03-16T00:00"], "has no UTC offset"),
        (["--portfolio", "--from", "2026-03-10", "--to", "2026-03-01"], "starts (2026-03-10) after it ends"),
    ],
)
def test_bad_input_is_explained(stream, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(*args)
