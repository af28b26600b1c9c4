"""`manage.py flow_metrics`: the flow metrics of a stream, team or the portfolio, as JSON or CSV.

Prints the same numbers the pages show: the history engine's, which `streams.flow.report.flow_report`
runs whenever per-item facts are asked for. The items are written as the engine reads them, a
chunk at a time (a board of eleven years has 120,000 of them), into the same JSON `json.dumps`
would write of the whole report.
"""

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
import datetime as dt
import io
import json

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, transaction
from django.utils.dateparse import parse_date, parse_datetime

from core.csv import Echo, SafeWriter
from core.parallel import default_workers
from core.sql import Dialect
from streams.flow.engine import ITEM_FIELDS, FlowReport, HistoryEngine, Scope, Window, report_dict
from streams.flow.quality import DataQuality, with_data_quality
from streams.models import ValueStream
from streams.selectors import data_sources
from teams.models import Team


def _date(value: str, option: str) -> dt.date:
    try:
        parsed = parse_date(value)
    except ValueError as error:  # well formed but impossible, like month 13
        raise CommandError(f"{option} {value!r} is not a date: {error}.") from error
    if parsed is None:
        raise CommandError(f"{option} {value!r} is not a date: write it as YYYY-MM-DD.")
    return parsed


def _datetime(value: str) -> dt.datetime:
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise CommandError(f"--as-of {value!r} is not a date and time: write it as 2026-11-21T17:00:00+00:00.")
    if parsed.tzinfo is None:
        raise CommandError(f"--as-of {value!r} has no UTC offset: add one, e.g. {value}+00:00.")
    return parsed


class Command(BaseCommand):
    help = (
        "Print the flow metrics (DESIGN.md definitions) of a value stream, a team or the whole portfolio "
        "over a window (default: the 12 weeks up to today), with per-item facts."
    )
    # A read-only export that scripts run again and again: Django's system checks (every URLconf,
    # model, admin and template setting: 0.2-0.3 s of CPU at each start) are left to the commands
    # that deploy and serve (`check --deploy`, `migrate`, `runserver`).
    requires_system_checks = []

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--stream", metavar="SLUG", help="A value stream's slug.")
        target.add_argument("--team", metavar="SLUG", help="A team's slug.")
        target.add_argument("--portfolio", action="store_true", help="Every stream.")
        parser.add_argument("--from", dest="start", metavar="DATE", help="First day of the window (YYYY-MM-DD).")
        parser.add_argument("--to", dest="end", metavar="DATE", help="Last day of the window (default: today).")
        parser.add_argument("--as-of", metavar="DATETIME", help="Read the history up to this instant (ISO 8601).")
        parser.add_argument("--format", choices=["json", "csv"], default="json")

    def handle(
        self, *args, stream=None, team=None, portfolio=False, start=None, end=None, as_of=None, format="json", **options
    ):
        scope = self._scope(stream, team)
        try:
            window = Window.build(
                start=_date(start, "--from") if start else None,
                end=_date(end, "--to") if end else None,
                as_of=_datetime(as_of) if as_of else None,
            )
        except ValueError as error:
            raise CommandError(f"The window is not valid: {error}.") from error
        # flow_report(with_items=True) as the engine runs it, its items read after the finished
        # items' statistics (their pace needs them) and before the other figures. On PostgreSQL
        # three things run at once: on a connection of its own (where one can see what this one
        # sees: not inside a caller's transaction), the daily series' counts read from the moves
        # then the data quality; the items turned into text by a thread; the rest of the report
        # on the engine's cursor.
        apart = default_workers() > 1
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="flow-metrics") as pool:
            side = pool.submit(_apart, scope, window) if apart else None
            with transaction.atomic(), connection.cursor() as cursor, connection.cursor() as rows_cursor:
                postgres = connection.vendor == "postgresql"
                if postgres:
                    # On a whole board's history the JIT compiled for longer than it saved.
                    cursor.execute("SET LOCAL jit = off")
                engine = HistoryEngine(cursor, Dialect(connection), scope, window, with_items=False)
                engine.build()
                text = self._json_items if format == "json" else self._csv_items
                if postgres:
                    cursor.execute("SHOW work_mem")
                    (work_mem,) = cursor.fetchone()
                    # The items, sorted, are 30 MB on a board of eleven years: sorted in memory, not
                    # on disk. For them only: more memory changes the plans of the sums of times in
                    # `aggregate`, and with them the last bits of some items' days (the rounded
                    # text, rarely).
                    cursor.execute("SET LOCAL work_mem = '64MB'")
                    rows = engine.item_rows(cursor=rows_cursor)
                    cursor.execute(f"SET LOCAL work_mem = '{work_mem}'")
                    items = pool.submit(list, text(rows))
                    report = engine.aggregate(daily_steps=(lambda: side.result()[0]) if side else None)
                else:
                    report, items = engine.aggregate(), None
                if side is not None and scope.kind == "stream":
                    report.data_quality = side.result()[1]
                else:
                    report = with_data_quality(report)
                head, tail = self._json_ends(report, scope) if format == "json" else self._csv_ends(report)
                self.stdout.write(head, ending="")
                for piece in items.result() if items is not None else text(engine.item_rows()):
                    self.stdout.write(piece, ending="")
                self.stdout.write(tail, ending="")
                engine.drop()

    def _scope(self, stream: str | None, team: str | None) -> Scope:
        if stream:
            found = ValueStream.objects.filter(slug=stream).first()
            if found is None:
                known = ", ".join(ValueStream.objects.order_by("slug").values_list("slug", flat=True)[:20])
                raise CommandError(f"No value stream has the slug {stream!r}. Known slugs: {known or 'none yet'}.")
            return Scope.stream(found)
        if team:
            found = Team.objects.filter(slug=team).first()
            if found is None:
                raise CommandError(f"No team has the slug {team!r}.")
            return Scope.team(found)
        return Scope.portfolio()

    def _json_ends(self, report: FlowReport, scope: Scope) -> tuple[str, str]:
        """The text of `json.dumps(data, indent=2)` of the report with its items and data
        sources (as the API says them) before the items and after them."""
        data = report_dict(report)
        del data["items"]
        head = json.dumps(data, indent=2)[:-2] + ',\n  "items": ['
        sources = data_sources(scope.stream_ids_query())
        return head, ',\n  "data_sources": ' + json.dumps(sources, indent=2).replace("\n", "\n  ") + "\n}\n"

    @staticmethod
    def _json_items(items: Iterable[tuple]) -> Iterator[str]:
        """The items' text among the report's, a thousand at a time, up to their closing bracket."""
        chunk, first = [], True
        for row in items:
            chunk.append(row)
            if len(chunk) == 1000:
                yield _json_items(chunk, first)
                chunk, first = [], False
        if chunk:
            yield _json_items(chunk, first)
            first = False
        yield "]" if first else "\n  ]"

    def _csv_ends(self, report: FlowReport) -> tuple[str, str]:
        """Two tables: `metric,value` for the aggregates, a blank line, then one row per item;
        the text before the items."""
        data = report_dict(report)
        out = io.StringIO()
        writer = SafeWriter(out, lineterminator="\n")
        writer.writerow(["metric", "value"])
        for name, value in _flatten(data, skip={"items", "daily", "daily_throughput", "bottleneck"}):
            writer.writerow([name, value])
        for row in data["bottleneck"]:
            writer.writerow([f"bottleneck.{row['stream']}.{row['state']}.share", row["share"]])
        out.write("\n")
        return out.getvalue(), ""

    @staticmethod
    def _csv_items(items: Iterable[tuple]) -> Iterator[str]:
        """The items' table, header first, a thousand rows at a time."""
        writer = SafeWriter(Echo(), lineterminator="\n")
        yield writer.writerow(ITEM_FIELDS)
        chunk = []
        for row in items:
            chunk.append(row)
            if len(chunk) == 1000:
                yield writer.rows_text(chunk)
                chunk = []
        yield writer.rows_text(chunk)


def _apart(scope: Scope, window: Window) -> tuple[list[tuple], DataQuality | None]:
    """Read on this thread's own connection, closed at the end: the daily series' counts
    (`HistoryEngine.daily_steps`, for `aggregate`, which needs them first) and a stream's
    data-quality facts (`with_data_quality`)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # as on the engine's cursor
            steps = HistoryEngine(cursor, Dialect(connection), scope, window, with_items=False).daily_steps()
        if scope.kind != "stream":  # the data quality of many streams: on the engine's connection, after
            return steps, None
        return steps, with_data_quality(FlowReport(scope=scope, window=window)).data_quality
    finally:
        connections.close_all()


# One item as `json.dumps(..., indent=2)` writes it among the report's items, a `%s` for each value.
_JSON_ITEM = ",\n    {" + ",".join(f"\n      {json.dumps(name)}: %s" for name in ITEM_FIELDS) + "\n    }"
# json's C encoder, writing each value of a flat list as `json.dumps` writes it, apart by a NUL: JSON
# text spells a NUL inside a string as \u0000, so the NULs split the values exactly.
_JSON_VALUES = json.JSONEncoder(separators=("\0", ":")).encode


def _json_items(rows: list[tuple], first: bool) -> str:
    """Items (`HistoryEngine.item_rows`) as `json.dumps(report, indent=2)` writes them, each
    after a comma unless it is the first of the list; one call of json's C encoder for them all
    instead of one call per value."""
    values = tuple(_JSON_VALUES([value for row in rows for value in row])[1:-1].split("\0"))
    text = (_JSON_ITEM * len(rows)) % values
    return text[1:] if first else text


def _flatten(value, prefix: str = "", skip: frozenset | set = frozenset()):
    if isinstance(value, dict):
        for key, inner in value.items():
            if not prefix and key in skip:
                continue
            yield from _flatten(inner, f"{prefix}{key}.", skip)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _flatten(inner, f"{prefix}{index}.", skip)
    else:
        yield prefix.rstrip("."), "" if value is None else value
