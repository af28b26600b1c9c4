"""Business-operations readiness: which criteria apply to an item, its checks, their sign-off,
and the time work waits on them.

- Every item has a check for each active criterion that applies to its stream and flow type:
  created with the item, and re-synced when its type or stream changes (`item_update`).
- Only members of the criterion's owning team (or administrators) decide a check: met,
  waived with a reason, or not applicable; the decision records who and when.
- The release gate (`unmet_criteria`, held by `services.item_change_state`) refuses a done
  state while a check is pending. From that refusal until the last pending check is decided,
  the item is flagged blocked with the reason "readiness", so the wait shows as waiting time
  in the flow metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from core import access
from core.errors import PERMISSION_DENIED, DomainError
from streams.models import BacklogItem, BlockedPeriod, ReadinessCheck, ReadinessCriterion

Status = ReadinessCheck.Status
DECISIONS = (Status.MET, Status.WAIVED, Status.NOT_APPLICABLE)


def applicable_criteria(item: BacklogItem) -> QuerySet[ReadinessCriterion]:
    """Active criteria that apply to the item's stream and flow type."""
    return (
        ReadinessCriterion.objects.filter(active=True, flow_types__contains=item.flow_type)
        .filter(Q(all_streams=True) | Q(streams=item.stream_id))
        .distinct()
    )


def item_readiness_checks_sync(*, item: BacklogItem) -> int:
    """Give the item a pending check for every applicable criterion it has none for, and drop
    its pending checks of criteria that no longer apply (decided ones stay, as the record of
    who signed what). Idempotent; returns the number of checks created."""
    applicable = applicable_criteria(item)
    ReadinessCheck.objects.filter(item=item, status=Status.PENDING).exclude(
        criterion__in=applicable.values("pk")
    ).delete()
    missing = applicable.exclude(Exists(ReadinessCheck.objects.filter(item=item, criterion=OuterRef("pk"))))
    checks = [ReadinessCheck(item=item, criterion=criterion) for criterion in missing]
    ReadinessCheck.objects.bulk_create(checks, ignore_conflicts=True)
    return len(checks)


def items_readiness_checks_create(*, items: QuerySet[BacklogItem]) -> int:
    """Create the missing pending checks of many items at once (imports); a few queries in all.

    Same rule as `item_readiness_checks_sync`, applied in bulk: criteria are few, items many.
    """
    criteria = list(ReadinessCriterion.objects.filter(active=True).prefetch_related("streams"))
    if not criteria:
        return 0
    rows = items.values_list("pk", "stream_id", "flow_type")
    have = set(ReadinessCheck.objects.filter(item__in=items).values_list("item_id", "criterion_id"))
    return _checks_create(criteria, rows, have)


def new_items_readiness_checks_create(*, rows: Iterable[tuple[int, int, str]]) -> int:
    """`items_readiness_checks_create` for items this transaction has just written, given as
    (id, stream id, flow type): they have no check yet, so neither they nor their checks are
    read back (a board import of 132,000 items read both for 0.5-1 s)."""
    criteria = list(ReadinessCriterion.objects.filter(active=True).prefetch_related("streams"))
    if not criteria:
        return 0
    return _checks_create(criteria, list(rows), set())


def _checks_create(criteria: list[ReadinessCriterion], rows, have: set[tuple[int, int]]) -> int:
    """Create the pending checks the `criteria` call for among `rows` (id, stream id, flow
    type), but those in `have` (item id, criterion id)."""
    checks = []
    for criterion in criteria:
        stream_ids = {stream.pk for stream in criterion.streams.all()}
        for pk, stream_id, flow_type in rows:
            if (pk, criterion.pk) in have or flow_type not in criterion.flow_types:
                continue
            if criterion.all_streams or stream_id in stream_ids:
                checks.append(ReadinessCheck(item_id=pk, criterion=criterion))
    ReadinessCheck.objects.bulk_create(checks, batch_size=2000, ignore_conflicts=True)
    return len(checks)


def unmet_criteria(item: BacklogItem) -> list[ReadinessCriterion]:
    """Applicable criteria the item has no decided check for: what holds the release gate.

    A pending check holds it, and so does an applicable criterion with no check row at all
    (one added or widened after the item was created), so the gate never depends on the
    checks having been created in time.
    """
    # By id: an item being created has no pk yet, and then no check is decided.
    decided = ReadinessCheck.objects.filter(item_id=item.pk, criterion=OuterRef("pk")).exclude(status=Status.PENDING)
    return list(applicable_criteria(item).exclude(Exists(decided)).select_related("owner_team").order_by("name"))


def may_sign_off(user, check: ReadinessCheck) -> bool:
    """Members of the criterion's owning team, and administrators."""
    return access.may(user, access.SIGN_OFF, check)


@transaction.atomic
def readiness_check_decide(
    *, check: ReadinessCheck | int, status: str, reason: str = "", actor, at: dt.datetime | None = None
) -> ReadinessCheck:
    """Record a decision on a check (met, waived with a reason, not applicable), or put it back
    to pending; stamps who and when. The last pending check decided ends the item's wait on
    readiness. Raises `DomainError` (code `permission_denied` when the actor may not)."""
    pk = check.pk if isinstance(check, ReadinessCheck) else check
    locked = ReadinessCheck.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise DomainError("This readiness check no longer exists.", code="not_found")
    locked.criterion = ReadinessCriterion.objects.select_related("owner_team").get(pk=locked.criterion_id)
    if not may_sign_off(actor, locked):
        raise DomainError(
            f"Only members of {locked.criterion.owner_team.name} (or an administrator) may sign off "
            f"“{locked.criterion.name}”.",
            code=PERMISSION_DENIED,
        )
    if status not in Status.values:
        choices = ", ".join(label.lower() for label in Status.labels)
        raise DomainError(f"“{status}” is not a decision; choose one of: {choices}.", field="status")
    reason = (reason or "").strip()
    if status == Status.WAIVED and not reason:
        raise DomainError(
            "A waiver needs a reason: say why the work may be released without this criterion.",
            field="reason",
            code="reason_required",
        )
    if status == locked.status and reason == locked.reason:
        label = Status(status).label.lower()
        raise DomainError(f"This check is already {label}.", field="status", code="no_change")
    at = at or timezone.now()
    locked.status, locked.reason = status, reason
    locked.signed_off_by, locked.signed_off_at = (None, None) if status == Status.PENDING else (actor, at)
    locked.full_clean(exclude=["item", "criterion", "signed_off_by"])
    locked.save(update_fields=["status", "reason", "signed_off_by", "signed_off_at"])
    if (
        status != Status.PENDING
        and not ReadinessCheck.objects.filter(item_id=locked.item_id, status=Status.PENDING).exists()
    ):
        readiness_wait_end(item_id=locked.item_id, at=at)
    if isinstance(check, ReadinessCheck):
        check.status, check.reason = locked.status, locked.reason
        check.signed_off_by, check.signed_off_at = locked.signed_off_by, locked.signed_off_at
    return locked


def readiness_wait_begin(*, item_id: int, at: dt.datetime) -> BlockedPeriod | None:
    """Flag work in progress as blocked on readiness (the gate refused its finish), unless it
    already is. Work not started is not waiting in flow terms and is left alone."""
    started = BacklogItem.objects.in_progress().filter(pk=item_id)
    if not started.exists():
        return None
    open_wait = BlockedPeriod.objects.filter(
        item_id=item_id, reason=BlockedPeriod.Reason.READINESS, ended_at__isnull=True
    )
    if open_wait.exists():
        return None
    return BlockedPeriod.objects.create(
        item_id=item_id,
        reason=BlockedPeriod.Reason.READINESS,
        note="The release gate refused to finish it while readiness checks were pending.",
        started_at=at,
    )


def readiness_wait_end(*, item_id: int, at: dt.datetime) -> int:
    """End the item's open wait on readiness; returns the periods ended (0 or 1)."""
    ended = 0
    for period in BlockedPeriod.objects.filter(
        item_id=item_id, reason=BlockedPeriod.Reason.READINESS, ended_at__isnull=True
    ):
        period.ended_at = max(at, period.started_at)
        period.save(update_fields=["ended_at"])  # through save: the rollups signal sees it
        ended += 1
    return ended


@transaction.atomic
def criterion_save(*, criterion: ReadinessCriterion, streams, actor) -> tuple[int, int]:
    """Create or change a criterion (its streams given apart, being many-to-many), and bring the
    checks of open work in line with it: a pending check for every open item it now applies to,
    and none left pending where it no longer applies (or it was deactivated). Decided checks
    stay. Returns (checks created, pending checks dropped). Raises `DomainError`."""
    action = access.CHANGE if criterion.pk else access.ADD
    if not access.may(actor, action, criterion):
        raise DomainError(
            "Only operations members of the owning team (or an administrator) may manage its readiness criteria.",
            code=PERMISSION_DENIED,
        )
    try:
        criterion.full_clean()
    except ValidationError as error:
        raise DomainError.from_validation(error) from error
    criterion.save()
    criterion.streams.set(streams)
    return criterion_checks_sync(criterion=criterion)


def criterion_checks_sync(*, criterion: ReadinessCriterion) -> tuple[int, int]:
    """The checks of open work after a criterion changed (page or admin): a pending check for
    every open item it applies to, none left pending where it no longer does. Decided checks
    stay. Returns (created, dropped)."""
    open_items = BacklogItem.objects.filter(state__category__in=("backlog", "active", "waiting"))
    streams = criterion.streams.values("pk")
    applies = Q(flow_type__in=criterion.flow_types) & (Q() if criterion.all_streams else Q(stream__in=streams))
    if not criterion.active:
        applies = Q(pk__in=[])
    # Not `exclude(item__in=...)`: NOT IN over the open work it applies to ran that subquery again
    # for every pending check once the work outgrew work_mem as a hash; NOT EXISTS is a join.
    dropped, _ = (
        ReadinessCheck.objects.filter(criterion=criterion, status=Status.PENDING, item__in=open_items)
        .exclude(Exists(open_items.filter(applies, pk=OuterRef("item_id"))))
        .delete()
    )
    missing = (
        open_items.filter(applies)
        .exclude(Exists(ReadinessCheck.objects.filter(criterion=criterion, item=OuterRef("pk"))))
        .values_list("pk", flat=True)
    )
    checks = [ReadinessCheck(item_id=pk, criterion=criterion) for pk in missing.iterator(chunk_size=5000)]
    ReadinessCheck.objects.bulk_create(checks, batch_size=2000, ignore_conflicts=True)
    return len(checks), dropped
