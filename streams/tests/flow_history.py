"""A small, deliberately awkward history whose flow metrics are worked out by hand.

See streams/flow/tests/test_flow.py for the expected numbers; the command, page and API tests
reuse the same history so that every door is checked against the same figures.
"""

import datetime as dt
import itertools

from streams.backlog.services import item_change_state, item_create
from streams.flow.engine import Window
from streams.models import BlockedPeriod
from streams.tests.factories import ValueStreamFactory, state
from teams.tests.factories import TeamFactory

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
WINDOW = Window.build(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 15), as_of=T0 + dt.timedelta(days=14))


def d(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def make(stream, title, flow_type, moves, created=None, team=None):
    item = item_create(
        stream_id=stream.pk,
        title=title,
        flow_type=flow_type,
        created_at=created or d(0),
        team=team,
        external_key=title,
        source="test",
        via="seed",  # test histories stand for a tool's, keyed like an import
    )
    for name, at in moves:
        item_change_state(item=item, to_state=state(stream, name), at=at)
    return item


def build_history():
    team = TeamFactory(wip_limit=5)
    stream = ValueStreamFactory(name="Payments")
    stream.teams.add(team)
    make(
        stream,
        "A",
        "feature",
        [("In progress", d(1)), ("Waiting for review", d(3)), ("In progress", d(4)), ("Review", d(6)), ("Done", d(8))],
        team=team,
    )
    make(stream, "B", "defect", [("In progress", d(1)), ("Done", d(3)), ("In progress", d(5)), ("Done", d(7))])
    make(stream, "C", "feature", [("In progress", d(1)), ("Removed", d(4))])
    make(stream, "D", "risk", [("Review", d(2)), ("Done", d(5))])
    make(stream, "E", "debt", [("Done", d(4))])
    make(stream, "F", "feature", [])
    g = make(stream, "G", "feature", [("In progress", d(1)), ("Done", d(6))])
    BlockedPeriod.objects.create(item=g, reason="dependency", started_at=d(2), ended_at=d(4))
    BlockedPeriod.objects.create(item=g, reason="approval", started_at=d(3), ended_at=d(5))
    make(
        stream,
        "H",
        "defect",
        [("In progress", d(3) + dt.timedelta(hours=10)), ("Done", d(3) + dt.timedelta(hours=16))],
        created=d(0) + dt.timedelta(hours=9),
    )
    plus2, minus5 = dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5))
    make(
        stream,
        "I",
        "feature",
        [("In progress", dt.datetime(2026, 3, 4, 23, 0, tzinfo=minus5))],
        created=dt.datetime(2026, 3, 2, 9, 0, tzinfo=plus2),
    )
    make(stream, "J", "debt", [("In progress", d(10)), ("Waiting for review", d(12))])
    return stream


_keys = itertools.count(1)


def bulk_items(stream, specs, *, flow_type="feature"):
    """Items with a given history, written in bulk (fast enough for samples of hundreds).

    `specs` is a list of (created, [(state name, at), ...]); each item ends in its last state,
    and started/finished are derived from the history as the state service would."""
    from streams.backlog.services import items_refresh_flow_dates
    from streams.models import BacklogItem, StateTransition

    states = {s.name: s for s in stream.states.all()}
    first = next(iter(stream.states.order_by("order")))
    items = BacklogItem.objects.bulk_create(
        [
            BacklogItem(
                stream=stream,
                title=f"{flow_type} created {created:%Y-%m-%d %H:%M}",
                flow_type=flow_type,
                created_at=created,
                state=states[moves[-1][0]] if moves else first,
                source="test",
                external_key=f"T-{next(_keys)}",
            )
            for created, moves in specs
        ]
    )
    transitions = []
    for item, (_, moves) in zip(items, specs, strict=True):
        previous = None
        for name, at in moves:
            transitions.append(
                StateTransition(item=item, from_state=previous, to_state=states[name], at=at, source="seed")
            )
            previous = states[name]
    StateTransition.objects.bulk_create(transitions)
    items_refresh_flow_dates(BacklogItem.objects.filter(pk__in=[i.pk for i in items]))
    return items
