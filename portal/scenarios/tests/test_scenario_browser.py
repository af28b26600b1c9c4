"""A director opens a scenario from their stream's page in chromium, caps its WIP, sees the
items' dates move beside today's, and saves it for the next leadership meeting."""

from django.contrib.auth.models import Group
import pytest

from core import access
from portal.scenarios.models import Scenario
from portal.tests.browser import log_in
from streams.backlog.services import item_change_state, item_create
from streams.flow.tests.test_releasable import NOW, steady
from streams.models import BacklogItem
from streams.tests.factories import ValueStreamFactory, state
from teams.tests.factories import PersonFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _started(stream, title, rank, parent=None):
    item = item_create(stream_id=stream.pk, title=title, flow_type="feature", created_at=NOW, parent=parent)
    item_change_state(item=item, to_state=state(stream, "In progress"), at=NOW)
    BacklogItem.objects.filter(pk=item.pk).update(rank=rank)
    return item


def test_a_director_caps_wip_sees_the_dates_move_and_saves_the_scenario(live_server, page, screenshot):
    Group.objects.get_or_create(name=access.PRODUCT_DIRECTOR)
    PersonFactory(name="Dana Director", user=UserFactory(username="dana", roles=[access.PRODUCT_DIRECTOR]))
    stream = ValueStreamFactory(name="Payments", slug="payments")
    steady(stream)
    epic = _started(stream, "One-click checkout", 1)
    for n in range(2):
        _started(stream, f"Story {n}", 2 + n, parent=epic)
    for n in range(6):
        _started(stream, f"Other {n}", 10 + n)
    log_in(page, live_server, "dana")
    page.goto(f"{live_server.url}/streams/payments/")
    page.get_by_test_id("stream-what-if").click()
    page.wait_for_url(f"{live_server.url}/scenarios/new/?stream=payments")
    items = page.get_by_test_id("scenario-items")
    assert "One-click checkout" in items.inner_text() and "sooner" not in items.inner_text()
    page.get_by_label("at most, items in progress").fill("3")
    page.get_by_role("button", name="Run the scenario").click()
    little = page.get_by_test_id("little-capped")
    little.wait_for()
    assert little.inner_text() == "3.0"  # 3 items in progress at one a day: three days on average
    assert "days sooner" in page.get_by_test_id("scenario-items").inner_text()
    assert "cap=3" in page.url  # the scenario is a link
    screenshot("scenario-capped")
    page.get_by_label("Name", exact=True).fill("Cap Payments at 3")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_test_id("scenario-saved").wait_for()
    assert "Saved by Dana Director" in page.get_by_test_id("scenario-saved").inner_text()
    assert Scenario.objects.get().levers["cap"] == "3"
    screenshot("scenario-saved")
