"""`seed_demo` after the tables were analysed while they held only dead rows (a deleted demo, a
flushed test database): their statistics tell the planner "empty" whatever is written after,
until the next ANALYZE. The seed writes the organisation, then, in the same transaction, reads
it back (flow dates, rollups, the experiments' samples): planned as if empty, one of those
queries ran for minutes. (A module of its own: `test_seed_demo` holds one seed open across its
tests, and this one commits.)"""

import io

from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import override_settings
import pytest

from portal.demo.builder import demo_delete, demo_seed
from streams.models import BacklogItem, StateTransition


def _estimated_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT * FROM {table}")
        return cursor.fetchone()[0][0]["Plan"]["Plan Rows"]


@pytest.mark.django_db(transaction=True)
@override_settings(DEBUG=True)
def test_the_seed_plans_its_own_queries_from_the_rows_it_wrote(role_groups):
    if connection.vendor != "postgresql":
        pytest.skip("the planner's statistics are PostgreSQL's")
    call_command("seed_demo", force=True, stdout=io.StringIO())
    demo_delete()
    tables = [model._meta.db_table for model in (BacklogItem, StateTransition)]
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(tables)}")
    assert [_estimated_rows(table) for table in tables] == [1, 1]  # the planner's "empty"
    with transaction.atomic():
        with connection.cursor() as cursor:  # fail rather than hang (it took many minutes)
            cursor.execute("SET LOCAL statement_timeout = '60s'")
        demo_seed()
        for table, model in zip(tables, (BacklogItem, StateTransition), strict=True):
            assert _estimated_rows(table) >= model.objects.count() / 2, table
        transaction.set_rollback(True)
