"""In a real browser: a director edits a map in place (htmx), sees it beside the data, and states
an experiment whose verdict and evidence the page then shows."""

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import Group
from django.utils import timezone
import pytest

from core import access
from portal.tests.browser import log_in
from streams.models import ProcessBlock, ValueStreamMap
from streams.tests.factories import LeadershipAssignmentFactory, ValueStreamFactory, state
from streams.tests.flow_history import bulk_items
from teams.tests.factories import PersonFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def claims():
    Group.objects.get_or_create(name=access.PRODUCT_DIRECTOR)
    stream = ValueStreamFactory(name="Claims", slug="claims")
    director = PersonFactory(name="Dana Director", user=UserFactory(username="dana", roles=[access.PRODUCT_DIRECTOR]))
    LeadershipAssignmentFactory(person=director, stream=stream)
    today = timezone.now().astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # Eight weeks ago to now: review work waits ~4 days, building takes ~1 day.
    specs = []
    for k in range(40):
        start = today - dt.timedelta(days=55 - k)
        moves = [("In progress", start), ("Waiting for review", start + dt.timedelta(days=1))]
        moves += [("Review", start + dt.timedelta(days=4 + k % 3)), ("Done", start + dt.timedelta(days=5 + k % 3))]
        specs.append((start - dt.timedelta(hours=2), moves))
    # Before that, slower: the experiment below compares the two.
    for k in range(40):
        start = today - dt.timedelta(days=111 - k)
        moves = [("In progress", start), ("Waiting for review", start + dt.timedelta(days=1))]
        moves += [("Review", start + dt.timedelta(days=9 + k % 3)), ("Done", start + dt.timedelta(days=10 + k % 3))]
        specs.append((start - dt.timedelta(hours=2), moves))
    bulk_items(stream, specs)
    vsm = ValueStreamMap.objects.create(stream=stream, name="Today", kind="current", as_of=today.date())
    build = ProcessBlock.objects.create(
        map=vsm,
        order=1,
        activity="Build",
        process_time_hours=Decimal(8),
        lead_time_hours=Decimal(24),
        percent_complete_accurate=90,
    )
    build.states.set([state(stream, "In progress")])
    return stream, vsm


def test_director_edits_a_map_in_place_and_compares_it_with_the_data(live_server, page, screenshot, claims):
    stream, vsm = claims
    log_in(page, live_server, "dana")
    page.goto(f"{live_server.url}/streams/claims/maps/{vsm.pk}/")
    page.evaluate("window.notReloaded = true")

    page.get_by_text("Add an activity").click()
    form = page.locator("details.add-block form")
    form.get_by_label("Activity").fill("Code review")
    form.get_by_label("Process time (hours)").fill("30")
    form.get_by_label("Lead time (hours)").fill("12")
    form.get_by_label("%C&A").fill("80")
    form.get_by_label("Waiting for review (Waiting)").check()  # states show their category
    form.get_by_label("Review (Active)").check()
    form.get_by_role("button", name="Add the activity").click()
    error = page.locator("details.add-block [role=alert]").first
    error.wait_for()
    assert "Process time (30 h) cannot be longer than the lead time (12 h)." in error.inner_text()
    assert ProcessBlock.objects.filter(map=vsm).count() == 1

    form = page.locator("details.add-block form")
    form.get_by_label("Process time (hours)").fill("2")
    form.get_by_role("button", name="Add the activity").click()
    page.locator("tr[data-activity='Code review']").wait_for()
    assert page.locator("[data-total=lead]").inner_text() == "36 h"  # 24 + 12 hours
    assert page.locator("[data-total=pca]").inner_text() == "72.0%"

    page.get_by_role("button", name="Move Code review up").click()
    page.locator("tbody tr").first.locator("text=Code review").wait_for()
    assert list(vsm.blocks.order_by("order").values_list("activity", flat=True)) == ["Code review", "Build"]
    assert page.evaluate("window.notReloaded") is True  # every edit came back in place
    screenshot("map-edited-in-place")

    page.goto(f"{live_server.url}/streams/claims/maps/")
    highlighted = page.locator("tr.highlight[data-activity='Code review']")
    highlighted.wait_for()
    assert "× the drawn time" in highlighted.inner_text()
    assert "Belief and data disagree most at" in page.locator(".notice").inner_text()
    screenshot("map-drawn-against-measured")


def test_director_states_an_experiment_and_reads_its_verdict(live_server, page, screenshot, claims):
    log_in(page, live_server, "dana")
    page.goto(f"{live_server.url}/streams/claims/experiments/")
    today = timezone.now().astimezone(dt.UTC).date()
    page.get_by_label("Title", exact=True).fill("Reviewers pair")
    page.get_by_label("Hypothesis", exact=True).fill("If reviewers pair, flow time falls by 30%.")
    page.get_by_label("Change", exact=True).fill("Pair review from day one")
    page.get_by_label("Target metric", exact=True).select_option("flow_time")
    page.get_by_label("Expected direction", exact=True).select_option("decrease")
    page.get_by_label("Expected size (%)", exact=True).fill("30")
    page.get_by_label("Start date", exact=True).fill((today - dt.timedelta(days=56)).isoformat())
    page.get_by_label("Review date", exact=True).fill((today - dt.timedelta(days=50)).isoformat())
    page.get_by_role("button", name="Record the experiment").click()
    assert "Review at least 14 days after the start" in page.locator("[role=alert]").first.inner_text()

    page.get_by_label("Review date", exact=True).fill(today.isoformat())
    page.get_by_role("button", name="Record the experiment").click()
    page.wait_for_url(f"{live_server.url}/streams/claims/experiments/*/")
    assert page.locator("h1 .verdict").inner_text() == "Improved"
    evidence = page.locator("#evidence-title + p").inner_text()
    assert "p = " in evidence
    screenshot("experiment-verdict")
    page.goto(f"{live_server.url}/streams/claims/")
    assert "Improved" in page.locator("#maps").inner_text()
