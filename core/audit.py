"""Who changed what, and when: a row's change history as a list of changes, field by field.

django-simple-history stores every version of a domain row (and, for many-to-many fields, the
related ids of that version). This module turns consecutive versions into changes that pages
and the API can show: "state: In progress → Done, by ana, 2026-11-20 14:02".

The cost is fixed: one query for the versions, one per many-to-many field for their related
ids, and one per related model to name the rows that foreign keys point to.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
import datetime as dt
import json

from django.db import models
from simple_history import utils as history_utils

KINDS = {"+": "created", "~": "changed", "-": "deleted"}
MAX_PAGE = 1000


@dataclass(frozen=True)
class FieldChange:
    field: str  # the attribute's name in the API: `state`, `items`
    label: str  # its verbose name: "state", "items"
    old: object  # raw values: ids for foreign keys, sorted id lists for many-to-many fields
    new: object
    old_display: str = ""
    new_display: str = ""


@dataclass(frozen=True)
class Change:
    history_id: int
    object_id: int
    at: dt.datetime
    kind: str  # created, changed or deleted
    user_id: int | None
    user: str  # username, or "" for a job, an import or the command line
    reason: str
    fields: list[FieldChange] = field(default_factory=list)


def is_tracked(model) -> bool:
    return hasattr(model._meta, "simple_history_manager_attribute")


def _compared_fields(history_model) -> list[models.Field]:
    """Tracked fields worth showing: not the primary key, not timestamps that change on every save."""
    return [f for f in history_model.tracked_fields if not f.primary_key and not getattr(f, "auto_now", False)]


def _m2m_ids(history_model, record_ids: list[int]) -> dict[str, dict[int, list[int]]]:
    """For each many-to-many field: history id → the sorted ids related in that version."""
    related: dict[str, dict[int, list[int]]] = {}
    for m2m in history_model._history_m2m_fields:
        rows = getattr(history_model, m2m.name).model.objects.filter(history_id__in=record_ids)
        target = history_utils.get_m2m_reverse_field_name(m2m) + "_id"
        by_record: dict[int, list[int]] = defaultdict(list)
        for history_id, related_id in rows.values_list("history_id", target):
            by_record[history_id].append(related_id)
        related[m2m.name] = {history_id: sorted(ids) for history_id, ids in by_record.items()}
    return related


def _value(record, model_field: models.Field, m2m: dict) -> object:
    if model_field.many_to_many:
        return m2m[model_field.name].get(record.history_id, [])
    return getattr(record, model_field.attname)


def _diff(record, previous, fields, m2m) -> list[FieldChange]:
    changes = []
    for model_field in fields:
        new = _value(record, model_field, m2m)
        old = _value(previous, model_field, m2m) if previous is not None else None
        if previous is None and new in (None, "", []):
            continue  # a created row lists the values it was given
        if old != new:
            changes.append(FieldChange(model_field.name, str(model_field.verbose_name), old, new))
    return changes


def _displays(model, changes: list[Change]) -> list[Change]:
    """Name the rows foreign keys point to (one query per related model) and the choices' labels."""
    wanted: dict[type, set] = defaultdict(set)
    for change in changes:
        for fc in change.fields:
            model_field = model._meta.get_field(fc.field)
            if model_field.is_relation:
                for value in (fc.old, fc.new):
                    wanted[model_field.related_model].update(value if isinstance(value, list) else [value])
    names = {
        related: {pk: str(row) for pk, row in related._default_manager.in_bulk(ids - {None}).items()}
        for related, ids in wanted.items()
    }

    def show(model_field, value) -> str:
        if value is None or value == "":
            return "—"
        if model_field.is_relation:
            known = names[model_field.related_model]
            values = value if isinstance(value, list) else [value]
            return ", ".join(known.get(v, f"#{v} (deleted)") for v in values) or "—"
        if model_field.choices:
            labels = dict(model_field.flatchoices)
            values = value if isinstance(value, list) else [value]  # a list of choices (ChoiceListField)
            return ", ".join(str(labels.get(v, v)) for v in values) or "—"
        if isinstance(value, list | dict):
            return json.dumps(value, default=str)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, dt.datetime):
            return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
        return str(value)

    for change in changes:
        for index, fc in enumerate(change.fields):
            model_field = model._meta.get_field(fc.field)
            change.fields[index] = FieldChange(
                fc.field, fc.label, fc.old, fc.new, show(model_field, fc.old), show(model_field, fc.new)
            )
    return changes


@dataclass(frozen=True)
class HistoryPage:
    changes: list[Change]
    next_before: int | None  # pass as `before` for the older versions; None when there are none


def history_of(model, pk: int, *, limit: int = 50, before: int | None = None) -> HistoryPage:
    """The changes of row `pk` among its newest `limit` versions (older than history id `before`).

    Saves that changed nothing shown (only `updated_at`, say) are left out. Works for deleted
    rows too: their history outlives them.
    """
    history_model = model.history.model
    records = history_model.objects.filter(id=pk).select_related("history_user").order_by("-history_id")
    if before is not None:
        records = records.filter(history_id__lt=before)
    # One more than asked: the version before the oldest shown is what its change is measured against.
    records = list(records[: limit + 1])
    fields = _compared_fields(history_model) + list(history_model._history_m2m_fields)
    m2m = _m2m_ids(history_model, [r.history_id for r in records]) if history_model._history_m2m_fields else {}
    changes = []
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        kind = KINDS[record.history_type]
        changed = [] if kind == "deleted" else _diff(record, previous, fields, m2m)
        if kind == "changed" and previous is None:
            # The oldest version kept is an update of a row created before history began.
            changed = _diff(record, None, fields, m2m)
        if kind == "changed" and not changed:
            continue
        user = record.history_user
        changes.append(
            Change(
                history_id=record.history_id,
                object_id=pk,
                at=record.history_date,
                kind=kind,
                user_id=user.pk if user else None,
                user=user.get_username() if user else "",
                reason=record.history_change_reason or "",
                fields=changed,
            )
        )
    more = len(records) > limit
    return HistoryPage(_displays(model, changes), records[limit - 1].history_id if more else None)
