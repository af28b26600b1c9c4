"""An item's stream, state, teams and parent must exist, and a row items name cannot go while
they name it: whichever door writes (the ORM, raw SQL, the imports' COPY). On PostgreSQL the
writing side is checked once per statement by triggers (migration 0033), the deleting side row
by row at the COMMIT, as the foreign keys did; `checked_now` runs what waits for the COMMIT,
which a test never reaches. SQLite keeps its foreign keys, checked at that COMMIT: there only
the ORM's own rules (cascade, set null, restrict) are tested."""

from django.db import IntegrityError, connection, transaction
from django.db.models import RestrictedError
from django.utils import timezone
import pytest

from core.bulk import RowWriter
from streams.models import BacklogItem, WorkflowState
from streams.tests.factories import BacklogItemFactory, ValueStreamFactory
from teams.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite checks its foreign keys at the COMMIT"
)

MISSING = 987_654_321
REFERENCES = ["stream_id", "state_id", "team_id", "proposed_by_id", "parent_id"]


@pytest.fixture
def item():
    stream = ValueStreamFactory(workflow=False)
    doing = WorkflowState.objects.create(stream=stream, name="Doing", category="active", order=1)
    team = TeamFactory()
    epic = BacklogItemFactory(stream=stream, state=doing, title="Epic")
    return BacklogItemFactory(stream=stream, state=doing, team=team, proposed_by=team, parent=epic)


def checked_now(cursor) -> None:
    """Run the checks deferred to the COMMIT."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def row(item, **changes) -> dict:
    """A new item's columns, like `item`'s."""
    return {
        "stream_id": item.stream_id,
        "state_id": item.state_id,
        "team_id": item.team_id,
        "proposed_by_id": item.proposed_by_id,
        "parent_id": item.parent_id,
        "title": "Copied",
        "description": "",
        "flow_type": "feature",
        "rank": 5.0,
        "created_at": timezone.now(),
        "updated_at": timezone.now(),
        "source": "",
        "external_key": "",
        "customer_facing": False,
        "history_cut_short": False,
        "held_back": False,
        **changes,
    }


@on_postgresql
@pytest.mark.parametrize("column", REFERENCES)
def test_an_item_naming_a_missing_row_is_refused(item, column):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        BacklogItem.objects.create(**row(item, **{column: MISSING}))
        checked_now(cursor)
    assert BacklogItem.objects.count() == 2


@on_postgresql
@pytest.mark.parametrize("column", REFERENCES)
def test_a_copied_item_naming_a_missing_row_is_refused(item, column):
    bad = row(item, **{column: MISSING})
    rows = [tuple(row(item).values()), tuple(bad.values())]  # one good row does not hide the bad one
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        RowWriter().write(BacklogItem, list(bad), rows)
        checked_now(cursor)
    assert BacklogItem.objects.count() == 2


@on_postgresql
@pytest.mark.parametrize("column", REFERENCES)
def test_an_item_changed_to_name_a_missing_row_is_refused(item, column):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        BacklogItem.objects.filter(pk=item.pk).update(**{column: MISSING})
        checked_now(cursor)
    assert getattr(BacklogItem.objects.get(pk=item.pk), column) == getattr(item, column)


def test_items_naming_existing_rows_and_each_other_are_written_in_one_copy(item):
    writer = RowWriter()
    parent_id, child_id = writer.reserve_ids(BacklogItem, 2)
    columns = ["id", *row(item)]
    child = (child_id, *row(item, parent_id=parent_id, title="Child").values())
    parent = (parent_id, *row(item, parent_id=None, title="Parent").values())
    writer.write(BacklogItem, columns, [child, parent])  # the child first: its parent comes later in the COPY
    with connection.cursor() as cursor:
        checked_now(cursor)
    assert BacklogItem.objects.get(pk=child_id).parent_id == parent_id


def test_an_item_edited_in_other_columns_is_written(item):
    BacklogItem.objects.filter(pk=item.pk).update(title="Renamed")
    assert BacklogItem.objects.get(pk=item.pk).title == "Renamed"


def named_row(item, column: str) -> tuple[str, int]:
    """The table and id of the row `item` names in `column`."""
    tables = {
        "stream_id": "streams_valuestream",
        "state_id": "streams_workflowstate",
        "team_id": "teams_team",
        "proposed_by_id": "teams_team",
        "parent_id": "streams_backlogitem",
    }
    return tables[column], getattr(item, column)


@on_postgresql
@pytest.mark.parametrize("column", REFERENCES)
def test_deleting_a_row_an_item_names_in_sql_is_refused(item, column):
    if column == "team_id":  # the team is also the proposer: free it there, so only `column` holds it
        BacklogItem.objects.filter(pk=item.pk).update(proposed_by=None)
    elif column == "proposed_by_id":
        BacklogItem.objects.filter(pk=item.pk).update(team=None)
    table, pk = named_row(item, column)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])
        checked_now(cursor)
    assert BacklogItem.objects.filter(pk=item.pk).exists()


@on_postgresql
@pytest.mark.parametrize("column", REFERENCES)
def test_changing_the_id_of_a_row_an_item_names_is_refused(item, column):
    table, pk = named_row(item, column)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET id = %s WHERE id = %s", [MISSING, pk])
        checked_now(cursor)


@on_postgresql
def test_a_named_row_may_go_before_the_items_naming_it_in_one_transaction(item):
    """As with the foreign keys, the deleting side is checked at the COMMIT."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM streams_valuestream WHERE id = %s", [item.stream_id])
        cursor.execute("DELETE FROM streams_workflowstate WHERE stream_id = %s", [item.stream_id])
        cursor.execute("DELETE FROM streams_backlogitem WHERE stream_id = %s", [item.stream_id])
        checked_now(cursor)
    assert not BacklogItem.objects.exists()


def test_deleting_a_stream_deletes_its_items(item):
    item.stream.delete()
    assert not BacklogItem.objects.exists()


def test_deleting_a_team_leaves_its_items_without_a_team_or_proposer(item):
    item.team.delete()
    item.refresh_from_db()
    assert (item.team_id, item.proposed_by_id) == (None, None)


def test_deleting_a_parent_leaves_its_children_without_one(item):
    item.parent.delete()
    item.refresh_from_db()
    assert item.parent_id is None


def test_deleting_a_state_items_are_in_is_refused(item):
    with pytest.raises(RestrictedError):
        item.state.delete()
    assert WorkflowState.objects.filter(pk=item.state_id).exists()
