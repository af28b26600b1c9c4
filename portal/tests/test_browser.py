"""In a real browser: log in through the login page and see the home page."""

import pytest

from streams.tests.factories import LeadershipAssignmentFactory, ValueStreamFactory
from teams.tests.factories import TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_through_the_login_page_shows_the_home_page(live_server, page, screenshot):
    UserFactory(username="lea", first_name="Lea", last_name="Leader", roles=["leader"])
    stream = ValueStreamFactory(name="Retail Payments", industry="Banking")
    LeadershipAssignmentFactory(stream=stream, person__name="Dana Director")
    stream.teams.add(TeamFactory(name="Checkout"))

    page.goto(f"{live_server.url}/")
    assert page.url.startswith(f"{live_server.url}/login/")  # sent to log in first
    page.get_by_label("Username").fill("lea")
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()

    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Value streams").is_visible()
    row = page.get_by_role("row", name="Retail Payments")
    assert "Dana Director" in row.inner_text() and "Checkout" in row.inner_text()
    assert page.get_by_text("Lea Leader").is_visible()
    # htmx came from our own static files and loaded.
    assert page.evaluate("typeof window.htmx") == "object"
    path = screenshot("home")
    assert path.stat().st_size > 10_000
