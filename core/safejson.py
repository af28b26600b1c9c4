"""JSON from bodies nobody vouches for: nesting bounded, numbers finite.

`json.loads` recurses once per nested array or object, so 200,000 `[` raise `RecursionError`
(not `ValueError`, which every caller catches) and answer a 500; it also reads `NaN`,
`Infinity` and `1e400` as floats no column or date can hold. `loads` refuses all of these with
a `ValueError` subclass whose message says what is wrong. The nesting is measured before
parsing, by a scan that skips string contents (escapes included) and stops at the first level
too deep, so a body of ten million `[` costs a few milliseconds, not a parse.
"""

from __future__ import annotations

from array import array
from itertools import accumulate
import json
import re

MAX_DEPTH = 64  # webhook and API bodies nest a handful of levels

# A string with its escapes; the closing quote is optional so that an unterminated string ends
# the scan (linear time) instead of being retried from every quote inside it.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(set(range(256)) - set(_BRACKETS))
_STEPS = bytes.maketrans(_BRACKETS, b"\x01\xff\x01\xff")  # +1 and -1 as signed bytes
_CHUNK = 65_536


class JsonRefused(ValueError):
    """JSON that parses but that the portal will not read."""


class JsonTooDeep(JsonRefused):
    """Arrays and objects nested deeper than allowed."""


class JsonNotFinite(JsonRefused):
    """NaN, Infinity, or a number too large for a float."""


def nesting_depth_exceeds(text: bytes, max_depth: int) -> bool:
    """Whether arrays and objects in UTF-8 `text` nest deeper than `max_depth` (brackets in strings do not count)."""
    brackets = _STRING.sub(b"", text).translate(None, _NOT_BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= max_depth:
        return False
    steps = array("b", brackets.translate(_STEPS))
    level = 0
    for start in range(0, len(steps), _CHUNK):
        chunk = steps[start : start + _CHUNK]
        if max(accumulate(chunk, initial=level)) > max_depth:
            return True
        level += sum(chunk)
    return False


def _constant(name: str):
    raise JsonNotFinite(f"{name} is not a number JSON allows.")


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JsonNotFinite(f"The number {text[:40]} is too large.")
    return value


def loads(data: bytes | bytearray | str, *, max_depth: int = MAX_DEPTH):
    """`json.loads`, refusing nesting deeper than `max_depth`, NaN, Infinity and numbers out of range.

    Raises `ValueError` (a `JsonRefused` for what parses but is refused, `json.JSONDecodeError`
    for what does not parse, `UnicodeDecodeError` for bytes that are not UTF-8/16/32).
    """
    if isinstance(data, bytes | bytearray):
        data = bytes(data)
        encoding = json.detect_encoding(data)
        if encoding != "utf-8":  # UTF-16/32 or a byte order mark: scanned as UTF-8 text
            data = data.decode(encoding, "surrogatepass")
    scanned = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    if nesting_depth_exceeds(scanned, max_depth):
        raise JsonTooDeep(f"The JSON is nested deeper than {max_depth} levels of arrays and objects.")
    try:
        return json.loads(data, parse_constant=_constant, parse_float=_float)
    except RecursionError:  # only with a max_depth near the interpreter's limit
        raise JsonTooDeep(f"The JSON is nested deeper than {max_depth} levels of arrays and objects.") from None
