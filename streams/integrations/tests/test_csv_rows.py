"""The CSV reader of flow imports, `writer._rows`, reads a chunk of lines at a time (CHUNK_CHARS). Wherever
a chunk ends, it gives the rows, line numbers and errors, in the same order, that reading a row at a time
gives (`one_by_one` below, the reader before chunks): across quoted line breaks, CR or CRLF line ends, blank
lines, NULs, lines too long, undecodable bytes, quotes left open, fields over the csv module's limit.
"""

import csv
import gc
import io

from django.conf import settings
import pytest

from core.bounded_input import InputTooLarge, bounded_lines
from core.errors import ImportRefused, RowError
from streams.integrations import writer
from streams.integrations.tests.test_imports import ITEMS, STATES, files, run
from streams.integrations.writer import Errors
from teams.tests.factories import TeamFactory

TRANSITIONS = ["key", "to_state", "at"]
ITEM_COLUMNS = (["key", "title", "type", "created_at"], ["parent_key", "team"])


@pytest.fixture
def team():
    return TeamFactory(name="Checkout", slug="checkout")


def one_by_one(file, name: str, required: list[str], optional: list[str], errors: Errors):
    """The rows as read before chunks (809de95): `csv.reader` over the file's lines, a row at a time."""
    reader = csv.reader(bounded_lines(file, max_line=settings.IMPORT_MAX_CSV_LINE, name=name), strict=True)
    read = writer._header(reader, name, required, optional, errors)  # the header as the writer reads it
    if read is None:
        return
    width, wanted = read
    try:
        for row in reader:
            if not row:
                continue
            row = (row + [""] * width)[:width]
            if "\x00" in "".join(row):
                errors.add(name, reader.line_num, "", "contains a NUL byte; is this a text file?")
                continue
            yield reader.line_num, tuple(row[index].strip() if index >= 0 else None for index in wanted)
    except (InputTooLarge, UnicodeDecodeError, csv.Error) as error:
        errors.add(name, reader.line_num + (not isinstance(error, csv.Error)), "", writer._unreadable(error))


def opened(data: bytes, how: str) -> io.TextIOBase:
    if how == "bytes":  # as open_text and the import jobs open a file
        return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    return io.StringIO(data.decode("utf-8"), **({"newline": ""} if how == "text, newline=''" else {}))


def read(read_rows, data: bytes, how: str, columns=(TRANSITIONS, [])) -> tuple[list, list]:
    """The rows, each with the number of errors reported before it was yielded, and all the errors."""
    errors = Errors()
    rows = []
    for line, values in read_rows(opened(data, how), "transitions.csv", *columns, errors):
        rows.append((len(errors.errors), line, tuple(values)))
    return rows, errors.errors


MOVE = "PAY-{n},In progress,2026-03-0{d}T00:00:00+00:00"
LINES = [MOVE.format(n=n, d=n % 9 + 1) for n in range(40)]
FILES = {
    "plain": "key,to_state,at\n" + "\n".join(LINES) + "\n",
    "CRLF, blank lines, short and long rows, spaces": "key,to_state,at\r\n"
    + "\r\n".join(LINES[:10] + ["", "PAY-1,Done", " PAY-2 , Done ,2026-03-04T00:00:00+00:00,extra,more", ""] + LINES)
    + "\r\n",
    "CR only": "key,to_state,at\r" + "\r".join(LINES[:20] + ["", ""] + LINES[20:]),
    "quoted line breaks": "key,to_state,at\n"
    + "\n".join(LINES[:7] + ['PAY-7,"In\nprogress",x', 'PAY-8,"a\r\nb\rc\n\nd",y', '"PAY-9","Done",z'] + LINES)
    + "\n",
    "NUL": "key,to_state,at\n"
    + "\n".join(LINES[:12] + ["PAY-1,Do\x00ne,x", "PAY-2,Done,x,\x00past the header"] + LINES),
    "a quote open at the end": "key,to_state,at\n" + "\n".join(LINES) + '\nPAY-1,"Done\n' + "\n".join(LINES[:5]),
    "a quote in a bare field": "key,to_state,at\n" + "\n".join(LINES[:25] + ['PAY-1,Do"ne,x'] + LINES),
    "a field over the csv limit": "key,to_state,at\n"
    + "\n".join(LINES[:3] + ["PAY-1," + "x" * 140_000 + ",y"] + LINES),
    "columns in another order": "at,key,to_state\n" + "\n".join(",".join(line.split(",")[::-1]) for line in LINES),
}


@pytest.mark.parametrize("chunk_chars", [1, 7, 60, 700, 64 * 1024])
@pytest.mark.parametrize("how", ["bytes", "text", "text, newline=''"])
@pytest.mark.parametrize("name", FILES)
def test_rows_read_in_chunks_are_those_read_one_by_one(monkeypatch, name, how, chunk_chars):
    monkeypatch.setattr(writer, "CHUNK_CHARS", chunk_chars)
    data = FILES[name].encode()
    assert read(writer._rows, data, how) == read(one_by_one, data, how)


@pytest.mark.parametrize("chunk_chars", [1, 7, 60, 700, 64 * 1024])
def test_a_line_too_long_is_refused_at_its_number_after_the_rows_before_it(monkeypatch, settings, chunk_chars):
    monkeypatch.setattr(writer, "CHUNK_CHARS", chunk_chars)
    settings.IMPORT_MAX_CSV_LINE = 1024
    data = ("key,to_state,at\n" + "\n".join(LINES[:30] + ["PAY-1,Done," + "x" * 5000] + LINES)).encode()
    rows, errors = read(writer._rows, data, "bytes")
    assert [line for _, line, _ in rows] == list(range(2, 32))
    assert errors == [
        RowError(
            "transitions.csv",
            32,
            "",
            "is refused: transitions.csv line 32 is longer than 1,024 characters; is this a CSV file with one "
            "row per line?",
        )
    ]
    assert (rows, errors) == read(one_by_one, data, "bytes")


@pytest.mark.parametrize("chunk_chars", [1, 60, 64 * 1024])
def test_a_quoted_line_break_across_chunks_ends_its_row_on_its_last_line(monkeypatch, chunk_chars):
    monkeypatch.setattr(writer, "CHUNK_CHARS", chunk_chars)
    data = b'key,to_state,at\r\nPAY-1,"In\r\nprogress",2026-03-02T00:00:00+00:00\r\nPAY-2,Done,x\r\n'
    assert read(writer._rows, data, "bytes") == (
        [(0, 3, ("PAY-1", "In\r\nprogress", "2026-03-02T00:00:00+00:00")), (0, 4, ("PAY-2", "Done", "x"))],
        [],
    )


@pytest.mark.parametrize("chunk_chars", [1, 700, 64 * 1024])
def test_bytes_not_utf8_far_into_a_file_are_refused_where_reading_line_by_line_refuses_them(monkeypatch, chunk_chars):
    monkeypatch.setattr(writer, "CHUNK_CHARS", chunk_chars)
    lines = [MOVE.format(n=n, d=n % 9 + 1) for n in range(1000)]  # 44 KB: decoded 8 KB at a time
    data = ("key,to_state,at\n" + "\n".join(lines)).encode().replace(b"PAY-700,", b"PAY-\xff700,")
    rows, errors = read(writer._rows, data, "bytes")
    assert (rows, errors) == read(one_by_one, data, "bytes")
    assert len(errors) == 1 and errors[0].message.startswith("is not UTF-8 text (byte 0xff")
    assert errors[0].line == rows[-1][1] + 1 < 702


def test_a_file_of_long_lines_is_read_a_few_lines_at_a_time(monkeypatch):
    # However long the lines (up to IMPORT_MAX_CSV_LINE), a chunk holds about CHUNK_CHARS characters of them:
    # the rows the csv module makes of a chunk at once stay within a bound.
    monkeypatch.setattr(writer, "CHUNK_CHARS", 4096)
    data = ("key,to_state,at\n" + "".join(f"PAY-{n},Done,{'x' * 1000}\n" for n in range(100))).encode()
    batches = [
        list(batch)
        for batch in writer._row_batches(opened(data, "bytes"), "transitions.csv", TRANSITIONS, [], Errors())
    ]
    assert len(batches) == 20 and {len(batch) for batch in batches} == {5}  # 5,085 characters each
    assert [line for batch in batches for line, _ in batch] == list(range(2, 102))


def test_items_without_the_optional_columns_get_none_for_them(monkeypatch):
    monkeypatch.setattr(writer, "CHUNK_CHARS", 60)
    data = b"key,title,type,created_at\nPAY-1, Epic ,feature,2026-03-02T00:00:00+00:00\nPAY-2,Bug,defect,x\n"
    expected = [
        (0, 2, ("PAY-1", "Epic", "feature", "2026-03-02T00:00:00+00:00", None, None)),
        (0, 3, ("PAY-2", "Bug", "defect", "x", None, None)),
    ]
    assert read(writer._rows, data, "bytes", ITEM_COLUMNS) == (expected, [])


@pytest.mark.django_db
def test_moves_of_an_item_apart_in_the_file_are_checked_against_its_last_move_kept(team):
    transitions = """\
        key,to_state,at
        PAY-2,Backlog,2026-03-02T00:00:00+00:00
        PAY-2,In progress,2026-03-04T00:00:00+00:00
        PAY-3,Backlog,2026-03-02T00:00:00+00:00
        PAY-2,Done,2026-03-03T00:00:00+00:00
        PAY-3,Done,2026-03-05T00:00:00+00:00
        PAY-2,Review,2026-03-06T00:00:00+00:00
        PAY-2,Review,2026-03-05T00:00:00+00:00
        PAY-1,Nowhere,2026-03-01T00:00:00+00:00
        PAY-1,Backlog,2026-03-02T00:00:00
        PAY-1,Backlog,2026-03-01T00:00:00+00:00
        PAY-4,Backlog,2026-03-02T00:00:00+00:00
        PAY-4,Backlog,2026-03-02T00:00:00+00:00
    """
    with pytest.raises(ImportRefused) as refused:
        run(transitions=transitions)
    assert [str(error) for error in refused.value.errors] == [
        "transitions.csv, line 5, field 'at': 2026-03-03T00:00:00+00:00 is earlier than this item's previous move "
        "on line 3 (2026-03-04T00:00:00+00:00); list each item's moves in time order.",
        "transitions.csv, line 8, field 'at': 2026-03-05T00:00:00+00:00 is earlier than this item's previous move "
        "on line 7 (2026-03-06T00:00:00+00:00); list each item's moves in time order.",
        "transitions.csv, line 9, field 'to_state': 'Nowhere' is not a state in states.csv or of the stream.",
        "transitions.csv, line 9, field 'at': 2026-03-01T00:00:00+00:00 is before the item was created "
        "(2026-03-02T00:00:00+00:00).",
        "transitions.csv, line 10, field 'at': '2026-03-02T00:00:00' has no UTC offset; add one, e.g. "
        "2026-03-02T00:00:00+00:00.",
        "transitions.csv, line 11, field 'at': 2026-03-01T00:00:00+00:00 is before the item was created "
        "(2026-03-02T00:00:00+00:00).",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("enabled", [True, False])
def test_the_parse_leaves_the_garbage_collector_as_it_found_it(team, enabled):
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        writer._parse(None, **files())
        assert gc.isenabled() is enabled
        with pytest.raises(ImportRefused):
            writer._parse(None, **files(items=ITEMS.replace("feature", "bogus"), states=STATES))
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
