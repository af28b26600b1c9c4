"""The fresh cache (`core.freshness`): committed writes move the generation, whoever makes them;
a transaction reads its own writes; a cached result is reused only while nothing changed.

These tests commit (transactional_db): the generation moves when a write commits, which a
test inside a rolled-back transaction never reaches.
"""

import threading

from django.db import connection, transaction
from django.utils import timezone
import pytest

from core.bulk import RowWriter
from core.freshness import (
    DELIVERY,
    LINKS,
    OKRS,
    current_generation,
    data_changed,
    fresh_cached,
    fresh_cached_by_stream,
    writes_delivery,
    writes_domain_table,
    writes_links,
    writes_okrs,
    writes_pending,
)
from okrs.tests.factories import CheckInFactory, KeyResultFactory
from streams.backlog.services import item_change_state, item_create
from streams.models import ValueStream
from streams.tests.factories import ValueStreamFactory, state
from teams.models import Discipline


@pytest.mark.parametrize(
    ("sql", "writes"),
    [
        ('INSERT INTO "streams_backlogitem" ("title") VALUES (%s)', True),
        ('UPDATE "streams_backlogitem" SET "state_id" = 3 WHERE "id" = 1', True),
        ('DELETE FROM "okrs_keyresult_items" WHERE "id" IN (1, 2)', True),
        ("  update teams_team set name = 'x'", True),
        ("WITH moved AS (SELECT 1) UPDATE streams_flowdaymark SET valid_until = NULL", True),
        ('TRUNCATE "streams_backlogitem", "teams_team"', True),
        ('SELECT "id" FROM "streams_backlogitem" WHERE "title" = \'UPDATE streams_x\'', False),
        ("WITH RECURSIVE aligned(item) AS (SELECT 1) SELECT * FROM aligned", False),
        ('UPDATE "django_session" SET "expire_date" = now()', False),
        ('UPDATE "auth_user" SET "last_login" = now()', False),
        ('UPDATE "portal_apitoken" SET "last_used_at" = now()', False),
        ("UPDATE teams_datageneration SET value = value + 1 WHERE id = 1", False),
        ("INSERT INTO _column_update (id, value) VALUES (1, 2)", False),
    ],
)
def test_which_statements_count_as_writes_to_domain_data(sql, writes):
    assert writes_domain_table(sql) is writes


@pytest.mark.django_db(transaction=True)
def test_a_committed_write_moves_the_generation_and_a_read_does_not():
    before = current_generation()
    list(ValueStream.objects.all())
    assert current_generation() == before
    Discipline.objects.create(name="Data science")  # autocommit: at once
    after = current_generation()
    assert after != before


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_generation_moves_at_commit_and_the_writer_reads_its_own_writes():
    before = current_generation()
    calls = []
    with transaction.atomic():
        assert not writes_pending()
        Discipline.objects.create(name="Design")
        assert writes_pending()
        assert current_generation() == before  # others keep the old generation until commit
        # The writer bypasses the cache: it computes every time, and stores nothing.
        assert fresh_cached("k", lambda: calls.append(1) or len(calls)) == 1
        assert fresh_cached("k", lambda: calls.append(1) or len(calls)) == 2
    assert not writes_pending()
    assert current_generation() != before


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_leaves_the_generation_alone():
    before = current_generation()
    with pytest.raises(RuntimeError), transaction.atomic():
        Discipline.objects.create(name="Legal")
        raise RuntimeError("abandon")
    assert not writes_pending()
    assert current_generation() == before


@pytest.mark.django_db(transaction=True)
def test_a_write_rolled_back_to_a_savepoint_no_longer_counts_as_pending():
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            Discipline.objects.create(name="Finance")
            raise RuntimeError("undo the savepoint")
        assert not writes_pending()


@pytest.mark.django_db(transaction=True)
def test_a_cached_result_is_reused_until_a_change_then_computed_afresh():
    calls = []

    def compute():
        calls.append(1)
        return ValueStream.objects.count()

    assert fresh_cached("streams", compute) == 0
    assert fresh_cached("streams", compute) == 0
    assert len(calls) == 1  # the second read was the cache's
    ValueStreamFactory(name="Payments")
    assert fresh_cached("streams", compute) == 1  # visible at once
    assert len(calls) == 2


@pytest.mark.django_db(transaction=True)
def test_copy_writes_that_bypass_djangos_cursor_move_the_generation():
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    before = current_generation()
    with transaction.atomic():
        RowWriter().write(Discipline, ["name", "slug"], [("Copied in", "copied-in")])
        assert writes_pending()
    assert current_generation() != before


@pytest.mark.django_db(transaction=True)
def test_a_write_committed_by_another_connection_is_seen_at_once():
    """Another gunicorn worker: its own connection, its own process memory (here a thread)."""
    calls = []
    assert fresh_cached("disciplines", lambda: calls.append(1) or Discipline.objects.count()) == 0

    def other_worker():
        try:
            Discipline.objects.create(name="Elsewhere")
        finally:
            connection.close()

    worker = threading.Thread(target=other_worker)
    worker.start()
    worker.join()
    assert fresh_cached("disciplines", lambda: calls.append(1) or Discipline.objects.count()) == 1
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("sql", "links"),
    [
        ('INSERT INTO "okrs_keyresult_items" ("keyresult_id", "backlogitem_id") VALUES (1, 2)', True),
        ('DELETE FROM "okrs_keyresult_items" WHERE "id" IN (1, 2)', True),
        ('UPDATE "okrs_objective" SET "period" = \'2026-Q4\' WHERE "id" = 1', True),
        ('INSERT INTO "streams_backlogitem" ("title", "parent_id") VALUES (%s, %s)', True),
        ('DELETE FROM "streams_backlogitem" WHERE "id" = 3', True),
        ('UPDATE "streams_backlogitem" SET "parent_id" = 4 WHERE "id" = 3', True),
        ('UPDATE "streams_backlogitem" SET "title" = %s, "parent_id" = %s WHERE "id" = 3', True),  # saved whole
        ('UPDATE "streams_backlogitem" SET "state_id" = 3, "started_at" = now() WHERE "id" = 1', False),
        ('INSERT INTO "streams_statetransition" ("item_id") VALUES (1)', False),
        ('INSERT INTO "okrs_checkin" ("key_result_id") VALUES (1)', False),
        ('INSERT INTO "streams_historicalbacklogitem" ("parent_id") VALUES (1)', False),
    ],
)
def test_which_writes_can_change_the_links(sql, links):
    assert writes_links(sql) is links


@pytest.mark.django_db(transaction=True)
def test_the_links_generation_moves_only_with_writes_that_can_change_links():
    data, links = current_generation(), current_generation(generation=LINKS)
    stream = ValueStreamFactory()
    assert current_generation() != data and current_generation(generation=LINKS) == links  # no item, no link
    item_create(stream_id=stream.pk, title="New work", flow_type="feature")
    assert current_generation(generation=LINKS) != links  # a new item may be a linked item's child
    data, links = current_generation(), current_generation(generation=LINKS)
    ValueStream.objects.filter(pk=stream.pk).update(name="Renamed")
    assert current_generation() != data and current_generation(generation=LINKS) == links
    with transaction.atomic():
        ValueStream.objects.filter(pk=stream.pk).update(name="Again")
        data_changed(links=False)
    assert current_generation(generation=LINKS) == links
    with transaction.atomic():
        ValueStream.objects.filter(pk=stream.pk).update(name="Once more")
        data_changed()  # a COPY says nothing of what it wrote: links may have changed
    assert current_generation(generation=LINKS) != links
    links = current_generation(generation=LINKS)
    assert fresh_cached("walk", lambda: 1, generation=LINKS) == 1
    assert fresh_cached("walk", lambda: 2, generation=LINKS) == 1  # cached under the links generation
    Discipline.objects.create(name="Research")
    assert fresh_cached("walk", lambda: 3, generation=LINKS) == 1  # an ordinary write keeps it


@pytest.mark.parametrize(
    ("sql", "rowcount", "delivery"),
    [
        ('INSERT INTO "streams_deployment" ("service") VALUES (%s)', 1, True),
        ('UPDATE "streams_deploymentitem" SET "first_commit_at" = now() WHERE "id" = 1', 1, True),
        ('DELETE FROM "streams_incident" WHERE "id" = 1', 1, True),
        ('INSERT INTO "streams_backlogitem" ("title") VALUES (%s)', 1, True),
        ('DELETE FROM "streams_backlogitem" WHERE "id" = 3', 1, True),
        ('UPDATE "streams_backlogitem" SET "started_at" = n.started_at FROM (SELECT 1) n WHERE id = 1', 1, True),
        ('UPDATE "streams_backlogitem" SET "title" = %s, "started_at" = %s WHERE "id" = 3', -1, True),  # saved whole
        ('UPDATE "streams_backlogitem" SET "finished_at" = NULL WHERE "id" = 3', 1, True),  # reopened
        ('UPDATE "streams_backlogitem" SET "stream_id" = 2, "state_id" = 5 WHERE "id" = 3', 1, True),  # moved
        ('UPDATE "streams_backlogitem" SET "flow_type" = %s WHERE "id" = 3', 1, True),  # counted by type
        ('UPDATE "streams_backlogitem" SET "team_id" = 4 WHERE "id" = 3', 1, True),  # which team waits on which
        ('INSERT INTO "streams_dependency" ("item_id", "blocked_by_id") VALUES (1, 2)', 1, True),
        ('DELETE FROM "streams_dependency" WHERE "id" = 1', 1, True),
        ('UPDATE "streams_backlogitem" SET "title" = %s, "updated_at" = now() WHERE "id" = 3', 1, False),
        # The state service's refresh of an item's dates that changed nothing: no row written.
        ('UPDATE "streams_backlogitem" SET "started_at" = n.started_at FROM (SELECT 1) n WHERE id = 1', 0, False),
        ('UPDATE "streams_backlogitem" SET "state_id" = 3, "updated_at" = now() WHERE "id" = 1', 1, False),
        ('INSERT INTO "streams_statetransition" ("item_id") VALUES (1)', 1, False),
        ('INSERT INTO "streams_historicaldeployment" ("id") VALUES (1)', 1, False),
    ],
)
def test_which_writes_can_change_the_delivery_keys(sql, rowcount, delivery):
    assert writes_delivery(sql, rowcount) is delivery


@pytest.mark.django_db(transaction=True)
def test_the_delivery_generation_moves_with_a_start_not_with_a_move_that_starts_nothing():
    stream = ValueStreamFactory()
    item = item_create(stream_id=stream.pk, title="New work", flow_type="feature")
    delivery = current_generation(generation=DELIVERY)
    assert fresh_cached("keys", lambda: 1, generation=DELIVERY) == 1
    item_change_state(item=item, to_state=state(stream, "Ready"), at=timezone.now())  # still in the backlog
    assert current_generation(generation=DELIVERY) == delivery
    item_change_state(item=item, to_state=state(stream, "In progress"), at=timezone.now())  # it starts
    assert current_generation(generation=DELIVERY) != delivery
    delivery = current_generation(generation=DELIVERY)
    data = current_generation()
    item_change_state(item=item, to_state=state(stream, "Review"), at=timezone.now())  # its start stays
    assert current_generation() != data and current_generation(generation=DELIVERY) == delivery
    with transaction.atomic():
        data_changed()  # a COPY says nothing of what it wrote
    assert current_generation(generation=DELIVERY) != delivery


@pytest.mark.django_db(transaction=True)
def test_a_result_under_two_generations_is_computed_again_when_either_moves():
    assert fresh_cached("both", lambda: 1, generation=(DELIVERY, LINKS)) == 1
    assert fresh_cached("both", lambda: 2, generation=(DELIVERY, LINKS)) == 1
    data_changed(links=False, delivery=False)  # an ordinary change keeps it
    assert fresh_cached("both", lambda: 3, generation=(DELIVERY, LINKS)) == 1
    data_changed(links=True, delivery=False)
    assert fresh_cached("both", lambda: 4, generation=(DELIVERY, LINKS)) == 4
    data_changed(links=False, delivery=True)
    assert fresh_cached("both", lambda: 5, generation=(DELIVERY, LINKS)) == 5


@pytest.mark.parametrize(
    ("sql", "okrs"),
    [
        ('INSERT INTO "okrs_checkin" ("value") VALUES (%s)', True),
        ('UPDATE "okrs_keyresult" SET "title" = %s WHERE "id" = 1', True),
        ('DELETE FROM "okrs_keyresult_items" WHERE "id" IN (1, 2)', True),
        ('UPDATE "teams_person" SET "name" = %s WHERE "id" = 3', True),
        ('UPDATE "streams_valuestream" SET "name" = %s WHERE "id" = 3', True),
        ('INSERT INTO "streams_valuestream_teams" ("valuestream_id", "team_id") VALUES (1, 2)', True),
        ('UPDATE "streams_backlogitem" SET "title" = %s WHERE "id" = 1', False),
        ('INSERT INTO "streams_statetransition" ("item_id") VALUES (1)', False),
        ('UPDATE "teams_membership" SET "allocation_percent" = 50', False),
    ],
)
def test_which_writes_can_change_the_objectives_and_the_names_they_show(sql, okrs):
    assert writes_okrs(sql) is okrs


@pytest.mark.django_db(transaction=True)
def test_the_objectives_generation_moves_with_a_check_in_not_with_an_edit_of_work():
    stream = ValueStreamFactory()
    item = item_create(stream_id=stream.pk, title="Work", flow_type="feature")
    key_result = KeyResultFactory()
    okrs = current_generation(generation=OKRS)
    item_change_state(item=item, to_state=state(stream, "In progress"), at=timezone.now())
    assert current_generation(generation=OKRS) == okrs
    CheckInFactory(key_result=key_result)
    assert current_generation(generation=OKRS) != okrs


@pytest.mark.django_db
def test_the_cache_keeps_a_result_per_stream_for_a_thousand_streams():
    """Ten times the DESIGN.md scale has 1,000 streams, each with its results kept per stream:
    the in-process cache (one process, no CACHE_URL) must hold them all, where Django's default
    of 300 entries culled them and every stream was computed again at each view."""
    computed = []

    def compute(ids):
        computed.extend(ids)
        return {pk: pk * 2 for pk in ids}

    ids = list(range(1, 1001))
    for kind in ("flows", "alignment", "items"):
        fresh_cached_by_stream(f"per-stream {kind}", ids, compute)
    computed.clear()
    for kind in ("flows", "alignment", "items"):
        assert fresh_cached_by_stream(f"per-stream {kind}", ids, compute) == {pk: pk * 2 for pk in ids}
    assert computed == []


@pytest.mark.django_db(transaction=True)
def test_a_result_kept_in_process_is_the_same_object_until_its_generation_moves():
    made = []

    def compute():
        made.append(object())
        return made[-1]

    first = fresh_cached("kept", compute, generation=OKRS, in_process=True)
    assert fresh_cached("kept", compute, generation=OKRS, in_process=True) is first  # not unpickled again
    data_changed(links=False, delivery=False, okrs=False)  # an edit of work keeps it
    assert fresh_cached("kept", compute, generation=OKRS, in_process=True) is first
    data_changed(links=False, delivery=False, okrs=True)
    assert fresh_cached("kept", compute, generation=OKRS, in_process=True) is not first
    assert len(made) == 2
