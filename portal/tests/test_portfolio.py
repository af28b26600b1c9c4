"""The leaders' portfolio: figures equal the flow engine's and the alignment's, filters, sort,
CSV, and a query count that does not grow with the number of streams."""

import csv
import datetime as dt
import io

from django.test import Client
from django.urls import reverse
from django.utils import timezone
import pytest

from okrs.alignment import alignment_report
from okrs.selectors import period_from
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from portal.health import health_scorecards
from streams.backlog.services import item_change_state, item_create
from streams.flow.engine import Scope, Window
from streams.flow.portfolio import PortfolioWindow, stream_flows
from streams.flow.report import flow_report
from streams.flow.rollups import rollups_refresh
from streams.models import Deployment, Incident, ReadinessCheck
from streams.tests.factories import (
    LeadershipAssignmentFactory,
    ReadinessCriterionFactory,
    ValueStreamFactory,
    state,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def make_item(stream, title, flow_type, moves, created_days_ago=60):
    """An item created `created_days_ago` days ago and moved through (state, days ago) pairs."""
    item = item_create(
        stream_id=stream.pk, title=title, flow_type=flow_type, created_at=NOW - dt.timedelta(days=created_days_ago)
    )
    for name, days_ago in moves:
        item_change_state(item=item, to_state=state(stream, name), at=NOW - dt.timedelta(days=days_ago))
    return item


@pytest.fixture
def streams():
    payments = ValueStreamFactory(name="Payments", industry="Retail banking", customer="external")
    lending = ValueStreamFactory(name="Lending", industry="Credit", customer="internal")
    ValueStreamFactory(name="Archive", industry="Credit", customer="internal")  # no work, no director
    LeadershipAssignmentFactory(stream=payments, person__name="Ada Dedicated", kind="dedicated")
    LeadershipAssignmentFactory(stream=lending, person__name="Bo Dual", kind="dual_role", time_share_percent=30)
    finished = []
    for n, (kind, start, wait, done) in enumerate(
        [("feature", 20, 15, 10), ("feature", 12, 8, 3), ("defect", 30, 29, 2), ("debt", 9, 6, 5)]
    ):
        finished.append(
            make_item(
                payments,
                f"P{n}",
                kind,
                [("In progress", start), ("Waiting for review", wait), ("Review", wait - 1), ("Done", done)],
            )
        )
    wip = make_item(payments, "P-wip", "feature", [("In progress", 7)])
    make_item(payments, "P-orphan", "risk", [("In progress", 4)])
    make_item(payments, "P-removed", "feature", [("In progress", 6), ("Removed", 2)])
    make_item(lending, "L0", "feature", [("In progress", 40), ("Done", 1)])
    make_item(lending, "L-wip", "defect", [("In progress", 3)])
    period = period_from(None)
    kr = KeyResultFactory(objective=ObjectiveFactory(period=period.label))
    kr.items.add(wip, finished[1])
    criterion = ReadinessCriterionFactory(all_streams=True, flow_types=["feature"])
    ReadinessCheck.objects.get_or_create(item=wip, criterion=criterion)
    rollups_refresh()
    return {"payments": payments, "lending": lending, "period": period}


def test_each_streams_flow_figures_equal_the_engines_over_the_same_window(streams):
    window = PortfolioWindow.ending_before()
    flows = stream_flows([streams["payments"].pk, streams["lending"].pk], window)
    for key in ("payments", "lending"):
        exact = flow_report(
            scope=Scope.stream(streams[key]),
            window=Window.build(start=window.start.date(), end=window.end.date() - dt.timedelta(days=1), as_of=NOW),
            with_items=False,
            use_rollups=False,
        )
        flow = flows[streams[key].pk]
        assert flow.throughput == exact.throughput and flow.by_type == exact.throughput_by_type
        assert flow.flow_time_p85 == pytest.approx(exact.flow_time.p85)
        assert flow.wip == exact.wip
        if exact.efficiency is None:
            assert flow.efficiency is None
        else:
            assert flow.efficiency == pytest.approx(exact.efficiency)
    assert flows[streams["payments"].pk].throughput == 4 and flows[streams["payments"].pk].wip == 2


def test_the_page_shows_leadership_alignment_flow_and_readiness(admin_client, streams):
    response = admin_client.get(reverse("home"))
    assert response.status_code == 200
    rows = {row.stream.name: row for row in response.context["portfolio"].rows}
    assert list(rows) == ["Archive", "Lending", "Payments"]
    payments = rows["Payments"]
    assert payments.director.person.name == "Ada Dedicated" and rows["Archive"].director is None
    exact = alignment_report(Scope.stream(streams["payments"]), streams["period"])
    assert payments.alignment == exact.totals
    assert (payments.alignment.wip, payments.alignment.wip_aligned) == (2, 1)
    assert payments.readiness_pending == 1 and rows["Lending"].readiness_pending == 0
    html = response.content.decode()
    assert "Dual-role executive, 30%" in html and "No director" in html
    assert f"?stream={streams['payments'].slug}" in html  # the alignment figure links to its detail


@pytest.mark.parametrize(
    ("filters", "names"),
    [
        ({"industry": "Credit"}, ["Archive", "Lending"]),
        ({"customer": "external"}, ["Payments"]),
        ({"director_kind": "dual_role"}, ["Lending"]),
        ({"director_kind": "none"}, ["Archive"]),
        ({"industry": "Credit", "director_kind": "dedicated"}, []),
    ],
)
def test_filters(admin_client, streams, filters, names):
    response = admin_client.get(reverse("home"), filters)
    assert [row.stream.name for row in response.context["portfolio"].rows] == names
    if not names:
        assert "No value stream matches these filters" in response.content.decode()


def test_sorting_by_a_column_and_back(admin_client, streams):
    by_wip = admin_client.get(reverse("home"), {"sort": "-wip"}).context["portfolio"].rows
    assert [row.flow.wip for row in by_wip] == [2, 1, 0]
    ascending = admin_client.get(reverse("home"), {"sort": "flow_time"}).context["portfolio"].rows
    assert [row.stream.name for row in ascending][-1] == "Archive"  # no flow time sorts last
    bad = admin_client.get(reverse("home"), {"sort": "salary"})
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()


def test_the_csv_has_a_row_per_stream_with_the_pages_figures(admin_client, streams):
    response = admin_client.get(reverse("home"), {"format": "csv", "industry": "Credit"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["stream"] for row in rows] == ["Archive", "Lending"]
    lending = rows[1]
    assert lending["director_kind"] == "Dual-role executive" and lending["wip"] == "1"
    assert lending["aligned_wip_share"] == "0.0000" and lending["orphan_wip"] == "1"
    assert float(lending["velocity_per_week"]) == pytest.approx(1 / 12, abs=0.01)


def test_the_query_count_is_the_same_for_three_streams_and_a_hundred(
    admin_client, streams, django_assert_num_queries, django_assert_max_num_queries
):
    # 6 of them the delivery keys, per stream and pooled; one the ids of the streams shown (the
    # key of the rendered table, which the test's own open transaction never reads from the cache)
    with django_assert_max_num_queries(32) as three:
        admin_client.get(reverse("home"))
    for n in range(97):
        stream = ValueStreamFactory(name=f"Stream {n:03}", workflow=[("Backlog", "backlog"), ("Doing", "active")])
        LeadershipAssignmentFactory(stream=stream)
    with django_assert_num_queries(len(three.captured_queries)):
        response = admin_client.get(reverse("home"))
    assert len(response.context["portfolio"].rows) == 100


def test_the_health_column_is_the_streams_scorecard_in_the_page_and_the_csv(admin_client, streams):
    response = admin_client.get(reverse("home"), {"sort": "-health"})
    rows = response.context["portfolio"].rows
    payments = next(row for row in rows if row.stream.name == "Payments")
    window = PortfolioWindow.ending_before()
    ids = [row.stream.pk for row in rows]
    aligned = {row.stream.pk: row.alignment for row in rows}
    exact = health_scorecards(ids, alignment=aligned, flows=stream_flows(ids, window), window=window)
    assert [check.passed for check in payments.health.checks] == [c.passed for c in exact[payments.stream.pk].checks]
    # Payments: no WIP limit, no map, no disciplines needed, no customer-facing work.
    assert {c.key for c in payments.health.failing} >= {"pull_system", "vsm", "customer_contact"}
    scores = [row.health.score for row in rows]
    assert scores == sorted(scores, key=lambda s: (s is None, s or 0), reverse=True)
    html = response.content.decode()
    assert f"{payments.health.passed}/{payments.health.measured}</a>" in html
    assert f"{payments.stream.get_absolute_url()}?{window.query.replace('&', '&amp;')}#health" in html
    export = admin_client.get(reverse("home"), {"format": "csv", "customer": "external"})
    (line,) = csv.DictReader(io.StringIO(export.content.decode()))
    health = (int(line["health_passed"]), int(line["health_measured"]))
    assert health == (payments.health.passed, payments.health.measured)
    assert "pull_system" in line["health_failing"].split(";")


def test_the_streams_scorecard_is_a_fragment_for_htmx_and_a_page_otherwise(admin_client, streams):
    url = reverse("stream-health", args=[streams["payments"].slug])
    fragment = admin_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section id="health"') and "<html" not in fragment
    assert fragment.count("<tr data-check=") == 9
    page = admin_client.get(url).content.decode()
    assert "<html" in page and "Flow health of Payments" in page
    # The stream page asks for it, and an unknown stream is a 404.
    stream_page = admin_client.get(streams["payments"].get_absolute_url()).content.decode()
    assert f'hx-get="{url}"' in stream_page
    assert admin_client.get(reverse("stream-health", args=["no-such-stream"])).status_code == 404
    assert Client().get(url).status_code == 302  # log in first


def test_delivery_columns_show_each_streams_keys_with_levels_and_the_pooled_keys(admin_client, streams):
    window = PortfolioWindow.ending_before()
    day = dt.timedelta(days=1)
    # Payments: 14 successful production deployments in the 12 weeks and one failure.
    for n in range(15):
        finished = window.end - (n + 1) * 5 * day
        Deployment.objects.create(
            stream=streams["payments"], service="api", status="failure" if n == 0 else "success",
            started_at=finished - dt.timedelta(minutes=10), finished_at=finished,
        )  # fmt: skip
    Incident.objects.create(
        stream=streams["lending"], title="Down", opened_at=window.end - 3 * day, resolved_at=window.end - 2 * day
    )
    response = admin_client.get(reverse("home"), {"sort": "-deploys", "view": "delivery"})
    rows = response.context["portfolio"].rows
    assert [row.stream.name for row in rows][0] == "Payments"
    payments = rows[0].delivery
    assert (payments.deployments, payments.successful) == (15, 14)
    assert payments.per_week == pytest.approx(14 / 12)
    assert payments.bands["deployment_frequency"] == "high" and payments.bands["change_failure_rate"] == "high"
    html = response.content.decode()
    cells = html.split('data-stream="' + streams["payments"].slug + '"')[1].split("</tr>")[0]
    assert 'data-key="deploys"' in cells and ">1.2</a>" in cells and ">high</span>" in cells
    assert 'data-key="deploys"' not in admin_client.get(reverse("home")).content.decode()  # the flow view
    assert ">7%</a>" in cells  # 1 of 15
    pooled = response.context["portfolio"].delivery
    assert pooled.deployments == 15 and pooled.restore_p50 == pytest.approx(24)
    assert "Delivery performance of the streams shown" in html and "2023 Accelerate State of DevOps" in html
    rows = list(csv.DictReader(io.StringIO(admin_client.get(reverse("home"), {"format": "csv"}).content.decode())))
    by_name = {row["stream"]: row for row in rows}
    assert by_name["Payments"]["deployments_per_week"] == "1.17"
    assert by_name["Payments"]["change_failure_rate"] == "0.0667"
    assert by_name["Lending"]["time_to_restore_p50_hours"] == "24.00"
    assert "deployment_frequency=high" in by_name["Payments"]["dora_levels"]


def test_the_portfolio_the_stream_page_and_its_health_share_one_default_window(admin_client, streams):
    """An item finished an hour ago (today) is in neither: both read the 84 complete days before
    today. The portfolio's link opens the stream page on the same window, with the same figures."""
    payments = streams["payments"]
    make_item(payments, "P-today", "defect", [("In progress", 3), ("Done", 1 / 24)])
    home = admin_client.get(reverse("home"))
    window = home.context["portfolio"].window
    row = next(row for row in home.context["portfolio"].rows if row.stream == payments)
    page = admin_client.get(payments.get_absolute_url()).context["report"]
    assert (page.window.start, page.window.end) == (window.start, window.end)
    assert page.throughput == row.flow.throughput and page.throughput_per_week == pytest.approx(row.flow.velocity)
    assert page.flow_time.p85 == pytest.approx(row.flow.flow_time_p85)
    link = f'href="{payments.get_absolute_url()}?{window.query.replace("&", "&amp;")}#throughput-title"'
    assert link in home.content.decode()
    linked = admin_client.get(f"{payments.get_absolute_url()}?{window.query}").context["report"]
    assert (linked.window.start, linked.window.end, linked.throughput) == (window.start, window.end, page.throughput)
    health = admin_client.get(reverse("stream-health", args=[payments.slug]))
    assert health.context["window"] == window
