"""Writes to backlog items and their history.

`item_change_state` is the only way an item changes state: admin, pages, API, imports and
webhooks all call it. It records the transition, re-derives started/finished from the
history, and holds the release gate, in one transaction with the item's row locked.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Min, QuerySet
from django.utils import timezone

from core.dates import too_early
from core.errors import DomainError
from core.history import history_record
from core.queue import send
from core.sql import Dialect
from streams.backlog.signals import release_gate_refused
from streams.flow.rollups import affected_day, rollups_invalidate, utc_day
from streams.models import BacklogItem, ReadinessCriterion, StateTransition, WorkflowState
from streams.readiness.services import item_readiness_checks_sync, readiness_wait_begin, unmet_criteria

Category = WorkflowState.Category
# Clocks of the tools that report changes drift a little; beyond this, a date is in the future.
CLOCK_SKEW = dt.timedelta(minutes=5)


class StateChangeError(DomainError):
    """A state change was refused; the message says why."""


class ReleaseGateError(StateChangeError):
    """Entering a done state was refused because applicable readiness criteria are unmet.

    Also raised (with `field="flow_type"`) when a type change would leave a finished item
    without the criteria of its new type: retyping must not walk around the gate.
    """

    def __init__(
        self,
        item: BacklogItem,
        to_state: WorkflowState,
        unmet: list[ReadinessCriterion],
        *,
        message: str = "",
        field: str = "state",
    ):
        self.item = item
        self.to_state = to_state
        self.unmet = unmet
        names = _criteria_names(unmet)
        super().__init__(
            message
            or f"{item.key} cannot move to {to_state.name}: {len(unmet)} readiness "
            f"check{'s are' if len(unmet) != 1 else ' is'} still pending: {names}. "
            "The owning teams must mark each one met, waived or not applicable first.",
            field=field,
            code="release_gate",
        )

    @classmethod
    def for_retype(cls, item: BacklogItem, unmet: list[ReadinessCriterion]) -> ReleaseGateError:
        """The refusal of a type change that would leave the finished `item` short of criteria."""
        many = len(unmet) != 1
        return cls(
            item,
            item.state,
            unmet,
            field="flow_type",
            message=(
                f"{item.key} is finished ({item.state.name}); as a {item.get_flow_type_display().lower()} it would "
                f"need {len(unmet)} readiness criteri{'a that are' if many else 'on that is'} not met: "
                f"{_criteria_names(unmet)}. Keep its type, or reopen it and have the owning teams decide "
                f"{'each one' if many else 'it'} first."
            ),
        )


def _criteria_names(unmet: list[ReadinessCriterion]) -> str:
    return "; ".join(f"{criterion.name} (owned by {criterion.owner_team.name})" for criterion in unmet)


# --- Deriving started/finished from the history ----------------------------------------------


def items_refresh_flow_dates(items: QuerySet[BacklogItem]) -> int:
    """Set started/finished of the given items from their transition history, in the database.

    Start = first entry into an active or waiting state; finish = last entry into a done state
    if the item is in a done state now; an item in a done state that never passed through
    active or waiting starts at that finish (flow time 0), reopened before or not; one never
    in progress and not done now has no start (DESIGN.md, "Start"). A finished item whose
    history an export cut short has no known start either: no flow time (DESIGN.md, "Data
    quality"); unfinished, its first known progress stands in, so it still counts as WIP.
    One set-based UPDATE ... FROM over a per-item aggregate (PostgreSQL, and SQLite from
    3.33), so it serves one item (the state service) and a whole import alike. Only items whose
    dates change are written: a move that starts and finishes nothing leaves the row (and the
    caches that depend on the dates, `core.freshness.DELIVERY`) alone. Returns the number of
    items whose dates changed.
    """
    ids_sql, params = items.values("pk").query.sql_with_params()
    item, transition, state = (m._meta.db_table for m in (BacklogItem, StateTransition, WorkflowState))
    sql = Dialect(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {item} SET started_at = n.started_at, finished_at = n.finished_at
            FROM (
                SELECT a.item_id,
                       CASE WHEN i.history_cut_short AND cs.category = 'done' THEN NULL
                            ELSE COALESCE(a.first_start, CASE WHEN cs.category = 'done' THEN a.last_done END)
                       END AS started_at,
                       CASE WHEN cs.category = 'done' THEN a.last_done END AS finished_at
                FROM (
                    SELECT t.item_id,
                           MIN(CASE WHEN s.category IN ('active', 'waiting') THEN t.at END) AS first_start,
                           MAX(CASE WHEN s.category = 'done' THEN t.at END) AS last_done
                    FROM {transition} t JOIN {state} s ON s.id = t.to_state_id
                    WHERE t.item_id IN ({ids_sql})
                    GROUP BY t.item_id
                ) a
                JOIN {item} i ON i.id = a.item_id
                JOIN {state} cs ON cs.id = i.state_id
            ) n
            WHERE {item}.id = n.item_id
              AND ({sql.distinct(f"{item}.started_at", "n.started_at")}
                   OR {sql.distinct(f"{item}.finished_at", "n.finished_at")})
            """,
            params,
        )
        return cursor.rowcount


@transaction.atomic
def stream_refresh_flow_dates(*, stream_id: int) -> int:
    """Re-derive started/finished of every item of a stream; returns the items updated.

    The stream's items are locked first (in id order, as every locker takes them) so a state
    change committing meanwhile cannot be overwritten by dates computed before it.
    """
    items = BacklogItem.objects.filter(stream_id=stream_id)
    list(items.select_for_update().order_by("pk").values_list("pk", flat=True))
    return items_refresh_flow_dates(items)


def workflow_state_category_changed(*, stream_id: int) -> None:
    """A state's category decides which dates its items have: refresh them after the commit.

    Every stored day of the stream's rollups is recomputed too."""
    rollups_invalidate(stream_id=stream_id, since=None)

    def refresh() -> None:
        if not send("streams.refresh_flow_dates", stream_id):  # the job queue is down: do it here, now
            stream_refresh_flow_dates(stream_id=stream_id)

    transaction.on_commit(refresh)


# --- Creating items and changing their state ------------------------------------------------

# The doors that speak for a tool, and so may name an item's source and key in it.
TOOL_DOORS = frozenset({StateTransition.Source.IMPORT, StateTransition.Source.WEBHOOK, StateTransition.Source.SEED})


def _validate_target(item: BacklogItem, to_state: WorkflowState, at: dt.datetime, last_at: dt.datetime | None) -> None:
    if to_state.stream_id != item.stream_id:
        raise StateChangeError(
            f"{to_state.name} is a state of another value stream; choose one of this item's stream's states.",
            field="state",
        )
    if problem := too_early(at):
        raise StateChangeError(f"A state change cannot be dated then: {problem}", field="at")
    if at > timezone.now() + CLOCK_SKEW:
        raise StateChangeError(
            f"A state change cannot be dated in the future ({at:%Y-%m-%d %H:%M}); record it when it happens.",
            field="at",
        )
    if last_at is not None and at < last_at:
        raise StateChangeError(
            f"A state change cannot be dated {at:%Y-%m-%d %H:%M}, before the item's last change "
            f"({last_at:%Y-%m-%d %H:%M}).",
            field="at",
        )
    if to_state.category == Category.DONE:
        unmet = unmet_criteria(item)
        if unmet:
            raise ReleaseGateError(item, to_state, unmet)


def item_state_change_validate(*, item: BacklogItem, to_state: WorkflowState) -> None:
    """Raise the error `item_change_state` would raise now, without writing anything.

    Forms call it to show the refusal next to the field; the service checks again under lock.
    """
    if to_state.pk == item.state_id:
        return
    last_at = item.transitions.order_by("-at").values_list("at", flat=True).first()
    _validate_target(item, to_state, max(timezone.now(), last_at or timezone.now()), last_at)


def item_change_state(
    *,
    item: BacklogItem | int,
    to_state: WorkflowState,
    at: dt.datetime | None = None,
    actor=None,
    via: str = "page",
) -> StateTransition:
    """Move an item to `to_state` at `at` (default: now) and return the recorded transition.

    `via` records which door the change came through (admin, page, api, import, webhook).

    The item row is locked (SELECT ... FOR UPDATE) so concurrent changes of one item are
    serialised and each records the state the other left. Raises `StateChangeError` (or its
    `ReleaseGateError`) and writes nothing when the change is refused, except that work in
    progress the release gate holds back is flagged as waiting on readiness from then on.
    """
    try:
        return _change_state(item=item, to_state=to_state, at=at, actor=actor, via=via)
    except ReleaseGateError as refused:
        readiness_wait_begin(item_id=refused.item.pk, at=at or timezone.now())
        release_gate_refused.send(
            sender=BacklogItem, item=refused.item, to_state=refused.to_state, unmet=refused.unmet, actor=actor
        )
        raise


@transaction.atomic
def _change_state(*, item, to_state, at, actor, via) -> StateTransition:
    item_pk = item.pk if isinstance(item, BacklogItem) else item
    # No join here: PostgreSQL re-checks a joined row after waiting for the lock, and a
    # concurrent change of state would make the item vanish from the result.
    locked = BacklogItem.objects.select_for_update().get(pk=item_pk)
    if to_state.pk == locked.state_id:
        raise StateChangeError(f"{locked.key} is already in {to_state.name}.", field="state", code="no_change")
    last_at = locked.transitions.order_by("-at").values_list("at", flat=True).first()
    at = at or timezone.now()
    _validate_target(locked, to_state, at, last_at)
    transition = StateTransition.objects.create(
        item=locked, from_state_id=locked.state_id, to_state=to_state, at=at, actor=actor, source=via
    )
    BacklogItem.objects.filter(pk=locked.pk).update(state=to_state, updated_at=timezone.now())
    items_refresh_flow_dates(BacklogItem.objects.filter(pk=locked.pk))
    started_at, finished_at, updated_at = (
        BacklogItem.objects.filter(pk=locked.pk).values_list("started_at", "finished_at", "updated_at").get()
    )
    since = _past_rewritten_since(
        locked,
        at=at,
        categories={locked.state.category, to_state.category},
        started_at=started_at,
        finished_at=finished_at,
    )
    if since is not None:
        rollups_invalidate(stream_id=locked.stream_id, since=since)
    for moved in (locked, item) if isinstance(item, BacklogItem) else (locked,):
        moved.state, moved.started_at, moved.finished_at = to_state, started_at, finished_at
        moved.updated_at = updated_at
    history_record(locked, user=actor)
    return transition


def _past_rewritten_since(
    before: BacklogItem, *, at: dt.datetime, categories: set[str], started_at, finished_at
) -> dt.date | None:
    """The first past day whose flow a state change rewrites (None: only today's).

    A move dated before today changes the days from its own; entering or leaving a removed
    state takes the item out of (or back into) every day of its life; a finish that moves or
    goes (reopen) changes that day's finished work; a start that moves changes which earlier
    stays were work in progress. See `streams.flow.rollups`.
    """
    days = [affected_day(at)]
    if Category.REMOVED in categories:
        first = before.transitions.aggregate(first=Min("at"))["first"]
        days.append(affected_day(first or at))
    if before.finished_at is not None and before.finished_at != finished_at:
        days.append(affected_day(before.finished_at))
    if before.started_at is not None and before.started_at != started_at:
        days.append(affected_day(min(before.started_at, started_at or before.started_at)))
    since = min(days)
    return since if since < utc_day(timezone.now()) else None


def initial_state(stream_id: int) -> WorkflowState:
    """The first backlog state of a stream (or its first state if it has no backlog state)."""
    states = WorkflowState.objects.filter(stream_id=stream_id).order_by("order", "pk")
    state = states.filter(category=Category.BACKLOG).first() or states.first()
    if state is None:
        raise DomainError("This value stream has no workflow states yet; add them before adding items.", field="stream")
    return state


@transaction.atomic
def item_create(
    *,
    stream_id: int,
    title: str,
    flow_type: str,
    state: WorkflowState | None = None,
    created_at: dt.datetime | None = None,
    actor=None,
    via: str = "page",
    **fields,
) -> BacklogItem:
    """Create an item, record its entry into the workflow, and create its readiness checks.

    `via` is the transition's door (as for `item_change_state`); `fields` are item columns.
    Only the doors that speak for a tool (imports, webhooks, seeds) may set `source` and
    `external_key`: a key typed in elsewhere could claim an item of a project imported into
    another stream, which that project's webhooks would then rewrite.

    An item created straight into a done state passes the release gate like any other.
    """
    claimed = [name for name in ("source", "external_key") if fields.get(name)]
    if claimed and via not in TOOL_DOORS:
        raise DomainError(
            f"{' and '.join(claimed)}: an item's source and external key are set by imports, connectors and "
            "webhooks only; leave them out.",
            field=claimed[0],
        )
    created_at = created_at or timezone.now()
    _validate_dates(created_at=created_at, target_date=fields.get("target_date"))
    state = state or initial_state(stream_id)
    item = BacklogItem(
        stream_id=stream_id, title=title, flow_type=flow_type, state=state, created_at=created_at, **fields
    )
    _validate_target(item, state, created_at, None)  # before writing: stream, and the gate
    _validate_parent(item, fields.get("parent"))
    item.full_clean(exclude=["state"])
    if actor is not None:
        item._history_user = actor  # the change history's author, also outside a request
    item.save()
    item_readiness_checks_sync(item=item)
    StateTransition.objects.create(item=item, from_state=None, to_state=state, at=created_at, actor=actor, source=via)
    items_refresh_flow_dates(BacklogItem.objects.filter(pk=item.pk))
    item.refresh_from_db(fields=["started_at", "finished_at"])
    if affected_day(created_at) < utc_day(timezone.now()):
        rollups_invalidate(stream_id=stream_id, since=affected_day(created_at))
    return item


def _validate_dates(**dates) -> None:
    for name, value in dates.items():
        if problem := too_early(value):
            raise DomainError(problem, field=name)


MAX_PARENT_DEPTH = 50  # epics, features, stories: real hierarchies are a few levels deep


def _validate_parent(item: BacklogItem, parent: BacklogItem | None) -> None:
    """A parent is in the item's stream and is not the item itself or one of its descendants."""
    if parent is None:
        return
    if parent.stream_id != item.stream_id:
        raise DomainError(
            f"{parent.key} belongs to another value stream; a parent is in the item's own.", field="parent"
        )
    if item.pk is None:
        return
    ancestor_id, depth = parent.pk, 0
    while ancestor_id is not None and depth < MAX_PARENT_DEPTH:
        if ancestor_id == item.pk:
            raise DomainError(
                f"{parent.key} is {item.key} or lies below it; an item cannot be its own ancestor.", field="parent"
            )
        ancestor_id = BacklogItem.objects.filter(pk=ancestor_id).values_list("parent_id", flat=True).first()
        depth += 1


# Item columns a page may change; the state has its own service, and dates come from history.
EDITABLE_FIELDS = {
    "title",
    "description",
    "flow_type",
    "team",
    "parent",
    "size",
    "rank",
    "target_date",
    "customer_facing",
    "proposed_by",
}


@transaction.atomic
def item_update(*, item: BacklogItem, actor=None, **changes) -> BacklogItem:
    """Change an item's own fields, and re-sync its readiness checks when its type changes.

    Only the fields given are written (a concurrent state change is never overwritten with a
    stale copy). Raises `DomainError` naming the field at fault.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise DomainError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.", field=min(unknown))
    locked = BacklogItem.objects.select_for_update().get(pk=item.pk)
    retyped = "flow_type" in changes and changes["flow_type"] != locked.flow_type
    if "parent" in changes:
        _validate_parent(locked, changes["parent"])
    _validate_dates(target_date=changes.get("target_date"))
    for name, value in changes.items():
        setattr(locked, name, value)
    try:
        locked.full_clean(exclude=["state"])
    except ValidationError as error:
        raise DomainError.from_validation(error) from error
    if actor is not None:
        locked._history_user = actor
    locked.save(update_fields=[*changes, "updated_at"])
    if retyped:
        item_readiness_checks_sync(item=locked)
        if locked.state.category == Category.DONE and (unmet := unmet_criteria(locked)):
            raise ReleaseGateError.for_retype(locked, unmet)  # the transaction rolls back
        if locked.finished_at is not None:  # the type of finished work is in its stored days
            rollups_invalidate(stream_id=locked.stream_id, since=affected_day(locked.finished_at))
    for name in (*changes, "updated_at"):
        setattr(item, name, getattr(locked, name))
    return locked


@transaction.atomic
def item_move_to_stream(*, item: BacklogItem, stream_id: int, actor=None, via: str = "page") -> BacklogItem:
    """Move an item (and its history) to another value stream.

    It lands in the new stream's first state of the category it is in now (a move is recorded
    as a transition), and its readiness checks are re-synced for the new stream. Both streams'
    stored days are recomputed: the item's whole life changes stream. Finished and removed
    work stays in the stream that delivered (or dropped) it.
    """
    locked = BacklogItem.objects.select_for_update().get(pk=item.pk)
    locked.state = WorkflowState.objects.get(pk=locked.state_id)
    if stream_id == locked.stream_id:
        raise DomainError(f"{locked.key} is already in this value stream.", field="stream", code="no_change")
    if locked.state.category in (Category.DONE, Category.REMOVED):
        raise DomainError(
            f"{locked.key} is {locked.state.get_category_display().lower()}; finished and removed work stays in "
            "the value stream it belonged to.",
            field="stream",
        )
    same_category = WorkflowState.objects.filter(stream_id=stream_id, category=locked.state.category)
    target = same_category.order_by("order", "pk").first()
    if target is None:
        raise DomainError(
            f"The other value stream has no {locked.state.get_category_display().lower()} state to put "
            f"{locked.key} in; add one to its workflow first.",
            field="stream",
        )
    old_stream = locked.stream_id
    at = timezone.now()
    StateTransition.objects.create(
        item=locked, from_state_id=locked.state_id, to_state=target, at=at, actor=actor, source=via
    )
    BacklogItem.objects.filter(pk=locked.pk).update(stream_id=stream_id, state=target, updated_at=at)
    items_refresh_flow_dates(BacklogItem.objects.filter(pk=locked.pk))
    locked.refresh_from_db()
    history_record(locked, user=actor)
    item_readiness_checks_sync(item=locked)
    for pk in (old_stream, stream_id):
        rollups_invalidate(stream_id=pk, since=None)
    return locked
