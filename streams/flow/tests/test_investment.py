"""Investment by effort on a hand-built history whose active times are worked out by hand."""

import datetime as dt

import pytest

from streams.flow.engine import Scope, Window
from streams.flow.investment import investment
from streams.models import BlockedPeriod, TargetMix
from streams.tests.factories import ValueStreamFactory
from streams.tests.flow_history import d, make
from teams.tests.factories import MembershipFactory, TeamFactory

pytestmark = pytest.mark.django_db

WINDOW = Window.build(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 15), as_of=d(14))


@pytest.fixture
def payments():
    """Active time inside [d(0), d(14)), in days:
    A feature 4 (2 active, 1 waiting, 2 active); B defect 2 (started before the window: clipped);
    C feature 4 (in progress to the window's end); D debt 2 (4 active, 2 of them blocked by two
    overlapping blocks, counted once); E removed and F never active: nothing.
    Team T did A and C here (8 days) and 4 days in another stream: 2/3 of its effort is here."""
    team = TeamFactory(name="Checkout")
    MembershipFactory(team=team, allocation_percent=100)
    MembershipFactory(team=team, allocation_percent=50)
    stream, elsewhere = ValueStreamFactory(name="Payments"), ValueStreamFactory(name="Lending")
    make(
        stream,
        "A",
        "feature",
        [("In progress", d(1)), ("Waiting for review", d(3)), ("In progress", d(4)), ("Done", d(6))],
        team=team,
    )
    make(stream, "B", "defect", [("In progress", d(-5)), ("Done", d(2))], created=d(-6))
    make(stream, "C", "feature", [("In progress", d(10))], team=team)
    debt = make(stream, "D", "debt", [("In progress", d(1)), ("Done", d(5))])
    BlockedPeriod.objects.create(item=debt, reason="dependency", started_at=d(2), ended_at=d(3.5))
    BlockedPeriod.objects.create(item=debt, reason="approval", started_at=d(2.5), ended_at=d(4))
    make(stream, "E", "feature", [("In progress", d(1)), ("Removed", d(3))])
    make(stream, "F", "risk", [("Done", d(4))])
    make(elsewhere, "G", "feature", [("In progress", d(6)), ("Done", d(10))], team=team)
    return stream, team


def rows(shares):
    return {
        row.key: (round(row.effort_days, 3), row.items, round(row.effort_share, 4), round(row.item_share, 4))
        for row in shares
    }


def test_effort_is_active_time_inside_the_window_by_flow_type(payments):
    stream, _ = payments
    result = investment(Scope.stream(stream), WINDOW)
    assert result.effort_days == pytest.approx(12) and result.items == 4
    assert rows(result.by_type) == {
        "feature": (8.0, 2, 0.6667, 0.5),
        "defect": (2.0, 1, 0.1667, 0.25),
        "debt": (2.0, 1, 0.1667, 0.25),
    }
    assert sum(row.effort_share for row in result.by_type) == pytest.approx(1)


def test_teams_get_their_full_time_equivalents_here(payments):
    stream, team = payments
    result = investment(Scope.stream(stream), WINDOW)
    checkout = next(row for row in result.by_team if row.key == team.pk)
    no_team = next(row for row in result.by_team if row.key is None)
    assert (checkout.effort_days, no_team.effort_days) == (pytest.approx(8), pytest.approx(4))
    assert checkout.fte == pytest.approx(1.5 * 8 / 12)  # 1.5 FTE, two thirds of its effort here
    assert no_team.fte is None


def test_the_target_mix_is_set_beside_the_effort_and_the_gaps_named(payments):
    stream, _ = payments
    for flow_type, percent in (("feature", 50), ("defect", 20), ("debt", 20), ("risk", 10)):
        TargetMix.objects.create(stream=stream, period="2026-Q1", flow_type=flow_type, percent=percent)
    result = investment(Scope.stream(stream), WINDOW)
    targets = {row.key: (row.target, None if row.gap is None else round(row.gap, 1)) for row in result.by_type}
    assert targets == {"feature": (0.5, 16.7), "defect": (0.2, -3.3), "debt": (0.2, -3.3), "risk": (0.1, -10.0)}
    assert result.gaps == [
        "Feature: 67% of the effort against a 50% target, 17 points over",
        "Risk: 0% of the effort against a 10% target, 10 points under",
    ]
