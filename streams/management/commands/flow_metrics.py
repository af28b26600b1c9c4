"""`manage.py flow_metrics`: the flow metrics of a stream, team or the portfolio, as JSON or CSV.

Prints the same numbers the pages show: the history engine's, which `streams.flow.report.flow_report`
runs whenever per-item facts are asked for. The items are written as the engine reads them, a
chunk at a time (a board of eleven years has 120,000 of them), into the same JSON `json.dumps`
would write of the whole report.
"""

from collections.abc import Iterable
import datetime as dt
import json
from json.encoder import encode_basestring_ascii
import math

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils.dateparse import parse_date, parse_datetime

from core.csv import SafeDictWriter, SafeWriter
from core.sql import Dialect
from streams.flow.engine import ITEM_FIELDS, FlowReport, HistoryEngine, ItemFacts, Scope, Window, item_row, report_dict
from streams.flow.quality import with_data_quality
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
        # flow_report(with_items=True) as the engine runs it, its items read after the aggregates.
        with transaction.atomic(), connection.cursor() as cursor:
            engine = HistoryEngine(cursor, Dialect(connection), scope, window, with_items=False)
            report = with_data_quality(engine.run())
            if format == "json":
                self._json(report, engine.item_facts(), data_sources(scope.stream_ids_query()))
            else:
                self._csv(report, engine.item_facts())
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

    def _json(self, report: FlowReport, items: Iterable[ItemFacts], sources: list[dict]) -> None:
        """`json.dumps(data, indent=2)` of the report with its items and data sources (as the
        API says them), the items written as they come."""
        data = report_dict(report)
        del data["items"]
        write = self.stdout.write
        write(json.dumps(data, indent=2)[:-2] + ',\n  "items": [', ending="")
        chunk, first = [], True
        for facts in items:
            chunk.append(_json_item(item_row(facts), first))
            first = False
            if len(chunk) == 1000:
                write("".join(chunk), ending="")
                chunk = []
        write("".join(chunk) + ("]" if first else "\n  ]"), ending="")
        write(',\n  "data_sources": ' + json.dumps(sources, indent=2).replace("\n", "\n  ") + "\n}")

    def _csv(self, report: FlowReport, items: Iterable[ItemFacts]) -> None:
        """Two tables: `metric,value` for the aggregates, a blank line, then one row per item."""
        data = report_dict(report)
        writer = SafeWriter(self.stdout, lineterminator="\n")
        writer.writerow(["metric", "value"])
        for name, value in _flatten(data, skip={"items", "daily", "daily_throughput", "bottleneck"}):
            writer.writerow([name, value])
        for row in data["bottleneck"]:
            writer.writerow([f"bottleneck.{row['stream']}.{row['state']}.share", row["share"]])
        self.stdout.write("\n")
        rows = SafeDictWriter(self.stdout, fieldnames=ITEM_FIELDS, lineterminator="\n")
        rows.writeheader()
        for facts in items:
            rows.writerow(item_row(facts))


_JSON_FIELDS = [(f"\n      {json.dumps(name)}: ", name) for name in ITEM_FIELDS]


def _json_item(row: dict, first: bool) -> str:
    """One item as `json.dumps` writes it at the depth of the report's items (indent 2)."""
    fields = ",".join(prefix + _json_scalar(row[name]) for prefix, name in _JSON_FIELDS)
    return ("\n    {" if first else ",\n    {") + fields + "\n    }"


def _json_scalar(value) -> str:
    if value.__class__ is str:
        return encode_basestring_ascii(value)
    if value.__class__ is float and math.isfinite(value):
        return float.__repr__(value)
    if value.__class__ is int:
        return int.__repr__(value)
    return json.dumps(value)  # None, booleans, NaN and the rest, as json writes them


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
