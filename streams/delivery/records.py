"""Recording deployments and incidents: one definition of a record, one upsert, every door.

The REST API, the GitHub webhook and the CSV command all validate with `DeploymentInput` and
`IncidentInput` and write with `deployment_record` and `incident_record`, so a pipeline, a
webhook and a spreadsheet get the same rules and the same messages:

- a deployment cannot finish before it starts; a finished one (succeeded or failed) has its
  finish time, one in progress has none;
- an incident cannot be resolved before it is opened, nor be caused by a deployment of another
  stream or one that started after it opened;
- items are named by their key in the tool (`PAY-12`) or `#id`, and must be in the stream.

**Idempotent by external id.** A record that carries an `external_id` is the same record every
time it arrives from the same source: the second delivery updates the first (a pipeline posts
"in progress" when it starts and "success" when it ends; a retried webhook changes nothing).
Without an external id every delivery is a new record. Each delivery states the whole record,
as a PUT does (fields left out take their defaults), except `items` and the causing deployment:
left out, they keep what was recorded before; named, they replace it.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from typing import IO, NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from rest_framework import serializers

from core.api.fields import AwareDateTimeField
from core.bounded_input import InputTooLarge, bounded_lines
from core.errors import ImportRefused, RowError
from streams.models import BacklogItem, DeliverySource, Deployment, DeploymentItem, Incident, ValueStream

MAX_ITEMS = 1000  # items one record may name


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class StreamField(serializers.SlugRelatedField):
    """A value stream named by its slug, with a message that says which slug is unknown."""

    default_error_messages = {
        "does_not_exist": "No value stream has the slug “{value}”.",
        "invalid": "Name the value stream by its slug (text).",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "The value stream's slug.")
        super().__init__(slug_field="slug", queryset=ValueStream.objects.all(), **kwargs)


def resolve_items(stream: ValueStream, refs: list[str]) -> tuple[dict[str, int], list[str]]:
    """Map each reference (`PAY-12`, `#42`, `42`) to the id of an item of `stream`, in one query.

    An external key wins over an id when both could match. Returns (found, unknown refs)."""
    refs = [ref.strip() for ref in refs]
    numbers = {int(ref.lstrip("#")) for ref in refs if ref.lstrip("#").isdigit() and len(ref) < 19}
    keys = [ref for ref in refs if not ref.startswith("#")]
    rows = BacklogItem.objects.filter(Q(external_key__in=keys) | Q(pk__in=numbers), stream=stream)
    by_key, by_id = {}, set()
    for pk, key in rows.values_list("pk", "external_key"):
        by_id.add(pk)
        if key:
            by_key[key] = pk
    found: dict[str, int] = {}
    unknown: list[str] = []
    for ref in refs:
        number = ref.lstrip("#")
        if not ref.startswith("#") and ref in by_key:
            found[ref] = by_key[ref]
        elif number.isdigit() and len(number) < 19 and int(number) in by_id:
            found[ref] = int(number)
        else:
            unknown.append(ref)
    return found, unknown


def _unknown_items(stream: ValueStream, unknown: list[str]) -> str:
    shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
    return f"{stream.name} has no item {shown} (name items by their key, e.g. PAY-12, or #id)."


class ShippedItemInput(serializers.Serializer):
    item = serializers.CharField(max_length=100, help_text="The item's key in its tool (PAY-12) or #id.")
    first_commit_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The first commit of the change; lead time starts here instead of at the item's start.",
    )


class DeploymentInput(serializers.Serializer):
    """A deployment as a pipeline reports it."""

    stream = StreamField()
    service = serializers.CharField(max_length=120, help_text="The service or component deployed.")
    environment = serializers.CharField(
        max_length=60,
        default="production",
        help_text="The delivery keys count production deployments (production, prod or live).",
    )
    started_at = AwareDateTimeField(help_text="ISO 8601 with a UTC offset.")
    finished_at = AwareDateTimeField(
        required=False, allow_null=True, default=None, help_text="Empty while it runs; required once it has ended."
    )
    status = serializers.ChoiceField(choices=Deployment.Status.choices, default=Deployment.Status.SUCCESS)
    version = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    external_id = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="The pipeline's id for this run: sending it again updates the same deployment.",
    )
    items = ShippedItemInput(
        many=True,
        required=False,
        max_length=MAX_ITEMS,
        help_text="The backlog items it shipped. Left out: a repeated delivery keeps those recorded before.",
    )

    def validate(self, attrs):
        started, finished, status = attrs["started_at"], attrs.get("finished_at"), attrs["status"]
        if finished is not None and finished < started:
            raise serializers.ValidationError(
                {"finished_at": f"A deployment cannot finish ({_when(finished)}) before it starts ({_when(started)})."}
            )
        if status == Deployment.Status.IN_PROGRESS and finished is not None:
            raise serializers.ValidationError(
                {"finished_at": "A deployment in progress has no finish time: leave it empty, or give the outcome."}
            )
        if status != Deployment.Status.IN_PROGRESS and finished is None:
            raise serializers.ValidationError(
                {
                    "finished_at": f"A deployment that {'succeeded' if status == 'success' else 'failed'} needs its "
                    "finish time (or say status in_progress while it runs)."
                }
            )
        if "items" in attrs:
            attrs["shipped"] = self._shipped(attrs["stream"], attrs.pop("items"), finished)
        return attrs

    @staticmethod
    def _shipped(stream, rows: list[dict], finished) -> dict[int, dt.datetime | None]:
        found, unknown = resolve_items(stream, [row["item"] for row in rows])
        if unknown:
            raise serializers.ValidationError({"items": _unknown_items(stream, unknown)})
        shipped: dict[int, dt.datetime | None] = {}
        for row in rows:
            commit = row.get("first_commit_at")
            if commit is not None and finished is not None and commit > finished:
                raise serializers.ValidationError(
                    {"items": f"The first commit of {row['item']} ({_when(commit)}) is after the deployment finished."}
                )
            item_id = found[row["item"].strip()]
            earlier = shipped.get(item_id)
            shipped[item_id] = min(c for c in (earlier, commit) if c is not None) if (earlier or commit) else None
        return shipped


class IncidentInput(serializers.Serializer):
    """An incident as an incident tool reports it."""

    stream = StreamField()
    title = serializers.CharField(max_length=200)
    severity = serializers.ChoiceField(choices=Incident.Severity.choices, default=Incident.Severity.SEV3)
    opened_at = AwareDateTimeField(help_text="ISO 8601 with a UTC offset.")
    resolved_at = AwareDateTimeField(
        required=False, allow_null=True, default=None, help_text="When service was restored; empty while it is not."
    )
    caused_by = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,
        help_text="The id of the deployment that caused it (it then counts as a change failure).",
    )
    caused_by_external_id = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Or the causing deployment's external id (the pipeline's run id), within the stream.",
    )
    external_id = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="The incident tool's id: sending it again updates the same incident.",
    )
    items = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=MAX_ITEMS,
        help_text="Keys (PAY-12) or #ids of the items it relates to. Left out: a repeated delivery keeps them.",
    )

    def validate(self, attrs):
        stream, opened, resolved = attrs["stream"], attrs["opened_at"], attrs.get("resolved_at")
        if resolved is not None and resolved < opened:
            raise serializers.ValidationError(
                {
                    "resolved_at": f"An incident cannot be resolved ({_when(resolved)}) before it opens "
                    f"({_when(opened)})."
                }
            )
        by_id, by_external = attrs.pop("caused_by", None), attrs.pop("caused_by_external_id", "")
        if by_id is not None and by_external:
            raise serializers.ValidationError(
                {"caused_by": "Give the causing deployment once: its id or its external id, not both."}
            )
        if by_id is not None or by_external:
            attrs["caused_by"] = self._cause(stream, opened, by_id, by_external)
        elif "caused_by" in self.initial_data or "caused_by_external_id" in self.initial_data:
            attrs["caused_by"] = None  # said explicitly: no known cause
        if "items" in attrs:
            found, unknown = resolve_items(stream, attrs["items"])
            if unknown:
                raise serializers.ValidationError({"items": _unknown_items(stream, unknown)})
            attrs["items"] = sorted(set(found.values()))
        return attrs

    def _cause(self, stream, opened, by_id, by_external) -> Deployment:
        field = "caused_by" if by_id is not None else "caused_by_external_id"
        candidates = (
            Deployment.objects.filter(pk=by_id)
            if by_id is not None
            else Deployment.objects.filter(stream=stream, external_id=by_external)
        )
        source = self.context.get("source")
        found = sorted(candidates.select_related("stream"), key=lambda d: d.source != source)
        if not found:
            what = f"id {by_id}" if by_id is not None else f"external id “{by_external}” in {stream.name}"
            raise serializers.ValidationError({field: f"No deployment has the {what}."})
        deployment = found[0]
        if deployment.stream_id != stream.pk:
            raise serializers.ValidationError(
                {field: f"Deployment {deployment.pk} belongs to {deployment.stream.name}, not {stream.name}."}
            )
        if deployment.started_at > opened:
            raise serializers.ValidationError(
                {
                    field: f"Deployment {deployment.pk} started ({_when(deployment.started_at)}) after the incident "
                    f"opened ({_when(opened)}), so it cannot have caused it."
                }
            )
        return deployment


# --- Writing --------------------------------------------------------------------------------------


class Recorded(NamedTuple):
    record: Deployment | Incident
    created: bool
    changed: bool  # created, or some field or item differs from what was stored


def _existing(model, source: str, external_id: str):
    if not external_id:
        return None
    return model.objects.select_for_update().filter(source=source, external_id=external_id).first()


def _upsert(model, source: str, fields: dict, actor) -> Recorded:
    """Create the record, or update the one with the same (source, external id).

    Two deliveries of the same new id racing each other: the loser's insert hits the unique
    constraint inside a savepoint, and it updates the winner's row instead."""
    external_id = fields.get("external_id", "")
    record = _existing(model, source, external_id)
    if record is None:
        record = model(source=source, **fields)
        record._history_user = actor
        try:
            with transaction.atomic():
                record.save()
            return Recorded(record, True, True)
        except IntegrityError:
            record = _existing(model, source, external_id)
            if record is None:
                raise
    changed = [name for name, value in fields.items() if getattr(record, name) != value]
    if changed:  # a retried delivery writes nothing, not even a new version in the history
        for name in changed:
            setattr(record, name, fields[name])
        record._history_user = actor
        record.save()
    return Recorded(record, False, bool(changed))


def deployment_record(*, data: dict, source: str, actor=None) -> Recorded:
    """Create or update (by source and external id) a deployment from `DeploymentInput` data."""
    fields = dict(data)
    shipped = fields.pop("shipped", None)
    with transaction.atomic():
        outcome = _upsert(Deployment, source, fields, actor)
        if shipped is None:
            return outcome
        kept = DeploymentItem.objects.filter(deployment=outcome.record)
        removed, _ = kept.exclude(item_id__in=list(shipped)).delete()
        current = {row.item_id: row for row in kept.filter(item_id__in=list(shipped))}
        written = 0
        for item_id, commit in shipped.items():
            row = current.get(item_id)
            if row is None:
                row = DeploymentItem(deployment=outcome.record, item_id=item_id, first_commit_at=commit)
            elif row.first_commit_at == commit:
                continue
            row.first_commit_at = commit
            row._history_user = actor
            row.save()
            written += 1
    return outcome._replace(changed=outcome.changed or bool(removed or written))


def incident_record(*, data: dict, source: str, actor=None) -> Recorded:
    """Create or update (by source and external id) an incident from `IncidentInput` data."""
    fields = dict(data)
    items = fields.pop("items", None)
    with transaction.atomic():
        outcome = _upsert(Incident, source, fields, actor)
        incident = outcome.record
        if items is not None and (outcome.created or sorted(incident.items.values_list("pk", flat=True)) != items):
            incident.items.set(items)
            outcome = outcome._replace(changed=True)
    return outcome


# --- CSV ------------------------------------------------------------------------------------------

CSV_COLUMNS = {
    "deployments": [
        "stream",
        "service",
        "environment",
        "started_at",
        "finished_at",
        "status",
        "version",
        "external_id",
        "items",
        "first_commit_at",
    ],
    "incidents": [
        "stream",
        "title",
        "severity",
        "opened_at",
        "resolved_at",
        "caused_by",
        "caused_by_external_id",
        "external_id",
        "items",
    ],
}
CSV_REQUIRED = {
    "deployments": ["stream", "service", "started_at", "external_id"],
    "incidents": ["stream", "title", "opened_at", "external_id"],
}
MAX_CSV_ERRORS = 50


def _csv_row(kind: str, row: dict) -> dict:
    """A CSV row as the input the API takes: empty cells are left out, items split on spaces,
    commas or semicolons."""
    data = {name: value.strip() for name, value in row.items() if name in CSV_COLUMNS[kind] and (value or "").strip()}
    keys = [key for key in re.split(r"[\s,;]+", data.pop("items", "")) if key]
    commit = data.pop("first_commit_at", None)
    if keys:
        data["items"] = [{"item": key, "first_commit_at": commit} for key in keys] if kind == "deployments" else keys
    return data


def _csv_rows(reader: csv.DictReader, name: str):
    """(line, row) of the file; a line too long or broken CSV refuses the whole file, by line."""
    try:
        yield from enumerate(reader, start=2)
    except (InputTooLarge, csv.Error) as error:
        raise ImportRefused([RowError(name, reader.line_num + 1, "", f"is refused: {error}")]) from error


def delivery_csv_import(kind: str, file: IO) -> dict[str, int]:
    """Import deployments or incidents from CSV: every row is checked before anything is written,
    and then all are written in one transaction, or none. Every row needs an `external_id`, so
    running the same file again changes nothing. Returns how many rows were created, updated and
    unchanged."""
    name = f"{kind}.csv"
    reader = csv.DictReader(bounded_lines(file, max_line=settings.IMPORT_MAX_CSV_LINE, name=name))
    rows = _csv_rows(reader, name)
    try:
        header = [column.strip() for column in reader.fieldnames or []]
    except (InputTooLarge, csv.Error) as error:
        raise ImportRefused([RowError(name, 1, "", f"is refused: {error}")]) from error
    reader.fieldnames = header
    missing = [column for column in CSV_REQUIRED[kind] if column not in header]
    if missing:
        raise ImportRefused([RowError(name, 1, "", f"the header lacks the column(s) {', '.join(missing)}")])
    checker = DeploymentInput if kind == "deployments" else IncidentInput
    valid: list[dict] = []
    errors: list[RowError] = []
    more = 0
    for line, row in rows:
        data = _csv_row(kind, row)
        if not data.get("external_id"):
            problems = {"external_id": ["every row needs one, so that importing the file again changes nothing"]}
        else:
            checked = checker(data=data, context={"source": DeliverySource.CSV})
            problems = {} if checked.is_valid() else checked.errors
        for field, messages in problems.items():
            message = " ".join(str(m) for m in (messages if isinstance(messages, list) else [messages]))
            if len(errors) < MAX_CSV_ERRORS:
                errors.append(RowError(name, line, field, message))
            else:
                more += 1
        if not problems:
            valid.append(checked.validated_data)
    if errors:
        raise ImportRefused(errors, more)
    record = deployment_record if kind == "deployments" else incident_record
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with transaction.atomic():
        for data in valid:
            outcome = record(data=data, source=DeliverySource.CSV)
            counts["created" if outcome.created else "updated" if outcome.changed else "unchanged"] += 1
    return counts
