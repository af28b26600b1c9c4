"""In a real browser: a product owner records a check-in and sees the progress change in place."""

from decimal import Decimal

from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect
import pytest

from core import access
from okrs.models import Objective
from okrs.selectors import period_from
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from streams.backlog.services import item_change_state, item_create
from streams.tests.factories import ValueStreamFactory, state
from teams.models import Person
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def owen_owns_checkout():
    """Payments, served by Checkout, whose product owner is Owen; returns (stream, team)."""
    stream, team = ValueStreamFactory(name="Payments"), TeamFactory(name="Checkout")
    stream.teams.add(team)
    # Transactional tests flush the database, role groups from the data migration included.
    Group.objects.get_or_create(name=access.PRODUCT_OWNER)
    user = UserFactory(username="owen", roles=[access.PRODUCT_OWNER])
    MembershipFactory(person=PersonFactory(name="Owen Owner", user=user), team=team)
    return stream, team


def test_a_check_in_updates_progress_without_a_page_reload(live_server, page, screenshot):
    period = period_from(None).label
    _, team = owen_owns_checkout()
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
    expect(card.get_by_role("link", name="Check in")).to_be_hidden()  # objectives open to one line
    # "Mine" narrows the tree to Owen's objectives, opened, under their parent (shown for context).
    objective.owner = owen_person()
    objective.save()
    page.get_by_role("link", name="Mine").click()
    expect(page.get_by_test_id("okr-counts")).to_contain_text("1 objective matching")
    assert card.get_by_test_id("kr-progress").inner_text() == "20%"
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads

    card.get_by_role("link", name="Check in").click()
    page.get_by_label("Value", exact=True).fill("55")
    page.get_by_label("Confidence").fill("0.8")
    # A full-page screenshot here would move the viewport under the click; take it after.
    page.get_by_role("button", name="Record check-in").click()
    expect(page.locator(f"#objective-{objective.pk} [data-testid=kr-progress]").first).to_have_text("75%")
    assert card.get_by_test_id("objective-progress").inner_text() == "75%"
    assert page.evaluate("window.loadedOnce") is True
    assert page.get_by_label("Confidence").count() == 0  # the form closed
    screenshot("okrs-after-check-in")


def owen_person():
    return Person.objects.get(name="Owen Owner")


def test_the_tree_collapses_and_a_check_in_on_a_parent_keeps_its_children(live_server, page, screenshot):
    period = period_from(None).label
    _, team = owen_owns_checkout()
    Group.objects.get_or_create(name=access.LEADER)
    UserFactory(username="lee", roles=[access.LEADER])
    company = ObjectiveFactory(title="Grow revenue", period=period)
    KeyResultFactory(objective=company, title="Revenue", start_value=Decimal("0"), target_value=Decimal("10"))
    child = ObjectiveFactory(
        title="One-click checkout", level=Objective.Level.TEAM, team=team, parent=company, period=period
    )
    KeyResultFactory(objective=child, title="Checkout conversion")

    page.goto(f"{live_server.url}/login/?next=/okrs/")
    page.get_by_label("Username").fill("lee")
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/okrs/")
    revenue = page.get_by_role("row", name="Revenue")
    expect(revenue).to_be_hidden()
    page.get_by_role("button", name="Expand all").click()
    expect(revenue).to_be_visible()
    # Collapsing the company objective's aligned objectives hides the child's card.
    page.get_by_text("1 objective aligned to “Grow revenue”").click()
    expect(page.locator(f"#objective-{child.pk}")).to_be_hidden()
    page.get_by_text("1 objective aligned to “Grow revenue”").click()

    revenue.get_by_role("link", name="Check in").click()
    page.get_by_label("Value", exact=True).fill("4")
    page.get_by_label("Confidence").fill("0.3")
    page.get_by_role("button", name="Record check-in").click()
    expect(revenue.get_by_test_id("kr-progress")).to_have_text("40%")
    expect(page.locator(f"#objective-{company.pk}")).to_contain_text("30% · low")
    expect(page.locator(f"#objective-{child.pk}")).to_be_visible()  # the swap left the aligned objective in place
    screenshot("okrs-tree-after-check-in")


def test_a_product_owner_links_an_item_by_typing_and_the_key_result_page_shows_it(live_server, page, screenshot):
    period = period_from(None).label
    stream, team = owen_owns_checkout()
    objective = ObjectiveFactory(title="One-click checkout", level=Objective.Level.TEAM, team=team, period=period)
    kr = KeyResultFactory(objective=objective, title="Checkout conversion")
    item = item_create(stream_id=stream.pk, title="Remember the card", flow_type="feature", created_at=timezone.now())
    item_change_state(item=item, to_state=state(stream, "In progress"), at=timezone.now())

    page.goto(f"{live_server.url}/login/?next=/items/{item.pk}/")
    page.get_by_label("Username").fill("owen")
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/items/{item.pk}/")
    assert "orphan work" in page.locator("#item-links").inner_text()
    page.get_by_label("Link to a key result").press_sequentially("conver", delay=30)
    candidates = page.get_by_test_id("key-result-candidates")
    candidates.wait_for()
    candidates.get_by_role("button", name="Link").click()
    page.get_by_test_id("item-links").wait_for()
    assert "Checkout conversion" in page.get_by_test_id("item-links").inner_text()
    screenshot("okrs-item-linked")

    page.get_by_role("link", name="Checkout conversion").click()
    page.wait_for_url(f"{live_server.url}/okrs/key-results/{kr.pk}/")
    assert page.get_by_test_id("kr-wip").inner_text() == "1"
    assert "Remember the card" in page.get_by_test_id("kr-linked").inner_text()
    screenshot("okrs-key-result-page")
