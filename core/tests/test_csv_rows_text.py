"""`SafeWriter.rows_text` writes a block of rows at once where it can: always the same text as
`writerow` row by row, whatever the cells (hostile text, awkward numbers, odd types)."""

from decimal import Decimal
import math
import random

import pytest

from core.csv import FORMULA_STARTS, Echo, SafeWriter

from .test_csv_numbers import awkward_floats

# Characters that matter to CSV, to a spreadsheet or to the block's own checks, and plain ones.
ALPHABET = [*FORMULA_STARTS, ",", '"', "\n", "\r", "\0", " ", "'", "-", "1", ".", "e", "a", "Z", "é", "\u2028"]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 6)))


def _cell(rng: random.Random, plain: bool):
    roll = rng.random()
    if plain or roll < 0.5:  # what a block may be written at once with
        return rng.choice(
            [None, "", "Feature 12: board work item", "2026-01-02T03:04:05+00:00", 0, -3, True, 1.25, -0.5, 1e16]
        )
    if roll < 0.8:
        return _text(rng)
    return rng.choice([*awkward_floats(50), math.inf, -math.inf, math.nan, Decimal("-0.50"), 10**30, False])


def _row_by_row(writer: SafeWriter, rows) -> str:
    return "".join(writer.writerow(row) for row in rows)


@pytest.mark.parametrize("terminator", ["\n", "\r\n"])
def test_a_block_is_written_as_its_rows_one_by_one(terminator):
    rng = random.Random(7)
    writer = SafeWriter(Echo(), lineterminator=terminator)
    at_once = 0
    for _ in range(3000):
        width, plain = rng.choice([1, 2, 3, 17]), rng.random() < 0.5
        rows = [
            tuple(_cell(rng, plain and rng.random() < 0.98) for _ in range(width)) for _ in range(rng.randrange(1, 8))
        ]
        expected = _row_by_row(writer, rows)
        assert writer.rows_text(rows) == expected, rows
        at_once += writer._plain_rows_text(rows) is not None
    assert 500 < at_once < 2500  # both ways were taken, often


def test_rows_of_different_widths_are_written_row_by_row():
    writer = SafeWriter(Echo(), lineterminator="\n")
    rows = [("a", "b", "c"), ("d",), ("e", "f")]
    assert writer.rows_text(rows) == "a,b,c\nd\ne,f\n" == _row_by_row(writer, rows)


def test_another_dialect_is_written_row_by_row():
    writer = SafeWriter(Echo(), delimiter=";", lineterminator="\n")
    rows = [("a,b", "c;d", 1.5)] * 3
    assert writer.rows_text(rows) == _row_by_row(writer, rows) == 'a,b;"c;d";1.5\n' * 3
