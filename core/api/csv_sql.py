"""CSV lists written by PostgreSQL: `COPY (SELECT ...) TO STDOUT (FORMAT csv)`, each cell already
spelled as `core.api.csv` spells it in Python.

Why: at 500,000 rows the Python path spends most of its time on values, not rows: every
timestamp is parsed into an aware datetime only to be printed again, and every cell goes
through a formatter, the formula guard and the csv writer. PostgreSQL formats and quotes the
same text several times faster, and COPY streams it a row at a time with no cursor round trips,
so memory stays flat without a server-side cursor.

The bytes are the Python path's (a test compares both on every CSV list):
- text: NULL and '' are an empty, unquoted cell (COPY would quote a non-NULL empty string, so ''
  becomes NULL); text a spreadsheet would run gets a leading `'` unless it is a plain number, as
  `core.csv.spreadsheet_safe` decides. Python's `\\d` is any Unicode decimal digit, so the digit
  class is spelled out for PostgreSQL's regular expressions;
- timestamps in UTC as ISO 8601 with `Z`, with microseconds only when there are some; dates as
  ISO 8601; booleans as true/false; integers as they are; decimals as stored when the column's
  scale is the serializer's places;
- floats as Python's `repr`: PostgreSQL's shortest round-trip digits (`extra_float_digits` of
  at least 1, the default), laid out as Python lays them (fixed notation with at least one
  decimal between 1e-4 and 1e16, an exponent outside);
- COPY's CSV quoting is Python's QUOTE_MINIMAL with the `\\r\\n` terminator `SafeWriter` quotes
  for: a cell holding a comma, a double quote, CR or LF is quoted and its quotes doubled.

Anything else returns None from `copy_statement`, and the caller writes the CSV in Python: SQLite,
a current time zone other than UTC, a JSON column (psycopg parses it and `json.dumps` writes it
back with its own float and non-ASCII spelling), a field with its own `from_db_value`, a column
type this module does not know, a single column (Python quotes a lone empty cell).
"""

import array
from collections.abc import Iterator
import datetime as dt
import functools
import re
import sys
import time

from django.core.exceptions import EmptyResultSet, FieldError
from django.db import connections
from django.db.models import F, Func, TextField
from django.utils import timezone
from rest_framework import serializers

from core.csv import FORMULA_STARTS, PLAIN_NUMBER, Echo, SafeWriter

CHUNK_ROWS = 5000
UTC_NAMES = frozenset({"UTC", "Etc/UTC"})
INTEGER_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    }
)
TEXT_TYPES = frozenset({"CharField", "TextField", "SlugField"})
FORMULA_CODES = ", ".join(str(ord(start)) for start in FORMULA_STARTS)


@functools.cache
def plain_number_regex() -> str:
    """`core.csv.PLAIN_NUMBER` for PostgreSQL: anchored, `\\d` as every character Python's `re`
    takes for a digit (computed once per process, about 0.1 s, from the running Python's
    Unicode tables so the two can never disagree)."""
    digits = []
    encoding = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"
    # A plane at a time (about 1 MB at most), leaving out the surrogates, which are not characters.
    blocks = [(0, 0xD800), (0xE000, 0x10000), *((p, p + 0x10000) for p in range(0x10000, sys.maxunicode, 0x10000))]
    for start, stop in blocks:
        text = array.array("I", range(start, stop)).tobytes().decode(encoding)
        digits += [ord(c) for c in re.findall(r"\d", text)]
    ranges, start = [], digits[0]
    for previous, code in zip(digits, digits[1:] + [-1], strict=True):
        if code != previous + 1:
            ranges.append(chr(start) if start == previous else f"{chr(start)}-{chr(previous)}")
            start = code
    return "^" + PLAIN_NUMBER.pattern.replace(r"\d", f"[{''.join(ranges)}]") + "$"


def _guarded(sql: str, params: list) -> tuple[str, list]:
    """Text as `SafeWriter` writes it: '' as NULL, a leading `'` before what would run as a formula."""
    return (
        f"CASE WHEN ascii({sql}) IN ({FORMULA_CODES}) AND {sql} !~ %s THEN '''' || {sql} ELSE NULLIF({sql}, '') END",
        [*params, *params, plain_number_regex(), *params, *params],
    )


def _float(sql: str, params: list) -> tuple[str, list]:
    fixed = f"({sql})::text::numeric"
    return (
        f"CASE WHEN {sql} IS NULL THEN NULL WHEN {sql} = 'NaN'::float8 THEN 'nan' "
        f"WHEN {sql} = 'Infinity'::float8 THEN 'inf' WHEN {sql} = '-Infinity'::float8 THEN '''-inf' "
        f"WHEN {sql} = 0 THEN CASE WHEN ({sql})::text = '-0' THEN '-0.0' ELSE '0.0' END "
        f"WHEN abs({sql}) >= '1e-4'::float8 AND abs({sql}) < '1e16'::float8 THEN "
        f"CASE WHEN scale({fixed}) = 0 THEN ({fixed})::text || '.0' ELSE ({fixed})::text END "
        f"ELSE ({sql})::text END",
        params * 10,
    )


def _datetime(sql: str, params: list) -> tuple[str, list]:
    """`2026-03-01T12:30:15Z`, or `...15.120000Z`: the UTC timestamp's ISO text (`2026-03-01
    12:30:15.12`), whose fraction PostgreSQL trims and Python writes with six digits. Two to three
    times faster than to_char."""
    utc = f"(({sql}) AT TIME ZONE 'UTC')::text"
    return (
        f"CASE length({utc}) WHEN 19 THEN replace({utc}, ' ', 'T') || 'Z' "
        f"ELSE replace(rpad({utc}, 26, '0'), ' ', 'T') || 'Z' END",
        params * 3,
    )


CELL_SQL = {
    "text": _guarded,
    "decimal": lambda sql, params: _guarded(f"({sql})::text", params),
    "integer": lambda sql, params: (f"({sql})::text", params),
    "boolean": lambda sql, params: (f"CASE {sql} WHEN true THEN 'true' WHEN false THEN 'false' END", params),
    "date": lambda sql, params: (f"({sql})::text", params),
    "datetime": _datetime,
    "float": _float,
}


class CsvCell(Func):
    """A column's cell as the CSV spells it (`CELL_SQL[kind]`), as text or NULL for an empty cell."""

    output_field = TextField()

    def __init__(self, expression, kind: str):
        super().__init__(expression)
        self.kind = kind

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return CELL_SQL[self.kind](f"({sql})", list(params))


def cell_kind(field: serializers.Field, model_field) -> str | None:
    """How SQL spells what `core.api.csv`'s formatter for `field` makes of `model_field`'s values,
    or None when it cannot spell it the same (the checks follow that formatter's order)."""
    if model_field is None or hasattr(model_field, "from_db_value"):
        return None
    db_type = model_field.get_internal_type()
    if isinstance(field, serializers.DateTimeField):
        return "datetime" if db_type == "DateTimeField" else None
    if isinstance(field, serializers.DateField):
        return "date" if db_type == "DateField" else None
    if isinstance(field, serializers.BooleanField):
        return "boolean" if db_type == "BooleanField" else None
    if isinstance(field, serializers.DecimalField):
        same_places = db_type == "DecimalField" and model_field.decimal_places == field.decimal_places
        return "decimal" if same_places else None
    if isinstance(field, serializers.JSONField):
        return None
    # What remains is written as str(value).
    if db_type in TEXT_TYPES:
        return "text"
    if db_type in INTEGER_TYPES:
        return "integer"
    if db_type == "FloatField":
        return "float"
    return None


def _model_field(expression):
    """The field whose values the column holds: a model column's own field, or the output of an
    annotation (a computed text such as an item's key; Django converts numeric annotations in
    Python, so only text ones may be written by SQL)."""
    target = getattr(expression, "target", None)
    if target is not None:
        return expression.output_field
    field = expression.output_field
    return field if field.get_internal_type() in TEXT_TYPES else None


def uses_utc() -> bool:
    zone = timezone.get_current_timezone()
    return zone is dt.UTC or getattr(zone, "key", None) in UTC_NAMES


def copy_statement(queryset, columns) -> tuple[str, list] | None:
    """The COPY statement that writes `queryset`'s rows (ordered by pk, as the Python path
    orders them) for `columns` (`core.api.csv.CsvColumn`: name, ORM path, serializer field);
    None when PostgreSQL cannot write exactly what the Python path writes."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql" or len(columns) < 2 or not uses_utc():
        return None
    probe = queryset.query.clone()
    cells = {}
    for index, column in enumerate(columns):
        try:
            kind = cell_kind(column.field, _model_field(probe.resolve_ref(column.path)))
        except FieldError:
            return None
        if kind is None:
            return None
        cells[f"csv_cell_{index}"] = CsvCell(F(column.path), kind)
    rows = queryset.select_related(None).prefetch_related(None).order_by("pk").values(**cells)
    try:
        sql, params = rows.query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:
        return None
    connection.ensure_connection()
    info = connection.connection.info
    # ascii() must return code points and the digit class must be characters, not bytes; dates
    # and times must print as ISO 8601 (the server's default DateStyle).
    iso_dates = (info.parameter_status("DateStyle") or "").startswith("ISO")
    if info.parameter_status("server_encoding") != "UTF8" or not iso_dates:
        return None
    if any(cell.kind == "float" for cell in cells.values()) and not shortest_floats(connection):
        return None
    return f"COPY ({sql}) TO STDOUT (FORMAT csv)", list(params)


def shortest_floats(connection) -> bool:
    """Whether the session prints floats with their shortest round-trip digits, as Python does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('extra_float_digits')::int")
        return cursor.fetchone()[0] >= 1


def copy_rows(queryset, columns, statement: tuple[str, list]) -> Iterator[str | bytes]:
    """The header (written by `SafeWriter`, as the Python path writes it), then COPY's rows in
    blocks of CHUNK_ROWS. The COPY starts only when the response is read, after the view and its
    middleware are done with the connection; leaving early (a client that hangs up) cancels it."""
    yield SafeWriter(Echo(), lineterminator="\n").writerow([column.name for column in columns])
    connection = connections[queryset.db]
    sql, params = statement
    started = time.monotonic()
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(sql, params) as copy:
            block = []
            for row in copy:
                block.append(row)
                if len(block) >= CHUNK_ROWS:
                    yield b"".join(block)
                    block = []
            if block:
                yield b"".join(block)
    if connection.queries_logged:  # the debug toolbar and query-count tests see the COPY too
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
