"""In a real browser: log in through the login page and use the portfolio (filter, sort)."""

from django.utils import timezone
import pytest

from streams.tests.factories import BacklogItemFactory, LeadershipAssignmentFactory, ValueStreamFactory, state
from teams.tests.factories import UserFactory

NOW = timezone.now()

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_through_the_login_page_shows_the_home_page(live_server, page, screenshot):
    UserFactory(username="lea", first_name="Lea", last_name="Leader", roles=["leader"])
    stream = ValueStreamFactory(name="Retail Payments", industry="Banking")
    LeadershipAssignmentFactory(stream=stream, person__name="Dana Director")
    other = ValueStreamFactory(name="Claims", industry="Insurance")
    LeadershipAssignmentFactory(stream=other, person__name="Eve Executive", kind="dual_role", time_share_percent=20)
    for n in range(3):
        BacklogItemFactory(stream=other, title=f"Claim work {n}", state=state(other, "In progress"), started_at=NOW)

    page.goto(f"{live_server.url}/")
    assert page.url.startswith(f"{live_server.url}/login/")  # sent to log in first
    page.get_by_label("Username").fill("lea")
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()

    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Value streams").is_visible()
    row = page.get_by_role("row", name="Retail Payments")
    assert "Dana Director" in row.inner_text() and "Dedicated" in row.inner_text()
    assert page.get_by_text("Lea Leader").is_visible()
    # htmx came from our own static files and loaded.
    assert page.evaluate("typeof window.htmx") == "object"
    path = screenshot("home")
    assert path.stat().st_size > 10_000

    def stream_names():
        return page.locator("[data-testid=portfolio] tbody th").all_inner_texts()

    assert [name.split("\n")[0] for name in stream_names()] == ["Claims", "Retail Payments"]
    headings = page.locator("[data-testid=portfolio] thead a")
    headings.get_by_text("WIP", exact=True).click()  # ascending
    page.wait_for_url("**sort=wip")
    headings.get_by_text("WIP", exact=True).click()  # and descending
    page.wait_for_url("**sort=-wip")
    assert [name.split("\n")[0] for name in stream_names()] == ["Claims", "Retail Payments"]
    page.get_by_label("Director").select_option("dedicated")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**director_kind=dedicated**")
    assert [name.split("\n")[0] for name in stream_names()] == ["Retail Payments"]
    assert "sort=-wip" in page.url  # the filter keeps the sort
    screenshot("portfolio-filtered")


def test_the_portfolio_health_figure_opens_the_streams_scorecard(live_server, page, screenshot):
    UserFactory(username="lea", roles=["leader"])
    stream = ValueStreamFactory(name="Retail Payments")
    for n in range(2):
        BacklogItemFactory(stream=stream, title=f"Work {n}", state=state(stream, "In progress"), started_at=NOW)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("lea")
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    cell = page.get_by_role("row", name="Retail Payments").locator("a[href$='#health']")
    assert "checks pass" in cell.get_attribute("title")
    figure = cell.inner_text()
    cell.click()
    # The stream page loads the scorecard with htmx from the portal, and it agrees with the portfolio.
    checks = page.locator("[data-testid=health-checks] tbody tr")
    checks.first.wait_for()
    assert checks.count() == 9
    passed, measured = figure.split("/")
    assert page.get_by_role("heading", name=f"Flow health: {passed} of {measured} checks pass").is_visible()
    pull = page.locator("tr[data-check=pull_system]")
    assert "no limit" in pull.inner_text() and "Fail" in pull.inner_text()
    screenshot("stream-health")
