import copy

from django.contrib.auth.models import Group, User
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper
import pytest

from core.lookups import any_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def users():
    made = [User.objects.create(username=f"user-{n}") for n in range(5)]
    group = Group.objects.create(name="Lookups")
    group.user_set.add(made[2])
    return made


def test_matches_what_in_matches(users):
    ids = [users[0].pk, users[3].pk, 999_999]
    assert set(User.objects.filter(any_of("pk", ids))) == set(User.objects.filter(pk__in=ids))
    names = {"user-1", "user-4", "nobody"}
    assert sorted(User.objects.filter(any_of("username", names)).values_list("username", flat=True)) == [
        "user-1",
        "user-4",
    ]
    assert not User.objects.filter(any_of("pk", [])).exists()
    # Across a join, in an exclude and in an update.
    assert list(User.objects.filter(any_of("groups__name", ["Lookups"]))) == [users[2]]
    assert User.objects.exclude(any_of("pk", ids[:2])).count() == 3
    assert User.objects.filter(any_of("pk", ids)).update(first_name="Renamed") == 2


def test_postgresql_gets_one_array_parameter_however_many_values():
    ids = list(range(100_000))
    sql, params = User.objects.filter(any_of("pk", ids)).values("pk").query.sql_with_params()
    if connection.vendor == "postgresql":
        assert "= ANY(%s)" in sql
        assert len(params) == 1 and params[0] == ids
    # Elsewhere (SQLite, `make run`) it is Django's IN, one placeholder a value.
    settings = copy.deepcopy(connection.settings_dict) | {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    sqlite = SQLiteWrapper(settings, alias="lookups-sqlite")
    query = User.objects.filter(any_of("pk", [3, 1, 2])).values("pk").query
    sql, params = query.get_compiler(connection=sqlite).as_sql()
    assert " IN (%s, %s, %s)" in sql and sorted(params) == [1, 2, 3]
