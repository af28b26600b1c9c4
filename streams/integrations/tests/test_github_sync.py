"""GitHub issues synced against a local server that answers as GitHub's REST API does."""

import datetime as dt

import pytest

from streams.integrations.connectors.services import connection_create, connection_mapping_save
from streams.integrations.connectors.sync import TimeMark, connection_probe, connection_sync
from streams.integrations.tests.tool_servers import Fault, GitHubServer
from streams.integrations.toolchain import Mapping
from streams.models import BacklogItem, Connection, HeldItem, SyncRun
from streams.tests.factories import ValueStreamFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)
STATUSES = {
    "Open": ("Backlog", "backlog"),
    "In progress": ("In progress", "active"),
    "Closed": ("Done", "done"),
    "Closed as not planned": ("Dropped", "removed"),
}


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


@pytest.fixture
def github():
    with GitHubServer() as server:
        yield server


@pytest.fixture
def connection(github):
    stream = ValueStreamFactory(workflow=False)
    connection = connection_create(
        stream=stream,
        tool=Connection.Tool.GITHUB,
        base_url=github.base_url,
        token=github.token,
        scope={"repository": github.repository},
        rate=100,
    )
    connection_mapping_save(
        connection=connection, mapping=Mapping(statuses=STATUSES, types={"Issue": "feature", "Bug": "defect"})
    )
    return connection


def repo(github):
    github.create(1, day(0), title="Checkout retries")
    github.event(1, day(1), "moved_columns_in_project", column="In progress")
    github.event(1, day(3), "closed")
    github.create(2, day(1), title="Refunds", type="Bug")
    github.event(2, day(2), "moved_columns_in_project", column="In progress")
    github.create(3, day(1), title="A pull request", pull_request=True)
    github.create(4, day(2), title="Wallets")
    github.event(4, day(4), "closed", reason="not_planned")


def history_of(connection, key):
    item = BacklogItem.objects.get(stream=connection.stream, external_key=key)
    return [(t.to_state.name, t.at) for t in item.transitions.select_related("to_state").order_by("at", "pk")]


def test_issues_and_their_timelines_are_backfilled_page_by_page(github, connection):
    repo(github)
    github.page_cap = 1  # Link headers lead from page to page
    run = connection_sync(connection.pk)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    key = f"{github.repository}#1"
    assert history_of(connection, key) == [("Backlog", day(0)), ("In progress", day(1)), ("Done", day(3))]
    assert BacklogItem.objects.get(external_key=f"{github.repository}#2").flow_type == "defect"
    assert BacklogItem.objects.get(external_key=f"{github.repository}#4").state.name == "Dropped"
    assert not BacklogItem.objects.filter(external_key=f"{github.repository}#3").exists()  # a pull request
    assert run.items_new == 3 and run.requests >= 7


def test_the_next_sync_asks_for_issues_updated_since_the_watermark_and_writes_only_the_change(github, connection):
    repo(github)
    connection_sync(connection.pk)
    connection.refresh_from_db()
    since = TimeMark.parse(connection.watermark).updated
    github.event(2, dt.datetime.now(dt.UTC), "closed")
    github.requests.clear()
    run = connection_sync(connection.pk)
    run.refresh_from_db()
    assert (run.items_changed, run.items_new) == (1, 0)
    assert history_of(connection, f"{github.repository}#2")[-1][0] == "Done"
    listing = next(r for r in github.requests if r.endswith("/issues"))
    assert listing and since is not None
    assert sum(r.endswith("/timeline") for r in github.requests) == 1  # only the updated issue's


def test_issues_deleted_or_transferred_end_removed_at_the_hourly_comparison(github, connection):
    repo(github)
    connection_sync(connection.pk)
    github.delete(2)  # deleted, or transferred to another repository: the updated list never says
    github.requests.clear()
    connection_sync(connection.pk)  # within the hour: no listing of every issue
    assert BacklogItem.objects.get(external_key=f"{github.repository}#2").state.name == "In progress"
    assert [r for r in github.requests if r.endswith("/issues")] == ["GET /repos/acme/shop/issues"]
    connection.refresh_from_db()
    mark = TimeMark.parse(connection.watermark)
    mark.ids_checked = mark.ids_checked - dt.timedelta(hours=1)  # the hourly comparison is due
    Connection.objects.filter(pk=connection.pk).update(watermark=mark.dump())
    run = connection_sync(connection.pk)
    run.refresh_from_db()
    assert BacklogItem.objects.get(external_key=f"{github.repository}#2").state.category == "removed"
    assert BacklogItem.objects.get(external_key=f"{github.repository}#1").state.name == "Done"
    assert BacklogItem.objects.get(external_key=f"{github.repository}#4").state.name == "Dropped"
    assert run.items_changed == 1


def test_a_spent_rate_limit_is_waited_out_until_it_resets(github, connection):
    repo(github)
    reset = int(dt.datetime.now(dt.UTC).timestamp()) + 1
    github.faults.append(
        Fault(
            path=r"/issues$",
            status=403,
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
            body={"message": "API rate limit exceeded"},
        )
    )
    run = connection_sync(connection.pk)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.rate_limit_waits == 1 and run.waited_seconds >= 1


def test_a_project_column_the_mapping_does_not_know_holds_the_issue_until_mapped(github, connection):
    repo(github)
    connection_sync(connection.pk)
    github.event(4, dt.datetime.now(dt.UTC), "reopened")
    github.event(4, dt.datetime.now(dt.UTC), "moved_columns_in_project", column="Review")
    connection_sync(connection.pk)
    assert dict(HeldItem.objects.values_list("external_key", "value")) == {f"{github.repository}#4": "Review"}
    connection_mapping_save(connection=connection, mapping=Mapping(statuses={"Review": ("Review", "waiting")}))
    connection_sync(connection.pk)
    assert history_of(connection, f"{github.repository}#4")[-1][0] == "Review"


def test_bad_credentials_stop_the_connection_and_the_probe_counts_issues(github, connection):
    repo(github)
    assert connection_probe(connection).message == f"Connected: 3 issues in {github.repository}."
    github.token = "revoked"
    run = connection_sync(connection.pk)
    connection.refresh_from_db()
    assert run.status == SyncRun.Status.STOPPED and "Bad credentials" in connection.status_message


def test_a_next_page_on_another_host_is_not_followed(github, connection):
    repo(github)
    page = [github.issues[1]]
    link = {"Link": '<http://169.254.169.254/latest/meta-data/?page=2>; rel="next"'}
    github.faults.append(Fault(path=r"/issues$", status=200, body=page, headers=link))
    run = connection_sync(connection.pk)
    assert run.status == SyncRun.Status.FAILED and "another address" in run.error
    assert not BacklogItem.objects.filter(stream=connection.stream).exists()
