"""Writes to objectives, key results and check-ins.

Pages, the admin and (later) the API call these; each validates and writes in one transaction
and raises `DomainError` naming the field at fault.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import access
from core.dates import too_early
from core.errors import PERMISSION_DENIED, DomainError
from core.history import history_record
from streams.flow.periods import parse_period
from streams.models import BacklogItem, WorkflowState

from .measures import direction_check, measure_validate, reading, readings_record, readings_so_far
from .models import CheckIn, KeyResult, Objective

# Levels from the top of the alignment tree down: a parent sits above its child.
LEVEL_RANK = {Objective.Level.COMPANY: 0, Objective.Level.STREAM: 1, Objective.Level.TEAM: 2}


def _raise_validation(error: ValidationError) -> None:
    """Turn a model's ValidationError into a DomainError on its first field."""
    if hasattr(error, "error_dict"):
        field, errors = next(iter(error.error_dict.items()))
        raise DomainError(" ".join(e.messages[0] for e in errors), field=None if field == "__all__" else field)
    raise DomainError(" ".join(error.messages))


def objective_validate(objective: Objective) -> None:
    """The model's own rules, then the tree's: the parent sits higher and its period covers this one."""
    try:
        objective.full_clean(exclude=["created_at"])
    except ValidationError as error:
        _raise_validation(error)
    parent = objective.parent
    if parent is None:
        return
    if objective.pk and parent.pk == objective.pk:
        raise DomainError("An objective cannot be its own parent.", field="parent")
    if LEVEL_RANK[parent.level] >= LEVEL_RANK[objective.level]:
        raise DomainError(
            f"A {objective.get_level_display().lower()} objective aligns to a higher level, "
            f"not to a {parent.get_level_display().lower()} objective.",
            field="parent",
        )
    mine, theirs = parse_period(objective.period), parse_period(parent.period)
    if not (theirs.start <= mine.start and mine.end <= theirs.end):
        raise DomainError(
            f"The parent's period ({theirs.label}) must cover this objective's period ({mine.label}).",
            field="parent",
        )


@transaction.atomic
def objective_save(*, objective: Objective) -> Objective:
    objective_validate(objective)
    objective.save()
    return objective


MEASURE_FIELDS = (
    "source",
    "measure",
    "measure_stream_id",
    "measure_team_id",
    "measure_flow_type",
    "measure_criterion_id",
    "measure_weeks",
)


@transaction.atomic
def key_result_save(*, key_result: KeyResult) -> KeyResult:
    """Save a key result. A measured one takes its start value from the measure at the period's
    start and its current value from today's reading (recorded as a system check-in), whenever
    it is new or its measure, scope or window changed; a target on the measure's worse side is
    refused."""
    measured = key_result.source == KeyResult.Source.MEASURED
    if not measured:
        key_result.measure = ""
    measure_validate(key_result)
    stored = KeyResult.objects.filter(pk=key_result.pk).values(*MEASURE_FIELDS).first() if key_result.pk else None
    remeasure = measured and (stored is None or any(stored[f] != getattr(key_result, f) for f in MEASURE_FIELDS))
    readings = []
    if remeasure:
        # The start is the measure at the period's start, or its first reading since when there
        # was nothing to measure then (a stream connected mid-quarter); the current, today's.
        readings = [(day, found) for day, found in readings_so_far(key_result) if found.value is not None]
        if not readings:
            found = reading(key_result)
            raise DomainError(
                f"There is nothing to measure yet ({found.method} n = 0): choose a longer window, another scope, "
                "or type the key result's check-ins.",
                field="measure",
            )
        key_result.start_value, key_result.current_value = readings[0][1].value, readings[-1][1].value
    direction_check(key_result)
    try:
        key_result.full_clean()
    except ValidationError as error:
        _raise_validation(error)
    key_result.save()
    if remeasure:
        readings_record(key_result, readings)
    return key_result


@transaction.atomic
def check_in_record(
    *,
    key_result: KeyResult,
    value: Decimal,
    confidence: Decimal,
    date: dt.date | None = None,
    note: str = "",
    author=None,
) -> CheckIn:
    """Record a reading of the key result; the newest reading becomes its current value.

    The key result's row is locked so two check-ins at once cannot leave an older value current.
    A measured key result's value is the portal's: a person's check-in carries its confidence
    and note, and the value measured last.
    """
    date = date or timezone.localdate()
    if problem := too_early(date):
        raise DomainError(f"A check-in cannot be dated then: {problem}", field="date")
    if date > timezone.localdate():
        raise DomainError(f"A check-in cannot be dated in the future ({date:%Y-%m-%d}).", field="date")
    if confidence is None or not (Decimal("0") <= confidence <= Decimal("1")):
        raise DomainError("Confidence is between 0 (no chance) and 1 (certain).", field="confidence")
    locked = KeyResult.objects.select_for_update().get(pk=key_result.pk)
    measured = locked.source == KeyResult.Source.MEASURED
    if measured:
        value = locked.current_value
    check_in = CheckIn(key_result=locked, value=value, confidence=confidence, date=date, note=note, author=author)
    try:
        check_in.full_clean(exclude=["created_at"])
    except ValidationError as error:
        _raise_validation(error)
    check_in.save()
    newest = CheckIn.objects.filter(key_result=locked).order_by("-date", "-pk").values_list("pk", flat=True).first()
    if newest == check_in.pk and not measured:
        KeyResult.objects.filter(pk=locked.pk).update(current_value=value)
        key_result.current_value = locked.current_value = value
        history_record(locked, user=author, reason="check-in")
    return check_in


def may_link(user, *, key_result: KeyResult, item) -> bool:
    """Whoever may change the key result, or the item (its product owners), may link the two."""
    return access.may(user, access.CHANGE, key_result) or access.may(user, access.CHANGE, item)


@transaction.atomic
def key_result_link(*, key_result: KeyResult, item: BacklogItem, actor) -> bool:
    """Link work to a key result; True if the link is new (linking twice changes nothing).

    A removed item serves no outcome, so it cannot be linked. Its children count through it.
    """
    if not may_link(actor, key_result=key_result, item=item):
        raise DomainError(
            f"You may not link {item.key} to “{key_result.title}”: only those who may change the key result "
            "or the item may link them.",
            code=PERMISSION_DENIED,
        )
    if item.state.category == WorkflowState.Category.REMOVED:
        raise DomainError(f"{item.key} is removed from its backlog; removed work serves no key result.", field="item")
    links = KeyResult.items.through.objects
    if links.filter(keyresult=key_result, backlogitem=item).exists():
        return False
    key_result._history_user = actor  # through the relation, so the key result's history records it
    key_result.items.add(item)
    return True


@transaction.atomic
def key_result_unlink(*, key_result: KeyResult, item: BacklogItem, actor) -> bool:
    """Remove a link; True if there was one."""
    if not may_link(actor, key_result=key_result, item=item):
        raise DomainError(
            f"You may not unlink {item.key} from “{key_result.title}”.",
            code=PERMISSION_DENIED,
        )
    if not KeyResult.items.through.objects.filter(keyresult=key_result, backlogitem=item).exists():
        return False
    key_result._history_user = actor
    key_result.items.remove(item)
    return True
