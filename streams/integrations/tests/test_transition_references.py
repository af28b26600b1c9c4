"""A move's item, states and actor are checked by triggers (migrations 0032 and 0038), once per
statement on PostgreSQL, instead of per-row foreign keys: the same rows are refused, whichever door writes
them (the ORM, raw SQL, the imports' COPY). SQLite keeps its deferred foreign keys, checked at
the COMMIT a test never reaches: there only the ORM's own rules are tested."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import RestrictedError
from django.utils import timezone
import pytest

from core.bulk import RowWriter
from streams.models import BacklogItem, StateTransition, WorkflowState
from streams.tests.factories import BacklogItemFactory, ValueStreamFactory

pytestmark = pytest.mark.django_db
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite checks its foreign keys at the COMMIT"
)

MISSING = 987_654_321


@pytest.fixture
def item():
    stream = ValueStreamFactory(workflow=False)
    doing = WorkflowState.objects.create(stream=stream, name="Doing", category="active", order=1)
    item = BacklogItemFactory(stream=stream, state=doing)
    StateTransition.objects.create(item=item, to_state=doing, at=timezone.now(), source="page")
    return item


def move(item, **changes) -> dict:
    return {
        "item_id": item.pk,
        "from_state_id": None,
        "to_state_id": item.state_id,
        "at": timezone.now(),
        "source": "import",
        **changes,
    }


@on_postgresql
@pytest.mark.parametrize("column", ["item_id", "to_state_id", "from_state_id", "actor_id"])
def test_a_move_naming_a_missing_row_is_refused(item, column):
    with pytest.raises(IntegrityError), transaction.atomic():
        StateTransition.objects.create(**move(item, **{column: MISSING}))
    assert StateTransition.objects.count() == 1


@on_postgresql
@pytest.mark.parametrize("column", ["item_id", "to_state_id", "from_state_id", "actor_id"])
def test_a_copied_move_naming_a_missing_row_is_refused(item, column):
    row, good = move(item, **{column: MISSING}), move(item, **{column: move(item).get(column)})
    rows = [tuple(good.values()), tuple(row.values())]  # one good row does not hide the bad one
    with pytest.raises(IntegrityError), transaction.atomic():
        RowWriter().write(StateTransition, list(row), rows)
    assert StateTransition.objects.count() == 1


@on_postgresql
@pytest.mark.parametrize("column", ["item_id", "to_state_id", "from_state_id", "actor_id"])
def test_a_move_changed_to_name_a_missing_row_is_refused(item, column):
    with pytest.raises(IntegrityError), transaction.atomic():
        StateTransition.objects.filter(item=item).update(**{column: MISSING})
    assert StateTransition.objects.get().to_state_id == item.state_id


def test_a_move_naming_existing_rows_is_written(item):
    other = WorkflowState.objects.create(stream=item.stream, name="Done", category="done", order=2)
    actor = get_user_model().objects.create_user("mover")
    StateTransition.objects.create(**move(item, from_state_id=item.state_id, to_state_id=other.pk, actor_id=actor.pk))
    RowWriter().write(StateTransition, ["item_id", "from_state_id", "to_state_id", "at", "source"], [])
    assert StateTransition.objects.filter(item=item, actor=actor).count() == 1


@on_postgresql
def test_moves_have_no_foreign_key_checked_row_by_row():
    """Django's keys are deferred and fire once per row at the COMMIT, even for a NULL actor: a
    board's 630,000 imported moves spent 0.22-0.24 s of their COMMIT on the actor's key alone."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = 'streams_statetransition'::regclass"
        )
        assert cursor.fetchall() == []


def checked_now(cursor) -> None:
    """Run the checks deferred to the COMMIT, which a test never reaches."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@on_postgresql
def test_deleting_an_item_with_moves_in_sql_is_refused(item):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM streams_backlogitem WHERE id = %s", [item.pk])
        checked_now(cursor)
    assert BacklogItem.objects.filter(pk=item.pk).exists()


@on_postgresql
def test_changing_the_id_of_an_item_with_moves_is_refused(item):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE streams_backlogitem SET id = %s WHERE id = %s", [MISSING, item.pk])
        checked_now(cursor)


@on_postgresql
def test_a_state_and_an_item_may_go_before_their_moves_in_one_transaction(item):
    """As with the foreign keys, the deleting side is checked at the COMMIT (seed_scale's reset
    deletes a stream's states before its items' moves)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM streams_workflowstate WHERE id = %s", [item.state_id])
        cursor.execute("DELETE FROM streams_backlogitem WHERE id = %s", [item.pk])
        cursor.execute("DELETE FROM streams_statetransition WHERE item_id = %s", [item.pk])
        checked_now(cursor)
    assert not StateTransition.objects.exists()


@on_postgresql
def test_deleting_a_user_moves_name_in_sql_is_refused(item):
    actor = get_user_model().objects.create_user("mover")
    StateTransition.objects.filter(item=item).update(actor=actor)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {get_user_model()._meta.db_table} WHERE id = %s", [actor.pk])
        checked_now(cursor)
    assert get_user_model().objects.filter(pk=actor.pk).exists()


def test_deleting_a_user_keeps_their_moves_without_an_actor(item):
    actor = get_user_model().objects.create_user("mover")
    StateTransition.objects.filter(item=item).update(actor=actor)
    actor.delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            checked_now(cursor)
    assert StateTransition.objects.get(item=item).actor_id is None


def test_deleting_an_item_deletes_its_moves_first(item):
    item.delete()
    assert not StateTransition.objects.exists()


def test_deleting_a_state_moves_only_leave_is_refused(item):
    """A state moves only leave (from_state) is as protected as one they enter."""
    left = WorkflowState.objects.create(stream=item.stream, name="Ready", category="backlog", order=0)
    StateTransition.objects.filter(item=item).update(from_state=left)
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM streams_workflowstate WHERE id = %s", [left.pk])
            checked_now(cursor)
    with pytest.raises(RestrictedError):
        left.delete()
    assert WorkflowState.objects.filter(pk=left.pk).exists()


def test_deleting_a_state_no_move_names_is_allowed(item):
    unused = WorkflowState.objects.create(stream=item.stream, name="Unused", category="waiting", order=5)
    unused.delete()
    assert not WorkflowState.objects.filter(pk=unused.pk).exists()
