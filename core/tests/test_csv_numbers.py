"""`core.csv` lets ints, None and finite floats through without running its pattern: the same
cells, the same bytes as when every number went through `PLAIN_NUMBER`."""

import csv
import io
import math
import random
import struct

from core.csv import PLAIN_NUMBER, Echo, SafeWriter, spreadsheet_safe


def checked_by_pattern(value):
    """`spreadsheet_safe` of a number as it was: its text matched against `PLAIN_NUMBER`."""
    if value is None or isinstance(value, bool):
        return value
    if PLAIN_NUMBER.fullmatch(str(value)):
        return value
    return spreadsheet_safe(str(value))


def awkward_floats(n: int = 20_000) -> list[float]:
    rng = random.Random(32)
    bits = [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(n)]
    picked = [0.0, -0.0, 5e-324, -5e-324, 1e16, 1e-5, 1e22, -1.5e300, 0.1, 123456789.0001, math.inf, -math.inf]
    return bits + picked + [math.nan, rng.uniform(-1e6, 1e6), round(rng.uniform(0, 100), 4)]


def test_floats_are_let_through_exactly_when_the_pattern_takes_their_text():
    for value in awkward_floats():
        expected = checked_by_pattern(value)
        got = spreadsheet_safe(value)
        assert got.__class__ is expected.__class__ and (got == expected or got != got), value
        assert (got.__class__ is float) == (math.isfinite(value) and bool(PLAIN_NUMBER.fullmatch(str(value))))


def test_rows_of_numbers_and_none_are_written_as_before():
    rng = random.Random(5)
    values = [*awkward_floats(2000), None, 0, -1, 10**30, -(10**30), True, False, "-1", "=1+2", "text", "a\rb"]
    rows = [[rng.choice(values) for _ in range(7)] for _ in range(2000)]
    out = io.StringIO()
    writer = SafeWriter(out, lineterminator="\n")
    for row in rows:
        writer.writerow(row)
    # The writer as it was: every cell but harmless text through the pattern, "\r\n" rows cut.
    line = csv.writer(Echo(), lineterminator="\r\n").writerow
    reference = "".join(
        line([spreadsheet_safe(v) if isinstance(v, str) else checked_by_pattern(v) for v in row])[:-2] + "\n"
        for row in rows
    )

    assert out.getvalue() == reference
    assert "'-inf" in reference and "'=1+2" in reference and '"a\rb"' in reference
