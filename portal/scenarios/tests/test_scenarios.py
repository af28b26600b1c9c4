"""Scenarios on hand-built histories whose answers are known: no lever gives today's forecast,
descoping everything gives "done now", a WIP cap gives the share Little's law and the rank
order say, an added criterion adds exactly its lead time, a team's moved capacity scales only its
own pace; the levers are checked with clear errors; saving keeps who, when and what, and real
data never changes; the page's queries do not grow with the data."""

import datetime as dt

from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
import pytest

from core.access import PRODUCT_DIRECTOR, VIEWER
from okrs.models import KeyResult, Objective
from okrs.selectors import key_result_flow, key_result_forecast, period_from
from portal.scenarios.forms import ScenarioForm
from portal.scenarios.models import Scenario
from portal.scenarios.outlook import Subject, item_candidates, outlook
from streams.backlog.services import item_change_state, item_create
from streams.flow.releasable import releasable_forecast
from streams.flow.scenarios import NONE, AddedCheck, Levers, TeamMove, capped
from streams.flow.tests.test_releasable import NOW, TODAY, signed_off, steady
from streams.models import BacklogItem, ReadinessCheck, StateTransition
from streams.tests.factories import ReadinessCriterionFactory, ValueStreamFactory, state
from teams.models import Membership
from teams.tests.factories import PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def started(stream, title, rank, parent=None):
    item = item_create(stream_id=stream.pk, title=title, flow_type="feature", created_at=NOW, parent=parent)
    item_change_state(item=item, to_state=state(stream, "In progress"), at=NOW)
    BacklogItem.objects.filter(pk=item.pk).update(rank=rank)
    item.refresh_from_db()
    return item


@pytest.fixture
def busy():
    """A stream finishing one item a day, with 9 items in progress: an epic and its two stories
    ranked first, six other items after them."""
    stream = ValueStreamFactory(name="Payments")
    steady(stream)
    epic = started(stream, "One-click checkout", 1)
    stories = [started(stream, f"Story {n}", 2 + n, parent=epic) for n in range(2)]
    others = [started(stream, f"Other {n}", 10 + n) for n in range(6)]
    return {"stream": stream, "epic": epic, "stories": stories, "others": others}


def test_a_cap_keeps_items_by_rank_and_makes_the_others_wait():
    order = [1, 2, 3, 4, 5, 6]
    assert capped(order, {2, 3}, 3) == capped(order, {2, 3}, 3)
    assert capped(order, {2, 3}, 3).kept == 2 and capped(order, {2, 3}, 3).wip == 3
    held = capped(order, {5, 6}, 3)  # the first of ours is 5th: two of the three ahead must finish
    assert held.kept == 1 and held.wait == 2
    assert capped(order, {5}, 3, descoped=frozenset({1, 2})).wait == 0  # descoped items free their slots


def test_no_lever_gives_exactly_todays_forecast(busy):
    epic = busy["epic"]
    today = releasable_forecast(epic, NOW)
    same = releasable_forecast(epic, NOW, Levers())
    assert (today.p50, today.p85, today.breakdown, today.share) == (same.p50, same.p85, same.breakdown, same.share)
    result = outlook(Subject(stream=busy["stream"]), NONE, [], NOW)
    assert result["headline"]["today"] == result["headline"]["scenario"]
    assert all(row["today"] == row["scenario"] for row in result["items"]) and result["items"]


def test_capping_wip_moves_the_items_dates_as_littles_law_says(busy):
    stream, epic = busy["stream"], busy["epic"]
    today = releasable_forecast(epic, NOW)
    assert today.share == pytest.approx(2 / 9)  # two stories of nine items in progress
    capped_at_3 = releasable_forecast(epic, NOW, Levers(wip_caps={stream.pk: 3}))
    # The epic and its stories rank first: both stories keep going, with 2 of the 3 slots.
    assert capped_at_3.share == pytest.approx(2 / 3)
    # Two stories at a chance of 2/3 a day: P(done within 2 days) = 0.44, within 3 days 0.74, within 4 days 0.89.
    assert capped_at_3.parts[0].p50 == 3 and capped_at_3.parts[0].p85 == 4
    assert capped_at_3.p85 == TODAY + dt.timedelta(days=4) < today.p85
    result = outlook(Subject(stream=stream), Levers(wip_caps={stream.pk: 3}), ["cap"], NOW)
    little = result["little"][0]
    assert little["today"] == {"wip": 9, "throughput": 1.0, "flow_time": 9.0}
    assert little["scenario"] == {"wip": 3, "throughput": 1.0, "flow_time": 3.0}
    assert little["measured_flow_time"] == pytest.approx(2.0)  # steady: each item two days in progress
    # Today's WIP, all finished, needs the same nine days at the same throughput: the cap does not change it.
    assert result["headline"]["today"] == result["headline"]["scenario"]
    assert any("Little's law" in line for line in result["assumptions"])


def test_work_ranked_beyond_the_cap_waits_for_a_slot(busy):
    stream, epic = busy["stream"], busy["epic"]
    BacklogItem.objects.filter(pk__in=[s.pk for s in busy["stories"]]).update(rank=100)
    forecast = releasable_forecast(epic, NOW, Levers(wip_caps={stream.pk: 3}))
    # Order: epic, Other 0..5, Story 0, Story 1. Of the first three, five must finish before Story 0 (8th)
    # is among the three in progress: five days at one a day.
    assert "waits until 5 items ahead finish" in forecast.notes[0]
    # Then two stories in one slot of three (1/3 a day): P(within 4 days) = 0.41, P(within 5 days) = 0.60.
    assert forecast.parts[0].p50 == 5 + 5


def test_descoping_everything_gives_done_now(busy):
    stream, epic = busy["stream"], busy["epic"]
    everything = frozenset(BacklogItem.objects.in_progress().filter(stream=stream).values_list("pk", flat=True))
    result = outlook(Subject(stream=stream), Levers(descoped=everything), ["all"], NOW)
    assert result["headline"]["scenario"]["done_now"] and result["headline"]["scenario"]["items"] == 0
    assert releasable_forecast(epic, NOW, Levers(descoped=everything)).refused.startswith("Descoped")
    objective = Objective.objects.create(title="Grow", level="stream", stream=stream, period=f"{TODAY.year}")
    kr = KeyResult.objects.create(objective=objective, title="Checkout live", target_value=1)
    kr.items.add(epic)
    period = period_from(objective.period)
    assert key_result_forecast(kr, period).chance < 1
    gone = key_result_forecast(kr, period, Levers(descoped=frozenset({epic.pk})))
    assert gone.remaining == 0 and gone.chance == 1.0 and gone.p85 == TODAY


def test_descoping_frees_a_share_of_the_stream(busy):
    epic = busy["epic"]
    others = frozenset(item.pk for item in busy["others"])
    assert releasable_forecast(epic, NOW, Levers(descoped=others)).share == pytest.approx(2 / 3)


def test_a_key_result_with_no_lever_has_the_chance_its_page_shows(busy):
    stream = busy["stream"]
    objective = Objective.objects.create(title="Grow", level="stream", stream=stream, period=f"{TODAY.year}")
    kr = KeyResult.objects.create(objective=objective, title="Checkout live", target_value=1)
    kr.items.add(busy["epic"])
    result = outlook(Subject(key_result=kr), NONE, [], NOW)
    page = key_result_flow(kr, period_from(objective.period))
    assert (
        result["key_result"]["today"]["chance"] == round(page.chance, 4) == result["key_result"]["scenario"]["chance"]
    )
    assert result["key_result"]["sample_days"] == 84 and result["key_result"]["sample_items"] == 84


def test_an_added_criterion_adds_exactly_its_lead_time(busy):
    epic = busy["epic"]
    legal = TeamFactory(name="Legal")
    signed_off(
        ReadinessCriterionFactory(name="Terms approved", owner_team=legal),
        started(epic.stream, "Signed", 500),
        days=5,
        n=6,
    )
    levers = Levers(wip_caps={epic.stream_id: 3}, added_checks=(AddedCheck(legal.pk, "Legal review", "feature"),))
    without = releasable_forecast(epic, NOW, Levers(wip_caps={epic.stream_id: 3}))
    added = releasable_forecast(epic, NOW, levers)
    assert added.p50 == without.p50 + dt.timedelta(days=5) and added.p85 == without.p85 + dt.timedelta(days=5)
    assert "Legal review (added) 5 days" in added.breakdown
    defects = Levers(added_checks=(AddedCheck(legal.pk, "Legal review", "defect"),))
    assert releasable_forecast(epic, NOW, defects).p85 == releasable_forecast(epic, NOW).p85  # not its flow type


def test_moving_a_teams_capacity_scales_only_its_own_pace():
    payments, cards = ValueStreamFactory(name="Payments"), ValueStreamFactory(name="Cards")
    steady(payments)
    steady(cards)
    blue = TeamFactory(name="Blue")
    blue.streams.add(payments, cards)
    BacklogItem.objects.filter(finished_at__isnull=False).update(team=blue)  # Blue finished everything, half in each
    epic = item_create(stream_id=payments.pk, title="Epic", flow_type="feature", created_at=NOW)
    item_change_state(item=epic, to_state=state(payments, "In progress"), at=NOW)
    for n in range(3):
        item_create(stream_id=payments.pk, title=f"Story {n}", flow_type="feature", created_at=NOW, parent=epic)
    epic.refresh_from_db()
    assert releasable_forecast(epic, NOW).parts[0].p50 == 3  # three stories, one a day
    # A quarter of Blue's capacity from Cards to Payments: Payments' pace 1 → 1.5 a day (one, plus one half the days).
    move = Levers(moves=(TeamMove(blue.pk, cards.pk, payments.pk, 0.25),))
    moved = releasable_forecast(epic, NOW, move)
    assert moved.parts[0].p50 == 2 and moved.parts[0].p85 == 3  # P(3 within 2 days) = 3/4


def test_the_levers_are_checked_with_clear_errors(busy):
    stream = busy["stream"]
    cards = ValueStreamFactory(name="Cards")
    blue = TeamFactory(name="Blue")
    blue.streams.add(stream)
    BacklogItem.objects.filter(stream=stream, finished_at__isnull=False).update(team=blue)
    candidates = item_candidates(Subject(stream=stream))

    def errors(data):
        form = ScenarioForm(data, streams=[stream], candidates=candidates, now=NOW)
        return {} if form.is_valid() else form.errors

    assert errors({"cap": "3"}) == {"cap_stream": ["Needed to cap the WIP."]}
    assert "cap" in errors({"cap_stream": str(stream.pk), "cap": "0"})
    assert "descope" in errors({"descope": ["999999"]})
    assert errors({"check_team": "", "check_name": "Legal review"})["check_team"] == [
        "Needed to add a readiness criterion."
    ]
    move = {"move_team": str(blue.pk), "move_percent": "20", "move_from": str(stream.pk), "move_to": str(cards.pk)}
    assert errors(move)["move_to"] == ["Blue does not serve Cards: add the team to the stream first, if it should."]
    blue.streams.add(cards)
    assert errors(move) == {}
    assert (
        "finished nothing in Cards"
        in errors(move | {"move_from": str(cards.pk), "move_to": str(stream.pk)})["move_from"][0]
    )


@pytest.fixture
def director(busy):
    Group.objects.get_or_create(name=PRODUCT_DIRECTOR)
    user = UserFactory(username="dana")
    user.groups.add(Group.objects.get(name=PRODUCT_DIRECTOR))
    person = PersonFactory(name="Dana Director", user=user)
    team = TeamFactory(name="Checkout")
    Membership.objects.create(person=person, team=team, allocation_percent=100)
    return user


def test_a_director_runs_and_saves_a_scenario_and_nothing_real_changes(busy, director):
    stream = busy["stream"]
    client = Client()
    client.force_login(director)
    url = f"{reverse('scenario-new')}?stream={stream.slug}&cap_stream={stream.pk}&cap=3"
    before = (
        BacklogItem.objects.count(),
        StateTransition.objects.count(),
        ReadinessCheck.objects.count(),
        BacklogItem.history.count(),
        sorted(BacklogItem.objects.values_list("pk", "state_id", "rank", "started_at", "finished_at")),
    )
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Cap Payments&#x27;s work in progress at 3 items." in html and "days sooner" in html
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.content.decode().lstrip().startswith('<div id="scenario">')
    response = client.post(url, {"name": "Cap at 3 before Q1"})
    scenario = Scenario.objects.get()
    assert response.status_code == 302 and response["Location"] == scenario.get_absolute_url()
    assert scenario.created_by == director and scenario.stream == stream and scenario.as_of == TODAY
    assert scenario.levers == {"cap_stream": str(stream.pk), "cap": "3"}
    assert scenario.result["little"][0]["scenario"]["wip"] == 3
    after = (
        BacklogItem.objects.count(),
        StateTransition.objects.count(),
        ReadinessCheck.objects.count(),
        BacklogItem.history.count(),
        sorted(BacklogItem.objects.values_list("pk", "state_id", "rank", "started_at", "finished_at")),
    )
    assert after == before
    saved = client.get(scenario.get_absolute_url()).content.decode()
    assert "Saved by Dana Director" in saved and "Run it again on today's data" in saved
    assert f"cap_stream={stream.pk}" in saved


def test_a_viewer_runs_a_scenario_but_may_not_save_it(busy):
    Group.objects.get_or_create(name=VIEWER)
    viewer = UserFactory(username="vic")
    viewer.groups.add(Group.objects.get(name=VIEWER))
    client = Client()
    client.force_login(viewer)
    url = f"{reverse('scenario-new')}?stream={busy['stream'].slug}&cap_stream={busy['stream'].pk}&cap=3"
    page = client.get(url)
    assert page.status_code == 200 and "Save this scenario" not in page.content.decode()
    assert client.post(url, {"name": "Sneaky"}).status_code == 403
    assert not Scenario.objects.exists()


def test_saving_without_a_lever_or_with_a_wrong_one_says_why(busy, director):
    client = Client()
    client.force_login(director)
    stream = busy["stream"]
    plain = client.post(f"{reverse('scenario-new')}?stream={stream.slug}", {"name": "Nothing"})
    assert plain.status_code == 422 and "Change at least one lever" in plain.content.decode()
    wrong = client.get(f"{reverse('scenario-new')}?stream={stream.slug}&cap=3")
    assert wrong.status_code == 422 and "Needed to cap the WIP." in wrong.content.decode()
    assert not Scenario.objects.exists()


def test_the_scenario_page_reads_in_queries_that_do_not_grow_with_the_data(
    busy, director, django_assert_max_num_queries
):
    stream = busy["stream"]
    client = Client()
    client.force_login(director)
    url = f"{reverse('scenario-new')}?stream={stream.slug}&cap_stream={stream.pk}&cap=3"
    with django_assert_max_num_queries(80) as few:
        assert client.get(url).status_code == 200
    for n in range(20):
        epic = started(stream, f"Epic {n}", 50 + n)
        started(stream, f"Part {n}", 80 + n, parent=epic)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200
