"""The one CSV writer: every CSV the portal writes (pages, API, commands) goes through it.

A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return (or
their full-width forms) as a formula: `=HYPERLINK("http://evil.example","x")` typed as a stream's
industry would become a live link in a leader's spreadsheet (OWASP "CSV injection"). The writer
quotes such text with a leading `'`, which makes a spreadsheet take the cell as text.

Numbers stay numbers: int, float and Decimal cells are written as they are, and so is text that
is exactly a plain number (`-1.50`, how the API writes decimals), which no spreadsheet runs.
`-1+1` is not a plain number and is quoted.

A cell holding a line break is always quoted, whatever the line terminator: `csv.writer` quotes
only the characters of its own terminator, so with `lineterminator="\n"` a carriage return
inside a cell would end the row there for a spreadsheet and start a new cell with what follows
(`x\r=1+2` would become a formula on a row of its own).

`SafeWriter` and `SafeDictWriter` take the same arguments as `csv.writer` and `csv.DictWriter`;
their `writerow` returns what the target's `write` returns, so `Echo` streams rows from a
generator.
"""

from collections.abc import Iterable
import csv
from decimal import Decimal
import math
import re

# Text starting with one of these is run as a formula by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_STARTS = frozenset(FORMULA_STARTS)
# Cells `spreadsheet_safe` returns unchanged whatever their value (an int's text is a plain number).
_AS_IS = frozenset({int, type(None)})
# A number as the API writes it; `core.api.csv_sql` spells the same pattern for PostgreSQL.
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_safe(value):
    """The cell as a spreadsheet should show it: text that would run as a formula gets a
    leading `'`; None, booleans and finite numbers are returned unchanged; anything else as text."""
    if value.__class__ is str:  # the common case first: one check per cell
        if value[:1] not in _STARTS or PLAIN_NUMBER.fullmatch(value):
            return value
        return "'" + value
    if value is None or isinstance(value, bool):
        return value
    if value.__class__ is float and math.isfinite(value):
        return value  # every finite float's text is a plain number: no pattern to run
    if isinstance(value, (int, float, Decimal)) and PLAIN_NUMBER.fullmatch(str(value)):
        return value  # -inf and NaN are not numbers to a spreadsheet: they go on as text
    return spreadsheet_safe(str(value))


class Echo:
    """A file-like object whose write returns the line, for a writer inside a generator."""

    def write(self, value: str) -> str:
        return value


class SafeWriter:
    """`csv.writer` whose every cell goes through `spreadsheet_safe`, and whose cells that hold
    a carriage return or a line feed are quoted whatever the line terminator."""

    def __init__(self, target, dialect="excel", **fmtparams):
        self._target = target
        self.dialect = csv.writer(Echo(), dialect, **fmtparams).dialect
        self._lineterminator = self.dialect.lineterminator
        # Rows are formatted with "\r\n", so that both characters are quoted inside a cell, and
        # end with the terminator asked for.
        self._writer = csv.writer(Echo(), dialect, **{**fmtparams, "lineterminator": "\r\n"})

    def writerow(self, row: Iterable):
        # Plain text that starts harmlessly, None, ints and finite floats skip the call: 500,000-row
        # exports stay fast (a float minus itself is 0 unless it is infinite or NaN).
        cells = [
            v
            if (v.__class__ is str and v[:1] not in _STARTS)
            or v.__class__ in _AS_IS
            or (v.__class__ is float and v - v == 0)
            else spreadsheet_safe(v)
            for v in row
        ]
        line = self._writer.writerow(cells)
        return self._target.write(line[:-2] + self._lineterminator)

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):
    """`csv.DictWriter` whose every cell, the header's included, goes through `spreadsheet_safe`."""

    def __init__(self, target, fieldnames, restval="", extrasaction="raise", dialect="excel", **fmtparams):
        super().__init__(target, fieldnames, restval, extrasaction, dialect, **fmtparams)
        self.writer = SafeWriter(target, dialect, **fmtparams)
