"""Running a connection's sync: one run at a time per connection, in committed batches, and
honest about how it ended.

A run reads from the connection's watermark. Every batch (up to `CONNECTOR_BATCH_ITEMS`
items) is written by the import writer and the watermark moved in one transaction, so a run
killed at any moment leaves the last committed batch and nothing after it, and the next run
reads on from there. A run that fails leaves the connection's data as its last batch left it.
An expired or revoked token stops the connection (it is not retried every few minutes); a
tool asking to wait longer than the portal waits ends the run as "busy", and the next one
carries on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
import datetime as dt
import json
import logging

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.crypto import SecretUnreadable
from core.errors import ImportRefused
from core.locks import work_lock
from core.lookups import any_of
from streams.flow.rollups import rollups_invalidate
from streams.integrations.connectors.azure import (
    DELETED,
    LEFT_SCOPE,
    AzureBoards,
    AzureReader,
    AzureScope,
    RevisionBuffer,
)
from streams.integrations.connectors.github_api import GitHubIssues, GitHubScope
from streams.integrations.connectors.github_api import issue_item as github_issue_item
from streams.integrations.connectors.history import Built, ToolItem, aware_time, build, stored_moves
from streams.integrations.connectors.http import CredentialsRefused, ToolBusy, ToolError, ToolHttp, ToolRefused
from streams.integrations.connectors.jira_api import JiraIssues, JiraScope, issue_item
from streams.integrations.toolchain import mapping_for
from streams.integrations.writer import write_parsed
from streams.models import BacklogItem, Connection, HeldItem, SyncRun, WorkflowState

log = logging.getLogger(__name__)

STALE_RUN = dt.timedelta(minutes=15)  # a run with no heartbeat for this long lost its worker


class WatermarkMoved(Exception):
    """Another run moved the watermark since this one read it (it must not write over it)."""


@dataclass
class Probe:
    """What "Test connection" found."""

    ok: bool
    message: str
    count: int | None = None


def http_for(connection: Connection) -> ToolHttp:
    token = connection.token
    rate = connection.rate
    if connection.tool == Connection.Tool.AZURE_DEVOPS:
        # A personal access token goes as the password of basic auth, with an empty user name.
        return ToolHttp(connection.base_url, auth=("", token), rate=rate, tool="Azure DevOps")
    if connection.tool == Connection.Tool.JIRA_CLOUD:
        # An Atlassian API token goes as the password of basic auth, with the account's email.
        return ToolHttp(connection.base_url, auth=(connection.username, token), rate=rate, tool="Jira")
    if connection.tool == Connection.Tool.JIRA_DATA_CENTER:
        # A Data Center personal access token is a bearer token.
        return ToolHttp(connection.base_url, headers={"Authorization": f"Bearer {token}"}, rate=rate, tool="Jira")
    if connection.tool == Connection.Tool.GITHUB:
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        return ToolHttp(connection.base_url, headers=headers, rate=rate, tool="GitHub")
    raise ToolError(f"{connection.get_tool_display()} connections cannot sync yet.")


def tool_client(connection: Connection, http: ToolHttp):
    """The tool's client for the connection's scope (ValueError if the scope is not valid)."""
    if connection.tool == Connection.Tool.AZURE_DEVOPS:
        return AzureBoards(http, AzureScope.from_dict(connection.scope))
    if connection.tool == Connection.Tool.GITHUB:
        return GitHubIssues(http, GitHubScope.from_dict(connection.scope))
    return JiraIssues(http, JiraScope.from_dict(connection.scope), cloud=connection.tool == Connection.Tool.JIRA_CLOUD)


def connection_probe(connection: Connection) -> Probe:
    """Whether the credentials work, and how many items are in scope now."""
    try:
        with http_for(connection) as http:
            client = tool_client(connection, http)
            count = client.count_in_scope()
            if isinstance(client, AzureBoards) and client.scope.board:
                client.load_board()
    except (ToolError, SecretUnreadable, ValueError) as error:
        return Probe(False, getattr(error, "message", str(error)))
    if isinstance(client, AzureBoards):
        more = "or more " if count >= 20000 else ""
        return Probe(True, f"Connected: {count:,} {more}work items in scope.", count)
    if isinstance(client, GitHubIssues):
        return Probe(True, f"Connected: {count:,} issues in {client.scope.repository}.", count)
    return Probe(True, f"Connected: about {count:,} issues in scope.", count)


def connections_due() -> list[int]:
    """Active connections (a run finds out itself whether another is under way)."""
    return list(Connection.objects.filter(status=Connection.Status.ACTIVE).order_by("pk").values_list("pk", flat=True))


def connection_sync(connection_id: int) -> SyncRun | None:
    """Run the connection's sync now (a backfill until one completed, then incremental);
    None when it is not active or another run of it is under way."""
    with work_lock("connection-sync", connection_id) as taken:
        if not taken:
            return None
        run = _claim(connection_id)
        if run is None:
            return None
        _run(run)
        return run


def _run(run: SyncRun) -> None:
    connection = run.connection
    try:
        with http_for(connection) as http:
            try:
                if connection.tool == Connection.Tool.AZURE_DEVOPS:
                    _sync_azure(run, http)
                elif connection.tool == Connection.Tool.GITHUB:
                    _sync_github(run, http)
                else:
                    _sync_jira(run, http)
            finally:
                _count_calls(run, http)
    except (CredentialsRefused, SecretUnreadable) as error:
        message = getattr(error, "message", str(error))
        _end(run, SyncRun.Status.STOPPED, message, connection_status=Connection.Status.STOPPED)
    except ToolBusy as error:
        _end(run, SyncRun.Status.BUSY, error.message)
    except ToolError as error:
        _end(run, SyncRun.Status.FAILED, error.message)
    except ImportRefused as error:
        details = "; ".join(f"{e.file}: {e.message}" for e in error.errors[:5])
        _end(run, SyncRun.Status.FAILED, f"the writer refused a batch: {details}")
    except WatermarkMoved:
        _end(run, SyncRun.Status.FAILED, "another sync of this connection moved on meanwhile; nothing was written")
    except Exception as error:  # noqa: BLE001 - recorded on the run and the page, then logged with its trace
        log.exception("sync run %s failed", run.pk)
        _end(run, SyncRun.Status.FAILED, f"unexpected error: {type(error).__name__}: {error}")
    else:
        _end(run, SyncRun.Status.SUCCEEDED, "")


def _claim(connection_id: int) -> SyncRun | None:
    """The run's record, once the connection is active and no other run is alive. Called with
    the connection's work lock held: on PostgreSQL every run still marked running is then dead
    (its process took its lock with it); on SQLite, one whose heartbeat stopped long ago."""
    with transaction.atomic():
        connection = Connection.objects.select_for_update().filter(pk=connection_id).first()
        if connection is None or connection.status != Connection.Status.ACTIVE:
            return None
        now = timezone.now()
        dead = SyncRun.objects.filter(connection=connection, status=SyncRun.Status.RUNNING)
        if not connection_locks_hold():
            dead = dead.filter(heartbeat_at__lt=now - STALE_RUN)
        dead.update(
            status=SyncRun.Status.INTERRUPTED,
            finished_at=now,
            error="its worker stopped before it finished; what it committed is kept, the next run carries on",
        )
        if SyncRun.objects.filter(connection=connection, status=SyncRun.Status.RUNNING).exists():
            return None
        kind = SyncRun.Kind.BACKFILL if connection.backfilled_at is None else SyncRun.Kind.INCREMENTAL
        return SyncRun.objects.create(connection=connection, kind=kind)


def connection_locks_hold() -> bool:
    """Whether work locks span processes here (PostgreSQL), so a lock taken proves others dead."""
    return db_connection.vendor == "postgresql"


def _end(run: SyncRun, status: str, error: str, *, connection_status: str | None = None) -> None:
    now = timezone.now()
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=run.connection_id)
        SyncRun.objects.filter(pk=run.pk).update(
            status=status,
            error=error,
            finished_at=now,
            heartbeat_at=now,
            requests=run.requests,
            rate_limit_waits=run.rate_limit_waits,
            retries=run.retries,
            waited_seconds=run.waited_seconds,
            tool_seconds=run.tool_seconds,
        )
        fields = ["status_message"]
        if status == SyncRun.Status.SUCCEEDED:
            connection.synced_at = now
            connection.status_message = ""
            fields.append("synced_at")
            if connection.backfilled_at is None:
                connection.backfilled_at = now
                fields.append("backfilled_at")
        else:
            connection.status_message = error
        if connection_status:
            connection.status = connection_status
            fields.append("status")
        connection.save(update_fields=fields)
    run.status, run.error, run.finished_at = status, error, now


def _count_calls(run: SyncRun, http: ToolHttp) -> None:
    run.requests = http.stats.requests
    run.rate_limit_waits = http.stats.rate_limit_waits
    run.retries = http.stats.retries
    run.waited_seconds = round(http.stats.waited_seconds, 2)
    run.tool_seconds = round(http.stats.seconds, 3)


def commit_batch(run: SyncRun, items: list[ToolItem], *, watermark_from: str, watermark_to: str, read: int) -> None:
    """Write a batch of items and move the watermark, in one transaction."""
    connection = run.connection
    stream = connection.stream
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        if locked.watermark != watermark_from:
            raise WatermarkMoved
        built = _build(connection, items)
        result = write_parsed(stream, stream.slug, "", built.parsed) if built.parsed.items else None
        written = list(built.parsed.items)
        HeldItem.objects.filter(any_of("external_key", written), connection=connection).delete()
        # Known items held for an unmapped name leave every figure until it is mapped; items
        # written now are back in them.
        items = BacklogItem.objects.filter(stream=stream, source=connection.source)
        toggled = items.filter(any_of("external_key", [held.key for held in built.held]), held_back=False).update(
            held_back=True
        ) + items.filter(any_of("external_key", written), held_back=True).update(held_back=False)
        if toggled:
            rollups_invalidate(stream_id=stream.pk, since=None)
        held = {h.key: h for h in built.held}  # one row a key (an item read twice in a batch)
        HeldItem.objects.bulk_create(  # one statement, however many items a new name holds back
            [
                HeldItem(
                    connection=connection, external_key=h.key, title=h.title[:300], kind=h.kind, value=h.value[:200]
                )
                for h in held.values()
            ],
            update_conflicts=True,
            unique_fields=["connection", "external_key"],
            update_fields=["title", "kind", "value"],
        )
        Connection.objects.filter(pk=connection.pk).update(watermark=watermark_to)
        connection.watermark = watermark_to
        SyncRun.objects.filter(pk=run.pk).update(
            read=F("read") + read,
            items_new=F("items_new") + (result.items_created if result else 0),
            items_changed=F("items_changed")
            + (len(written) - result.items_created - result.items_unchanged if result else 0),
            items_unchanged=F("items_unchanged") + (result.items_unchanged if result else 0),
            items_held=HeldItem.objects.filter(connection=connection).count(),
            moves_written=F("moves_written") + (result.transitions_written if result else 0),
            batches=F("batches") + 1,
            heartbeat_at=timezone.now(),
        )


def _build(connection: Connection, items: list[ToolItem]) -> Built:
    source = connection.source
    partial = [item.key for item in items if not item.whole]
    stored = stored_moves(connection.stream_id, source, partial) if partial else {}
    mapping = mapping_for(connection.stream, source)
    return build(items, source=source, mapping=mapping, stored=stored, own_statuses=(DELETED, LEFT_SCOPE))


def _stored_keys(connection: Connection) -> Callable[[list[str]], set[str]]:
    def stored(keys: list[str]) -> set[str]:
        return set(
            BacklogItem.objects.filter(
                any_of("external_key", keys), stream_id=connection.stream_id, source=connection.source
            ).values_list("external_key", flat=True)
        )

    return stored


def _sync_azure(run: SyncRun, http: ToolHttp) -> None:
    connection = run.connection
    boards = AzureBoards(http, AzureScope.from_dict(connection.scope))
    if boards.scope.board:
        boards.load_board()
    held = set(HeldItem.objects.filter(connection=connection).values_list("external_key", flat=True))
    reader = AzureReader(boards, stored_keys=_stored_keys(connection), held_keys=held)
    # Items held back earlier are read whole again: the director may have mapped their names.
    if held:
        items = []
        for key in sorted(held):
            try:
                whole = reader.whole(int(key)) if key.isdigit() else None
            except ToolRefused as error:
                if error.status != 404:
                    raise
                whole = None  # gone from the tool for good: nothing to hold any more
            item = reader.item(whole, whole=True, stored=True) if whole else None
            if item is None:
                HeldItem.objects.filter(connection=connection, external_key=key).delete()
            else:
                items.append(item)
        commit_batch(run, items, watermark_from=connection.watermark, watermark_to=connection.watermark, read=0)
        reader.held_keys = set(HeldItem.objects.filter(connection=connection).values_list("external_key", flat=True))
    buffer = RevisionBuffer(boards.scope)
    start = token = connection.watermark
    read = 0
    for batch in boards.revisions(start):
        token = batch.token
        for revision in batch.revisions:
            buffer.add(revision)
        read += len(batch.revisions)
        _progress(run, len(batch.revisions))
        if buffer.count >= settings.CONNECTOR_BATCH_REVISIONS:
            commit_batch(run, reader.items(buffer.items), watermark_from=start, watermark_to=token, read=0)
            start, buffer = token, RevisionBuffer(boards.scope)
    if buffer.items or token != start:
        commit_batch(run, reader.items(buffer.items), watermark_from=start, watermark_to=token, read=0)


def _progress(run: SyncRun, read: int) -> None:
    """Count what was read as it is read (the page shows a backfill's progress), outside the
    batch's transaction."""
    SyncRun.objects.filter(pk=run.pk).update(read=F("read") + read, heartbeat_at=timezone.now())


@dataclass
class TimeMark:
    """A Jira or GitHub connection's watermark: issues updated since `updated` are read at the next run;
    while a run is under way, `cursor` is the creation time of the last committed issue (a
    killed run's successor resumes there) and `begun` when that chain of runs began (what
    `updated` becomes once a run completes, so nothing updated meanwhile is missed)."""

    updated: dt.datetime | None = None
    cursor: dt.datetime | None = None
    begun: dt.datetime | None = None
    ids_checked: dt.datetime | None = None

    @classmethod
    def parse(cls, text: str) -> TimeMark:
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = {}
        values = {name: dt.datetime.fromisoformat(data[name]) if data.get(name) else None for name in cls.NAMES}
        return cls(**values)

    def dump(self) -> str:
        return json.dumps(
            {name: getattr(self, name).isoformat() if getattr(self, name) else None for name in self.NAMES}
        )

    NAMES = ("updated", "cursor", "begun", "ids_checked")


IDS_CHECK_EVERY = dt.timedelta(hours=1)  # how often the keys in scope are compared with the stored ones


class TimeBatches:
    """The items of a Jira or GitHub run, committed every CONNECTOR_BATCH_ITEMS under a TimeMark:
    each commit records where a stopped run resumes (`cursor`); the last one moves `updated` to
    when the chain of runs began and clears the cursor."""

    def __init__(self, run: SyncRun):
        self.run = run
        self.stored = run.connection.watermark  # as committed: each batch checks nobody moved it
        self.mark = TimeMark.parse(self.stored)
        self.now = timezone.now()
        self.begun = self.mark.begun or self.now
        self.items: list[ToolItem] = []

    def add(self, items: list[ToolItem], resume_at) -> None:
        """Items read; `resume_at(items)` is where a run stopped after committing them resumes."""
        self.items += items
        if len(self.items) >= settings.CONNECTOR_BATCH_ITEMS and (cursor := resume_at(self.items)) is not None:
            self._commit(replace(self.mark, cursor=cursor, begun=self.begun))

    def finish(self, *, ids_checked: dt.datetime | None = None) -> None:
        done = replace(self.mark, updated=self.begun, cursor=None, begun=None)
        done.ids_checked = ids_checked or self.mark.ids_checked
        self._commit(done)

    def _commit(self, mark: TimeMark) -> None:
        commit_batch(self.run, self.items, watermark_from=self.stored, watermark_to=mark.dump(), read=len(self.items))
        self.mark, self.items, self.stored = mark, [], mark.dump()


def _sync_jira(run: SyncRun, http: ToolHttp) -> None:
    connection = run.connection
    client = tool_client(connection, http)
    batches = TimeBatches(run)
    mark = batches.mark
    # Issues held back earlier are read again whatever their updated time: their names may be mapped now.
    held = sorted(HeldItem.objects.filter(connection=connection).values_list("external_key", flat=True))
    for start in range(0, len(held), 100):
        for page in client.pages(client.keys_jql(held[start : start + 100])):
            client.complete_changelogs(page)
            batches.items += [item for item in map(issue_item, page) if isinstance(item, ToolItem)]
    for page in client.pages(client.jql(updated_since=mark.updated, created_from=mark.cursor)):
        client.complete_changelogs(page)
        items = [item for item in map(issue_item, page) if isinstance(item, ToolItem)]
        batches.add(items, lambda batch: max(item.created for item in batch))
    ids_checked = None
    if _ids_check_due(batches):
        keys = client.ids_in_scope()
        projects = {key.rpartition("-")[0] for key in keys}
        batches.items += _gone(connection, keys, batches.now, lambda key: key.rpartition("-")[0] in projects)
        ids_checked = batches.now
    batches.finish(ids_checked=ids_checked)


def _ids_check_due(batches: TimeBatches) -> bool:
    return batches.mark.ids_checked is None or batches.now - batches.mark.ids_checked >= IDS_CHECK_EVERY


def _gone(connection: Connection, keys: set[str], now: dt.datetime, in_scope: Callable[[str], bool]) -> list[ToolItem]:
    """Stored items of the scope (`in_scope(key)`) that the tool no longer lists (`keys`):
    deleted, moved out of the scope or transferred. They end in the stream's removed state."""
    gone = []
    stored = (
        BacklogItem.objects.filter(stream_id=connection.stream_id, source=connection.source)
        .exclude(state__category=WorkflowState.Category.REMOVED)
        .values_list("external_key", "title", "flow_type", "created_at")
    )
    for key, title, flow_type, created in stored.iterator(chunk_size=5000):
        if key not in keys and in_scope(key):
            gone.append(
                ToolItem(
                    key=key,
                    title=title,
                    work_type="",
                    labels=[],
                    created=created,
                    moves=[(now, DELETED)],
                    whole=False,
                    flow_type=flow_type,
                )
            )
    return gone


def _sync_github(run: SyncRun, http: ToolHttp) -> None:
    """Issues updated since the watermark, oldest update first, each with its timeline; a run
    that stopped resumes from the update time of the last committed issue."""
    connection = run.connection
    client = tool_client(connection, http)
    batches = TimeBatches(run)
    for key in sorted(HeldItem.objects.filter(connection=connection).values_list("external_key", flat=True)):
        number = key.rpartition("#")[2]
        try:
            issue = client.issue(int(number)) if number.isdigit() else None
        except ToolRefused as error:
            if error.status not in (404, 410):
                raise
            issue = None  # deleted or transferred: nothing to hold any more
        item = github_issue_item(client.with_timeline(issue)) if issue else None
        if isinstance(item, ToolItem):
            batches.items.append(item)
        else:
            HeldItem.objects.filter(connection=connection, external_key=key).delete()
    last_update = None
    for page in client.pages(batches.mark.cursor or batches.mark.updated):
        items = []
        for issue in page:
            item = github_issue_item(client.with_timeline(issue))
            if isinstance(item, ToolItem):
                items.append(item)
            last_update = aware_time(issue.get("updated_at")) or last_update
        batches.add(items, lambda batch, at=last_update: at)
    ids_checked = None
    if _ids_check_due(batches):  # a deleted or transferred issue never shows among the updated ones
        repository = client.scope.repository.casefold()
        keys = client.keys_in_scope()
        batches.items += _gone(
            connection, keys, batches.now, lambda key: key.rpartition("#")[0].casefold() == repository
        )
        ids_checked = batches.now
    batches.finish(ids_checked=ids_checked)
