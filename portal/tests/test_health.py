"""The nine-way flow health scorecard on hand-built streams: each check passes, fails, or says
it cannot be measured, by its stated rule."""

import datetime as dt

from django.utils import timezone
import pytest

from okrs.alignment import Alignment
from portal.health import health_scorecards
from streams.backlog.services import item_change_state, item_create
from streams.flow.portfolio import PortfolioWindow, stream_flows
from streams.models import Dependency, ValueStreamMap, WorkflowState
from streams.tests.factories import ValueStreamFactory, state
from teams.tests.factories import DisciplineFactory, MembershipFactory, PersonFactory, TeamFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def make_item(stream, title, flow_type="feature", moves=(), parent=None, team=None, customer_facing=False, age=60):
    item = item_create(
        stream_id=stream.pk,
        title=title,
        flow_type=flow_type,
        created_at=NOW - dt.timedelta(days=age),
        parent=parent,
        team=team,
        customer_facing=customer_facing,
    )
    for name, days_ago in moves:
        item_change_state(item=item, to_state=state(stream, name), at=NOW - dt.timedelta(days=days_ago))
    return item


def scorecard(stream, aligned=None):
    window = PortfolioWindow.ending_before()
    flows = stream_flows([stream.pk], window)
    cards = health_scorecards([stream.pk], alignment={stream.pk: aligned or Alignment()}, flows=flows, window=window)
    return {check.key: check for check in cards[stream.pk].checks}, cards[stream.pk]


def test_a_healthy_stream_meets_every_check():
    stream = ValueStreamFactory(name="Healthy")
    WorkflowState.objects.filter(stream=stream, name="In progress").update(wip_limit=5)
    design, engineering = DisciplineFactory(name="Design"), DisciplineFactory(name="Engineering")
    stream.required_disciplines.add(design, engineering)
    team = TeamFactory()
    stream.teams.add(team)
    for discipline in (design, engineering):
        person = PersonFactory()
        person.disciplines.add(discipline)
        MembershipFactory(person=person, team=team)
    ValueStreamMap.objects.create(stream=stream, name="Now", kind="current", as_of=NOW.date() - dt.timedelta(days=30))
    epic = make_item(stream, "Epic", moves=[("In progress", 40)], team=team, customer_facing=True)
    for n, kind in enumerate(["feature", "debt", "feature"]):
        make_item(
            stream, f"Story {n}", kind, [("In progress", 10), ("Done", 5)], parent=epic, team=team, customer_facing=True
        )
    make_item(stream, "Old defect", "defect", age=60)
    make_item(stream, "Older defect", "defect", age=70)
    make_item(stream, "New defect", "defect", age=3)
    checks, card = scorecard(stream, Alignment(wip=1, wip_aligned=1))
    assert {key: check.passed for key, check in checks.items()} == dict.fromkeys(checks, True)
    assert card.passed == card.measured == 9 and card.score == 1
    assert checks["small_batches"].value == "5.0 d" and checks["unbundled"].value == "100%"
    assert checks["pull_system"].value == "1 / 5"


def test_a_struggling_stream_fails_with_the_reason_and_unmeasurable_checks_say_so():
    stream = ValueStreamFactory(name="Struggling")
    ValueStreamMap.objects.create(stream=stream, name="Old", kind="current", as_of=NOW.date() - dt.timedelta(days=400))
    stream.required_disciplines.add(DisciplineFactory(name="Security"))
    mine, theirs = TeamFactory(), TeamFactory()
    blocked = make_item(stream, "Blocked", moves=[("In progress", 10)], team=mine)
    other = make_item(stream, "Their part", team=theirs)
    Dependency.objects.create(item=blocked, blocked_by=other, created_at=NOW)
    make_item(stream, "Done feature", moves=[("In progress", 30), ("Done", 2)])
    make_item(stream, "New defect", "defect", age=2)
    checks, card = scorecard(stream, Alignment(wip=1, wip_aligned=0))
    assert checks["right_things"].passed is False and checks["right_things"].value == "0%"
    assert checks["pull_system"].passed is False and checks["pull_system"].value == "no limit"
    assert checks["vsm"].passed is False
    assert checks["tech_debt"].passed is False  # no debt finished, and defects rising 0 → 1
    assert checks["cross_functional"].passed is False and checks["cross_functional"].value == "0 of 1"
    assert checks["autonomous"].passed is False and checks["autonomous"].value == "1.00"
    assert checks["customer_contact"].passed is False
    # No finished child items: unbundling and story size cannot be measured, and say so.
    assert checks["unbundled"].passed is None and checks["small_batches"].passed is None
    assert card.measured == 7 and card.passed == 0
