"""The item page: timeline, readiness checklist, dependencies, children, outcomes and change
history, with a query count that does not grow with the item's history."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone
import pytest

from core import access
from streams.backlog.services import item_change_state, item_create, item_update
from streams.models import BlockedPeriod, Dependency
from streams.readiness.services import readiness_check_decide
from streams.tests.factories import ReadinessCriterionFactory, ValueStreamFactory, state
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    team = TeamFactory(name="Checkout", slug="checkout")
    ops = TeamFactory(name="Service desk", slug="desk", type="business_operations")
    stream = ValueStreamFactory(name="Payments", slug="payments")
    stream.teams.add(team)
    owner = PersonFactory(user=UserFactory(username="olivia", roles=[access.PRODUCT_OWNER]))
    MembershipFactory(person=owner, team=team)
    clerk = PersonFactory(user=UserFactory(username="omar", roles=[access.OPERATIONS]))
    MembershipFactory(person=clerk, team=ops)
    ReadinessCriterionFactory(name="Support trained", owner_team=ops, flow_types=["feature"])
    return {"stream": stream, "team": team, "owner": owner.user, "clerk": clerk.user}


def grow(world, item, n):
    """n more children, dependencies, blocked periods and title changes."""
    stream, owner = world["stream"], world["owner"]
    for k in range(n):
        child = item_create(stream_id=stream.pk, title=f"Child {k}", flow_type="feature", parent=item, actor=owner)
        Dependency.objects.create(item=item, blocked_by=child, created_at=timezone.now())
        start = timezone.now() - dt.timedelta(days=10 - k)
        BlockedPeriod.objects.create(item=item, started_at=start, ended_at=start + dt.timedelta(hours=2))
        item_update(item=item, actor=owner, title=f"Refunds v{k}")


def test_the_page_tells_the_items_story(world, client):
    stream, owner = world["stream"], world["owner"]
    item = item_create(stream_id=stream.pk, title="Refunds", flow_type="feature", team=world["team"], actor=owner)
    blocker = item_create(stream_id=stream.pk, title="Ledger API", flow_type="feature")
    Dependency.objects.create(item=item, blocked_by=blocker, created_at=timezone.now(), note="needs the new ledger")
    item_change_state(item=item, to_state=state(stream, "In progress"), actor=owner, via="api")
    item_update(item=item, actor=owner, title="Partial refunds")
    check = item.readiness_checks.get()
    readiness_check_decide(check=check, status="met", actor=world["clerk"])

    client.force_login(UserFactory(username="vic", roles=[access.VIEWER]))
    page = client.get(reverse("item-detail", args=[item.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Partial refunds" in html
    timeline = html[html.index('data-testid="timeline"') : html.index('id="readiness"')]
    assert "Backlog → In progress" in timeline and "olivia" in timeline and "API" in timeline
    assert "Support trained: met" in timeline and "omar" in timeline
    checklist = html[html.index('data-testid="readiness-checklist"') : html.index('id="dependencies"')]
    assert "Support trained" in checklist and "Service desk" in checklist and "Met" in checklist
    dependencies = html[html.index('id="dependencies"') : html.index('id="item-links"')]
    assert "Ledger API" in dependencies and "needs the new ledger" in dependencies
    changes = html[html.index('data-testid="change-history"') :]
    assert "<del>Refunds</del> → <ins>Partial refunds</ins>" in changes
    assert "<del>Backlog (Backlog)</del> → <ins>In progress (Active)</ins>" in changes
    assert reverse("api:item-history", args=[item.pk]) in html
    # The viewer reads but may not edit; the backlog's owner gets the edit link.
    assert "Edit</a>" not in html
    client.force_login(owner)
    assert "Edit</a>" in client.get(reverse("item-detail", args=[item.pk])).content.decode()
    # The blocker's page shows the other side of the dependency.
    assert "Partial refunds" in client.get(blocker.get_absolute_url()).content.decode()


def test_the_query_count_does_not_grow_with_the_items_life(world, client, django_assert_max_num_queries):
    item = item_create(stream_id=world["stream"].pk, title="Refunds", flow_type="feature", actor=world["owner"])
    grow(world, item, 1)
    client.force_login(world["owner"])
    url = reverse("item-detail", args=[item.pk])
    with django_assert_max_num_queries(40) as few:
        assert client.get(url).status_code == 200
    grow(world, item, 8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(url).content.decode()
    assert "Children (9)" in html and "Refunds v7" in html


def test_unknown_items_are_404_and_old_outcome_links_land_on_the_item_page(world, client):
    client.force_login(world["owner"])
    missing = client.get(reverse("item-detail", args=[999999]))
    assert missing.status_code == 404
    item = item_create(stream_id=world["stream"].pk, title="Refunds", flow_type="feature")
    moved = client.get(reverse("okrs:item-outcomes", args=[item.pk]))
    assert moved.status_code == 302 and moved["Location"] == reverse("item-detail", args=[item.pk]) + "#item-links"
    assert item.get_absolute_url() == f"/items/{item.pk}/"


def test_an_item_sent_back_to_the_backlog_says_since_when_and_is_not_in_progress(world, client):
    stream, owner = world["stream"], world["owner"]
    started = timezone.now() - dt.timedelta(days=5)
    item = item_create(
        stream_id=stream.pk,
        title="Refunds",
        flow_type="feature",
        actor=owner,
        created_at=started - dt.timedelta(days=1),
    )
    item_change_state(item=item, to_state=state(stream, "In progress"), actor=owner, at=started)
    item_change_state(item=item, to_state=state(stream, "Backlog"), actor=owner, at=started + dt.timedelta(days=2))
    item_change_state(item=item, to_state=state(stream, "Ready"), actor=owner, at=started + dt.timedelta(days=3))
    client.force_login(owner)
    html = client.get(reverse("item-detail", args=[item.pk])).content.decode()
    back = (started + dt.timedelta(days=2)).date().isoformat()
    assert f"returned to the backlog on {back}, so not in progress" in html
    assert "days in progress so far" not in html
