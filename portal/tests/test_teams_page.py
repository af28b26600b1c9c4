"""/teams/: composition and allocation, disciplines against stream needs, WIP against limits,
who waits on whom, and a query count flat in the number of teams."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone
import pytest

from portal import composition as composition_module
from streams.backlog.services import item_change_state, item_create
from streams.models import Dependency
from streams.tests.factories import ValueStreamFactory, state
from teams.tests.factories import DisciplineFactory, MembershipFactory, PersonFactory, TeamFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture
def org():
    design, engineering = DisciplineFactory(name="Design"), DisciplineFactory(name="Engineering")
    checkout, platform = TeamFactory(name="Checkout", wip_limit=1), TeamFactory(name="Platform", type="platform")
    stream = ValueStreamFactory(name="Payments")
    stream.teams.add(checkout)
    stream.required_disciplines.add(design, engineering)
    ana = PersonFactory(name="Ana")
    ana.disciplines.add(engineering)
    MembershipFactory(person=ana, team=checkout, allocation_percent=80)
    MembershipFactory(person=ana, team=platform, allocation_percent=40)
    MembershipFactory(person=PersonFactory(name="Ben"), team=checkout, allocation_percent=50)
    items = []
    for n, team in enumerate((checkout, checkout, platform)):
        item = item_create(stream_id=stream.pk, title=f"Work {n}", flow_type="feature", team=team)
        item_change_state(item=item, to_state=state(stream, "In progress"))
        items.append(item)
    Dependency.objects.create(item=items[0], blocked_by=items[2], created_at=NOW - dt.timedelta(days=6))
    Dependency.objects.create(item=items[1], blocked_by=items[2], created_at=NOW - dt.timedelta(days=2))
    Dependency.objects.create(item=items[0], blocked_by=items[1], created_at=NOW)  # same team: not across
    return {"checkout": checkout, "platform": platform}


def test_composition_allocation_needs_wip_and_waits(admin_client, org):
    response = admin_client.get(reverse("teams"))
    assert response.status_code == 200
    result = response.context["composition"]
    rows = {row.team.name: row for row in result.teams}
    checkout = rows["Checkout"]
    assert (checkout.members, checkout.fte, checkout.wip, checkout.over_limit) == (2, 1.3, 2, True)
    assert checkout.disciplines == ["Engineering"]
    (ana,) = result.overallocated
    assert (ana.person.name, ana.total, ana.teams) == ("Ana", 120, [("Checkout", 80), ("Platform", 40)])
    (payments,) = result.needs
    assert (payments.needed, payments.missing) == (["Design", "Engineering"], ["Design"])
    (pair,) = result.waits
    assert (pair.waiting.name, pair.blocking.name, pair.dependencies) == ("Checkout", "Platform", 2)
    assert pair.oldest_days == pytest.approx(6, abs=0.01)
    html = response.content.decode()
    assert "missing Design" in html and "2 / 1" in html
    platform_only = admin_client.get(reverse("teams"), {"type": "platform"})
    assert [row.team.name for row in platform_only.context["composition"].teams] == ["Platform"]


def test_the_query_count_does_not_grow_with_teams(
    admin_client, org, django_assert_num_queries, django_assert_max_num_queries
):
    admin_client.get(reverse("teams"))
    with django_assert_max_num_queries(20) as few:
        admin_client.get(reverse("teams"))
    for n in range(25):
        team = TeamFactory(name=f"Team {n:02}")
        MembershipFactory(team=team, allocation_percent=100)
        ValueStreamFactory().teams.add(team)
    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_client.get(reverse("teams"))
    assert len(response.context["composition"].teams) == 27


def test_waits_leave_out_finished_removed_and_team_less_work(admin_client, org):
    stream = ValueStreamFactory(name="Cards")
    checkout, platform = org["checkout"], org["platform"]

    def work(title, team, to):
        item = item_create(stream_id=stream.pk, title=title, flow_type="feature", team=team)
        item_change_state(item=item, to_state=state(stream, to))
        return item

    def depends(item, blocked_by):
        Dependency.objects.create(item=item, blocked_by=blocked_by, created_at=NOW)

    waiting = work("Waiting", checkout, "In progress")
    depends(waiting, work("Shipped", platform, "Done"))  # its blocker is done
    depends(work("Dropped", checkout, "Removed"), work("Busy", platform, "In progress"))  # the waiting item removed
    depends(waiting, work("Nobody's", None, "In progress"))  # no team to name
    (pair,) = admin_client.get(reverse("teams")).context["composition"].waits
    assert (pair.waiting.name, pair.blocking.name, pair.dependencies) == ("Checkout", "Platform", 2)


def test_teams_come_a_page_at_a_time_by_name_with_the_filter_kept(admin_client, org, monkeypatch):
    monkeypatch.setattr(composition_module, "TEAMS_PAGE", 1)
    TeamFactory(name="Billing", type="platform")
    first = admin_client.get(reverse("teams"))
    assert [row.team.name for row in first.context["composition"].teams] == ["Billing"]
    html = first.content.decode()
    assert "Teams (3; 1–1 shown, by name)" in html and 'href="?page=2">Next</a>' in html
    last = admin_client.get(reverse("teams"), {"page": "99"})  # past the end: the last page
    assert [row.team.name for row in last.context["composition"].teams] == ["Platform"]
    assert last.context["composition"].teams[0].wip == 1  # the page's figures are read for its teams
    platforms = admin_client.get(reverse("teams"), {"type": "platform"})
    assert 'href="?type=platform&amp;page=2">Next</a>' in platforms.content.decode()
