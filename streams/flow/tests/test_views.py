"""The value stream page: numbers, fragment for htmx, bad input, access and query count."""

import csv
import datetime as dt
import io
import json
import re

from django.core.management import call_command
from django.test import Client
from django.urls import reverse
import pytest

from streams.flow.rollups import rollups_invalidate, rollups_refresh
from streams.tests.flow_history import build_history, d, make

pytestmark = pytest.mark.django_db

WINDOW = {"start": "2026-03-02", "end": "2026-03-15"}


@pytest.fixture
def stream():
    return build_history()


def url(stream, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("streams:stream-detail", args=[stream.slug]) + (f"?{query}" if query else "")


def test_page_shows_the_hand_computed_numbers_with_their_definitions(viewer_client, stream):
    response = viewer_client.get(url(stream, **WINDOW))
    assert response.status_code == 200
    report = response.context["report"]
    assert (report.throughput, report.flow_time.p50, report.flow_time.p85) == (6, 4.0, 6.25)
    html = response.content.decode()
    assert "4.0 / 6.2 / 6.8" in html  # p50 / p85 / p95 tile, one decimal
    assert "Flow time = finish − start" in html and "n = 6 finished" in html
    assert "Above 50%" in html  # efficiency 72%: the page asks to check the waiting states
    assert 'id="flow-data"' in html and "<html" in html
    data = json.loads(html.split('<script id="flow-data" type="application/json">')[1].split("</script>")[0])
    assert data["load"] == [3, 4, 3, 4, 4, 3, 2, 1, 1, 2, 2, 2, 2, 2]
    assert data["percentiles"] == {"p50": 4.0, "p85": 6.25, "p95": 6.75}


def test_page_and_command_give_the_same_numbers(viewer_client, stream):
    page = viewer_client.get(url(stream, **WINDOW)).context["report"]
    out = io.StringIO()
    call_command("flow_metrics", "--stream", stream.slug, "--from", WINDOW["start"], "--to", WINDOW["end"], stdout=out)
    command = json.loads(out.getvalue())
    assert command["throughput"]["n"] == page.throughput
    assert command["flow_time_days"]["p95"] == round(page.flow_time.p95, 4)
    assert command["efficiency"]["value"] == round(page.efficiency, 4)
    assert [day["wip"] for day in command["daily"]] == [day["wip"] for day in page.daily]
    assert command["bottleneck"][0]["state"] == page.bottleneck[0]["state"]


def test_htmx_request_gets_only_the_flow_fragment(viewer_client, stream):
    response = viewer_client.get(url(stream, weeks=4), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith('<section id="flow"')
    assert response.context["report"].window.days == 28


def test_a_window_ending_in_the_past_is_read_as_of_its_end(viewer_client, stream):
    report = viewer_client.get(url(stream, start="2026-03-02", end="2026-03-06")).context["report"]
    # As of d5: A, G and I in progress and B reopened that instant; H and E finished before.
    assert report.window.as_of == d(5)
    assert sorted(f.key for f in report.in_progress) == ["A", "B", "G", "I"]
    assert sorted(f.key for f in report.finished) == ["E", "H"]


def test_a_date_before_2000_is_refused_not_a_server_error(viewer_client, stream):
    response = viewer_client.get(url(stream, start="0001-01-01", end="0001-01-05"))
    assert response.status_code == 200 and "Choose a date from 2000-01-01 on." in response.content.decode()


def test_forecasts_answer_both_questions(viewer_client, stream):
    by_date = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    response = viewer_client.get(url(stream, start="2026-03-02", end="2026-03-15", by_date=by_date, items=5))
    html = response.content.decode()
    assert f"Items finished by {by_date}" in html and "5 items done by" in html
    how_many = response.context["forecasts"]["how_many"][1]
    when = response.context["forecasts"]["when"][1]
    # The sample is the window's 14 days with 6 items: about 26 in 60 days at the median.
    assert how_many.sample_days == 14 and 15 <= how_many.values[0.5] <= 40
    assert how_many.values[0.5] >= how_many.values[0.95]
    assert when.values[0.5] <= when.values[0.95]
    assert "14 complete days" in html and "(6 items finished;" in html


def test_a_window_with_too_few_items_finished_is_not_forecast_and_says_why(viewer_client, stream):
    by_date = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    response = viewer_client.get(url(stream, start="2026-03-02", end="2026-03-06", by_date=by_date, items=5))
    html = response.content.decode()
    # Two items finished in those five days (E and H): a pace read from two items is noise.
    why = "Too little history: the stream finished 2 items in the 5 days sampled; a forecast needs at least 5."
    assert html.count(why) == 2 and "(2 items finished;" in html
    assert response.context["forecasts"]["how_many"][1].values[0.5] is None


@pytest.mark.parametrize(
    "params, message",
    [
        ({"start": "2099-01-01"}, "must start on or before its last day"),
        ({"end": "2099-01-01"}, "cannot end in the future"),
        ({"weeks": "7"}, "7 is not one of the available choices"),
        ({"items": "0"}, "greater than or equal to 1"),
        ({"by_date": "2099-01-01"}, "within three years"),
        ({"start": "nonsense"}, "Enter a valid date"),
    ],
)
def test_bad_input_is_explained_and_the_default_window_shown(viewer_client, stream, params, message):
    response = viewer_client.get(url(stream, **params))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["report"].window.days == 84


def test_anonymous_users_are_sent_to_log_in_and_unknown_streams_are_404(viewer_client, stream):
    assert Client().get(url(stream)).status_code == 302
    assert viewer_client.get("/streams/no-such-stream/").status_code == 404


def test_query_count_does_not_grow_with_items(viewer_client, stream, django_assert_max_num_queries):
    with django_assert_max_num_queries(60) as few:
        viewer_client.get(url(stream, **WINDOW))
    for n in range(25):
        make(stream, f"more-{n}", "feature", [("In progress", d(1 + n % 3)), ("Done", d(5 + n % 7))])
    with django_assert_max_num_queries(len(few.captured_queries)):
        viewer_client.get(url(stream, **WINDOW))


def test_every_items_facts_download_as_csv_for_the_pages_window(viewer_client, stream):
    response = viewer_client.get(
        reverse("streams:stream-flow-csv", args=[stream.slug]) + "?start=2026-03-02&end=2026-03-15"
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted(row["key"] for row in rows) == ["A", "B", "D", "E", "G", "H", "I", "J"]
    assert next(row for row in rows if row["key"] == "G")["blocked_days"] == "3.0"


def test_the_csv_download_keeps_spreadsheets_from_running_titles_as_formulas(viewer_client, stream):
    make(stream, "=1+1", "feature", [("In progress", d(1))])
    response = viewer_client.get(reverse("streams:stream-flow-csv", args=[stream.slug]) + "?start=2026-03-02")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert next(row for row in rows if row["key"] == "'=1+1")["title"] == "'=1+1"


def test_returned_work_is_listed_apart_on_the_page_and_exported_with_its_returned_time(viewer_client, stream):
    make(stream, "R", "feature", [("In progress", d(1)), ("Backlog", d(3))])
    response = viewer_client.get(url(stream, **WINDOW))
    html = response.content.decode()
    returned = html[html.index('id="returned-title"') :]
    returned = returned[: returned.index("</article>")]
    assert "n = 1" in returned and ">R</a>" in returned and "2026-03-05" in returned  # d3, since when
    aging = html[html.index('id="aging-title"') : html.index('id="returned-title"')]
    assert ">R</a>" not in aging and "1 returned to the backlog, not counted" in aging
    data = json.loads(html.split('<script id="flow-data" type="application/json">')[1].split("</script>")[0])
    assert data["load"] == [4, 5, 3, 4, 4, 3, 2, 1, 1, 2, 2, 2, 2, 2]  # R counts on days 1 and 2 only
    rows = list(
        csv.DictReader(
            io.StringIO(
                viewer_client.get(
                    reverse("streams:stream-flow-csv", args=[stream.slug]) + "?start=2026-03-02&end=2026-03-15"
                ).content.decode()
            )
        )
    )
    r = next(row for row in rows if row["key"] == "R")
    assert (r["category"], r["returned_days"], r["returned_since"]) == ("backlog", "11.0", d(3).isoformat())
    assert next(row for row in rows if row["key"] == "A")["returned_days"] == "0.0"


def test_cumulative_flow_per_state_on_the_page_and_as_csv(viewer_client, stream):
    html = viewer_client.get(url(stream, **WINDOW)).content.decode()
    table = html[html.index('data-testid="cfd-states"') :]
    table = table[: table.index("</table>")]
    assert table.index("Backlog") < table.index("In progress") < table.index("Waiting for review") < table.index("Done")
    data = json.loads(html.split('<script id="flow-data" type="application/json">')[1].split("</script>")[0])
    assert [s["name"] for s in data["cfdStates"]][:3] == ["Backlog", "Ready", "In progress"]
    assert data["cfdStates"][-1]["data"][-1] == 6  # Done on the last day
    response = viewer_client.get(
        reverse("streams:stream-cfd-csv", args=[stream.slug]) + "?start=2026-03-02&end=2026-03-15"
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "day",
        "Backlog",
        "Ready",
        "In progress",
        "Waiting for review",
        "Review",
        "Done",
        "backlog",
        "active",
        "waiting",
        "done",
        "wip",
    ]
    assert rows[1] == ["2026-03-02", "6", "0", "3", "0", "0", "0", "6", "3", "0", "0", "3"]
    assert len(rows) == 15 and rows[-1][0] == "2026-03-15" and rows[-1][6] == "6"


def test_the_data_quality_panel_names_histories_cut_short(viewer_client, stream):
    from streams.backlog.services import items_refresh_flow_dates
    from streams.models import BacklogItem

    BacklogItem.objects.filter(external_key="A").update(history_cut_short=True)
    items_refresh_flow_dates(BacklogItem.objects.filter(external_key="A"))
    response = viewer_client.get(url(stream, **WINDOW))
    report = response.context["report"]
    assert report.throughput == 6 and report.flow_time.n == 5  # A finished, with no flow time
    html = response.content.decode()
    panel = html[html.index('data-testid="cut-short"') :][:900]
    assert "1 item came from an export" in panel and ">A</a>" in panel and "1 of them finished in the window" in panel
    rows = {
        row["key"]: row
        for row in csv.DictReader(
            io.StringIO(
                viewer_client.get(
                    reverse("streams:stream-flow-csv", args=[stream.slug]) + "?start=2026-03-02&end=2026-03-15"
                ).content.decode()
            )
        )
    }
    assert rows["A"]["flow_days"] == "" and rows["A"]["start"] == ""


def test_the_page_from_the_daily_rollups_is_the_page_from_the_history(viewer_client, stream):
    """Every table, chart point and figure of the page read from the rollups (the page's usual
    path at scale) equals the page read from the history, the method line aside."""
    make(stream, "R", "feature", [("In progress", d(1)), ("Backlog", d(3))])  # returned to the backlog
    rollups_refresh(as_of=d(14))

    def page():
        response = viewer_client.get(url(stream, **WINDOW))
        html = re.sub(r'(csrfmiddlewaretoken" value="|nonce="|X-CSRFToken": ")[^"]*', "", response.content.decode())
        return response.context["report"].method, html

    method, fast = page()
    rollups_invalidate(stream_id=stream.pk, since=None)
    exact_method, exact = page()
    assert (method, exact_method) == ("daily rollups", "history")
    assert "method: daily rollups of the state history" in fast and "method: state history" in exact
    fast = fast.replace("daily rollups of the state history", "state history")
    assert fast.splitlines() == exact.splitlines()
    assert ">R</a>" in fast  # the returned item, read by the engine narrowed to the rows shown
