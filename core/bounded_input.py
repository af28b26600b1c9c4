"""Bounds on files people upload, checked while they are read, before a parser builds anything.

A 400 KB JSON file of 200,000 nested `[` drove the streaming JSON parser (ijson, whose C
backend spells out the path of every nesting level) to about 22 GB before the kernel killed the
process. `BoundedJson` wraps the binary file the parser reads and refuses, with the byte
position, a file that nests deeper than `max_depth`, holds one item (a value at `item_depth`,
such as one issue of an export) larger than `max_item_bytes`, or is larger than `max_bytes`
in all. It scans each chunk with NumPy (brackets and quotes outside and inside strings,
escapes included), so bounding a 155 MB export costs a fraction of a second.

`bounded_lines` does the same for text read line by line (CSV): a line longer than its limit
is refused instead of being read whole into memory.

Both raise `InputTooLarge` (a ValueError), whose message names the problem and where it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import numpy as np

QUOTE, BACKSLASH = ord('"'), ord("\\")
OPENERS, CLOSERS = (ord("["), ord("{")), (ord("]"), ord("}"))
_INTERESTING = np.zeros(256, dtype=bool)
_INTERESTING[[QUOTE, BACKSLASH, *OPENERS, *CLOSERS]] = True
_DELTA = np.zeros(256, dtype=np.int64)
_DELTA[list(OPENERS)] = 1
_DELTA[list(CLOSERS)] = -1


class InputTooLarge(ValueError):
    """A file exceeds a bound; the message says which, and where (byte offset or line)."""


def megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB" if size >= 1024 * 1024 else f"{size / 1024:,.0f} KB"


class BoundedJson:
    """A binary file object whose `read` refuses JSON beyond the bounds (see the module's doc).

    `item_depth` is the nesting level of the containers whose values are items: 1 for a JSON
    array of issues (GitHub), 2 for `{"issues": [...]}` (Jira). Pass it to ijson as the file.
    """

    def __init__(self, raw: IO[bytes], *, max_depth: int, max_item_bytes: int, max_bytes: int, item_depth: int):
        self.raw = raw
        self.max_depth, self.max_item_bytes, self.max_bytes = max_depth, max_item_bytes, max_bytes
        self.item_depth = item_depth
        self.offset = 0  # bytes read so far
        self.depth = 0  # open containers after the last byte read
        self.in_string = False
        self.backslashes = 0  # the run of backslashes that ends the last chunk
        self.item_start: int | None = None  # offset of the open item's first byte

    def tell(self) -> int:
        return self.offset

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        if chunk:
            self._check(chunk)
            self.offset += len(chunk)
        return chunk

    def _check(self, chunk: bytes) -> None:
        if self.offset + len(chunk) > self.max_bytes:
            raise InputTooLarge(
                f"the file is larger than {megabytes(self.max_bytes)}, the most an import takes "
                "(IMPORT_MAX_UPLOAD_MB); split the export, e.g. by project or by date."
            )
        data = np.frombuffer(chunk, dtype=np.uint8)
        positions = np.flatnonzero(_INTERESTING[data])
        if positions.size:
            self._scan(positions, data[positions], len(chunk))
        if self.item_start is not None and self.offset + len(chunk) - self.item_start > self.max_item_bytes:
            self._item_too_large(self.item_start)

    def _scan(self, positions: np.ndarray, chars: np.ndarray, length: int) -> None:
        # 1. Which quotes are escaped: those right after an odd run of backslashes. A run is
        #    consecutive backslashes at consecutive positions; the last chunk's trailing run
        #    continues into this one when the chunk starts with more. Worked out on the
        #    backslashes alone, far fewer than the quotes and brackets (a fifth of a Jira
        #    export's bytes), then looked up among them: bounding the benchmark's 155 MB
        #    export took 2.5 s and takes 1.5 s; with a description of nine backslashes in each
        #    of its issues, 2.8 s and 2.3 s (measured on one machine).
        slashes = positions[chars == BACKSLASH]
        starts = np.flatnonzero(np.diff(slashes, prepend=-2) != 1)  # each run's first backslash
        ends = np.append(starts[1:], slashes.size)[: starts.size] - 1  # and its last
        runs = ends - starts + 1
        continued = slashes.size > 0 and slashes[0] == 0
        if continued:
            runs[0] += self.backslashes
        escaped = slashes[ends[runs % 2 == 1]] + 1  # chunk offsets of the characters after an odd run
        if self.backslashes % 2 and not continued:
            escaped = np.concatenate(([0], escaped))
        self.backslashes = int(runs[-1]) if slashes.size and slashes[-1] == length - 1 else 0
        quotes = chars == QUOTE
        if escaped.size:  # those among the interesting characters are quotes (a run ends before them)
            at = np.searchsorted(positions, escaped)
            found = at < positions.size
            found[found] = positions[at[found]] == escaped[found]
            quotes[at[found]] = False
        # 2. Quotes open and close strings; brackets count only outside them.
        toggles = np.cumsum(quotes)
        inside = (toggles - quotes + self.in_string) % 2 == 1  # inside a string before this character
        delta = np.where(inside, 0, _DELTA[chars])
        depth = self.depth + np.cumsum(delta)
        # 3. Bounds.
        deepest = int(depth.max())
        if deepest > self.max_depth:
            at = int(positions[np.argmax(depth > self.max_depth)])
            raise InputTooLarge(
                f"the JSON nests deeper than {self.max_depth} levels at byte {self.offset + at:,}; "
                "no export of issues does: is this the right file?"
            )
        bracket = delta != 0
        opens = bracket & (delta > 0) & (depth == self.item_depth + 1)
        closes = bracket & (delta < 0) & (depth == self.item_depth)
        for where in np.flatnonzero(opens | closes):
            at = self.offset + int(positions[where])
            if opens[where]:
                self.item_start = at
            elif self.item_start is not None:
                if at + 1 - self.item_start > self.max_item_bytes:
                    self._item_too_large(self.item_start)
                self.item_start = None
        # 4. State carried into the next chunk.
        self.depth = int(depth[-1])
        self.in_string = bool((toggles[-1] + self.in_string) % 2)

    def _item_too_large(self, start: int) -> None:
        raise InputTooLarge(
            f"one item, starting at byte {start:,}, is larger than {megabytes(self.max_item_bytes)} "
            "(IMPORT_MAX_ISSUE_MB); no issue of a tracker is that large: is this the right file?"
        )


def bounded_lines(file: IO[str], *, max_line: int, name: str) -> Iterator[str]:
    """The lines of a text file, refusing one longer than `max_line` characters (by number)."""
    readline, limit = file.readline, max_line + 1  # once, not for each line: 0.01 s of 630,000 lines (measured)
    number = 0
    while True:
        line = readline(limit)
        if not line:
            return
        number += 1
        if len(line) > max_line and not line.endswith("\n"):
            raise InputTooLarge(
                f"{name} line {number:,} is longer than {max_line:,} characters; is this a CSV file with "
                "one row per line?"
            )
        yield line
