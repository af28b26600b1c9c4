"""The item page in chromium: a product owner's change shows up in the timeline and in the
change history with their name."""

from django.contrib.auth.models import Group
import pytest

from core import access
from portal.tests.browser import log_in
from streams.backlog.services import item_change_state, item_create, item_update
from streams.tests.factories import ValueStreamFactory, state
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_item_page_shows_who_changed_what(live_server, page, screenshot):
    Group.objects.get_or_create(name=access.PRODUCT_OWNER)
    team = TeamFactory(name="Checkout", slug="checkout")
    stream = ValueStreamFactory(name="Payments", slug="payments")
    stream.teams.add(team)
    owner = PersonFactory(user=UserFactory(username="olivia", roles=[access.PRODUCT_OWNER]))
    MembershipFactory(person=owner, team=team)
    item = item_create(stream_id=stream.pk, title="Refunds", flow_type="feature", team=team, actor=owner.user)
    item_update(item=item, actor=owner.user, title="Partial refunds")
    log_in(page, live_server, "olivia")
    # From the backlog, the item's key opens its page.
    page.goto(f"{live_server.url}/streams/payments/backlog/")
    page.get_by_role("link", name=item.key).click()
    page.wait_for_url(f"{live_server.url}/items/{item.pk}/")
    # A move on the backlog page appears in the timeline, signed and with its door.
    item_change_state(item=item, to_state=state(stream, "In progress"), actor=owner.user, via="page")
    page.reload()
    timeline = page.get_by_test_id("timeline").inner_text()
    assert "Backlog → In progress" in timeline and "olivia" in timeline and "Page" in timeline
    history = page.get_by_test_id("change-history")
    assert "Refunds → Partial refunds" in history.inner_text()
    assert "olivia" in history.inner_text()
    screenshot("item-page-history")
