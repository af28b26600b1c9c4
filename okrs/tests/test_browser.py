"""In a real browser: a product owner records a check-in and sees the progress change in place."""

from decimal import Decimal

from django.contrib.auth.models import Group
import pytest

from okrs.models import Objective
from okrs.selectors import period_from
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from streams.tests.factories import ValueStreamFactory
from teams import access
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_check_in_updates_progress_without_a_page_reload(live_server, page, screenshot):
    period = period_from(None).label
    stream, team = ValueStreamFactory(name="Payments"), TeamFactory(name="Checkout")
    stream.teams.add(team)
    # Transactional tests flush the database, role groups from the data migration included.
    Group.objects.get_or_create(name=access.PRODUCT_OWNER)
    user = UserFactory(username="owen", roles=[access.PRODUCT_OWNER])
    MembershipFactory(person=PersonFactory(name="Owen Owner", user=user), team=team)
    company = ObjectiveFactory(title="Grow revenue", period=period)
    objective = ObjectiveFactory(
        title="One-click checkout", level=Objective.Level.TEAM, team=team, parent=company, period=period
    )
    KeyResultFactory(
        objective=objective,
        title="Checkout conversion",
        start_value=Decimal("40"),
        target_value=Decimal("60"),
        current_value=Decimal("44"),
        unit="%",
    )

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("owen")
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="OKRs").click()
    card = page.locator(f"#objective-{objective.pk}")
    assert card.get_by_test_id("kr-progress").inner_text() == "20%"
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads

    card.get_by_role("link", name="Check in").click()
    page.get_by_label("Value").fill("55")
    page.get_by_label("Confidence").fill("0.8")
    # A full-page screenshot here would move the viewport under the click; take it after.
    page.get_by_role("button", name="Record check-in").click()
    page.wait_for_function(
        f"document.querySelector('#objective-{objective.pk} [data-testid=kr-progress]').innerText === '75%'"
    )
    assert card.get_by_test_id("objective-progress").inner_text() == "75%"
    assert page.evaluate("window.loadedOnce") is True
    assert page.get_by_label("Confidence").count() == 0  # the form closed
    screenshot("okrs-after-check-in")
