"""Bulk reads and writes: `values_rows` gives the ORM's rows (times read by psycopg's C loader on
PostgreSQL), and big writes get their tables analysed once they commit."""

import datetime as dt
import threading

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
import pytest

from core import bulk
from core.bulk import analyze_after_commit, analyze_on_own_connection, values_rows

pytestmark = pytest.mark.django_db
User = get_user_model()


def people(count: int) -> None:
    start = dt.datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=dt.UTC)
    User.objects.bulk_create(
        User(
            username=f"person-{n}",
            date_joined=start + dt.timedelta(days=n, microseconds=n),
            last_login=None if n % 3 else start - dt.timedelta(hours=n),
        )
        for n in range(count)
    )


def test_values_rows_are_the_orms_rows():
    people(50)
    users = User.objects.order_by("-date_joined", "pk")
    fields = ("pk", "username", "date_joined", "last_login")
    expected = list(users.values_list(*fields))
    rows = list(values_rows(users, *fields, chunk_size=7))  # several fetches
    assert rows == expected
    assert all(a[2].utcoffset() == dt.timedelta(0) for a in rows)  # aware, in UTC


def test_values_rows_behind_a_transaction_pooler_are_the_orms_rows():
    people(5)
    users = User.objects.order_by("pk")
    connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = True
    try:
        assert list(values_rows(users, "pk", "date_joined")) == list(users.values_list("pk", "date_joined"))
    finally:
        del connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"]


def test_values_rows_of_nothing_is_empty():
    assert list(values_rows(User.objects.none(), "pk")) == []
    assert list(values_rows(User.objects.filter(username="nobody"), "pk", "date_joined")) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ANALYZE is PostgreSQL's")
def test_a_write_that_grows_a_table_a_tenth_analyses_it_after_the_commit(django_capture_on_commit_callbacks):
    people(100)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE auth_user")
    assert analyze_after_commit({User: 5}) == []  # 5% of the table: autovacuum's business
    assert analyze_after_commit({User: 0}) == []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert analyze_after_commit({User: 10}) == ["auth_user"]
    assert len(callbacks) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ANALYZE is PostgreSQL's")
def test_tables_grown_together_are_analysed_at_the_same_time(django_capture_on_commit_callbacks, monkeypatch):
    """The first on the transaction's connection, each other one on a thread's own connection."""
    people(10)
    threads = []

    def on_own_connection(table):
        threads.append((table, threading.get_ident()))
        analyze_on_own_connection(table)

    monkeypatch.setattr(bulk, "analyze_on_own_connection", on_own_connection)
    with django_capture_on_commit_callbacks(execute=True):
        assert analyze_after_commit({User: 10, Group: 1}) == ["auth_group", "auth_user"]
    assert [table for table, _thread in threads] == ["auth_user"]
    assert threads[0][1] != threading.get_ident()


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite has no planner statistics to refresh")
def test_nothing_is_analysed_elsewhere(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert analyze_after_commit({User: 1000}) == []
    assert callbacks == []
