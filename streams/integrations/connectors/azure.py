"""Azure DevOps Boards: a thin typed client of the REST API (version 7.1) and the reading of
work item revisions into issues.

What is read, and why:
- `_apis/wit/reporting/workitemrevisions` (the Reporting Work Item Revisions API, made for
  building a warehouse): every revision of every work item of the project, oldest first, in
  batches; the `continuationToken` of the last batch read is the watermark, `isLastBatch` says
  the history is read up to now. Only the fields the portal needs are asked for; deleted items
  come too (`includeDeleted`).
- `_apis/wit/workitems/{id}/revisions`: the whole history of one item that came into the
  scope mid-life (moved from another area path), so its start is known.
- `_apis/wit/workitemtypes`: each type's states and their state categories (Proposed,
  InProgress, Resolved, Completed, Removed), which suggest the mapping.
- `{team}/_apis/work/boards/{board}`: a board's columns, their type (incoming, in progress,
  outgoing) and whether they are split into Doing and Done, and the board's own column fields.
  With a board, its columns are the workflow and the Done half of a split column is a waiting
  state ("Develop – Done"); without, the work items' states are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
import datetime as dt
from urllib.parse import quote

from streams.integrations.connectors.history import ToolItem
from streams.integrations.connectors.http import ToolHttp, ToolRefused

API = "7.1"
PAGE_SIZE = 1000  # revisions per batch (the API's own default is 200)
ITEM_PAGE = 200  # revisions per page of one item's history
COUNT_CAP = 20000  # WIQL answers at most this many ids

# Azure DevOps' state categories → the portal's categories (a suggestion, confirmed by the director).
STATE_CATEGORIES = {
    "Proposed": "backlog",
    "InProgress": "active",
    "Resolved": "waiting",  # resolved, waiting for someone to verify and close it
    "Completed": "done",
    "Removed": "removed",
}
COLUMN_CATEGORIES = {"incoming": "backlog", "inProgress": "active", "outgoing": "done"}
DONE_HALF = " – Done"  # the Done half of a split board column: a waiting state
LEFT_SCOPE = "(left the scope)"  # an item moved out of the area path: removed from the stream
DELETED = "(deleted)"

FIELDS = [
    "System.Id",
    "System.Rev",
    "System.WorkItemType",
    "System.State",
    "System.ChangedDate",
    "System.CreatedDate",
    "System.Title",
    "System.Parent",
    "System.AreaPath",
    "System.Tags",
    "System.IsDeleted",
    "Microsoft.VSTS.Common.ClosedDate",
]


@dataclass
class AzureScope:
    project: str
    area_path: str = ""
    team: str = ""
    board: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> AzureScope:
        project = str(data.get("project") or "").strip()
        if not project:
            raise ValueError("name the Azure DevOps project.")
        team, board = str(data.get("team") or "").strip(), str(data.get("board") or "").strip()
        if bool(team) != bool(board):
            raise ValueError("a board needs its team, and a team its board (e.g. team 'Payments', board 'Stories').")
        return cls(
            project=project, area_path=str(data.get("area_path") or "").strip().strip("\\"), team=team, board=board
        )

    def in_scope(self, area_path: str) -> bool:
        if not self.area_path:
            return True
        path, under = area_path.casefold(), self.area_path.casefold()
        return path == under or path.startswith(under + "\\")


@dataclass
class Board:
    column_field: str
    done_field: str
    columns: list[dict]

    def status_names(self) -> dict[str, str]:
        """Every status the board gives an item, with its suggested category, in the board's order."""
        names: dict[str, str] = {}
        for column in self.columns:
            name = str(column.get("name") or "")
            category = COLUMN_CATEGORIES.get(column.get("columnType"), "active")
            names[name] = category
            if column.get("isSplit"):
                names[name + DONE_HALF] = "waiting"
        return names


@dataclass
class Revision:
    """One revision, reduced to what the portal reads."""

    id: int
    rev: int
    changed: dt.datetime
    created: dt.datetime | None
    work_type: str
    status: str
    title: str
    area_path: str
    parent: int | None
    tags: list[str]
    deleted: bool = False

    @property
    def key(self) -> str:
        return str(self.id)


@dataclass
class RevisionBatch:
    revisions: list[Revision]
    token: str
    last: bool
    skipped: list[str] = field(default_factory=list)  # revisions that could not be read, and why


def parse_time(value) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class AzureBoards:
    def __init__(self, http: ToolHttp, scope: AzureScope):
        self.http, self.scope = http, scope
        self.project = quote(scope.project, safe="")
        self.board: Board | None = None

    # -- what the connection page asks ---------------------------------------------------------

    def count_in_scope(self) -> int:
        """Work items in scope now (at most COUNT_CAP: WIQL's limit)."""
        where = "[System.TeamProject] = @project"
        if self.scope.area_path:
            where += f" AND [System.AreaPath] UNDER '{self.scope.area_path.replace(chr(39), chr(39) * 2)}'"
        body = {"query": f"SELECT [System.Id] FROM WorkItems WHERE {where}"}
        data = self.http.post(f"/{self.project}/_apis/wit/wiql", body, **{"api-version": API, "$top": COUNT_CAP})
        items = data.get("workItems")
        return len(items) if isinstance(items, list) else 0

    def statuses(self) -> tuple[dict[str, str], list[str]]:
        """(status → suggested category, work item types): the board's columns when a board is
        chosen, else every type's states with their state categories."""
        data = self.http.get(f"/{self.project}/_apis/wit/workitemtypes", **{"api-version": API})
        types, states = [], {}
        for work_type in data.get("value") or []:
            if not isinstance(work_type, dict) or not isinstance(work_type.get("name"), str):
                continue
            types.append(work_type["name"])
            for state in work_type.get("states") or []:
                if isinstance(state, dict) and isinstance(state.get("name"), str):
                    states.setdefault(state["name"], STATE_CATEGORIES.get(state.get("category"), "active"))
        if self.scope.board:
            states = self.load_board().status_names()
        return states, types

    def load_board(self) -> Board:
        if self.board is None:
            team, board = quote(self.scope.team, safe=""), quote(self.scope.board, safe="")
            data = self.http.get(f"/{self.project}/{team}/_apis/work/boards/{board}", **{"api-version": API})
            fields = data.get("fields") or {}
            column = (fields.get("columnField") or {}).get("referenceName")
            done = (fields.get("doneField") or {}).get("referenceName")
            columns = data.get("columns")
            if not (isinstance(column, str) and isinstance(done, str) and isinstance(columns, list)):
                raise ToolRefused(f"the board {self.scope.board!r} of team {self.scope.team!r} has no columns to read")
            self.board = Board(column_field=column, done_field=done, columns=columns)
        return self.board

    # -- history -----------------------------------------------------------------------------

    def fields(self) -> list[str]:
        extra = [self.board.column_field, self.board.done_field] if self.scope.board and self.load_board() else []
        return FIELDS + extra

    def revisions(self, token: str = "") -> Iterator[RevisionBatch]:
        """Batches of revisions from the watermark `token` (all of them without) up to now."""
        fields = ",".join(self.fields())
        while True:
            params = {"api-version": API, "fields": fields, "includeDeleted": "true", "maxPageSize": PAGE_SIZE}
            if token:
                params["continuationToken"] = token
            data = self.http.get(f"/{self.project}/_apis/wit/reporting/workitemrevisions", **params)
            values = data.get("values")
            next_token = data.get("continuationToken")
            if not isinstance(values, list) or not isinstance(next_token, str):
                raise ToolRefused("the revisions answer has no 'values' list or no 'continuationToken'")
            batch = RevisionBatch(revisions=[], token=next_token, last=data.get("isLastBatch") is True)
            for raw in values:
                revision = self.revision(raw)
                if isinstance(revision, str):
                    batch.skipped.append(revision)
                else:
                    batch.revisions.append(revision)
            yield batch
            if batch.last or next_token == token:
                return
            token = next_token

    def item_revisions(self, item_id: int) -> list[Revision]:
        """Every revision of one item, oldest first (`$top`/`$skip` pages)."""
        revisions: list[Revision] = []
        skip = 0
        while True:
            data = self.http.get(
                f"/{self.project}/_apis/wit/workitems/{item_id}/revisions",
                **{"api-version": API, "$top": ITEM_PAGE, "$skip": skip},
            )
            values = data.get("value")
            if not isinstance(values, list):
                raise ToolRefused(f"the revisions of work item {item_id} came without a 'value' list")
            revisions += [r for r in map(self.revision, values) if isinstance(r, Revision)]
            if len(values) < ITEM_PAGE:
                return revisions
            skip += ITEM_PAGE

    def revision(self, raw) -> Revision | str:
        """A revision read, or why it cannot be."""
        if not isinstance(raw, dict) or not isinstance(raw.get("fields"), dict):
            return "a revision without fields"
        fields = raw["fields"]
        item_id, rev = raw.get("id", fields.get("System.Id")), raw.get("rev", fields.get("System.Rev"))
        if not isinstance(item_id, int) or not isinstance(rev, int):
            return "a revision without an id or rev"
        changed = parse_time(fields.get("System.ChangedDate"))
        if changed is None:
            return f"work item {item_id} rev {rev} has no readable System.ChangedDate"
        status = fields.get("System.State")
        if self.scope.board:
            column = fields.get(self.board.column_field)
            if isinstance(column, str) and column:
                status = column + (DONE_HALF if fields.get(self.board.done_field) is True else "")
        deleted = fields.get("System.IsDeleted") is True or raw.get("isDeleted") is True
        if not isinstance(status, str) or not status:
            if not deleted:
                return f"work item {item_id} rev {rev} has no state"
            status = DELETED
        parent = fields.get("System.Parent")
        tags = fields.get("System.Tags")
        return Revision(
            id=item_id,
            rev=rev,
            changed=changed,
            created=parse_time(fields.get("System.CreatedDate")),
            work_type=str(fields.get("System.WorkItemType") or ""),
            status=status,
            title=str(fields.get("System.Title") or "")[:300],
            area_path=str(fields.get("System.AreaPath") or ""),
            parent=parent if isinstance(parent, int) else None,
            tags=[tag.strip() for tag in tags.split(";") if tag.strip()] if isinstance(tags, str) else [],
            deleted=deleted,
        )


Step = tuple[int, dt.datetime, str, bool, bool]  # (rev, changed, status, in scope, deleted)


@dataclass
class Buffered:
    """One item's revisions read so far, compactly: a step per revision, and its latest whole."""

    steps: list[Step]
    last: Revision


class RevisionBuffer:
    """Revisions read and not yet written, per item. The reporting API interleaves items (every
    change in the order it was made), so a backfill buffers many pages and writes each item once
    rather than merging it again at every page; a step is a small tuple, so a million cost about
    150 MB."""

    def __init__(self, scope: AzureScope):
        self.scope = scope
        self.items: dict[int, Buffered] = {}
        self.count = 0

    def add(self, revision: Revision) -> None:
        step = (
            revision.rev,
            revision.changed,
            revision.status,
            self.scope.in_scope(revision.area_path),
            revision.deleted,
        )
        held = self.items.get(revision.id)
        if held is None:
            self.items[revision.id] = Buffered([step], revision)
        else:
            held.steps.append(step)
            if revision.rev > held.last.rev:
                held.last = revision
        self.count += 1


class AzureReader:
    """Turns buffered revisions into tool items with whole histories."""

    def __init__(self, boards: AzureBoards, *, stored_keys, held_keys: set[str]):
        self.boards = boards
        self.stored_keys = stored_keys  # callable: keys -> the keys the stream already holds
        self.held_keys = held_keys

    def whole(self, item_id: int) -> Buffered | None:
        """One item's every revision, from its own history (`None`: the tool has none)."""
        buffer = RevisionBuffer(self.boards.scope)
        for revision in self.boards.item_revisions(item_id):
            buffer.add(revision)
        return buffer.items.get(item_id)

    def items(self, buffered: dict[int, Buffered]) -> list[ToolItem]:
        """Each item's buffered revisions as a tool item. An item first seen mid-life (moved into
        the scope, or held back earlier) is read whole from its own revisions."""
        stored = self.stored_keys([str(item_id) for item_id in buffered])
        items = []
        for item_id, held in buffered.items():
            held.steps.sort(key=lambda step: step[0])
            key = str(item_id)
            whole = held.steps[0][0] == 1
            if not whole and (key not in stored or key in self.held_keys):
                held, whole = self.whole(item_id) or held, True
            item = self.item(held, whole=whole, stored=key in stored)
            if item is not None:
                items.append(item)
        return items

    def item(self, held: Buffered, *, whole: bool, stored: bool) -> ToolItem | None:
        """An item's revisions as moves. Before it first enters the scope its states count as
        they are (an item moved in keeps its real start); after, leaving the scope or being
        deleted ends it in the stream's removed state. None for an item never in scope."""
        if not stored and not any(in_scope for _rev, _at, _status, in_scope, _deleted in held.steps):
            return None
        moves: list[tuple[dt.datetime, str]] = []
        inside = stored
        for _rev, changed, status, in_scope, deleted in held.steps:
            inside = inside or in_scope
            if deleted:
                status = DELETED
            elif inside and not in_scope:
                status = LEFT_SCOPE
            moves.append((changed, status))
        last = held.last
        return ToolItem(
            key=last.key,
            title=last.title,
            work_type=last.work_type,
            labels=last.tags,
            created=last.created or held.steps[0][1],
            moves=moves,
            parent_key=str(last.parent) if last.parent else "",
            whole=whole,
        )
