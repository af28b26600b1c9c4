"""Alignment on hand-built cases: each item once, children through parents, removed work
nowhere, orphans by name, unsupported key results, team objectives without a parent."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone
import numpy as np
import pytest

from okrs.alignment import alignment_counts, alignment_report, in_sorted, orphan_work
from okrs.models import Objective
from okrs.selectors import period_from
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from streams.backlog.services import item_change_state, item_create
from streams.flow.engine import Scope
from streams.tests.factories import LeadershipAssignmentFactory, ValueStreamFactory, state
from teams.tests.factories import PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

PERIOD = period_from(None)


def make_item(stream, title, *moves, parent=None, team=None, hours_ago=48):
    start = timezone.now() - dt.timedelta(hours=hours_ago)
    created = item_create(
        stream_id=stream.pk, title=title, flow_type="feature", created_at=start, parent=parent, team=team
    )
    for n, name in enumerate(moves):
        item_change_state(item=created, to_state=state(stream, name), at=start + dt.timedelta(hours=n + 1))
    return created


@pytest.fixture
def world():
    payments, lending = ValueStreamFactory(name="Payments"), ValueStreamFactory(name="Lending")
    checkout = TeamFactory(name="Checkout")
    payments.teams.add(checkout)
    director = PersonFactory(name="Dana Director")
    LeadershipAssignmentFactory(person=director, stream=payments)
    LeadershipAssignmentFactory(person=director, stream=lending)
    company = ObjectiveFactory(title="Grow revenue", period=PERIOD.label)
    revenue = KeyResultFactory(objective=company, title="Revenue up")
    on_stream = ObjectiveFactory(
        title="Faster payments", level=Objective.Level.STREAM, stream=payments, parent=company, period=PERIOD.label
    )
    speed = KeyResultFactory(objective=on_stream, title="Payment time")
    idle = KeyResultFactory(objective=on_stream, title="Nobody works on this", order=1)
    last_year = ObjectiveFactory(title="Old goal", period=str(PERIOD.start.year - 1))
    old = KeyResultFactory(objective=last_year, title="Last year's result")
    lonely = ObjectiveFactory(
        title="Team goal on its own", level=Objective.Level.TEAM, team=checkout, period=PERIOD.label
    )

    epic = make_item(payments, "Checkout revamp", "In progress", team=checkout)
    story = make_item(payments, "Saved cards", "In progress", parent=epic, team=checkout)
    done_child = make_item(payments, "Card vault", "In progress", "Done", parent=story, team=checkout)
    removed_child = make_item(payments, "Dropped idea", "In progress", "Removed", parent=epic)
    both = make_item(payments, "Faster auth", "In progress", team=checkout)
    orphan = make_item(payments, "Refactor logs", "In progress", hours_ago=72)
    orphan_done = make_item(payments, "Fix typo", "In progress", "Done")
    make_item(payments, "Not started, linked")  # backlog items are neither WIP nor finished
    stale_link = make_item(lending, "Loan form", "In progress")

    revenue.items.add(epic, both)
    speed.items.add(both, removed_child)  # `both` serves two key results: it counts once
    old.items.add(stale_link)  # last year's key result does not align this year's work
    return {
        "payments": payments,
        "lending": lending,
        "checkout": checkout,
        "director": director,
        "items": {
            "epic": epic,
            "story": story,
            "done_child": done_child,
            "orphan": orphan,
            "orphan_done": orphan_done,
            "stale_link": stale_link,
        },
        "krs": {"revenue": revenue, "speed": speed, "idle": idle},
        "lonely": lonely,
    }


def test_stream_alignment_counts_each_item_once_children_through_parents_and_no_removed_work(world):
    report = alignment_report(Scope.stream(world["payments"]), PERIOD)
    totals = report.totals
    # WIP: epic, story (through epic), both (two KRs, once) aligned; orphan not. Removed child nowhere.
    assert (totals.wip, totals.wip_aligned) == (4, 3)
    # Finished: the card vault (through story and epic) aligned; the typo fix not.
    assert (totals.finished, totals.finished_aligned) == (2, 1)
    assert totals.wip_share == pytest.approx(0.75) and totals.finished_share == pytest.approx(0.5)
    assert [o.title for o in report.orphans] == ["Refactor logs"]
    assert report.orphans[0].age_days == pytest.approx(71 / 24, abs=0.01)  # started 71 hours ago


def test_unsupported_key_results_and_team_objectives_without_a_parent_are_named(world):
    report = alignment_report(Scope.stream(world["payments"]), PERIOD)
    assert [kr.title for kr in report.unsupported] == ["Nobody works on this"]
    assert [o.title for o in report.unparented] == ["Team goal on its own"]
    portfolio = alignment_report(Scope.portfolio(), PERIOD)
    assert {kr.title for kr in portfolio.unsupported} == {"Nobody works on this"}  # last year's is not in force


def test_a_key_result_of_another_period_does_not_align_work(world):
    report = alignment_report(Scope.stream(world["lending"]), PERIOD)
    assert (report.totals.wip, report.totals.wip_aligned) == (1, 0)
    assert [o.title for o in report.orphans] == ["Loan form"]


def test_director_and_portfolio_sum_their_streams_and_a_team_sees_its_own_items(world):
    director = alignment_report(Scope.director(world["director"]), PERIOD)
    assert (director.totals.wip, director.totals.wip_aligned) == (5, 3)
    assert set(director.by_stream) == {world["payments"].pk, world["lending"].pk}
    portfolio = alignment_report(Scope.portfolio(), PERIOD)
    assert portfolio.totals == director.totals
    team = alignment_report(Scope.team(world["checkout"]), PERIOD)
    # Checkout's items: epic, story, both (WIP, aligned) and the card vault (finished, aligned).
    assert (team.totals.wip, team.totals.wip_aligned, team.totals.finished, team.totals.finished_aligned) == (
        3,
        3,
        1,
        1,
    )
    assert [o.title for o in team.unparented] == ["Team goal on its own"]


def test_unlinking_the_parent_turns_its_children_into_orphans(world):
    world["krs"]["revenue"].items.remove(world["items"]["epic"])
    report = alignment_report(Scope.stream(world["payments"]), PERIOD)
    assert {o.title for o in report.orphans} == {"Checkout revamp", "Saved cards", "Refactor logs"}
    assert report.totals.finished_aligned == 0


def test_the_alignment_page_names_orphans_and_unsupported_key_results(client, world):
    client.force_login(UserFactory(roles=["viewer"]))
    response = client.get(reverse("okrs:alignment"), {"stream": world["payments"].slug, "period": PERIOD.label})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Refactor logs" in html and "Nobody works on this" in html and "Team goal on its own" in html
    assert "75%" in html and "50%" in html
    portfolio = client.get(reverse("okrs:alignment"))
    assert portfolio.status_code == 200 and "Payments" in portfolio.content.decode()


def test_an_unknown_scope_is_a_404(client, world):
    client.force_login(UserFactory(roles=["viewer"]))
    assert client.get(reverse("okrs:alignment"), {"stream": "no-such-stream"}).status_code == 404


def test_the_alignment_page_query_count_does_not_grow_with_streams(client, world, django_assert_max_num_queries):
    client.force_login(UserFactory(roles=["viewer"]))
    url = reverse("okrs:alignment")
    with django_assert_max_num_queries(30) as few:
        client.get(url)
    for n in range(6):
        stream = ValueStreamFactory(name=f"More {n}")
        make_item(stream, f"Work {n}", "In progress")
        make_item(stream, f"Done {n}", "In progress", "Done")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(response.context["rows"]) == 8


def test_only_the_oldest_orphans_are_listed_oldest_first(world):
    payments = ValueStreamFactory(name="Cards")
    for hours in (10, 90, 50, 70):
        make_item(payments, f"Unlinked {hours} hours", "In progress", hours_ago=hours)
    listed = orphan_work(PERIOD, where=f"i.stream_id = {payments.pk}", limit=2)
    assert [o.title for o in listed] == ["Unlinked 90 hours", "Unlinked 70 hours"]


@pytest.mark.parametrize("kind", ["portfolio", "director"])
def test_whole_streams_read_per_stream_give_what_the_filtered_queries_give(world, kind):
    """Portfolio, director and stream scopes read each stream's work in progress as kept per
    stream; any other scope filters items in SQL. Both give the same counts and orphans,
    held-back items (out of every figure) included."""
    held = make_item(world["lending"], "Unmapped in Jira", "In progress", hours_ago=200)
    held.held_back = True
    held.save(update_fields=["held_back"])
    make_item(world["lending"], "Old and alone", "In progress", hours_ago=300)
    scope = Scope.portfolio() if kind == "portfolio" else Scope.director(world["director"])
    report = alignment_report(scope, PERIOD)
    where = scope.item_filter_sql("i")
    assert report.by_stream == alignment_counts(PERIOD, where=where)
    assert [(o.item_id, o.title) for o in report.orphans] == [
        (o.item_id, o.title) for o in orphan_work(PERIOD, where=where)
    ]
    assert report.orphans[0].title == "Old and alone" and "Unmapped in Jira" not in {o.title for o in report.orphans}


@pytest.mark.parametrize("size", [0, 1, 7, 2000])
def test_membership_by_binary_search_is_numpys_isin(size):
    rng = np.random.default_rng(size)
    aligned = np.unique(rng.integers(0, 5000, size))
    wip = rng.integers(-3, 5100, 900)
    assert (in_sorted(wip, aligned) == np.isin(wip, aligned)).all()
    assert in_sorted(np.empty(0, dtype=np.int64), aligned).shape == (0,)


@pytest.mark.django_db(transaction=True)
def test_the_key_results_kept_between_views_follow_objectives_links_and_leadership(world):
    """Outside a test's transaction the alignment report keeps the scope's key results under
    the objectives' generation: a new key result, a link and a director's new stream each show
    at the next view."""
    payments, lending = world["payments"], world["lending"]
    director = Scope.director(world["director"])

    def unsupported(scope) -> set[str]:
        return {kr.title for kr in alignment_report(scope, PERIOD).unsupported}

    assert unsupported(Scope.stream(payments)) == unsupported(director) == {"Nobody works on this"}
    goal = ObjectiveFactory(title="Lending goal", level=Objective.Level.STREAM, stream=lending, period=PERIOD.label)
    fresh = KeyResultFactory(objective=goal, title="Approve loans faster")
    assert unsupported(director) == {"Nobody works on this", "Approve loans faster"}
    fresh.items.add(make_item(lending, "Instant approval", "In progress"))
    assert unsupported(director) == {"Nobody works on this"}
    cards = ValueStreamFactory(name="Cards")
    KeyResultFactory(
        objective=ObjectiveFactory(title="Cards goal", level=Objective.Level.STREAM, stream=cards, period=PERIOD.label),
        title="Fewer declines",
    )
    assert unsupported(director) == {"Nobody works on this"}  # not the director's stream yet
    LeadershipAssignmentFactory(person=world["director"], stream=cards)
    assert unsupported(director) == {"Nobody works on this", "Fewer declines"}
