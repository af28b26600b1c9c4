"""Every cached page shows a change at once (`core.freshness`).

Each test commits its writes (transactional_db), as the application does in production: it
opens the page (filling the cache), checks the next view is served from the cache (fewer
queries), changes the data through the portal's own services or another connection, and
opens the page again.
"""

import datetime as dt
import re
import threading

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
import pytest
from rest_framework.test import APIClient

from core.freshness import LINKS, current_generation
from okrs.selectors import period_from
from okrs.tests.factories import CheckInFactory, KeyResultFactory, ObjectiveFactory
from streams.backlog.services import item_change_state, item_create, item_update
from streams.flow.rollups import rollups_refresh
from streams.models import BacklogItem, Dependency
from streams.tests.factories import LeadershipAssignmentFactory, ValueStreamFactory, state
from teams.tests.factories import PersonFactory, TeamFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(admin_client):
    stream = ValueStreamFactory(name="Payments")
    now = timezone.now()
    items = []
    for n in range(3):
        item = item_create(
            stream_id=stream.pk, title=f"Work {n}", flow_type="feature", created_at=now - dt.timedelta(days=9)
        )
        item_change_state(item=item, to_state=state(stream, "In progress"), at=now - dt.timedelta(days=5 - n))
        items.append(item)
    period = period_from(None)
    key_result = KeyResultFactory(objective=ObjectiveFactory(period=period.label), title="Faster payouts")
    key_result.items.add(items[0])
    return {"stream": stream, "items": items, "key_result": key_result, "client": admin_client}


def get(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response, len(queries.captured_queries)


def served(response) -> dict[str, tuple[int, ...]]:
    """What the portfolio page shows of each stream, read from its HTML (the table is kept
    rendered, so a view served from the cache has no `portfolio` in its context): WIP, aligned WIP
    and its total, aligned finished and its total, readiness pending."""
    rows = {}
    for slug, row in re.findall(r'<tr data-stream="([^"]+)">(.*?)</tr>', response.content.decode(), re.S):
        wip_aligned, wip_all = re.search(r'title="(\d+) of (\d+) in progress', row).groups()
        finished_aligned, finished = re.search(r'title="(\d+) of (\d+) finished"', row).groups()
        wip = re.search(r'#aging-title">(\d+)</a>', row).group(1)
        rows[slug] = tuple(int(n) for n in (wip, wip_all, wip_aligned, finished, finished_aligned))
    return rows


def assert_second_view_is_cached(client, url):
    first, cold = get(client, url)
    second, warm = get(client, url)
    assert warm < cold, f"{url}: the second view ran {warm} queries, the first {cold}: not served from the cache"
    return second


def test_the_portfolio_shows_a_state_change_at_once(world):
    client, url, slug = world["client"], reverse("home"), world["stream"].slug
    # WIP, aligned WIP of all WIP, aligned finished of all finished
    assert served(assert_second_view_is_cached(client, url))[slug] == (3, 3, 1, 0, 0)

    item_change_state(item=world["items"][2], to_state=state(world["stream"], "Done"))

    assert served(assert_second_view_is_cached(client, url))[slug] == (2, 2, 1, 1, 0)
    item_change_state(item=world["items"][0], to_state=state(world["stream"], "Done"))  # the linked one
    assert served(get(client, url)[0])[slug] == (1, 1, 0, 2, 1)


def test_the_portfolio_served_from_the_cache_runs_a_few_queries_whatever_the_number_of_streams(
    world, django_assert_max_num_queries
):
    """The page below the filters is kept rendered: a view from the cache reads the session, the
    user, the industries, the ids of the streams shown, the generation and what the first steps
    count, whatever the number of streams."""
    client, url = world["client"], reverse("home")
    for n in range(20):
        ValueStreamFactory(name=f"Stream {n:02}")
    views = [{}, {"view": "delivery", "sort": "-wip"}, {"sort": "-wip"}]
    for query in views:
        client.get(url, query)
    for query in views:  # each view and sort is kept rendered
        with django_assert_max_num_queries(10):
            page = client.get(url, query)
        assert len(served(page) if "view" not in query else re.findall("<tr data-stream=", page.content.decode())) == 21
    assert served(page)[world["stream"].slug] == (3, 3, 1, 0, 0)
    assert list(served(page))[0] == world["stream"].slug  # the most WIP first


def test_the_portfolio_shows_a_renamed_stream_and_a_new_director_at_once(world):
    client, url, stream = world["client"], reverse("home"), world["stream"]
    assert "Payments" in assert_second_view_is_cached(client, url).content.decode()
    stream.name = "Payments and payouts"
    stream.save()
    LeadershipAssignmentFactory(stream=stream, person__name="Ada Director")
    page = get(client, url)[0].content.decode()
    assert "Payments and payouts" in page and "Ada Director" in page


def lending_with_work_in_progress():
    """A second stream, Lending, with one item in progress (the one waiting)."""
    lending = ValueStreamFactory(name="Lending")
    waiting = item_create(stream_id=lending.pk, title="Loan offers", flow_type="feature")
    item_change_state(item=waiting, to_state=state(lending, "In progress"))
    return lending, waiting


def assert_work_in_progress_read_for(stream, queries) -> None:
    """Every read of work in progress per stream was of that stream alone."""
    reads = [q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"] and "i.stream_id IN (" in q["sql"]]
    assert reads and all(f"i.stream_id IN ({stream.pk})" in sql for sql in reads), reads


def test_after_a_move_in_one_stream_the_portfolio_computes_that_streams_figures_only(world):
    """Each stream's columns are cached under its own version (PostgreSQL's triggers): a move
    in Payments recomputes Payments; Lending's figures come from the cache, and are right."""
    if connection.vendor != "postgresql":
        pytest.skip("per-stream versions are PostgreSQL's; SQLite recomputes every stream")
    client, url, payments = world["client"], reverse("home"), world["stream"]
    _, waiting = lending_with_work_in_progress()
    assert_second_view_is_cached(client, url)

    item_change_state(item=world["items"][2], to_state=state(payments, "Done"))

    with CaptureQueriesContext(connection) as queries:
        rows = {row.stream.name: row for row in client.get(url).context["portfolio"].rows}
    assert_work_in_progress_read_for(payments, queries)
    assert (rows["Payments"].flow.wip, rows["Lending"].flow.wip) == (2, 1)
    assert (rows["Payments"].flow.throughput, rows["Lending"].alignment.wip) == (
        0,
        1,
    )  # finished today: not in the window

    # Lending's item now waits on Payments' work held by another team: Lending's health reads it.
    payments_team, lending_team = TeamFactory(name="Core payments"), TeamFactory(name="Loans")
    BacklogItem.objects.filter(pk=waiting.pk).update(team=lending_team)
    Dependency.objects.create(item=waiting, blocked_by=world["items"][1], created_at=timezone.now())
    rows = {row.stream.name: row for row in get(client, url)[0].context["portfolio"].rows}
    assert next(check for check in rows["Lending"].health.checks if check.key == "autonomous").value == "0.00"
    item_update(item=BacklogItem.objects.get(pk=world["items"][1].pk), team=payments_team)
    rows = {row.stream.name: row for row in get(client, url)[0].context["portfolio"].rows}
    autonomous = next(check for check in rows["Lending"].health.checks if check.key == "autonomous")
    assert autonomous.value == "1.00"


def test_after_a_move_in_one_stream_the_leadership_page_reads_that_streams_flow_only(world):
    """Each stream's flow on the leadership page is kept under its version: a move in Payments
    reads Payments' work in progress again, and both streams' figures are right."""
    if connection.vendor != "postgresql":
        pytest.skip("per-stream versions are PostgreSQL's; SQLite recomputes every stream")
    client, url, payments = world["client"], reverse("leadership"), world["stream"]
    lending_with_work_in_progress()
    client.get(url)

    item_change_state(item=world["items"][2], to_state=state(payments, "Done"))

    with CaptureQueriesContext(connection) as queries:
        rows = {row.stream.name: row for row in client.get(url).context["leadership"].rows}
    assert_work_in_progress_read_for(payments, queries)
    assert (rows["Payments"].flow.wip, rows["Lending"].flow.wip) == (2, 1)


def test_the_portfolio_shows_a_change_committed_by_another_worker_at_once(world):
    client, url = world["client"], reverse("home")
    assert served(assert_second_view_is_cached(client, url))[world["stream"].slug][2] == 1

    def other_worker():  # its own connection, as another gunicorn process would have
        try:
            world["key_result"].items.add(world["items"][1])
        finally:
            connection.close()

    worker = threading.Thread(target=other_worker)
    worker.start()
    worker.join()
    assert served(get(client, url)[0])[world["stream"].slug][2] == 2


def test_the_alignment_page_shows_a_new_link_and_an_orphans_age_is_reckoned_now(world):
    client, url = world["client"], reverse("okrs:alignment")
    report = assert_second_view_is_cached(client, url).context["report"]
    assert [o.title for o in report.orphans] == ["Work 1", "Work 2"]
    assert report.orphans[0].age_days == pytest.approx(4, abs=0.01)  # started 4 days ago, not when cached

    world["key_result"].items.add(world["items"][1])

    report = get(client, url)[0].context["report"]
    assert [o.title for o in report.orphans] == ["Work 2"]
    assert (report.totals.wip, report.totals.wip_aligned) == (3, 2)


def test_the_okr_tree_shows_linked_work_as_it_changes(world):
    client, url = world["client"], reverse("okrs:objective-list")

    def linked_wip(response):
        rows = [row for node in response.context["tree"] for row in node.key_results]
        return rows[0].wip

    assert linked_wip(assert_second_view_is_cached(client, url)) == 1
    child = item_create(stream_id=world["stream"].pk, title="Child", flow_type="feature", parent=world["items"][0])
    item_change_state(item=child, to_state=state(world["stream"], "In progress"))
    assert linked_wip(get(client, url)[0]) == 2  # work under linked work serves the key result too

    BacklogItem.objects.filter(pk=child.pk).delete()
    assert linked_wip(get(client, url)[0]) == 1

    # The walk down the tree is cached until links change: an ordinary move does not walk again,
    # and its figures still show at once.
    walked = current_generation(generation=LINKS)
    item_change_state(item=world["items"][0], to_state=state(world["stream"], "Done"))
    assert current_generation(generation=LINKS) == walked
    assert linked_wip(get(client, url)[0]) == 0
    # Moving work under linked work (a new parent) is a change of links.
    item_update(item=world["items"][2], parent=world["items"][0])
    assert current_generation(generation=LINKS) != walked
    assert linked_wip(get(client, url)[0]) == 1
    world["key_result"].items.remove(world["items"][0])
    assert linked_wip(get(client, url)[0]) == 0


def test_the_okr_tree_reads_its_objectives_again_only_when_they_change(world):
    """The tree's objectives and key results are cached under the OKRS generation: a move of
    work reads the linked work again and not the objectives; a check-in and a renamed owner
    show at once."""
    client, url, key_result = world["client"], reverse("okrs:objective-list"), world["key_result"]

    def objectives_read(queries) -> int:
        return sum(q["sql"].startswith('SELECT "okrs_objective"."id"') for q in queries.captured_queries)

    assert_second_view_is_cached(client, url)
    item_change_state(item=world["items"][0], to_state=state(world["stream"], "Done"))
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url)
    assert objectives_read(queries) == 0
    assert [row.wip for node in page.context["tree"] for row in node.key_results] == [0]

    owner = PersonFactory(name="Olga Owner")
    key_result.owner = owner
    key_result.save()
    assert '<td class="nowrap">never' in client.get(url).content.decode()  # no check-in yet
    CheckInFactory(key_result=key_result, value=75, confidence=0.3)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    assert objectives_read(queries) == 1
    assert "Olga Owner" in html
    assert '<td class="nowrap">never' not in html  # its check-in shows
    owner.name = "Olga Ownership"
    owner.save()
    assert "Olga Ownership" in client.get(url).content.decode()


def test_the_portfolio_shows_a_deployment_a_pipeline_posts_at_once(world, admin_user):
    client, url = world["client"], reverse("home")
    assert "no production deployment recorded" in assert_second_view_is_cached(client, url).content.decode()
    pipeline = APIClient()
    pipeline.force_authenticate(admin_user)
    finished = timezone.now() - dt.timedelta(days=2)
    posted = pipeline.post(
        "/api/v1/deployments/",
        {
            "stream": world["stream"].slug,
            "service": "api",
            "started_at": (finished - dt.timedelta(minutes=5)).isoformat(),
            "finished_at": finished.isoformat(),
            "external_id": "run-1",
        },
        format="json",
    )
    assert posted.status_code == 201, posted.json()
    page = get(client, url)[0]
    row = page.context["portfolio"].rows[0]
    assert row.delivery.deployments == 1 and row.delivery.successful == 1
    assert "1 successful on 1 days" in page.content.decode()


def test_the_stream_page_is_cached_and_shows_a_state_change_at_once(world):
    rollups_refresh()  # as the beat job keeps them: the page reads its default window from them
    client, url = world["client"], reverse("streams:stream-detail", args=[world["stream"].slug])
    report = assert_second_view_is_cached(client, url).context["report"]
    assert report.method == "daily rollups" and report.wip == 3
    # Ages are reckoned at the view, not when the report was cached.
    assert sorted(f.age_days for f in report.in_progress) == [pytest.approx(days, abs=0.01) for days in (3, 4, 5)]

    item_change_state(item=world["items"][2], to_state=state(world["stream"], "Done"))

    report = get(client, url)[0].context["report"]
    assert report.wip == 2 and len(report.in_progress) == 2


def test_the_stream_page_stays_cached_through_a_change_in_another_stream(world):
    if connection.vendor != "postgresql":
        pytest.skip("per-stream versions are PostgreSQL's; on SQLite any change computes the page again")
    rollups_refresh()
    lending = ValueStreamFactory(name="Lending")
    elsewhere = item_create(stream_id=lending.pk, title="Loan offers", flow_type="feature")
    item_change_state(item=elsewhere, to_state=state(lending, "In progress"))
    client, url = world["client"], reverse("streams:stream-detail", args=[world["stream"].slug])
    assert_second_view_is_cached(client, url)
    _, cached = get(client, url)

    item_change_state(item=elsewhere, to_state=state(lending, "Review"))  # starts and finishes nothing
    _, after_elsewhere = get(client, url)
    item_update(item=world["items"][0], title="Renamed here")
    response, after_here = get(client, url)

    assert after_elsewhere == cached < after_here
    assert response.context["report"].wip == 3


def test_the_teams_page_shows_each_change_to_who_waits_on_whom_at_once(world):
    """Its open cross-team dependencies are cached under DELIVERY (finishes, teams,
    dependencies); whether the waiting item was removed is read at each view."""
    stream, client, url = world["stream"], world["client"], reverse("teams")
    checkout, platform, billing = (TeamFactory(name=name) for name in ("Checkout", "Platform", "Billing"))
    waiting, blocker, other = world["items"]
    for item, team in ((waiting, checkout), (blocker, platform), (other, platform)):
        item_update(item=item, team=team)

    def pairs():
        waits = get(client, url)[0].context["composition"].waits
        return [(pair.waiting.name, pair.blocking.name, pair.dependencies) for pair in waits]

    assert_second_view_is_cached(client, url)
    assert pairs() == []
    Dependency.objects.create(item=waiting, blocked_by=blocker, created_at=timezone.now())
    assert pairs() == [("Checkout", "Platform", 1)]
    Dependency.objects.create(item=waiting, blocked_by=other, created_at=timezone.now())
    assert pairs() == [("Checkout", "Platform", 2)]
    item_update(item=BacklogItem.objects.get(pk=other.pk), team=billing)  # another team now
    assert pairs() == [("Checkout", "Platform", 1), ("Checkout", "Billing", 1)]
    item_change_state(item=BacklogItem.objects.get(pk=other.pk), to_state=state(stream, "Done"))
    assert pairs() == [("Checkout", "Platform", 1)]
    item_change_state(item=BacklogItem.objects.get(pk=waiting.pk), to_state=state(stream, "Removed"))
    assert pairs() == []
