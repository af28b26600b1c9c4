"""Linking work and key results from both sides, and the flow behind a key result."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone
import pytest

from core.errors import DomainError
from okrs import selectors, views
from okrs.models import Objective
from okrs.selectors import item_key_results, key_result_flow, period_from
from okrs.services import key_result_link
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from streams.backlog.services import item_change_state, item_create
from streams.tests.factories import LeadershipAssignmentFactory, ValueStreamFactory, state
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

PERIOD = period_from(None)
HTMX = {"HX-Request": "true"}


def make_item(stream, title, *moves, parent=None, days_ago=10):
    start = timezone.now() - dt.timedelta(days=days_ago)
    created = item_create(stream_id=stream.pk, title=title, flow_type="feature", created_at=start, parent=parent)
    for n, name in enumerate(moves):
        item_change_state(item=created, to_state=state(stream, name), at=start + dt.timedelta(days=n + 1))
    return created


@pytest.fixture
def org():
    """Payments (served by Checkout, owned by Owen) and Lending (someone else's); a company
    key result nobody here may change, and a Payments stream key result Dana directs."""
    payments, lending = ValueStreamFactory(name="Payments"), ValueStreamFactory(name="Lending")
    team = TeamFactory(name="Checkout")
    payments.teams.add(team)
    owner, director = PersonFactory(name="Owen Owner"), PersonFactory(name="Dana Director")
    owner.user = UserFactory(username="owen", roles=["product owner"])
    director.user = UserFactory(username="dana", roles=["product director"])
    owner.save(), director.save()
    MembershipFactory(person=owner, team=team)
    LeadershipAssignmentFactory(person=director, stream=payments)
    company = ObjectiveFactory(title="Grow revenue", period=PERIOD.label)
    on_stream = ObjectiveFactory(
        title="Faster payments", level=Objective.Level.STREAM, stream=payments, parent=company, period=PERIOD.label
    )
    return {
        "payments": payments,
        "lending": lending,
        "owner": owner.user,
        "director": director.user,
        "company_kr": KeyResultFactory(objective=company, title="Revenue up 10%"),
        "stream_kr": KeyResultFactory(objective=on_stream, title="Payment time under 2 s"),
    }


def test_a_product_owner_links_their_item_from_the_item_side_with_htmx(client, org):
    client.force_login(org["owner"])
    item = make_item(org["payments"], "Instant refunds", "In progress")
    search = client.get(reverse("okrs:item-key-result-search", args=[item.pk]), {"q": "revenue"}, headers=HTMX)
    assert search.status_code == 200 and "Revenue up 10%" in search.content.decode()
    response = client.post(
        reverse("okrs:item-link", args=[item.pk]), {"key_result": org["company_kr"].pk}, headers=HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'id="item-links"' in html and "Revenue up 10%" in html
    assert list(org["company_kr"].items.all()) == [item]
    # The second search no longer offers what is linked.
    again = client.get(reverse("okrs:item-key-result-search", args=[item.pk]), {"q": "revenue"}, headers=HTMX)
    assert "Revenue up 10%" not in again.content.decode()


def test_look_alike_key_results_are_told_apart_by_scope_and_owner(client, org):
    client.force_login(org["owner"])
    item = make_item(org["payments"], "Instant refunds", "In progress")
    for scope, owner in (({"stream": org["payments"]}, "Ana"), ({"stream": org["lending"]}, "Ben")):
        objective = ObjectiveFactory(
            title="Deliver predictably", level=Objective.Level.STREAM, period=PERIOD.label, **scope
        )
        KeyResultFactory(objective=objective, title="Items released to customers", owner=PersonFactory(name=owner))
    html = client.get(
        reverse("okrs:item-key-result-search", args=[item.pk]), {"q": "released"}, headers=HTMX
    ).content.decode()
    assert "stream Payments" in html and "owner Ana" in html
    assert "stream Lending" in html and "owner Ben" in html


def test_a_product_owner_may_not_link_someone_elses_item_to_a_key_result_they_do_not_own(client, org):
    client.force_login(org["owner"])
    theirs = make_item(org["lending"], "Loan calculator", "In progress")
    response = client.post(
        reverse("okrs:item-link", args=[theirs.pk]), {"key_result": org["company_kr"].pk}, headers=HTMX
    )
    assert response.status_code == 403
    assert not org["company_kr"].items.exists()


def test_a_director_links_any_item_from_the_key_result_side_and_unlinks_it(client, org):
    client.force_login(org["director"])
    kr = org["stream_kr"]
    theirs = make_item(org["lending"], "Shared fraud check", "In progress")
    make_item(org["payments"], "Removed fraud idea", "In progress", "Removed")
    search = client.get(reverse("okrs:key-result-item-search", args=[kr.pk]), {"q": "fraud"}, headers=HTMX)
    html = search.content.decode()
    assert "Shared fraud check" in html and "Removed fraud idea" not in html
    by_key = client.get(reverse("okrs:key-result-item-search", args=[kr.pk]), {"q": f"#{theirs.pk}"}, headers=HTMX)
    assert "Shared fraud check" in by_key.content.decode()
    linked = client.post(reverse("okrs:key-result-link", args=[kr.pk]), {"item": theirs.pk}, headers=HTMX)
    assert linked.status_code == 200 and "Shared fraud check" in linked.content.decode()
    assert list(kr.items.all()) == [theirs]
    unlinked = client.post(reverse("okrs:key-result-unlink", args=[kr.pk, theirs.pk]), headers=HTMX)
    html = unlinked.content.decode()
    assert unlinked.status_code == 200 and "unsupported" in html
    assert not kr.items.exists()
    # One click unlinks; the answer offers the way back.
    assert f"Unlinked {theirs.key} Shared fraud check." in html and 'data-testid="undo-unlink"' in html
    assert f'name="item" value="{theirs.pk}"' in html
    client.post(reverse("okrs:key-result-link", args=[kr.pk]), {"item": theirs.pk}, headers=HTMX)
    assert list(kr.items.all()) == [theirs]


def test_removed_work_and_missing_items_are_refused_with_a_clear_message(client, org):
    client.force_login(org["director"])
    kr = org["stream_kr"]
    removed = make_item(org["payments"], "Dropped", "In progress", "Removed")
    response = client.post(reverse("okrs:key-result-link", args=[kr.pk]), {"item": removed.pk}, headers=HTMX)
    assert response.status_code == 422 and "removed work serves no key result" in response.content.decode()
    missing = client.post(reverse("okrs:key-result-link", args=[kr.pk]), {"item": "999999"}, headers=HTMX)
    assert missing.status_code == 422 and "does not exist" in missing.content.decode()
    assert not kr.items.exists()


def test_linking_twice_changes_nothing(org):
    item = make_item(org["payments"], "Card vault", "In progress")
    assert key_result_link(key_result=org["stream_kr"], item=item, actor=org["director"]) is True
    assert key_result_link(key_result=org["stream_kr"], item=item, actor=org["director"]) is False
    assert org["stream_kr"].items.count() == 1


def test_the_service_refuses_a_user_who_may_change_neither_side(org):
    item = make_item(org["lending"], "Loan calculator")
    with pytest.raises(DomainError) as refused:
        key_result_link(key_result=org["company_kr"], item=item, actor=org["owner"])
    assert refused.value.code == "permission_denied"


def test_an_item_serves_what_its_ancestors_serve_and_the_nearest_link_wins(client, org):
    epic = make_item(org["payments"], "Checkout revamp", "In progress")
    story = make_item(org["payments"], "Saved cards", "In progress", parent=epic)
    task = make_item(org["payments"], "Vault API", parent=story)
    org["company_kr"].items.add(epic)
    org["stream_kr"].items.add(epic, story)
    links = {link.key_result.title: link.via for link in item_key_results(task)}
    assert links == {"Revenue up 10%": epic, "Payment time under 2 s": story}
    direct = {link.key_result.title: link.via for link in item_key_results(story)}
    assert direct == {"Revenue up 10%": epic, "Payment time under 2 s": None}
    client.force_login(org["owner"])
    html = client.get(reverse("item-detail", args=[task.pk])).content.decode()
    assert "parent" in html and epic.key in html and "Unlink" not in html  # inherited links are unlinked at the parent


@pytest.mark.parametrize("literal_ids", [selectors.LITERAL_IDS_AT_MOST, -1])  # the cached walk's ids, or the walk
def test_the_flow_behind_a_key_result_counts_each_item_once_and_forecasts_the_rest(org, monkeypatch, literal_ids):
    monkeypatch.setattr(selectors, "LITERAL_IDS_AT_MOST", literal_ids)
    payments = org["payments"]
    kr = org["stream_kr"]
    epic = make_item(payments, "Checkout revamp", "In progress", days_ago=20)
    story = make_item(payments, "Saved cards", "In progress", "Done", parent=epic, days_ago=5)
    make_item(payments, "Wallets", "In progress", parent=epic, days_ago=3)
    make_item(payments, "Dropped", "In progress", "Removed", parent=epic, days_ago=3)
    make_item(payments, "Not started", parent=epic)
    make_item(payments, "Unlinked work", "In progress", days_ago=3)
    kr.items.add(epic, story)
    flow = key_result_flow(kr, PERIOD)
    assert flow.report.wip == 2  # the epic and Wallets; the removed child counts nowhere
    assert flow.remaining == 3 and flow.remaining_started == 2  # epic, Wallets, Not started
    finished_in_period = story.finished_at.date() >= PERIOD.start
    assert flow.report.throughput == (1 if finished_in_period else 0)
    assert flow.share == pytest.approx(2 / 3)  # 2 of the 3 items in progress in Payments
    # One item finished in the sample: too little history to forecast, and it says so.
    assert flow.sample_days == 84 and flow.sample_items == 1 and flow.chance is None
    assert "finished 1 item in the last 12 weeks; a forecast needs at least 5" in flow.refused
    assert {f.title for f in flow.report.in_progress} == {"Checkout revamp", "Wallets"}


def test_a_key_result_with_no_linked_work_has_no_chance_to_show(client, org):
    kr = org["stream_kr"]
    flow = key_result_flow(kr, PERIOD)
    assert flow.linked == 0 and flow.chance is None
    assert "No work is linked" in flow.share_note
    client.force_login(org["director"])
    html = client.get(reverse("okrs:key-result-detail", args=[kr.pk])).content.decode()
    assert 'data-testid="kr-chance">—<' in html and "100%" not in html
    # Linked work that is all finished is done: that chance is certain, and shown.
    kr.items.add(make_item(org["payments"], "Shipped", "In progress", "Done", days_ago=5))
    done = key_result_flow(kr, PERIOD)
    assert done.linked == 1 and done.remaining == 0 and done.chance == 1.0


def test_the_key_result_page_shows_its_flow_and_keeps_its_query_count_flat(client, org, django_assert_max_num_queries):
    client.force_login(org["director"])
    kr = org["stream_kr"]
    kr.items.add(make_item(org["payments"], "First", "In progress"))
    url = reverse("okrs:key-result-detail", args=[kr.pk])
    with django_assert_max_num_queries(60) as few:
        response = client.get(url)
    assert response.status_code == 200 and "The flow behind it" in response.content.decode()
    for n in range(10):
        parent = make_item(org["payments"], f"Epic {n}", "In progress")
        make_item(org["payments"], f"Story {n}", "In progress", "Done", parent=parent)
        kr.items.add(parent)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.context["flow"].report.wip == 11


def test_a_key_result_page_lists_its_first_linked_items_and_all_of_them_on_demand(client, org, monkeypatch):
    monkeypatch.setattr(views, "LINKED_LISTED", 2)
    client.force_login(org["director"])
    kr = org["stream_kr"]
    kr.items.add(*(make_item(org["payments"], f"Linked {n}", "In progress") for n in range(3)))
    url = reverse("okrs:key-result-detail", args=[kr.pk])
    first = client.get(url)
    html = first.content.decode()
    assert [item.title for item in first.context["linked"]] == ["Linked 0", "Linked 1"]
    assert "The first 2 of 3 linked items, by stream." in html
    assert f'href="{url}?linked=all#kr-links">Show all 3</a>' in html
    assert first.context["flow"].linked == 3  # the figures count every linked item
    every = client.get(url, {"linked": "all"})
    assert len(every.context["linked"]) == 3 and 'data-testid="kr-linked-more"' not in every.content.decode()
