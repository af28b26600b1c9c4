"""Filling empty tables without their indexes and foreign keys: what was dropped comes back
exactly, after a failure and after a kill too, and the foreign keys still check every row."""

from io import StringIO

from django.core.management import call_command
from django.db import IntegrityError, connection
import pytest

from portal.bulkfill.indexes import indexes_deferred, restore_indexes
from portal.bulkfill.models import DeferredIndex
from streams.models import BacklogItem, BlockedPeriod, StateTransition, ValueStream
from streams.tests.factories import BacklogItemFactory

# Items and moves check their references by statement-level triggers (streams 0032, 0033),
# which stay; blocked periods keep a foreign key to their item.
FILLED = (BacklogItem, StateTransition, BlockedPeriod)
TABLES = [model._meta.db_table for model in FILLED]

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="indexes are deferred on PostgreSQL only"
)


def _schema() -> dict[str, set[tuple[str, str]]]:
    """The filled tables' indexes and foreign keys, by name with their definitions."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND schemaname = 'public'", [TABLES]
        )
        indexes = set(cursor.fetchall())
        cursor.execute(
            """SELECT k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k
               JOIN pg_class c ON c.oid = k.conrelid WHERE k.contype = 'f' AND c.relname = ANY(%s)""",
            [TABLES],
        )
        return {"indexes": indexes, "foreign keys": set(cursor.fetchall())}


def _unique_or_primary(indexes: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(name, definition) for name, definition in indexes if "UNIQUE" in definition}


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_fill_of_empty_tables_runs_without_secondary_indexes_and_gets_them_all_back():
    before = _schema()
    # The moves and items check their references by triggers (streams 0032, 0033, 0038): the
    # blocked periods' key on their item is the one foreign key of these tables left.
    assert len(before["indexes"]) > 20 and len(before["foreign keys"]) >= 1
    with indexes_deferred(FILLED) as deferred:
        during = _schema()
        BacklogItemFactory.create_batch(3)
    assert deferred
    # Primary keys and unique indexes stay; every other index and every foreign key is gone,
    # recorded with the statement that makes it again.
    assert during == {"indexes": _unique_or_primary(before["indexes"]), "foreign keys": set()}
    assert _schema() == before
    assert not DeferredIndex.objects.exists()
    assert BacklogItem.objects.count() == 3


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_failed_fill_gets_its_indexes_back():
    before = _schema()
    with pytest.raises(ZeroDivisionError), indexes_deferred(FILLED):
        BacklogItemFactory()
        1 / 0  # noqa: B018 (the fill fails)
    assert _schema() == before and not DeferredIndex.objects.exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_tables_that_hold_data_keep_their_indexes():
    BacklogItemFactory()
    before = _schema()
    with indexes_deferred(FILLED) as deferred:
        assert _schema() == before
    assert not deferred


@pytest.mark.django_db
def test_inside_a_transaction_nothing_is_dropped():
    with indexes_deferred(FILLED) as deferred:
        assert not DeferredIndex.objects.exists()
    assert not deferred


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_row_the_foreign_keys_refuse_stops_the_rebuild_and_the_rest_is_kept_to_do():
    """Without its foreign keys the fill is checked at the end, in one query per key."""
    before = _schema()
    with pytest.raises(IntegrityError, match="item_id"), indexes_deferred(FILLED):
        item = BacklogItemFactory()
        blocked = BlockedPeriod.objects.create(item=item, reason="approval", started_at=item.created_at)
        BlockedPeriod.objects.filter(pk=blocked.pk).update(item_id=item.pk + 1000)
    left = set(DeferredIndex.objects.values_list("kind", flat=True))
    assert left == {DeferredIndex.Kind.FOREIGN_KEY}  # the indexes were built; the keys wait
    BlockedPeriod.objects.filter(pk=blocked.pk).update(item_id=item.pk)
    assert restore_indexes() > 0
    assert _schema() == before and not DeferredIndex.objects.exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_killed_fill_is_finished_by_the_next_migrate():
    before = _schema()
    fill = indexes_deferred(FILLED)
    assert fill.__enter__()  # and the process dies: the exit never runs
    assert DeferredIndex.objects.exists() and _schema() != before
    out = StringIO()
    call_command("migrate", verbosity=1, stdout=out)
    assert "Made again" in out.getvalue()
    assert _schema() == before and not DeferredIndex.objects.exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_killed_fill_is_finished_by_the_next_seed():
    before = _schema()
    fill = indexes_deferred(FILLED)  # kept: collected, the generator would close and rebuild
    assert fill.__enter__()
    out = StringIO()
    call_command("seed_scale", items=200, streams=2, teams=2, people=10, force=True, stdout=out)
    assert "Made again" in out.getvalue()
    assert _schema() == before and not DeferredIndex.objects.exists()
    assert BacklogItem.objects.count() == 200 and ValueStream.objects.count() == 2
