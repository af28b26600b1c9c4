"""Item search at scale: PostgreSQL answers the query Django writes for `item_search` from the
indexes of migration streams 0013, not by reading every item."""

from django.db import connection
import pytest

from okrs.selectors import item_search
from streams.backlog.services import item_create
from streams.models import BacklogItem
from streams.tests.factories import ValueStreamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def items():
    stream = ValueStreamFactory(name="Payments")
    for title in ("Checkout retry on timeout", "Refund screen", "Card vault"):
        item_create(stream_id=stream.pk, title=title, flow_type="feature")
    return stream


def plan_of(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # A tiny table would be read whole, or through its primary key: leave the planner only
        # bitmap scans, which need an index whose condition matches the lookup.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_search_finds_titles_by_any_part_of_a_word_and_keys_exactly(items):
    assert [i.title for i in item_search("ECKOUT RET")] == ["Checkout retry on timeout"]
    keyed = BacklogItem.objects.get(title="Card vault")
    BacklogItem.objects.filter(pk=keyed.pk).update(external_key="PAY-12")
    assert [i.title for i in item_search("pay-12")] == ["Card vault"]


def test_title_and_key_lookups_are_answered_from_indexes(items):
    if connection.vendor != "postgresql":
        pytest.skip("the indexes are PostgreSQL's")
    matching = BacklogItem.objects.filter(title__icontains="retry") | BacklogItem.objects.filter(
        external_key__iexact="retry"
    )
    plan = plan_of(matching.values("pk"))
    assert "item_title_upper_trgm" in plan and "item_external_key_upper" in plan, plan
