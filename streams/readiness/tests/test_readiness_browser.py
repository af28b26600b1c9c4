"""In a real browser: the release gate refuses on the backlog row, operations sign the check
off on /readiness/, and the product owner then finishes the item."""

from pathlib import Path

from django.contrib.auth.models import Group
import pytest

from core import access
from portal.tests.browser import log_in
from streams.backlog.services import item_change_state, item_create
from streams.models import BacklogItem, BlockedPeriod, ReadinessCheck
from streams.tests.factories import ReadinessCriterionFactory, ValueStreamFactory, state
from teams.models import Team
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

SCREENSHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_off_a_check_then_finish_the_item(live_server, page, browser, screenshot):
    # Transactional tests flush the database, role groups from the data migration included.
    for role in (access.PRODUCT_OWNER, access.OPERATIONS):
        Group.objects.get_or_create(name=role)
    stream = ValueStreamFactory(name="Payments", slug="payments")
    team = TeamFactory(name="Payments Core")
    stream.teams.add(team)
    MembershipFactory(person=PersonFactory(user=UserFactory(username="olga", roles=[access.PRODUCT_OWNER])), team=team)
    support = TeamFactory(name="Support", slug="support", type=Team.Type.BUSINESS_OPERATIONS)
    MembershipFactory(person=PersonFactory(user=UserFactory(username="sam", roles=[access.OPERATIONS])), team=support)
    ReadinessCriterionFactory(name="Support trained", owner_team=support, flow_types=["feature"])
    item = item_create(stream_id=stream.pk, title="Instant refunds", flow_type="feature", team=team)
    item_change_state(item=item, to_state=state(stream, "In progress"))
    done = state(stream, "Done")

    owner = page
    log_in(owner, live_server, "olga")
    owner.goto(f"{live_server.url}/streams/backlog/")
    row = owner.locator(f"#item-{item.pk}")
    row.get_by_label(f"State of {item.key}").select_option(str(done.pk))
    row.get_by_role("button", name="Move").click()
    refusal = owner.locator(f"#item-{item.pk} [role=alert]")
    refusal.wait_for()
    assert "Support trained (owned by Support)" in refusal.inner_text()
    assert BacklogItem.objects.get(pk=item.pk).state.name == "In progress"
    screenshot("backlog-release-gate")

    ops = browser.new_page()  # a context of its own: another person's session
    log_in(ops, live_server, "sam")
    ops.goto(f"{live_server.url}/readiness/")
    check = ReadinessCheck.objects.get(item=item)
    ops.get_by_label(f"Decision on Support trained for {item.key}").select_option("met")
    ops.locator(f"#check-{check.pk}").get_by_role("button", name="Sign off").click()
    ops.locator(f"#check-{check.pk} .tag.pass").wait_for()
    assert "by sam" in ops.locator(f"#check-{check.pk}").inner_text()
    assert ops.get_by_test_id("pending-support").inner_text() == "0"  # the summary followed, in place
    ops.screenshot(path=str(SCREENSHOTS / "readiness-signed-off.png"), full_page=True)
    assert BlockedPeriod.objects.get(item=item).ended_at is not None  # the wait on readiness ended

    owner.reload()
    row = owner.locator(f"#item-{item.pk}")
    assert "Ready" in row.inner_text()
    row.get_by_label(f"State of {item.key}").select_option(str(done.pk))
    with owner.expect_response(lambda response: "/move/" in response.url) as moved:
        row.get_by_role("button", name="Move").click()
    assert moved.value.status == 200
    owner.locator(f"#item-{item.pk} .tag.pass").wait_for()  # the row came back, ready and done
    assert BacklogItem.objects.get(pk=item.pk).finished_at is not None
    assert owner.locator(f"#item-{item.pk} [role=alert]").count() == 0
