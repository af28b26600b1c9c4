"""New items are written whole (ids drawn first, parents, state and flow dates in the one COPY):
the same rows as when the dates were set afterwards by the state service's rule. Stored rows are
read with psycopg's C time loader: the same rows written as with the ORM's reader."""

import datetime as dt
import io
import random
import sys
import threading

from django.db import connection, transaction
import pytest

from core import parallel
from core.bulk import values_rows
from core.errors import ImportRefused
from streams.backlog.services import items_refresh_flow_dates
from streams.integrations import writer
from streams.integrations.writer import PART, ItemRow, Parsed, flow_csv_import, history_flow_dates, write_parsed
from streams.models import BacklogItem, StateTransition, ValueStream

pytestmark = pytest.mark.django_db

STATES = [
    ("Backlog", "backlog"),
    ("Ready", "backlog"),
    ("Doing", "active"),
    ("Waiting", "waiting"),
    ("Review", "active"),
    ("Done", "done"),
    ("Shipped", "done"),
    ("Dropped", "removed"),
]
START = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)


def board(items: int = 120, seed: int = 5) -> dict[str, io.StringIO]:
    """A small board of every kind of history: never started, sent back, reopened, finished
    without a start, removed, finished twice over two done states, nested parents listed
    after their children."""
    rng = random.Random(seed)
    names = [name for name, _ in STATES]
    states = "name,category,order\n" + "".join(f"{n},{c},{i}\n" for i, (n, c) in enumerate(STATES))
    item_lines, move_lines = ["key,title,type,created_at,parent_key"], ["key,to_state,at"]
    for n in range(items):
        created = START + dt.timedelta(hours=rng.randrange(24 * 200))
        parent = f"K-{rng.randrange(n + 1, items)}" if n < items - 1 and rng.random() < 0.4 else ""
        item_lines.append(
            f"K-{n},Item {n},{rng.choice(['feature', 'defect', 'debt', 'risk'])},{created.isoformat()},{parent}"
        )
        at = created
        for _ in range(rng.randrange(0, 9)):  # no move at all: the item enters the first backlog state
            move_lines.append(f"K-{n},{rng.choice(names)},{at.isoformat()}")
            at += dt.timedelta(hours=rng.choice([0, 1, 30]))
    return {
        "states_file": io.StringIO(states),
        "items_file": io.StringIO("\n".join(item_lines) + "\n"),
        "transitions_file": io.StringIO("\n".join(move_lines) + "\n"),
    }


def stored(stream) -> dict[int, tuple]:
    return {
        row[0]: row[1:]
        for row in BacklogItem.objects.filter(stream=stream).values_list(
            "pk", "started_at", "finished_at", "state_id", "parent_id", "history_cut_short"
        )
    }


def test_new_items_get_the_dates_the_state_service_derives_from_their_history():
    result = flow_csv_import(stream_slug="fast", **board())
    written = stored(result.stream)
    assert result.items_created == 120 and any(dates[1] for dates in written.values())

    items_refresh_flow_dates(BacklogItem.objects.filter(stream=result.stream))

    assert stored(result.stream) == written


def test_new_items_point_at_their_parents_and_the_state_of_their_last_move():
    result = flow_csv_import(stream_slug="fast", **board())
    items = {item.external_key: item for item in BacklogItem.objects.filter(stream=result.stream)}
    lines = board()["items_file"].getvalue().splitlines()[1:]
    for line in lines:
        key, *_rest, parent = line.split(",")
        assert items[key].parent_id == (items[parent].pk if parent else None)
    for key, item in items.items():
        last = StateTransition.objects.filter(item=item).order_by("at", "pk").last()
        assert item.state_id == last.to_state_id, key
    assert result.parents_set == 0  # written with the items, not set afterwards


def test_a_second_import_of_the_same_board_changes_nothing():
    first = flow_csv_import(stream_slug="fast", **board())
    before = stored(first.stream)
    again = flow_csv_import(stream_slug="fast", **board())
    assert (again.items_created, again.items_unchanged, again.transitions_written) == (0, 120, 0)
    assert stored(first.stream) == before


def test_a_history_cut_short_is_flagged_and_finished_without_a_start():
    parsed = Parsed(source="jira", sets_team=False, sets_order=False)
    parsed.states = {"To Do": ("backlog", 0), "In Progress": ("active", 1), "Done": ("done", 3)}
    at = START
    for key, moves in (("J-1", ["To Do", "In Progress", "Done"]), ("J-2", ["In Progress"]), ("J-3", ["Done"])):
        parsed.items[key] = ItemRow(1, key, key, "feature", at, "", None)
        parsed.histories[key] = [(name, at + dt.timedelta(days=i)) for i, name in enumerate(moves)]
    parsed.cut_short = {"J-1", "J-2"}
    result = write_parsed(None, "jira-fast", "", parsed)
    written = stored(result.stream)
    by_key = dict(BacklogItem.objects.filter(stream=result.stream).values_list("external_key", "pk"))
    assert written[by_key["J-1"]][:2] == (None, START + dt.timedelta(days=2))  # no known start
    assert written[by_key["J-2"]][0] == START  # unfinished: its first known progress stands in
    assert [written[by_key[key]][4] for key in ("J-1", "J-2", "J-3")] == [True, True, False]

    items_refresh_flow_dates(BacklogItem.objects.filter(stream=result.stream))

    assert stored(result.stream) == written


def test_history_flow_dates_follow_the_state_services_rule():
    categories = dict(STATES)
    t = [START + dt.timedelta(days=i) for i in range(5)]
    assert history_flow_dates([("Backlog", t[0])], categories) == (None, None)
    assert history_flow_dates([("Backlog", t[0]), ("Done", t[1])], categories) == (t[1], t[1])
    assert history_flow_dates([("Doing", t[0]), ("Done", t[1]), ("Doing", t[2])], categories) == (t[0], None)
    assert history_flow_dates([("Waiting", t[0]), ("Done", t[1]), ("Shipped", t[3])], categories) == (t[0], t[3])
    assert history_flow_dates([("Doing", t[0]), ("Dropped", t[1])], categories) == (t[0], None)
    assert history_flow_dates([("Doing", t[0]), ("Done", t[1])], categories, cut_short=True) == (None, t[1])


def test_ids_drawn_for_new_items_are_not_drawn_again():
    result = flow_csv_import(stream_slug="fast", **board(items=5))
    later = BacklogItem.objects.create(
        stream=result.stream, title="After", state=result.stream.states.first(), created_at=START
    )
    drawn = BacklogItem.objects.filter(stream=result.stream).exclude(pk=later.pk).values_list("pk", flat=True)
    assert later.pk > max(drawn)


def snapshot(stream) -> tuple[list, list]:
    """Every stored row of the stream that an import writes, by key and state name (not by id)."""
    items = sorted(
        BacklogItem.objects.filter(stream=stream).values_list(
            "external_key",
            "title",
            "flow_type",
            "created_at",
            "state__name",
            "started_at",
            "finished_at",
            "parent__external_key",
            "history_cut_short",
        ),
        key=repr,  # None among the values
    )
    moves = sorted(
        StateTransition.objects.filter(item__stream=stream).values_list(
            "item__external_key", "from_state__name", "to_state__name", "at", "source"
        ),
        key=repr,
    )
    return items, moves


def orm_values_rows(queryset, *fields, chunk_size=20000):
    """The reader `values_rows` replaced: the ORM's, with Django's timestamptz loader."""
    return queryset.values_list(*fields).iterator(chunk_size=chunk_size)


@pytest.mark.parametrize("items", [120, PART + 30])  # a sync's batch, and a whole stream read in one pass
def test_a_changed_board_is_written_the_same_whichever_reader_compares_the_stored_rows(monkeypatch, items):
    """The stored items and moves are read through psycopg's own time loader (`values_rows`)
    to be compared with the file: the rows written are those the ORM's reader led to."""
    first = flow_csv_import(stream_slug="fast", **board(items=items))
    outcomes = []
    for reader in (values_rows, orm_values_rows):
        monkeypatch.setattr(writer, "values_rows", reader)
        with transaction.atomic():
            result = flow_csv_import(stream_slug="fast", **board(items=items, seed=6))  # other types and moves
            outcomes.append((snapshot(first.stream), result.as_dict() | {"seconds": 0}))
            transaction.set_rollback(True)
    assert outcomes[0][1]["histories_written"] > 0 and outcomes[0][1]["items_updated"] > 0
    assert outcomes[0] == outcomes[1]


def in_time_order(files: dict[str, io.StringIO]) -> dict[str, io.StringIO]:
    """The same board with its moves listed in time order (a log of moves): an item's moves apart,
    between other items' moves. A stable sort: moves at the same time keep the file's order."""
    header, *lines = files["transitions_file"].getvalue().splitlines()
    lines.sort(key=lambda line: line.split(",")[2])  # one spelling of UTC times: text order is time order
    return files | {"transitions_file": io.StringIO("\n".join([header, *lines]) + "\n")}


@pytest.mark.parametrize("items", [120, 3000])
def test_moves_listed_in_time_order_are_written_as_when_listed_by_item(items):
    """The new items are written while transitions.csv is still read, each once the moves of
    another item follow its own; a file that comes back to an item writes them again."""
    outcomes = []
    for files in (board(items=items), in_time_order(board(items=items))):
        with transaction.atomic():
            result = flow_csv_import(stream_slug="fast", **files)
            outcomes.append((snapshot(result.stream), result.as_dict() | {"seconds": 0}))
            transaction.set_rollback(True)
    assert outcomes[0][1]["items_created"] == items and outcomes[0][1]["transitions_written"] > items
    assert outcomes[1] == outcomes[0]


@pytest.mark.parametrize(("keys", "again"), [("K-0 K-0 K-1", False), ("K-0 K-1 K-0", True)])
def test_the_writer_learns_that_the_file_came_back_to_an_item(keys, again):
    states = io.StringIO("name,category,order\nBacklog,backlog,0\nDoing,active,1\n")
    items = io.StringIO(
        f"key,title,type,created_at\nK-0,A,feature,{START.isoformat()}\nK-1,B,feature,{START.isoformat()}\n"
    )
    moves = "".join(
        f"{key},{'Backlog' if n == 0 else 'Doing'},{(START + dt.timedelta(hours=n)).isoformat()}\n"
        for n, key in enumerate(keys.split())
    )
    parsed, errors, known = writer._parse_head(None, states, items)
    reading = writer.HistoriesReading(parsed, known, io.StringIO("key,to_state,at\n" + moves), errors)

    assert reading.finish() is again
    assert [len(parsed.histories[key]) for key in ("K-0", "K-1")] == [2, 1]
    if again:
        with pytest.raises(writer.ReadAgain):
            reading.wait("K-1")
    else:
        reading.wait("K-0")
        reading.wait("K-1")  # the last item's moves end with the file


def test_a_bad_move_refuses_the_import_begun_while_the_moves_were_read():
    files = board()
    later = (START + dt.timedelta(days=300)).isoformat()  # after every move of the board
    bad = files["transitions_file"].getvalue() + f"K-3,Nowhere,{later}\nK-999,Done,{later}\n"
    with pytest.raises(ImportRefused) as refused:
        flow_csv_import(stream_slug="fast", **files | {"transitions_file": io.StringIO(bad)})
    lines = len(bad.splitlines())
    assert [(error.file, error.line, error.field) for error in refused.value.errors] == [
        ("transitions.csv", lines - 1, "to_state"),
        ("transitions.csv", lines, "key"),
    ]
    assert not ValueStream.objects.exists() and not BacklogItem.objects.exists()
    assert "transitions.csv" not in [thread.name for thread in threading.enumerate()]


def test_the_moves_are_read_beside_the_writes_with_quick_switches_then_the_interval_comes_back():
    """The writer's small queries get the GIL back within `QUICK_SWITCH` of their answer while
    the reading thread parses, not 5 ms later (see `core.parallel.quick_switches`)."""
    before, during = sys.getswitchinterval(), []
    flow_csv_import(stream_slug="fast", **board(), on_commit_of=lambda result: during.append(sys.getswitchinterval()))
    assert during == [parallel.QUICK_SWITCH]
    assert sys.getswitchinterval() == before
    files = board()
    bad = files["transitions_file"].getvalue() + f"K-1,Nowhere,{START.isoformat()}\n"
    with pytest.raises(ImportRefused):
        flow_csv_import(stream_slug="other", **files | {"transitions_file": io.StringIO(bad)})
    assert sys.getswitchinterval() == before


def _pending_pages(cursor) -> int:
    """Pages of the title trigram index's pending list, moved into the index by this call."""
    cursor.execute("SELECT gin_clean_pending_list('item_title_upper_trgm'::regclass)")
    return cursor.fetchone()[0]


def test_a_large_import_leaves_its_title_trigrams_in_the_index_not_in_its_pending_list(monkeypatch):
    """From GIN_BESIDE_ITEMS new items, another connection moves the trigrams of their titles
    into the index while the import writes on: none is left in the pending list (the search
    reads that list whole), and the items are found by their titles."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's GIN index")
    with connection.cursor() as cursor:
        _pending_pages(cursor)
        monkeypatch.setattr(writer, "GIN_BESIDE_ITEMS", 100)
        result = flow_csv_import(stream_slug="fast", **board(items=400))
        assert result.items_created == 400
        assert _pending_pages(cursor) == 0
        cursor.execute("SHOW gin_pending_list_limit")  # the limit raised for the items' COPY only
        assert cursor.fetchone()[0] == "4MB"
    found = BacklogItem.objects.filter(stream=result.stream, title__icontains="item 39")
    assert sorted(found.values_list("title", flat=True)) == ["Item 39", *(f"Item {n}" for n in range(390, 400))]


def test_a_small_import_leaves_the_pending_list_to_the_server():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's GIN index")
    with connection.cursor() as cursor:
        _pending_pages(cursor)
        flow_csv_import(stream_slug="fast", **board(items=400))
        assert _pending_pages(cursor) > 0
