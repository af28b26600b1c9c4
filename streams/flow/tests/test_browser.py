"""In a real browser: the value stream page draws its charts and redraws them for a new window."""

import datetime as dt

from django.utils import timezone
import pytest

from streams.backlog.services import item_change_state, item_create
from streams.tests.factories import ValueStreamFactory, state
from teams.tests.factories import TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def recent_history():
    """Forty items over the last ten weeks, so every chart of the default window has data."""
    stream = ValueStreamFactory(name="Retail Payments", slug="retail-payments")
    stream.teams.add(TeamFactory(wip_limit=6))
    now = timezone.now()
    for n in range(40):
        created = now - dt.timedelta(days=70 - n * 1.5)
        item = item_create(
            stream_id=stream.pk,
            title=f"Story {n}",
            flow_type=["feature", "defect", "debt", "risk"][n % 4],
            created_at=created,
        )
        item_change_state(item=item, to_state=state(stream, "In progress"), at=created + dt.timedelta(days=1))
        if n % 5 == 0:
            continue  # still in progress
        item_change_state(
            item=item, to_state=state(stream, "Waiting for review"), at=created + dt.timedelta(days=2 + n % 3)
        )
        review = created + dt.timedelta(days=4 + n % 4)
        item_change_state(item=item, to_state=state(stream, "Review"), at=review)
        if review + dt.timedelta(days=1 + n % 5) < now:
            item_change_state(item=item, to_state=state(stream, "Done"), at=review + dt.timedelta(days=1 + n % 5))
    return stream


def test_stream_page_draws_charts_and_redraws_them_for_another_window(live_server, page, screenshot):
    recent_history()
    user = UserFactory(username="pat")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.get_by_role("link", name="Retail Payments").click()
    page.wait_for_selector("#flow[data-charts-drawn]")
    first_window = page.get_attribute("#flow", "data-charts-drawn")
    drawn = page.evaluate(
        "Array.from(document.querySelectorAll('canvas[data-chart]')).filter(c => window.Chart.getChart(c)).length"
    )
    assert drawn == 7  # cfd, scatter, throughput, aging, distribution, efficiency, load
    assert "84 days" in first_window
    screenshot("stream-page-12-weeks")
    legend = "window.Chart.getChart(document.querySelector('canvas[data-chart=cfd]')).data.datasets.map(d => d.label)"
    states = page.evaluate(legend)
    assert states[0] == "Done"  # per workflow state, the last state at the bottom (Removed counts nowhere)
    assert "In progress" in states
    page.get_by_label("categories").check()
    page.wait_for_function(f"({legend}).includes('Active')")
    assert page.evaluate(legend) == ["Done", "Waiting", "Active", "Backlog"]
    page.locator("#cfd-title").scroll_into_view_if_needed()
    screenshot("stream-page-cfd-categories")

    page.get_by_label("Last").select_option("4")
    page.wait_for_function(
        "first => document.querySelector('#flow') && document.querySelector('#flow').dataset.chartsDrawn "
        "&& document.querySelector('#flow').dataset.chartsDrawn !== first",
        arg=first_window,
    )
    assert "28 days" in page.get_attribute("#flow", "data-charts-drawn")
    labels = page.evaluate(
        "window.Chart.getChart(document.querySelector('canvas[data-chart=load]')).data.labels.length"
    )
    assert labels == 28
    assert "weeks=4" in page.url  # the window is in the address, so it can be shared
    screenshot("stream-page-4-weeks")
