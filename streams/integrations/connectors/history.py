"""What a sync read, made into what the import writer writes (`Parsed`), for every tool.

A tool item comes either with its whole life (a backfill, Jira's changelog, GitHub's
timeline) or with the changes since some moment (Azure DevOps' revisions after the
watermark): then the moves the portal stored before that moment come first, so an item's
history is always whole when it reaches the writer, which replaces it only if it differs.

Statuses and types are mapped only through the stream's remembered mapping: a name the mapping
does not know holds its item back (`Held`), nothing is guessed. Two statuses are the portal's
own and always mapped: an item deleted in the tool, or moved out of the connection's scope,
ends in the stream's removed state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt

from core.lookups import any_of
from streams.integrations.toolchain import CATEGORY_RANK, TYPE_PRECEDENCE, Mapping
from streams.integrations.writer import ItemRow, Parsed
from streams.models import StateTransition, WorkflowState

Category = WorkflowState.Category
REMOVED_STATE = "Removed"


@dataclass
class ToolItem:
    key: str
    title: str
    work_type: str
    labels: list[str]
    created: dt.datetime
    moves: list[tuple[dt.datetime, str]]  # (when, the tool's status), oldest first
    parent_key: str = ""
    whole: bool = True  # False: `moves` start at moves[0] and the stored history comes before
    cut_short: bool = False
    blocked_by: list[str] | None = None  # keys of the items blocking it; None: the tool's links are not read
    flow_type: str = ""  # set: the flow type as stored (an item gone from the tool), not mapped from work_type


@dataclass
class Held:
    key: str
    title: str
    kind: str  # "status" or "type"
    value: str


@dataclass
class Built:
    parsed: Parsed
    held: list[Held] = field(default_factory=list)


def build(
    items: list[ToolItem],
    *,
    source: str,
    mapping: Mapping,
    stored: dict[str, list[tuple[dt.datetime, str]]],
    own_statuses: tuple[str, ...] = (),
) -> Built:
    """`stored`: per key, the moves the tool's earlier syncs or imports wrote (state names).
    `own_statuses`: the connector's statuses that mean "gone" (deleted, left the scope)."""
    parsed = Parsed(source=source, sets_team=False, sets_order=False)
    built = Built(parsed=parsed)
    existing = mapping.existing  # the stream's states: name -> category
    removed = next((name for name, category in existing.items() if category == Category.REMOVED), REMOVED_STATE)
    for name, category in existing.items():
        parsed.states[name] = (category, CATEGORY_RANK[category])
    for n, item in enumerate(items, start=1):
        flow_type = item.flow_type or mapping.types.get(item.work_type)
        if not flow_type:
            built.held.append(Held(item.key, item.title, "type", item.work_type))
            continue
        from_labels = {mapping.labels[label] for label in item.labels if mapping.labels.get(label)}
        if from_labels:  # a label mapped to a type wins over the work item type (risk first)
            flow_type = next(t for t in TYPE_PRECEDENCE if t in from_labels)
        history: list[tuple[str, dt.datetime]] = []
        if not item.whole:
            since = item.moves[0][0] if item.moves else item.created
            history = [(name, at) for at, name in stored.get(item.key, []) if at < since]
        unmapped = ""
        states: dict[str, str] = {}
        for at, status in item.moves:
            if status in own_statuses:
                target = (removed, Category.REMOVED)
            else:
                target = mapping.statuses.get(status)
            if target is None:
                unmapped = status
                break
            name, category = target
            states[name] = category
            if history and at < history[-1][1]:
                at = history[-1][1]  # a change dated before the one before it (clock skew, migrations)
            if not history or history[-1][0] != name:
                history.append((name, at))
        if unmapped:
            built.held.append(Held(item.key, item.title, "status", unmapped))
            continue
        if not history:
            continue  # nothing known of its workflow yet
        for name, category in states.items():
            parsed.states.setdefault(name, (category, CATEGORY_RANK[category]))
        parsed.items[item.key] = ItemRow(
            n, item.key, item.title[:300] or item.key, flow_type, item.created, item.parent_key, None
        )
        parsed.histories[item.key] = history
        if item.cut_short:
            parsed.cut_short.add(item.key)
        if item.blocked_by is not None:
            parsed.dependencies = parsed.dependencies if parsed.dependencies is not None else set()
            parsed.dependencies.update((item.key, blocker) for blocker in item.blocked_by)
    return built


def aware_time(value) -> dt.datetime | None:
    """An ISO 8601 instant with its offset (Jira's +0000, GitHub's Z); None otherwise."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def stored_moves(stream_id: int, source: str, keys: list[str]) -> dict[str, list[tuple[dt.datetime, str]]]:
    """The moves the tool's earlier syncs or imports wrote for these items, oldest first."""
    moves: dict[str, list[tuple[dt.datetime, str]]] = {}
    rows = (
        StateTransition.objects.filter(
            any_of("item__external_key", keys),
            item__stream_id=stream_id,
            item__source=source,
            source=StateTransition.Source.IMPORT,
        )
        .order_by("item_id", "at", "pk")
        .values_list("item__external_key", "at", "to_state__name")
    )
    for key, at, name in rows:
        moves.setdefault(key, []).append((at, name))
    return moves
