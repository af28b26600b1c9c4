"""Import a stream's workflow, items and history from the generic, toolchain-neutral CSV format.

Three files (see README, "Importing flow history from CSV"):
- states.csv       name,category,order
- items.csv        key,title,type,created_at[,parent_key,team]
- transitions.csv  key,to_state,at        (the first row of an item is its entry into the workflow)

All three files are read and checked completely before anything is written; every problem is
reported with its file, line and field, and then nothing is written. The writes happen in one
transaction. Items are matched by (source "csv", key), states by name, so a second run with the
same files changes nothing; an item whose history in the file differs from the stored one gets
the file's history (the tool it came from is the source of truth for its history).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
import csv
from dataclasses import dataclass, field
import datetime as dt
import gc
import itertools
import math
import threading
import time
from typing import IO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import slugify

from core.bounded_input import InputTooLarge, bounded_lines
from core.bulk import GinPendingLists, RowWriter, analyze_after_commit, values_rows
from core.dates import EARLIEST_INSTANT, too_early
from core.errors import ImportRefused, RowError
from core.history import delete_with_history
from core.lookups import any_of
from core.parallel import quick_switches
from streams.backlog.services import CLOCK_SKEW, items_refresh_flow_dates
from streams.flow.rollups import rollups_invalidate
from streams.models import (
    BacklogItem,
    Dependency,
    FlowType,
    ImportProject,
    ImportSource,
    StateTransition,
    ValueStream,
    WorkflowState,
)
from streams.readiness.services import new_items_readiness_checks_create
from teams.models import Team

SOURCE = "csv"
MAX_ERRORS = 50
# Up to this many items, the writer reads only their own stored rows (a sync's batch); above,
# the whole stream's in one pass (a file import), which is cheaper than a long list of ids.
PART = 10_000
CUT_SHORT_NAMED = 20  # items with a history cut short named in a job's summary
# From this many new items, their title trigrams are moved into the index beside the writes.
GIN_BESIDE_ITEMS = 10_000
CATEGORIES = [code for code, _ in WorkflowState.Category.choices]
FLOW_TYPES = [code for code, _ in FlowType.choices]
# The columns a new item is written with, in the order of its row.
NEW_ITEM_COLUMNS = (
    "id stream_id title description flow_type rank state_id created_at started_at finished_at source external_key "
    "customer_facing updated_at team_id parent_id history_cut_short"
).split()
MOVE_COLUMNS = ["item_id", "from_state_id", "to_state_id", "at", "source"]


@dataclass
class ImportResult:
    stream: ValueStream
    stream_created: bool = False
    states_created: int = 0
    states_updated: int = 0
    items_created: int = 0
    items_updated: int = 0
    items_unchanged: int = 0
    histories_written: int = 0
    transitions_written: int = 0
    parents_set: int = 0
    dependencies_created: int = 0
    dependencies_removed: int = 0
    warnings: Counter = field(default_factory=Counter)
    cut_short: list[str] = field(default_factory=list)  # keys whose history the export cut short
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{'Created' if self.stream_created else 'Updated'} stream {self.stream.slug}: "
            f"states {self.states_created} new, {self.states_updated} changed; "
            f"items {self.items_created} new, {self.items_updated} changed, {self.items_unchanged} unchanged; "
            f"{self.transitions_written} transitions written for {self.histories_written} item histories; "
            f"{self.parents_set} parents set; dependencies {self.dependencies_created} new, "
            f"{self.dependencies_removed} removed; in {self.seconds:.2f} s."
            + "".join(f"\nNote: {count} × {what}." for what, count in sorted(self.warnings.items()))
        )

    def as_dict(self) -> dict:
        """The figures a job stores and its page shows."""
        return {
            "stream": self.stream.slug,
            "stream_created": self.stream_created,
            **{
                name: getattr(self, name)
                for name in (
                    "states_created",
                    "states_updated",
                    "items_created",
                    "items_updated",
                    "items_unchanged",
                    "histories_written",
                    "transitions_written",
                    "parents_set",
                    "dependencies_created",
                    "dependencies_removed",
                )
            },
            "warnings": dict(self.warnings),
            "cut_short": self.cut_short[:CUT_SHORT_NAMED],
            "seconds": round(self.seconds, 2),
        }


@dataclass
class ItemRow:
    line: int
    key: str
    title: str
    flow_type: str
    created_at: dt.datetime
    parent_key: str
    team_id: int | None


@dataclass
class Parsed:
    """A file read and checked, ready for `write_parsed`: the same shape for every source."""

    source: str = SOURCE
    states: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (category, order)
    wip_limits: dict[str, int | None] = field(default_factory=dict)  # name -> limit (None: none) when given
    items: dict[str, ItemRow] = field(default_factory=dict)
    histories: dict[str, list[tuple[str, dt.datetime]]] = field(default_factory=lambda: defaultdict(list))
    # Blocking links as (item key, blocker key); None: the source has none and keeps the stored ones.
    dependencies: set[tuple[str, str]] | None = None
    projects: set[str] = field(default_factory=set)  # the tool's projects, for webhooks to route by
    cut_short: set[str] = field(default_factory=set)  # keys whose history the export cut short
    warnings: Counter = field(default_factory=Counter)
    sets_team: bool = True  # the file names each item's team (CSV); a tool's export does not
    sets_order: bool = True  # the file orders the states (CSV); a mapping only names them
    key_field: str = "key"
    # The histories still being read while the writes begin (`flow_csv_import`); None: read whole.
    reading: HistoriesReading | None = None

    @property
    def source_label(self) -> str:
        return ImportSource(self.source).label

    def where(self, key: str) -> str:
        return "items.csv" if self.source == SOURCE else f"issue {key}"


class Errors:
    def __init__(self):
        self.errors: list[RowError] = []
        self.more = 0
        self.notes: Counter = Counter()  # what was read leniently: reported, not refused

    def add(self, file: str, line: int, field_name: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(file, line, field_name, message))
        else:
            self.more += 1

    def __bool__(self) -> bool:
        return bool(self.errors)


class ReadAgain(Exception):
    """The file came back to an item whose history was taken as whole: the new items are written
    again, once the file is read to its end."""


class HistoriesReading:
    """transitions.csv read on a thread of its own while the import writes the new items, whose rows
    need their histories (state and flow dates). The PostgreSQL server keeps the items' indexes
    meanwhile: reading the board's 630,000 moves took 0.9 s of Python that now overlaps its
    items' COPY instead of coming before it.

    A file lists each item's moves together (as every export does): an item's history is taken as
    whole once the moves of another item follow its own. A file that comes back to an item later
    (moves in time order, say) is written again, from the first new item, once read to its end:
    `wait` raises `ReadAgain` as soon as that happens, or `finish` says so. Problems are reported
    as without the thread: `finish` raises `ImportRefused` with them, and nothing is written."""

    PUBLISH = 500  # items whose history is read, told to the writer together

    def __init__(self, parsed: Parsed, known_states: set[str], file: IO, errors: Errors):
        self.errors = errors
        self.again = False  # an item's moves came back after another's
        self._condition = threading.Condition()
        self._whole: set[str] = set()  # keys whose history is read, as told to the writer
        self._told: list[str] = []  # read, not yet told (the reading thread's)
        self._closed: set[str] = set()  # every key whose moves were followed by another's (the reading thread's)
        self._ended = False
        self._failure: BaseException | None = None
        self._thread = threading.Thread(
            target=self._read, args=(parsed, known_states, file), name="transitions.csv", daemon=True
        )
        self._thread.start()

    def _read(self, parsed: Parsed, known_states: set[str], file: IO) -> None:
        try:
            _parse_transitions(parsed, known_states, file, self.errors, self)
        except BaseException as error:  # raised again by `finish`, in the writer's thread
            self._failure = error
        finally:
            with self._condition:
                self._ended = True
                self._condition.notify_all()

    def next_run(self, key: str | None, next_key: str) -> None:
        """The reading thread: the moves of `key` (None at the start) end where `next_key`'s begin."""
        if key is not None:
            self._closed.add(key)
            self._told.append(key)
            if len(self._told) >= self.PUBLISH:
                with self._condition:
                    self._whole.update(self._told)
                    self._condition.notify_all()
                self._told = []
        if next_key in self._closed and not self.again:
            with self._condition:
                self.again = True
                self._condition.notify_all()

    def wait(self, key: str) -> None:
        """The writer: return once the item's history is read whole; `ReadAgain` if the file came
        back to an item already taken as whole."""
        if key not in self._whole:
            with self._condition:
                while key not in self._whole and not self._ended and not self.again:
                    self._condition.wait()
        if self.again:
            raise ReadAgain

    def finish(self) -> bool:
        """Wait for the end of the file; raise `ImportRefused` with its problems. Returns whether the
        new items must be written again (see `ReadAgain`)."""
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        if self.errors:
            raise ImportRefused(self.errors.errors, self.errors.more)
        return self.again

    def join(self) -> None:
        """Wait for the thread, whatever happened to the writes (the caller closes the file then)."""
        self._thread.join()


# A file's lines are read in chunks of about this many characters, whose rows `csv.reader` reads at once. A
# chunk of the usual rows (each one line as wide as the header, no NUL) is then checked and stripped by C code
# (map, join, zip) rather than by Python steps for each row: the board's 762,000 rows are read in 0.55 s
# instead of 0.77 s (measured). Any other chunk is read a row at a time, as before. A chunk stays small in
# memory however long a hostile file's lines are (each at most IMPORT_MAX_CSV_LINE characters).
CHUNK_CHARS = 64 * 1024


def _rows(file: IO, name: str, required: list[str], optional: list[str], errors: Errors) -> Iterator[tuple]:
    """Yield (line number, values) of a CSV file whose header names the required columns: the
    values of the required, then the optional columns, stripped ("" where a row is short, None
    for an optional column the header does not name). Blank lines are skipped."""
    return itertools.chain.from_iterable(_row_batches(file, name, required, optional, errors))


def _row_batches(
    file: IO, name: str, required: list[str], optional: list[str], errors: Errors
) -> Iterator[Iterable[tuple]]:
    """The rows of `_rows`, a chunk of lines at a time. A problem with a row or the file is reported
    once the rows before it have been yielded, so errors stay in the order of the lines."""
    lines = bounded_lines(file, max_line=settings.IMPORT_MAX_CSV_LINE, name=name)
    reader = csv.reader(lines, strict=True)
    read = _header(reader, name, required, optional, errors)
    if read is None:
        return
    width, wanted = read
    # The usual file: the header is exactly the columns read, in order, the optional ones it does not name
    # last (each row is stripped whole, then None added for those).
    absent = wanted.count(-1)
    whole = wanted == list(range(width)) + [-1] * absent
    number = reader.line_num  # the lines read before the chunk
    while True:
        chunk: list[str] = []
        size, failure, ended = 0, None, True
        try:
            for line in lines:
                chunk.append(line)
                size += len(line)
                if size >= CHUNK_CHARS:
                    ended = False
                    break
        except (InputTooLarge, UnicodeDecodeError) as error:
            failure = error  # reported once the rows of the lines before it are
        if whole and chunk:
            batch = _usual_rows(chunk, width, absent)
            if batch is not None:
                yield zip(range(number + 1, number + len(chunk) + 1), batch, strict=True)
                number += len(chunk)
                chunk = []
        if chunk:
            # A row at a time, as the reader counts lines. A row still open at the chunk's end reads on in the
            # file (or meets the failure that ended the chunk, as it would have).
            rest = lines if failure is None else _raising(failure)
            chunk_reader = csv.reader(itertools.chain(chunk, rest), strict=True)
            kept = []  # the rows since the last one refused
            try:
                while chunk_reader.line_num < len(chunk):
                    row = next(chunk_reader, None)
                    if row is None:
                        break
                    line = number + chunk_reader.line_num
                    if not row:
                        continue
                    length = len(row)
                    if length < width:
                        row += [""] * (width - length)
                    elif length > width:
                        row = row[:width]  # columns past the header's are not read
                    if "\x00" in "".join(row):
                        if kept:
                            yield kept
                            kept = []
                        errors.add(name, line, "", "contains a NUL byte; is this a text file?")
                    elif whole:
                        kept.append((line, (*map(str.strip, row), *[None] * absent)))
                    else:
                        kept.append((line, tuple([row[index].strip() if index >= 0 else None for index in wanted])))
            except (InputTooLarge, UnicodeDecodeError, csv.Error) as error:
                failure = error
            number += chunk_reader.line_num
            if kept:
                yield kept
        if failure is not None:
            errors.add(name, number + (not isinstance(failure, csv.Error)), "", _unreadable(failure))
            return
        if ended:
            return


def _header(
    reader, name: str, required: list[str], optional: list[str], errors: Errors
) -> tuple[int, list[int]] | None:
    """Read the header from `reader`: its width and the index of each column read (the required,
    then the optional ones, -1 for one it does not name). None, the problem reported, when the
    header cannot be read or lacks a required column."""
    try:
        header = [column.strip() for column in next(reader, None) or []]
    except (InputTooLarge, UnicodeDecodeError, csv.Error) as error:
        errors.add(name, 1, "", _unreadable(error))
        return None
    missing = [column for column in required if column not in header]
    if missing:
        errors.add(
            name,
            1,
            "",
            f"the header must name the columns {', '.join(required)} "
            f"(optional: {', '.join(optional) or 'none'}); missing: {', '.join(missing)}.",
        )
        return None
    at = {column: index for index, column in enumerate(header)}  # a repeated column: its last
    return len(header), [at[column] for column in required] + [at.get(column, -1) for column in optional]


def _usual_rows(chunk: list[str], width: int, absent: int) -> Iterator[tuple] | None:
    """The rows of the lines of `chunk`, stripped, then None for each of `absent` columns; None unless
    each line is one row of `width` fields and none holds a NUL (blank lines, quoted line breaks,
    errors are read a row at a time)."""
    if "\x00" in "".join(chunk):
        return None
    reader = csv.reader(chunk, strict=True)
    rows: list[list[str]] = []
    try:
        rows.extend(reader)
    except csv.Error:  # e.g. a quote still open at the chunk's end
        return None
    if reader.line_num != len(rows) or set(map(len, rows)) != {width}:
        return None
    # Each row's values: the chunk's taken `width` at a time, then None for each optional column the header
    # leaves out (repeated without end: the values end first).
    values = map(str.strip, itertools.chain.from_iterable(rows))
    return zip(*[values] * width, *[itertools.repeat(None)] * absent, strict=False)


def _raising(error: Exception) -> Iterator[str]:
    """Lines that end in `error`: the file after a chunk whose reading failed."""
    raise error
    yield  # a generator: it raises when read


def _unreadable(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        byte = error.object[error.start]
        return f"is not UTF-8 text (byte 0x{byte:02x} at or after this line); save it as CSV UTF-8."
    if isinstance(error, InputTooLarge):
        return f"is refused: {error}"
    return f"is not valid CSV: {error}."  # e.g. an unterminated quote or a NUL in the header


def _timestamp(value: str) -> dt.datetime | str:
    """An aware datetime, or the reason the text is not one."""
    try:  # what parse_datetime tries first: the usual case returns here, checked in one comparison
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is not None and parsed >= EARLIEST_INSTANT:
            return parsed
    except ValueError:
        pass
    try:
        parsed = parse_datetime(value)
    except ValueError as error:
        return f"{value!r} is not a valid date and time ({error})."
    if parsed is None:
        return f"{value!r} is not an ISO 8601 date and time; write e.g. 2026-03-01T09:30:00+00:00."
    if parsed.tzinfo is None:
        return f"{value!r} has no UTC offset; add one, e.g. {value}+00:00."
    return too_early(parsed) or parsed


def _parse(stream: ValueStream | None, states_file: IO, items_file: IO, transitions_file: IO) -> Parsed:
    """The three files read and checked, one after the other (`flow_csv_import` writes while it reads
    transitions.csv); `ImportRefused` lists every problem."""
    with collector_paused():
        parsed, errors, known_states = _parse_head(stream, states_file, items_file)
        _parse_transitions(parsed, known_states, transitions_file, errors)
        if errors:
            raise ImportRefused(errors.errors, errors.more)
        return parsed


@contextmanager
def collector_paused() -> Iterator[None]:
    # The parse keeps about a million objects (the board's items, their histories, a tuple a move) and makes no
    # reference cycles, yet the cyclic garbage collector, started again and again as they pile up, went over the
    # whole heap three times: 0.5 s of the board's 2.3 s parse (measured). It is off while the parse runs. Then
    # what the parse made goes straight to the oldest generation (freeze, unfreeze), where the collector would
    # have moved it after going over it twice: its first pass alone took 0.17 s (measured). Not when another
    # part of the process has frozen objects, which unfreeze would thaw.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()


def _parse_head(stream: ValueStream | None, states_file: IO, items_file: IO) -> tuple[Parsed, Errors, set[str]]:
    """states.csv and items.csv read and checked: what was read, the problems found and the states
    transitions.csv may name (the file's and the stream's)."""
    errors = Errors()
    parsed = Parsed()
    existing_states = (
        dict(WorkflowState.objects.filter(stream=stream).values_list("name", "category")) if stream else {}
    )

    for line, row in _rows(states_file, "states.csv", ["name", "category", "order"], ["wip_limit"], errors):
        name, category, order, limit = row
        category = category.lower()
        if limit is not None and limit != "" and not (limit.isdigit() and int(limit) <= 1_000_000):
            errors.add("states.csv", line, "wip_limit", f"{limit!r} is not a whole number of 0 or more (or empty).")
        elif limit is not None and name:
            parsed.wip_limits[name] = int(limit) if limit else None
        if not name:
            errors.add("states.csv", line, "name", "a state needs a name.")
        elif len(name) > 60:
            errors.add("states.csv", line, "name", f"{name[:20]!r}... is longer than 60 characters.")
        elif name in parsed.states:
            errors.add("states.csv", line, "name", f"{name!r} is listed twice.")
        if category not in CATEGORIES:
            errors.add("states.csv", line, "category", f"{row[1]!r} is not one of {', '.join(CATEGORIES)}.")
        if not order.isdigit():
            errors.add("states.csv", line, "order", f"{order!r} is not a whole number of 0 or more.")
        if name and category in CATEGORIES and order.isdigit():
            parsed.states[name] = (category, int(order))
    known_states = set(existing_states) | set(parsed.states)
    if not known_states:
        errors.add("states.csv", 0, "", "the stream has no workflow states: list at least one.")

    teams = {}
    for pk, slug, name in Team.objects.values_list("pk", "slug", "name"):
        teams[slug.lower()] = pk
        teams[name.lower()] = pk
    items = parsed.items
    columns = ["key", "title", "type", "created_at"]
    for line, row in _rows(items_file, "items.csv", columns, ["parent_key", "team"], errors):
        key, title, raw_type, created_at, parent_key, team_name = row
        flow_type = raw_type.lower()
        team_id = teams.get(team_name.lower()) if team_name else None
        if not key:
            errors.add("items.csv", line, "key", "an item needs a key.")
        elif len(key) > 100:
            errors.add("items.csv", line, "key", "is longer than 100 characters.")
        elif key in items:
            errors.add("items.csv", line, "key", f"{key!r} is listed twice (first on line {items[key].line}).")
        if not title:
            errors.add("items.csv", line, "title", "an item needs a title.")
        elif len(title) > 300:
            errors.add("items.csv", line, "title", "is longer than 300 characters.")
        if flow_type not in FLOW_TYPES:
            errors.add("items.csv", line, "type", f"{raw_type!r} is not one of {', '.join(FLOW_TYPES)}.")
        created = _timestamp(created_at)
        if isinstance(created, str):
            errors.add("items.csv", line, "created_at", created)
        if team_name and team_id is None:
            errors.add("items.csv", line, "team", f"no team has the slug or name {team_name!r}.")
        if key and key not in items and title and flow_type in FLOW_TYPES and not isinstance(created, str):
            items[key] = ItemRow(line, key, title[:300], flow_type, created, parent_key or "", team_id)
    for item in items.values():
        parent_key = item.parent_key
        if not parent_key:  # most items (two in three on the board)
            continue
        if parent_key not in items:
            errors.add("items.csv", item.line, "parent_key", f"{parent_key!r} is not the key of an item in the file.")
        if parent_key == item.key:
            errors.add("items.csv", item.line, "parent_key", "an item cannot be its own parent.")
        elif parent_key in items:
            seen, key = {item.key}, parent_key
            while key and key in items and key not in seen:
                seen.add(key)
                key = items[key].parent_key
            if key == item.key:
                errors.add(
                    "items.csv",
                    item.line,
                    "parent_key",
                    f"{parent_key!r} descends from {item.key!r}: parents cannot form a loop.",
                )
    return parsed, errors, known_states


def _parse_transitions(
    parsed: Parsed,
    known_states: set[str],
    transitions_file: IO,
    errors: Errors,
    reading: HistoriesReading | None = None,
) -> None:
    """transitions.csv read and checked into `parsed.histories`, its problems added to `errors`.
    `reading` is told where each item's moves end in the file, for a writer waiting on them."""
    items = parsed.items
    fromisoformat = dt.datetime.fromisoformat
    last_at: dict[str, tuple[dt.datetime, int]] = {}  # an item's last move kept: its time and line
    latest = timezone.now() + CLOCK_SKEW
    histories = parsed.histories
    # A file lists an item's moves together (4.8 an item on the board): the item, its history and its last
    # move kept are looked up when the key changes (and the last move saved in last_at then, for a key that
    # comes back later), not for each move.
    run_key = item = history = previous = floor = None
    previous_line = 0
    for line, (key, to_state, text) in _rows(
        transitions_file, "transitions.csv", ["key", "to_state", "at"], [], errors
    ):
        if key != run_key:
            if previous is not None:
                last_at[run_key] = (previous, previous_line)
            if reading is not None:
                reading.next_run(run_key, key)
            run_key, item = key, items.get(key)
            previous, previous_line = last_at.get(key, (None, 0))
            # The histories are used only when no row has a problem, and then each move of a known item is kept:
            # an item's list made before its first move is kept changes nothing.
            history = histories[key] if item is not None else None
            # What the item's next move cannot be earlier than: its last move kept, or else its creation (both
            # from 2000 on); None for an unknown item.
            floor = (item.created_at if previous is None else previous) if item is not None else None
        # The usual move, checked in one comparison: a known item (else floor is None and comparing raises
        # TypeError), a time in ISO 8601 (else ValueError) with a UTC offset (else comparing raises TypeError)
        # in order and not in the future, a known state. Any other goes through each check below.
        try:
            at = fromisoformat(text)
            usual = floor <= at <= latest and to_state in known_states
        except (ValueError, TypeError):
            usual = False
        if usual:
            history.append((to_state, at))
            floor = previous = at
            previous_line = line
            continue
        at = _timestamp(text)
        if item is None:
            errors.add("transitions.csv", line, "key", f"{key!r} is not the key of an item in items.csv.")
        known = to_state in known_states
        if not known:
            errors.add(
                "transitions.csv", line, "to_state", f"{to_state!r} is not a state in states.csv or of the stream."
            )
        if isinstance(at, str):
            errors.add("transitions.csv", line, "at", at)
            continue
        if at > latest:
            errors.add("transitions.csv", line, "at", f"{at.isoformat()} is in the future.")
            continue
        if previous is not None and at < previous:
            errors.add(
                "transitions.csv",
                line,
                "at",
                f"{at.isoformat()} is earlier than this item's previous move on line {previous_line} "
                f"({previous.isoformat()}); list each item's moves in time order.",
            )
        elif previous is None and item is not None and at < item.created_at:
            errors.add(
                "transitions.csv",
                line,
                "at",
                f"{at.isoformat()} is before the item was created ({item.created_at.isoformat()}).",
            )
        if item is not None and known:
            history.append((to_state, at))
            floor = previous = at
            previous_line = line


def flow_csv_import(
    *,
    stream_slug: str,
    states_file: IO,
    items_file: IO,
    transitions_file: IO,
    stream_name: str = "",
    on_commit_of=None,
) -> ImportResult:
    """Import the three CSV files into the stream (created if missing); all or nothing.

    Raises `ImportRefused` listing every problem found (file, line, field) before writing.
    `on_commit_of(result)` runs inside the import's transaction, after the writes (a job marks
    itself done there, so the data and the job's outcome commit together).
    """
    started = time.monotonic()
    if not stream_slug or slugify(stream_slug) != stream_slug:
        raise ImportRefused(
            [RowError("--stream", 0, "", f"{stream_slug!r} is not a slug (lowercase letters, digits, hyphens).")]
        )
    stream = ValueStream.objects.filter(slug=stream_slug).first()
    with collector_paused():
        parsed, errors, known_states = _parse_head(stream, states_file, items_file)
        if errors:  # nothing will be written: the moves are read for their problems, then all are reported
            _parse_transitions(parsed, known_states, transitions_file, errors)
            raise ImportRefused(errors.errors, errors.more)
        # The moves are read while the writes begin; their problems refuse the import before it commits.
        # Beside that thread, the writes' queries and waits get the GIL back quickly.
        with quick_switches():
            parsed.reading = HistoriesReading(parsed, known_states, transitions_file, errors)
            try:
                with transaction.atomic():
                    result = write_parsed(stream, stream_slug, stream_name, parsed)
                    result.seconds = time.monotonic() - started
                    if on_commit_of:
                        on_commit_of(result)
            finally:
                parsed.reading.join()
    return result


def write_parsed(stream: ValueStream | None, slug: str, name: str, parsed: Parsed) -> ImportResult:
    """Write the parsed file into the stream: every write of an import, in the caller's transaction."""
    source = parsed.source
    created = stream is None
    if created:
        try:
            with transaction.atomic():
                stream = ValueStream.objects.create(slug=slug, name=name or slug.replace("-", " ").title())
        except IntegrityError as error:  # another import created it a moment ago
            raise ImportRefused(
                [RowError("--stream", 0, "", f"{slug!r} was created meanwhile; run the import again.")]
            ) from error
    # Concurrent imports into one stream run one after the other, never interleaved.
    stream = ValueStream.objects.select_for_update().get(pk=stream.pk)
    result = ImportResult(stream=stream, stream_created=created)
    result.warnings.update(parsed.warnings)
    states = _write_states(stream, parsed, result)

    # The state is the history's to decide (see _write_histories), not a column to compare.
    columns = ["title", "flow_type", "created_at"] + (["team_id"] if parsed.sets_team else [])
    stored_items = BacklogItem.objects.filter(stream=stream, source=source)
    if len(parsed.items) <= PART:  # a sync's batch: read only its items, not the whole stream's
        stored_items = stored_items.filter(any_of("external_key", parsed.items))
    # key -> (pk, *columns, parent_id)
    existing = {row[0]: row[1:] for row in values_rows(stored_items, "external_key", "pk", *columns, "parent_id")}
    new_keys = [key for key in parsed.items if key not in existing]
    initial = _initial_state(states)
    now = timezone.now()
    # New items go after everything the product owners ordered, in the file's order.
    last_rank = BacklogItem.objects.filter(stream=stream).aggregate(last=Max("rank"))["last"]
    first_rank = math.floor(last_rank) + 1 if last_rank is not None else 0
    # New items are written whole in one COPY: their ids drawn first, so that each can name its
    # parent, and their state and flow dates taken from the file's history (the rule of
    # items_refresh_flow_dates), rather than set by an UPDATE of every row afterwards.
    writer = RowWriter()
    new_ids = dict(zip(new_keys, writer.reserve_ids(BacklogItem, len(new_keys)), strict=True))
    categories = {name: state.category for name, state in states.items()}
    ended = (WorkflowState.Category.DONE, WorkflowState.Category.REMOVED)
    changed, live = [], []  # items whose columns change; new items still in the work (id, stream, type)
    parents: dict[int, int | None] = {}  # id -> parent id, as stored once the new items are written

    def new_rows():
        """The new items' rows, made as COPY takes them (the server keeps the indexes meanwhile),
        noting on the way the changed items, the new items' parents and the live ones. Each
        new item's row waits for its history while transitions.csv is still read."""
        changed.clear()  # (from the start again when the items are written again)
        live.clear()
        parents.clear()
        next_rank = itertools.count(first_rank)
        for key, row in parsed.items.items():
            values = (row.title, row.flow_type, row.created_at)
            if parsed.sets_team:
                values += (row.team_id,)
            stored = existing.get(key)
            if stored is not None:
                parents[stored[0]] = stored[-1]
                if stored[1:-1] != values:
                    changed.append(BacklogItem(pk=stored[0], **dict(zip(columns, values, strict=True))))
                continue
            if reading is not None:
                reading.wait(key)
            history = parsed.histories.get(key) or [(initial.name, row.created_at)]
            cut_short = key in parsed.cut_short
            started_at, finished_at = history_flow_dates(history, categories, cut_short=cut_short)
            parent = existing.get(row.parent_key)
            item_id, state = new_ids[key], states[history[-1][0]]
            parents[item_id] = new_ids.get(row.parent_key) or (parent[0] if parent else None)
            if state.category not in ended:
                live.append((item_id, stream.pk, row.flow_type))
            yield (
                item_id,
                stream.pk,
                row.title,
                "",
                row.flow_type,
                float(next(next_rank)),
                state.pk,
                row.created_at,
                started_at,
                finished_at,
                source,
                key,
                False,
                now,
                row.team_id,
                parents[item_id],
                cut_short,
            )

    reading = parsed.reading

    def write_new_items() -> int:
        # A savepoint: for the refusal below to name the keys, and to write the items again (ReadAgain).
        with transaction.atomic():
            written = writer.write(BacklogItem, NEW_ITEM_COLUMNS, new_rows())
            if reading is not None and reading.finish():  # the file read whole, or refused
                raise ReadAgain
            return written

    # A board's new items: the title trigrams they add are moved into their index by another
    # connection while this one writes the rest (`GinPendingLists`).
    pending = GinPendingLists(BacklogItem, active=len(new_keys) >= GIN_BESIDE_ITEMS)
    pending.defer()
    try:
        try:
            result.items_created = write_new_items()
        except ReadAgain:
            parsed.reading.finish()
            reading = None
            result.items_created = write_new_items()
    except IntegrityError:
        _refuse_keys_elsewhere(parsed, stream, new_keys)
        raise
    pending.clean_meanwhile()
    for column in columns:  # one UPDATE ... FROM per column (bulk_update's CASE took 1.6 ms a row)
        writer.update_column(BacklogItem, column, [(item.pk, getattr(item, column)) for item in changed])
    result.items_updated = len(changed)
    touched = {item.pk for item in changed}
    if len(parsed.items) > PART:  # every item of the stream from this source was read above, or is new
        items = {key: stored[0] for key, stored in existing.items()} | new_ids
    else:  # a sync's batch: its items and their parents, not the whole stream
        keys = set(parsed.items) | {row.parent_key for row in parsed.items.values() if row.parent_key}
        items_of_stream = BacklogItem.objects.filter(stream=stream, source=source).filter(any_of("external_key", keys))
        items, parents = {}, {}
        for key, pk, parent_id in items_of_stream.values_list("external_key", "pk", "parent_id").iterator(20000):
            items[key] = pk
            parents[pk] = parent_id
    existing.clear()  # (not `del`: new_rows() closes over it)

    touched |= _write_parents(parsed, items, parents, result)
    parents.clear()
    created_ids = set(new_ids.values())
    rewritten = _write_histories(parsed, items, states, initial, result, created=created_ids)
    rewritten += _write_cut_short(parsed, items, stream, source, result)
    # An item is unchanged when neither its fields, its parent nor its history changed.
    result.items_unchanged = len(parsed.items) - len(created_ids) - len((touched | set(rewritten)) - created_ids)
    # The new items were written with their flow dates; the others' follow their new history.
    rewritten = [pk for pk in rewritten if pk not in created_ids]
    if parsed.dependencies is not None:
        _write_dependencies(parsed, items, result)
    for project in parsed.projects:
        ImportProject.objects.update_or_create(source=source, project=project, defaults={"stream": stream})
    if result.states_updated:  # a state changed category: every item of the stream may change
        items_refresh_flow_dates(BacklogItem.objects.filter(stream=stream))
    elif rewritten:
        items_refresh_flow_dates(BacklogItem.objects.filter(any_of("pk", rewritten)))
    if result.states_updated or rewritten or result.items_created or result.items_updated:
        # Imported history is backdated: the stream's stored days are recomputed from scratch.
        rollups_invalidate(stream_id=stream.pk, since=None)
    # Live work gets its readiness checks; work already done or removed was released without us.
    if live:
        new_items_readiness_checks_create(rows=live)
    pending.join()  # (should a write fail before, the other connection ends its work alone)
    analyze_after_commit({BacklogItem: result.items_created, StateTransition: result.transitions_written})
    return result


def _refuse_keys_elsewhere(parsed: Parsed, stream: ValueStream, keys: list[str]) -> None:
    """Raise `ImportRefused` naming the new items' keys that another stream's items hold.

    A key is one item's in a source (a unique index): a key already used by another stream would
    silently move that item between streams. The index refuses the new items' write then, and
    only then are the keys looked up (132,000 of them took 0.3-0.4 s to look up before every
    write of a board)."""
    elsewhere = dict(
        BacklogItem.objects.filter(any_of("external_key", keys), source=parsed.source)
        .exclude(stream=stream)
        .values_list("external_key", "stream__slug")
    )
    if elsewhere:
        raise ImportRefused(
            [
                RowError(
                    parsed.where(key),
                    parsed.items[key].line,
                    parsed.key_field,
                    f"{key!r} already belongs to stream {other!r}.",
                )
                for key, other in list(elsewhere.items())[:MAX_ERRORS]
            ]
        )


def _write_cut_short(parsed, items: dict[str, int], stream, source: str, result: ImportResult) -> list[int]:
    """Flag the items whose history the export cut short (their start is unknown: DESIGN.md,
    Data quality), clear the flag of those that now came whole, and name them in the result.
    Returns the items whose flag changed (their flow dates change with it)."""
    flagged = dict(
        BacklogItem.objects.filter(stream=stream, source=source, history_cut_short=True).values_list(
            "external_key", "pk"
        )
    )
    now_cut = {items[key] for key in parsed.cut_short if key in items and key not in flagged}
    now_whole = [pk for key, pk in flagged.items() if key in parsed.items and key not in parsed.cut_short]
    BacklogItem.objects.filter(any_of("pk", now_cut)).update(history_cut_short=True)
    BacklogItem.objects.filter(any_of("pk", now_whole)).update(history_cut_short=False)
    if parsed.cut_short:
        result.cut_short = sorted(parsed.cut_short)
        named = ", ".join(result.cut_short[:CUT_SHORT_NAMED])
        more = len(result.cut_short) - CUT_SHORT_NAMED
        result.warnings[
            "history cut short by the export (Jira sent fewer changelog entries than changelog.total): start "
            f"unknown, left out of flow time: {named}{f' and {more} more' if more > 0 else ''}"
        ] = len(result.cut_short)
    return [*now_cut, *now_whole]


def state_key(name: str) -> str:
    """A state's name as compared: case and spacing do not make two states."""
    return " ".join(name.split()).casefold()


def _write_states(stream: ValueStream, parsed: Parsed, result: ImportResult) -> dict[str, WorkflowState]:
    states = {state.name: state for state in WorkflowState.objects.filter(stream=stream)}
    by_key = {state_key(name): state for name, state in states.items()}
    for name, (category, order) in parsed.states.items():
        state = states.get(name) or by_key.get(state_key(name))  # "In Progress" is "In progress"
        limit = parsed.wip_limits.get(name, state.wip_limit if state else None)
        if state is None:
            states[name] = by_key[state_key(name)] = WorkflowState.objects.create(
                stream=stream, name=name, category=category, order=order, wip_limit=limit
            )
            result.states_created += 1
            continue
        states[name] = state
        if name in parsed.wip_limits and state.wip_limit != limit:
            state.wip_limit = limit  # a limit changes no item's dates: not counted as a state change
            state.save(update_fields=["wip_limit"])
            result.warnings["WIP limits set by the import"] += 1
        if state.category != category or (parsed.sets_order and state.order != order):
            state.category = category
            state.order = order if parsed.sets_order else state.order
            state.save(update_fields=["category", "order"])
            result.states_updated += 1
    return states


def history_flow_dates(
    history: list[tuple[str, dt.datetime]], categories: dict[str, str], *, cut_short: bool = False
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(started_at, finished_at) of an item whose whole history is `history` (state name, time),
    the last move being its state now: `items_refresh_flow_dates`' rule, for rows written whole.

    Start = first entry into an active or waiting state, else, done now, the finish; finish =
    last entry into a done state while done now; a finished item whose history was cut short
    has no start."""
    first_start = last_done = None
    for name, at in history:
        category = categories[name]
        if category in ("active", "waiting"):
            if first_start is None or at < first_start:
                first_start = at
        elif category == "done" and (last_done is None or at > last_done):
            last_done = at
    if categories[history[-1][0]] != "done":
        return first_start, None
    return (None if cut_short else first_start or last_done), last_done


def _initial_state(states: dict[str, WorkflowState]) -> WorkflowState:
    ordered = sorted(states.values(), key=lambda s: (s.order, s.pk))
    return next((s for s in ordered if s.category == WorkflowState.Category.BACKLOG), ordered[0])


def _write_parents(
    parsed: Parsed, items: dict[str, int], stored: dict[int, int | None], result: ImportResult
) -> set[int]:
    """Point each item at its parent; a parent outside the stream's imported items is left out.
    `stored` holds each item's parent as stored now (id -> parent id)."""
    wanted: dict[int, int | None] = {}
    for key, row in parsed.items.items():
        parent_id = items.get(row.parent_key) if row.parent_key else None
        if row.parent_key and parent_id is None:
            result.warnings["parent not imported into this stream (left without a parent)"] += 1
        wanted[items[key]] = parent_id
    pairs = [(pk, parent_id) for pk, parent_id in wanted.items() if stored.get(pk) != parent_id]
    RowWriter().update_column(BacklogItem, "parent_id", pairs)
    result.parents_set = len(pairs)
    return {pk for pk, _parent in pairs}


def _write_histories(
    parsed, items: dict[str, int], states, initial, result: ImportResult, *, created: set[int]
) -> list[int]:
    """Give each item the file's history, merged with the moves recorded after it; skip equal ones.

    The tool is the source of truth for the time its file covers. Moves recorded through
    another door (a webhook, a page) later than the file's last move of an item are kept after
    it, so an
    older export never erases newer live changes, and a newer export, which holds those same
    moves, does not duplicate them.
    """
    stored: dict[int, list[tuple[int, dt.datetime]]] = defaultdict(list)
    live: dict[int, list[tuple[int, dt.datetime]]] = defaultdict(list)  # moves not from an import
    moves = StateTransition.objects.filter(item__stream=result.stream, item__source=parsed.source)
    if len(parsed.items) <= PART:  # a sync's batch: only its items' moves
        moves = StateTransition.objects.filter(any_of("item_id", [items[key] for key in parsed.items]))
    if len(created) == len(items):  # every item is new: none has a move yet
        moves = moves.none()
    for item_id, state_id, at, door in values_rows(
        moves.order_by("item_id", "at", "pk"), "item_id", "to_state_id", "at", "source"
    ):
        stored[item_id].append((state_id, at))
        if door != StateTransition.Source.IMPORT:
            live[item_id].append((state_id, at))
    rewrite: list[int] = []  # items whose history changes
    replaced: list[int] = []  # of them, those whose stored moves are not all kept
    # The item's state is its last move's (a kept later move may be newer than the file). An item
    # created by this write has it already: updating it would only rewrite its row.
    last: dict[int, int] = {}
    state_ids = {name: state.pk for name, state in states.items()}

    def history_rows():
        """The moves to write, made as COPY takes them, noting on the way the items rewritten,
        replaced and (not created by this write) their last state."""
        for key, row in parsed.items.items():
            item_id = items[key]
            wanted = [
                (state_ids[name], at) for name, at in (parsed.histories.get(key) or [(initial.name, row.created_at)])
            ]
            kept = stored.get(item_id, [])
            later = [move for move in live.get(item_id, ()) if move[1] > wanted[-1][1]]
            for state_id, at in later:
                if state_id != wanted[-1][0]:
                    wanted.append((state_id, at))
            if kept == wanted:
                continue
            if later:
                result.warnings["moves recorded after the export kept"] += len(later)
            rewrite.append(item_id)
            if kept and len(kept) < len(wanted) and wanted[: len(kept)] == kept:
                # The stored history goes on in the new one (a sync's new moves): append, delete nothing.
                tail, previous = wanted[len(kept) :], kept[-1][0]
            else:
                tail, previous = wanted, None
                if kept:  # a new item has no stored move to delete
                    replaced.append(item_id)
            for state_id, at in tail:
                yield (item_id, previous, state_id, at, StateTransition.Source.IMPORT.value)
                previous = state_id
            if item_id not in created:
                last[item_id] = previous

    rows = history_rows()
    if stored:  # stored moves may be replaced: which ones is known before any new move is written
        rows = list(rows)
    if replaced:
        # Each deleted move's last version, written in batches (one INSERT per row took seconds).
        delete_with_history(StateTransition.objects.filter(any_of("item_id", replaced)))
    result.transitions_written = RowWriter().write(StateTransition, MOVE_COLUMNS, rows)
    stored.clear()  # (not `del`: history_rows() closes over it)
    RowWriter().update_column(BacklogItem, "state_id", list(last.items()))
    result.histories_written = len(rewrite)
    return rewrite


def _write_dependencies(parsed: Parsed, items: dict[str, int], result: ImportResult) -> None:
    """Blocking links of the file become dependencies; links of the file's items that the file no
    longer has are removed (the tool owns them); items the file does not hold (a sync's batch
    holds a few) keep theirs. Links to issues that were never imported are left out."""
    keys = {key for pair in parsed.dependencies for key in pair} - set(items)
    known = dict(
        BacklogItem.objects.filter(any_of("external_key", keys), source=parsed.source).values_list("external_key", "pk")
    )
    known.update(items)
    wanted = set()
    for key, blocker in parsed.dependencies:
        if key in known and blocker in known and key != blocker:
            wanted.add((known[key], known[blocker]))
        else:
            result.warnings["blocking link to an issue never imported (left out)"] += 1
    ids = [items[key] for key in parsed.items]  # the links of the items read; others' stay as they are
    stored = set(
        Dependency.objects.filter(any_of("item_id", ids), blocked_by__source=parsed.source).values_list(
            "item_id", "blocked_by_id"
        )
    )
    stale = stored - wanted
    if stale:
        for item_id, blocker_id in stale:
            Dependency.objects.filter(item_id=item_id, blocked_by_id=blocker_id).delete()
    now = timezone.now()
    Dependency.objects.bulk_create(
        [
            Dependency(item_id=item_id, blocked_by_id=blocker_id, created_at=now, note=f"From {parsed.source_label}")
            for item_id, blocker_id in wanted - stored
        ],
        batch_size=2000,
        ignore_conflicts=True,
    )
    result.dependencies_created, result.dependencies_removed = len(wanted - stored), len(stale)


def open_text(path: str) -> IO:
    """Open a CSV file as text, tolerating a UTF-8 byte order mark (as spreadsheets write)."""
    return open(path, newline="", encoding="utf-8-sig")
