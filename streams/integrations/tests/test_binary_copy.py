"""The imports' rows copied in PostgreSQL's binary format (`core.bulk.RowWriter`) are stored
exactly as the same rows copied as text: every kind of column an import writes, NULLs, an item
naming its parent, times in another zone, text with tabs, backslashes and non-ASCII."""

import datetime as dt

from django.db import connection
import pytest

from core.bulk import RowWriter
from streams.integrations.writer import MOVE_COLUMNS, NEW_ITEM_COLUMNS
from streams.models import BacklogItem, StateTransition, WorkflowState
from streams.tests.factories import ValueStreamFactory
from teams.tests.factories import TeamFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's"),
]
TITLE = "Item «ünïcode» \\ tab\there"


def written(writer: RowWriter, stream, states, team) -> tuple[list[tuple], list[tuple]]:
    """Write four items and a move each with `writer`; read them back as stored, each id given
    relative to the first (the two writes draw different ids)."""
    ids = writer.reserve_ids(BacklogItem, 4)
    first = ids[0]
    start = dt.datetime(2016, 2, 29, 23, 59, 59, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    items = [
        (
            pk,
            stream.pk,
            f"{TITLE} {n}",
            "",
            "feature" if n % 2 else "defect",
            float(n) + 0.5,
            states[n % 2].pk,
            start + dt.timedelta(days=n),
            None if n == 0 else start + dt.timedelta(days=n, microseconds=n),
            start + dt.timedelta(days=9) if n == 3 else None,
            "csv",
            f"{writer.binary}-{n}",
            n == 1,
            start,
            team.pk if n % 2 else None,
            first if n else None,
            n == 2,
        )
        for n, pk in enumerate(ids)
    ]
    assert writer.write(BacklogItem, NEW_ITEM_COLUMNS, items) == 4
    moves = [
        (pk, None if n % 2 else states[0].pk, states[1].pk, start + dt.timedelta(hours=n), "import")
        for n, pk in enumerate(ids)
    ]
    assert writer.write(StateTransition, MOVE_COLUMNS, moves) == 4
    stored_items = BacklogItem.objects.filter(pk__in=ids).order_by("pk").values_list(*NEW_ITEM_COLUMNS)
    stored_moves = StateTransition.objects.filter(item_id__in=ids).order_by("item_id").values_list(*MOVE_COLUMNS)
    relative = {pk: pk - first for pk in ids}
    return (
        [(relative[row[0]], *row[1:11], *row[12:15], relative.get(row[15]), row[16]) for row in stored_items],
        [(relative[row[0]], *row[1:]) for row in stored_moves],
    )


def test_a_binary_copy_stores_what_a_text_copy_stores():
    stream = ValueStreamFactory(workflow=False)
    states = [
        WorkflowState.objects.create(stream=stream, name=name, category=category, order=n)
        for n, (name, category) in enumerate([("Backlog", "backlog"), ("Doing", "active")])
    ]
    team = TeamFactory()
    as_text = written(RowWriter(binary=False), stream, states, team)
    as_binary = written(RowWriter(), stream, states, team)
    assert as_binary == as_text
    items, moves = as_text
    assert items[1][2] == f"{TITLE} 1" and items[3][9] is not None and items[1][-2] == 0 and len(moves) == 4
