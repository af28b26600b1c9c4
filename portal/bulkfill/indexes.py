"""Filling empty tables fast on PostgreSQL: indexes and foreign keys after the data.

Every row written into a table with indexes updates each index at a random place, and each
row's deferred foreign-key checks probe the referenced table one row at a time at commit. For
millions of rows (`seed_scale` at ten times the DESIGN.md scale: 5 million items, 31 million
moves) that upkeep, not the writing, takes most of the time, and it grows faster than the data
once the indexes outgrow the database's buffers. `pg_restore` loads data, then builds indexes,
then adds foreign keys, and so does `indexes_deferred`: it drops the tables' secondary indexes
and foreign keys, the fill runs, and they are made again, each index by one sorted build
(two at a time) and each foreign key checked by one set-based query.

Only for tables that are all empty, on PostgreSQL, outside a transaction: a table that holds
data serves readers who need its indexes, and writers other than the fill would go unchecked.
Primary keys and unique indexes stay (they are what keeps rows apart, and the keys are what
foreign keys point at). What was dropped is recorded, in the same transaction as the drop, in
`DeferredIndex`; a fill that is killed leaves those rows, and `restore_indexes` (run by
`migrate` and at the start of `seed_scale`) makes them again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connection, models, transaction

from core.parallel import each_side_by_side
from portal.bulkfill.models import DeferredIndex

# Memory for each index build's sort (two builds run at once); PostgreSQL's default of 64 MB
# spills the larger sorts to disk.
BUILD_MEMORY = "512MB"


def _tables(fill_models: Sequence[type[models.Model]]) -> list[str]:
    return [model._meta.db_table for model in fill_models]


def can_defer(fill_models: Sequence[type[models.Model]]) -> bool:
    """PostgreSQL, outside a transaction, and every table empty."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    return not any(model._base_manager.exists() for model in fill_models)


def _drop(tables: list[str]) -> int:
    """Record, then drop, the tables' secondary indexes and foreign keys, in one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid)
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class c ON c.oid = x.indrelid
            WHERE c.relname = ANY(%s) AND c.relnamespace = 'public'::regnamespace
              AND NOT x.indisunique AND NOT x.indisprimary
            ORDER BY c.relname, i.relname
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            """
            SELECT c.relname, k.conname, pg_get_constraintdef(k.oid)
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
            WHERE k.contype = 'f' AND c.relname = ANY(%s) AND c.relnamespace = 'public'::regnamespace
            ORDER BY c.relname, k.conname
            """,
            [tables],
        )
        foreign_keys = cursor.fetchall()
        quote = connection.ops.quote_name
        DeferredIndex.objects.bulk_create(
            [DeferredIndex(table=t, name=n, kind=DeferredIndex.Kind.INDEX, definition=d) for t, n, d in indexes]
            + [
                DeferredIndex(
                    table=t,
                    name=n,
                    kind=DeferredIndex.Kind.FOREIGN_KEY,
                    definition=f"ALTER TABLE {quote(t)} ADD CONSTRAINT {quote(n)} {d}",
                )
                for t, n, d in foreign_keys
            ]
        )
        for table, name, _definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        for _table, name, _definition in indexes:
            cursor.execute(f"DROP INDEX {quote(name)}")
    return len(indexes) + len(foreign_keys)


def _make_again(deferred: DeferredIndex) -> None:
    """One index or foreign key made again; its record goes in the same transaction, so a kill
    in the middle leaves exactly what is still to do."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
        cursor.execute(deferred.definition)
        DeferredIndex.objects.filter(pk=deferred.pk).delete()


def restore_indexes(*, log: Callable[[str], None] = lambda message: None) -> int:
    """Make again every index and foreign key a fill dropped: the indexes two at a time, the
    largest tables first; then the foreign keys one after the other (each takes a lock on both
    of its tables, so two at once would wait for each other). Returns how many were made."""
    deferred = list(DeferredIndex.objects.all())
    if not deferred:
        return 0
    sizes = _table_sizes({d.table for d in deferred})
    indexes = sorted(
        (d for d in deferred if d.kind == DeferredIndex.Kind.INDEX), key=lambda d: (-sizes.get(d.table, 0), d.pk)
    )
    foreign_keys = [d for d in deferred if d.kind == DeferredIndex.Kind.FOREIGN_KEY]
    log(f"Building {len(indexes)} indexes and checking {len(foreign_keys)} foreign keys...")
    each_side_by_side(indexes, _make_again)
    for foreign_key in foreign_keys:
        _make_again(foreign_key)
    return len(deferred)


def restore_before_migrating(sender, using: str = DEFAULT_DB_ALIAS, verbosity: int = 1, stdout=None, **kwargs) -> None:
    """`pre_migrate` receiver: a killed fill's indexes are made again before any migration
    meets a table without them."""
    if using != DEFAULT_DB_ALIAS or DeferredIndex._meta.db_table not in connection.introspection.table_names():
        return
    made = restore_indexes()
    if made and verbosity and stdout is not None:
        stdout.write(f"  Made again {made} indexes and foreign keys that an interrupted fill had dropped.\n")


def _table_sizes(tables: set[str]) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'",
            [sorted(tables)],
        )
        return dict(cursor.fetchall())


@contextmanager
def indexes_deferred(
    fill_models: Sequence[type[models.Model]], *, log: Callable[[str], None] = lambda message: None
) -> Iterator[bool]:
    """Around a fill of `fill_models`' tables: without their secondary indexes and foreign keys
    when `can_defer`, made again afterwards, also when the fill fails. Yields whether they were
    dropped."""
    if not can_defer(fill_models):
        yield False
        return
    dropped = _drop(_tables(fill_models))
    log(f"Filling empty tables without their {dropped} secondary indexes and foreign keys")
    try:
        yield True
    finally:
        restore_indexes(log=log)
