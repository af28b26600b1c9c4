"""Azure DevOps Boards synced against a local server that answers as its REST API documents."""

import datetime as dt
import os
from pathlib import Path
import subprocess
import sys
import time

from django.db import connection as db_connection
import psycopg
import pytest

from streams.flow.engine import Scope, Window, report_items
from streams.flow.report import flow_report
from streams.integrations.connectors.services import connection_create, connection_mapping_save
from streams.integrations.connectors.sync import connection_probe, connection_sync
from streams.integrations.tests.tool_servers import AzureDevOpsServer, Fault
from streams.integrations.toolchain import Mapping
from streams.integrations.writer import flow_csv_import
from streams.models import BacklogItem, Connection, HeldItem, StateTransition, SyncRun
from streams.tests.factories import ValueStreamFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
T0 = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


STATUSES = {
    "New": ("Backlog", "backlog"),
    "Active": ("In progress", "active"),
    "Resolved": ("Verifying", "waiting"),
    "Closed": ("Done", "done"),
    "Removed": ("Removed", "removed"),
}
TYPES = {"User Story": "feature", "Bug": "defect"}


@pytest.fixture
def ado():
    with AzureDevOpsServer() as server:
        yield server


@pytest.fixture
def connection(ado):
    stream = ValueStreamFactory(name="Payments", workflow=False)
    connection = connection_create(
        stream=stream,
        tool=Connection.Tool.AZURE_DEVOPS,
        base_url=ado.base_url,
        token=ado.token,
        scope={"project": ado.project},
        rate=100,
    )
    connection_mapping_save(connection=connection, mapping=Mapping(statuses=STATUSES, types=TYPES))
    return connection


def board_history(ado):
    """1: New → Active → Resolved → Closed; 2: a bug started and still active; 3: never started."""
    ado.create(1, day(0), title="Pay by link")
    ado.change(1, day(1), state="Active")
    ado.change(1, day(2), title="Pay by link (QR too)")  # not a move
    ado.change(1, day(3), state="Resolved")
    ado.change(1, day(4), state="Closed")
    ado.create(2, day(1), type="Bug", title="Refund rounding")
    ado.change(2, day(2), state="Active")
    ado.create(3, day(2), title="Wallets")


def history_of(connection, key):
    item = BacklogItem.objects.get(stream=connection.stream, external_key=key)
    return [(t.to_state.name, t.at) for t in item.transitions.select_related("to_state").order_by("at", "pk")]


def test_backfill_writes_every_item_with_its_whole_history_and_moves_the_watermark(ado, connection):
    board_history(ado)
    run = connection_sync(connection.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert history_of(connection, "1") == [
        ("Backlog", day(0)),
        ("In progress", day(1)),
        ("Verifying", day(3)),
        ("Done", day(4)),
    ]
    item = BacklogItem.objects.get(stream=connection.stream, external_key="1")
    assert (item.title, item.flow_type, item.started_at, item.finished_at) == (
        "Pay by link (QR too)",
        "feature",
        day(1),
        day(4),
    )
    bug = BacklogItem.objects.get(stream=connection.stream, external_key="2")
    assert (bug.flow_type, bug.state.name, bug.started_at) == ("defect", "In progress", day(2))
    run.refresh_from_db()
    connection.refresh_from_db()
    assert (run.kind, run.read, run.items_new, run.moves_written) == ("backfill", 8, 3, 7)
    assert connection.watermark and connection.backfilled_at and connection.synced_at
    assert run.requests >= 1 and run.batches == 1


def test_a_second_sync_with_nothing_new_writes_nothing(ado, connection):
    board_history(ado)
    connection_sync(connection.pk)
    before = list(StateTransition.objects.order_by("pk").values_list("pk", "at"))
    versions = BacklogItem.history.count()
    run = connection_sync(connection.pk)
    assert run.status == SyncRun.Status.SUCCEEDED
    run.refresh_from_db()
    assert (run.kind, run.read, run.items_new, run.items_changed, run.moves_written) == ("incremental", 0, 0, 0, 0)
    assert list(StateTransition.objects.order_by("pk").values_list("pk", "at")) == before
    assert BacklogItem.history.count() == versions


def test_an_incremental_sync_appends_new_moves_to_the_stored_history(ado, connection):
    board_history(ado)
    connection_sync(connection.pk)
    kept = set(StateTransition.objects.filter(item__external_key="2").values_list("pk", flat=True))
    ado.change(2, day(5), state="Closed")
    ado.change(3, day(5), title="Wallets and passes")
    run = connection_sync(connection.pk)
    # The new move is appended: the stored ones stay as they were (no delete and re-insert).
    assert kept < set(StateTransition.objects.filter(item__external_key="2").values_list("pk", flat=True))
    run.refresh_from_db()
    assert (run.read, run.items_new, run.items_changed) == (2, 0, 2)
    assert history_of(connection, "2") == [("Backlog", day(1)), ("In progress", day(2)), ("Done", day(5))]
    assert BacklogItem.objects.get(stream=connection.stream, external_key="3").title == "Wallets and passes"
    assert BacklogItem.objects.get(stream=connection.stream, external_key="2").finished_at == day(5)


def test_batches_follow_the_continuation_token_across_pages(ado, connection, settings):
    board_history(ado)
    ado.page_cap = 3  # the service sends fewer than asked for: the token leads on
    settings.CONNECTOR_BATCH_REVISIONS = 1
    run = connection_sync(connection.pk)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED and run.read == 8
    assert run.batches >= 3 and run.requests >= 3
    assert history_of(connection, "1")[-1] == ("Done", day(4))


def test_rate_limits_are_waited_out_as_retry_after_says(ado, connection):
    board_history(ado)
    ado.faults.append(
        Fault(
            path="workitemrevisions",
            status=429,
            headers={"Retry-After": "1"},
            body={"message": "TF400733: The request has been canceled: rate limited."},
        )
    )
    run = connection_sync(connection.pk)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.rate_limit_waits, run.retries) == (1, 0) and run.waited_seconds >= 1


def test_a_wait_longer_than_the_portal_waits_ends_the_run_busy_and_the_next_carries_on(ado, connection, settings):
    board_history(ado)
    settings.CONNECTOR_MAX_WAIT_SECONDS = 5
    ado.faults.append(Fault(path="workitemrevisions", status=503, headers={"Retry-After": "3600"}))
    run = connection_sync(connection.pk)
    assert run.status == SyncRun.Status.BUSY and "3600" in run.error
    assert not BacklogItem.objects.filter(stream=connection.stream).exists()
    assert connection_sync(connection.pk).status == SyncRun.Status.SUCCEEDED


def test_server_errors_and_timeouts_are_retried_with_backoff(ado, connection):
    board_history(ado)
    ado.faults.extend(
        [
            Fault(path="workitemrevisions", status=500),
            Fault(path="workitemrevisions", delay=3),
            Fault(path="workitemrevisions", drop=True),
        ]
    )
    run = connection_sync(connection.pk)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.retries == 3 and run.requests == 4


def test_errors_beyond_the_retries_fail_the_run_and_leave_the_watermark(ado, connection, settings):
    board_history(ado)
    settings.CONNECTOR_RETRIES = 2
    ado.faults.extend(Fault(path="workitemrevisions", status=502) for _ in range(3))
    run = connection_sync(connection.pk)
    connection.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and "502" in run.error and "2 retries" in run.error
    assert connection.watermark == "" and connection.status == Connection.Status.ACTIVE
    assert connection.status_message == run.error
    assert not BacklogItem.objects.filter(stream=connection.stream).exists()


def test_a_failure_after_some_batches_keeps_what_was_committed_and_the_next_run_completes_it(ado, connection, settings):
    board_history(ado)
    ado.page_cap = 4  # page 1: item 1's first four revisions; page 2: the other four
    settings.CONNECTOR_BATCH_REVISIONS = 1
    settings.CONNECTOR_RETRIES = 0
    ado.faults.append(Fault(path="workitemrevisions", status=500, skip=1))
    failed = connection_sync(connection.pk)
    connection.refresh_from_db()
    assert failed.status == SyncRun.Status.FAILED
    assert connection.watermark  # moved past page 1, with page 1's writes
    assert [name for name, _ in history_of(connection, "1")] == ["Backlog", "In progress", "Verifying"]
    assert not BacklogItem.objects.filter(stream=connection.stream, external_key="2").exists()
    again = connection_sync(connection.pk)
    again.refresh_from_db()
    assert again.status == SyncRun.Status.SUCCEEDED and again.kind == "backfill" and again.read == 4
    assert history_of(connection, "1")[-1] == ("Done", day(4))
    assert BacklogItem.objects.filter(stream=connection.stream).count() == 3


def test_revoked_credentials_stop_the_connection_with_a_clear_message(ado, connection):
    board_history(ado)
    ado.token = "rotated"
    run = connection_sync(connection.pk)
    connection.refresh_from_db()
    assert run.status == SyncRun.Status.STOPPED
    assert connection.status == Connection.Status.STOPPED
    assert "refused the credentials (401" in connection.status_message and "token" in connection.status_message
    assert connection_sync(connection.pk) is None  # not retried until someone fixes it
    assert run.requests == 1


def test_a_status_the_mapping_does_not_know_holds_its_item_back_until_mapped(ado, connection):
    board_history(ado)
    connection_sync(connection.pk)
    ado.change(2, day(6), state="In Review")  # a state added to the process
    ado.create(4, day(6), type="Feature")  # a type never mapped
    run = connection_sync(connection.pk)
    run.refresh_from_db()
    held = dict(HeldItem.objects.filter(connection=connection).values_list("external_key", "value"))
    assert held == {"2": "In Review", "4": "Feature"} and run.items_held == 2
    assert BacklogItem.objects.get(stream=connection.stream, external_key="2").state.name == "In progress"
    assert not BacklogItem.objects.filter(stream=connection.stream, external_key="4").exists()
    # The held item leaves every figure: it is no longer work in progress anywhere.
    window = Window.build(start=day(0).date(), end=day(6).date(), as_of=day(7))
    report = flow_report(scope=Scope.stream(connection.stream), window=window)
    assert "2" not in {f.key for f in report.in_progress} and report.wip == 0
    assert not BacklogItem.objects.filter(stream=connection.stream).in_progress().exists()
    mapping = Mapping(statuses={"In Review": ("Review", "waiting")}, types={"Feature": "feature"})
    connection_mapping_save(connection=connection, mapping=mapping)
    connection_sync(connection.pk)
    assert not HeldItem.objects.filter(connection=connection).exists()
    assert history_of(connection, "2")[-1] == ("Review", day(6))
    report = flow_report(scope=Scope.stream(connection.stream), window=window)
    assert "2" in {f.key for f in report.in_progress}  # mapped: back in the figures
    assert BacklogItem.objects.get(stream=connection.stream, external_key="4").flow_type == "feature"


def test_deleted_items_and_items_moved_out_of_the_area_end_removed_and_one_moved_in_comes_whole(ado, connection):
    connection.scope = {"project": ado.project, "area_path": "Payments\\Cards"}
    connection.save()
    ado.create(1, day(0), area="Payments\\Cards")
    ado.change(1, day(1), state="Active")
    ado.create(2, day(0), area="Payments\\Cards\\Team A")
    ado.create(5, day(0), area="Payments\\Loans")  # never in scope
    ado.create(6, day(0), area="Payments\\Loans")
    ado.change(6, day(1), state="Active")
    connection_sync(connection.pk)
    assert set(BacklogItem.objects.filter(stream=connection.stream).values_list("external_key", flat=True)) == {
        "1",
        "2",
    }
    ado.change(1, day(3), deleted=True)
    ado.change(2, day(3), area="Payments\\Loans")
    ado.change(6, day(3), area="Payments\\Cards")  # moved in, already started on day 1
    connection_sync(connection.pk)
    assert history_of(connection, "1")[-1] == ("Removed", day(3))
    assert history_of(connection, "2")[-1] == ("Removed", day(3))
    assert history_of(connection, "6") == [("Backlog", day(0)), ("In progress", day(1))]
    moved_in = BacklogItem.objects.get(stream=connection.stream, external_key="6")
    assert moved_in.started_at == day(1)


def test_a_type_change_changes_the_flow_type(ado, connection):
    board_history(ado)
    connection_sync(connection.pk)
    ado.change(2, day(6), type="User Story")
    connection_sync(connection.pk)
    assert BacklogItem.objects.get(stream=connection.stream, external_key="2").flow_type == "feature"


def test_board_columns_are_the_workflow_and_a_split_done_half_waits(ado):
    stream = ValueStreamFactory(workflow=False)
    connection = connection_create(
        stream=stream,
        tool=Connection.Tool.AZURE_DEVOPS,
        base_url=ado.base_url,
        token=ado.token,
        scope={"project": ado.project, "team": "Payments Team", "board": "Stories"},
        rate=100,
    )
    statuses = {
        "New": ("Backlog", "backlog"),
        "Develop": ("Develop", "active"),
        "Develop – Done": ("Ready for test", "waiting"),
        "Test": ("Test", "active"),
        "Closed": ("Done", "done"),
    }
    connection_mapping_save(connection=connection, mapping=Mapping(statuses=statuses, types=TYPES))
    ado.create(1, day(0), column="New")
    ado.change(1, day(1), state="Active", column="Develop")
    ado.change(1, day(2), done=True)
    ado.change(1, day(4), column="Test", done=False)
    ado.change(1, day(5), state="Closed", column="Closed")
    assert connection_sync(connection.pk).status == SyncRun.Status.SUCCEEDED
    assert [name for name, _ in history_of(connection, "1")] == ["Backlog", "Develop", "Ready for test", "Test", "Done"]


def test_the_probe_says_whether_the_token_works_and_how_many_items_are_in_scope(ado, connection):
    board_history(ado)
    probe = connection_probe(connection)
    assert probe.ok and probe.count == 3 and "3 work items" in probe.message
    ado.token = "expired"
    probe = connection_probe(connection)
    assert not probe.ok and "401" in probe.message


def test_flow_facts_after_a_sync_equal_those_of_the_same_history_imported_from_a_file(ado, connection, tmp_path):
    board_history(ado)
    connection_sync(connection.pk)
    # The same history as the generic CSV files a person would export.
    states = "name,category,order\n" + "".join(
        f"{name},{category},{n}\n" for n, (name, category) in enumerate(STATUSES.values())
    )
    items = (
        f"key,title,type,created_at\n1,Pay by link (QR too),feature,{day(0).isoformat()}\n"
        f"2,Refund rounding,defect,{day(1).isoformat()}\n"
        f"3,Wallets,feature,{day(2).isoformat()}\n"
    )
    moves = [
        ("1", "Backlog", 0),
        ("1", "In progress", 1),
        ("1", "Verifying", 3),
        ("1", "Done", 4),
        ("2", "Backlog", 1),
        ("2", "In progress", 2),
        ("3", "Backlog", 2),
    ]
    transitions = "key,to_state,at\n" + "".join(f"{k},{s},{day(n).isoformat()}\n" for k, s, n in moves)
    for name, text in (("s.csv", states), ("i.csv", items), ("t.csv", transitions)):
        (tmp_path / name).write_text(text)
    with open(tmp_path / "s.csv") as s, open(tmp_path / "i.csv") as i, open(tmp_path / "t.csv") as t:
        result = flow_csv_import(stream_slug="from-file", states_file=s, items_file=i, transitions_file=t)
    window = Window.build(start=day(0).date(), end=day(9).date(), as_of=day(10))

    def facts(stream):
        return sorted(
            (f.key, f.start, f.finish, f.flow_days, f.active_days, f.waiting_days)
            for f in report_items(flow_report(scope=Scope.stream(stream), window=window))
        )

    assert facts(connection.stream) == facts(result.stream) and len(facts(result.stream)) == 2


@pytest.mark.django_db(transaction=True)
def test_a_sync_killed_mid_write_leaves_nothing_half_written_and_the_next_run_completes_it(ado, connection):
    """A real kill: the sync runs in its own process, which is killed with SIGKILL while its
    batch's transaction is open (its items inserted, waiting to write their moves)."""
    board_history(ado)
    db = db_connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    with psycopg.connect(url) as locker:
        locker.execute("LOCK TABLE streams_statetransition IN ACCESS EXCLUSIVE MODE")  # until rollback
        child = subprocess.Popen(
            [sys.executable, "manage.py", "sync_connections", str(connection.pk)],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings_test", "TEST_DATABASE_URL": url},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            with psycopg.connect(url, autocommit=True) as watcher:
                for _ in range(600):
                    waiting = watcher.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                        (db["NAME"],),
                    ).fetchone()[0]
                    if waiting:
                        break
                    assert child.poll() is None, child.stdout.read().decode()
                    time.sleep(0.1)
                assert waiting, "the sync never reached its write"
        finally:
            child.kill()
            child.wait(timeout=30)
        locker.rollback()
    connection.refresh_from_db()
    assert connection.watermark == "" and not BacklogItem.objects.filter(stream=connection.stream).exists()
    killed = SyncRun.objects.get(connection=connection)
    assert killed.status == SyncRun.Status.RUNNING  # as the dead process left it
    run = connection_sync(connection.pk)  # its lock died with it: this run knows at once
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    killed.refresh_from_db()
    assert killed.status == SyncRun.Status.INTERRUPTED
    assert BacklogItem.objects.filter(stream=connection.stream).count() == 3
    assert history_of(connection, "1")[-1] == ("Done", day(4))


def test_a_redirect_is_not_followed_and_an_oversized_answer_is_refused(ado, connection, settings):
    board_history(ado)
    ado.faults.append(Fault(path="workitemrevisions", status=302, headers={"Location": "http://10.0.0.1/"}))
    run = connection_sync(connection.pk)
    assert run.status == SyncRun.Status.FAILED and "answered 302" in run.error
    settings.CONNECTOR_MAX_RESPONSE_MB = 1
    ado.faults.append(Fault(path="workitemrevisions", status=200, body={"values": ["x" * 2_000_000]}))
    run = connection_sync(connection.pk)
    assert run.status == SyncRun.Status.FAILED and "more than 1 MB" in run.error
    assert not BacklogItem.objects.filter(stream=connection.stream).exists()


def test_a_token_that_no_key_opens_stops_the_connection_and_says_so(ado, connection, settings):
    board_history(ado)
    settings.SECRET_KEY = "rotated without CREDENTIAL_KEYS"
    run = connection_sync(connection.pk)
    connection.refresh_from_db()
    assert run.status == SyncRun.Status.STOPPED and connection.status == Connection.Status.STOPPED
    assert "cannot be read with the configured CREDENTIAL_KEYS" in connection.status_message
