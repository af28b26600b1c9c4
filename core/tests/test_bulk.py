"""Bulk reads: `values_rows` gives the ORM's rows (times read by psycopg's C loader on PostgreSQL)."""

import datetime as dt

from django.contrib.auth import get_user_model
import pytest

from core.bulk import values_rows

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


def test_values_rows_of_nothing_is_empty():
    assert list(values_rows(User.objects.none(), "pk")) == []
    assert list(values_rows(User.objects.filter(username="nobody"), "pk", "date_joined")) == []
