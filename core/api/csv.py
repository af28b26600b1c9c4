"""CSV output: `?format=csv` on any endpoint; lists stream every matching row with flat memory.

A list's CSV has the JSON's scalar fields as columns, in the same order and spelled the same
way (ISO 8601 times, decimals as text, true/false), so a spreadsheet and a script read the
same facts. Rows are written as they arrive: memory stays flat for 500,000 rows. On PostgreSQL
the database writes the CSV itself (`core.api.csv_sql`: COPY, the same bytes several times
faster); elsewhere, and for what it cannot spell as Python does (JSON, another time zone), rows
come in chunks through a server-side cursor (`QuerySet.iterator`) and are formatted here.
Many-valued fields (a criterion's streams) and computed ones (a key result's progress) are
left out of the CSV; the JSON has them. Every cell is formula-safe as `core.csv.SafeWriter`
makes it: text that a spreadsheet would run as a formula is quoted with a leading `'`.
"""

from collections.abc import Callable, Iterable, Iterator
import datetime as dt
import json
from typing import NamedTuple

from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework import renderers, serializers

from core.api.csv_sql import copy_rows, copy_statement
from core.csv import Echo, SafeWriter

CHUNK_ROWS = 5000


def _flatten(value, prefix: str = ""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}{key}.")
    elif isinstance(value, list) and value and all(isinstance(v, (dict, list)) for v in value):
        for index, inner in enumerate(value):
            yield from _flatten(inner, f"{prefix}{index}.")
    else:
        yield prefix.rstrip("."), value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value  # the writer quotes text a spreadsheet would run, and leaves numbers alone


class CsvRenderer(renderers.BaseRenderer):
    """Renders what is not a streamed list: a list of flat objects as a table, anything else
    (a single object, a metrics report, an error) as `field,value` rows."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        writer = SafeWriter(Echo(), lineterminator="\n")
        rows = data.get("results") if isinstance(data, dict) and isinstance(data.get("results"), list) else data
        lines: list[str] = []
        if isinstance(rows, list) and rows and all(isinstance(row, dict) for row in rows):
            header = list(rows[0])
            lines.append(writer.writerow(header))
            for row in rows:
                lines.append(writer.writerow([_cell(row.get(name)) for name in header]))
        else:
            lines.append(writer.writerow(["field", "value"]))
            for name, value in _flatten(data):
                lines.append(writer.writerow([name, _cell(value)]))
        return "".join(lines).encode(self.charset)


# --- Streamed lists -----------------------------------------------------------------------------


def _formatter(field: serializers.Field):
    """A fast function from a database value to the text the JSON would show."""
    if isinstance(field, serializers.DateTimeField):
        zone = timezone.get_current_timezone()

        def fmt(value):
            if value is None:
                return ""
            text = value.astimezone(zone).isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        return fmt
    if isinstance(field, serializers.DateField):
        return lambda value: "" if value is None else value.isoformat()
    if isinstance(field, serializers.BooleanField):
        return lambda value: "" if value is None else ("true" if value else "false")
    if isinstance(field, serializers.DecimalField):
        places = field.decimal_places
        return lambda value: "" if value is None else f"{value:.{places}f}"
    if isinstance(field, serializers.JSONField):
        return lambda value: "" if value is None else json.dumps(value)
    return lambda value: "" if value is None else str(value)


class CsvColumn(NamedTuple):
    name: str
    path: str  # the ORM path of the value: `stream__slug`
    format: Callable  # database value -> the text the JSON shows
    field: serializers.Field


def csv_columns(serializer: serializers.Serializer) -> list[CsvColumn]:
    """A column for each scalar field the serializer shows."""
    columns = []
    for name, field in serializer.fields.items():
        if field.write_only or field.source == "*":
            continue
        if isinstance(field, (serializers.ManyRelatedField, serializers.ListField, serializers.BaseSerializer)):
            continue
        if isinstance(field, (serializers.SerializerMethodField, serializers.HyperlinkedIdentityField)):
            continue
        path = field.source.replace(".", "__")
        if isinstance(field, serializers.SlugRelatedField):
            path = f"{path}__{field.slug_field}"
        columns.append(CsvColumn(name, path, _formatter(field), field))
    return columns


def csv_rows(queryset, columns: list[CsvColumn]) -> Iterator[str]:
    """The header, then the rows in blocks of CHUNK_ROWS lines (one write per block, not per row),
    formatted in Python: on SQLite, and where `core.api.csv_sql` cannot write the same bytes."""
    writer = SafeWriter(Echo(), lineterminator="\n")
    yield writer.writerow([column.name for column in columns])
    formatters = [column.format for column in columns]
    rows: Iterable = (
        queryset.select_related(None)
        .prefetch_related(None)
        .order_by("pk")
        .values_list(*[column.path for column in columns])
        .iterator(chunk_size=CHUNK_ROWS)
    )
    block: list[str] = []
    for row in rows:
        block.append(writer.writerow([fmt(value) for fmt, value in zip(formatters, row, strict=True)]))
        if len(block) >= CHUNK_ROWS:
            yield "".join(block)
            block = []
    if block:
        yield "".join(block)


def csv_response(rows: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response


def csv_list_rows(queryset, columns: list[CsvColumn]) -> Iterator[str | bytes]:
    """The list's CSV, written by PostgreSQL where it writes the same bytes (several times
    faster at 500,000 rows), otherwise in Python."""
    statement = copy_statement(queryset, columns)
    return csv_rows(queryset, columns) if statement is None else copy_rows(queryset, columns, statement)


class CsvListMixin:
    """`?format=csv` on a list streams every row the filters select (no pagination)."""

    def list(self, request, *args, **kwargs):
        if getattr(request.accepted_renderer, "format", None) == "csv":
            queryset = self.filter_queryset(self.get_queryset())
            columns = csv_columns(self.get_serializer())
            return csv_response(csv_list_rows(queryset, columns), self.basename)
        return super().list(request, *args, **kwargs)
