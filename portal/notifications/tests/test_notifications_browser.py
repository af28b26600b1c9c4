"""The notifications page in chromium: an operations member sees the count in the navigation,
reads the readiness digest addressed to them, marks it read, and makes it weekly."""

from django.contrib.auth.models import Group
from django.utils import timezone
import pytest

from core import access
from portal.notifications import producers
from portal.notifications.models import NotificationPreference
from portal.tests.browser import log_in
from streams.tests.factories import BacklogItemFactory, ReadinessCheckFactory, ReadinessCriterionFactory
from teams.models import Team
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operations_member_reads_and_tunes_their_notifications(live_server, page, screenshot):
    Group.objects.get_or_create(name=access.OPERATIONS)
    ops = TeamFactory(name="Service operations", slug="ops", type=Team.Type.BUSINESS_OPERATIONS)
    sam = PersonFactory(name="Sam Ops", user=UserFactory(username="sam", roles=[access.OPERATIONS]))
    MembershipFactory(person=sam, team=ops)
    criterion = ReadinessCriterionFactory(name="Runbook updated", owner_team=ops)
    item = BacklogItemFactory(title="Refunds by link")
    ReadinessCheckFactory(item=item, criterion=criterion)
    producers.readiness_digests(timezone.localdate())

    log_in(page, live_server, "sam")
    badge = page.get_by_test_id("nav-notifications")
    assert badge.get_attribute("aria-label") == "Notifications, 1 unread"
    badge.click()
    page.wait_for_url(f"{live_server.url}/notifications/")
    listing = page.get_by_test_id("notifications")
    text = listing.inner_text()
    assert "1 readiness check waits on Service operations" in text
    assert "Refunds by link: Runbook updated, waiting 0 days" in text and "n = 1 pending" in text
    screenshot("notifications-unread")
    page.get_by_test_id("read-all").click()
    page.wait_for_url(f"{live_server.url}/notifications/")
    assert page.get_by_test_id("nav-notifications").get_attribute("aria-label") is None
    assert "unread" not in page.get_by_test_id("notifications").inner_text()

    page.get_by_role("link", name="Preferences").click()
    page.get_by_label("Readiness checks waiting on your team", exact=True).select_option("portal")
    page.get_by_label("Frequency of Readiness checks waiting on your team").select_option("weekly")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{live_server.url}/notifications/preferences/")
    assert "saved" in page.content()
    saved = NotificationPreference.objects.get(person=sam, kind="readiness_digest")
    assert (saved.channel, saved.frequency) == ("portal", "weekly")
    screenshot("notification-preferences")
