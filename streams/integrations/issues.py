"""Reading a tool's export one issue at a time: the bounded JSON reader, field helpers, and the
shape both readers give an issue (`Issue`: its moves start with its creation in its first status)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
import datetime as dt
from typing import IO

from django.conf import settings
import ijson

from core.bounded_input import BoundedJson, InputTooLarge
from core.dates import EARLIEST_INSTANT, too_early
from streams.backlog.services import CLOCK_SKEW
from streams.integrations.writer import Errors

PROGRESS_EVERY = 1000  # issues between two progress reports


Progress = Callable[[int, int], None]  # (issues read, bytes read)


class IssueReader:
    """Issues of a JSON file, one at a time, with truncation and syntax errors as row errors."""

    def __init__(self, file: IO[bytes], prefix: str, errors: Errors, progress: Progress | None):
        # Bounded before the parser sees a byte: nesting, one issue's size, the file's size.
        self.file = BoundedJson(
            file,
            max_depth=settings.IMPORT_MAX_DEPTH,
            max_item_bytes=settings.IMPORT_MAX_ISSUE_MB * 1024 * 1024,
            max_bytes=settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024,
            item_depth=prefix.count(".") + 1,  # "item": a top-level array; "issues.item": one level down
        )
        self.prefix, self.errors, self.progress = prefix, errors, progress
        self.count = 0

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        try:
            for issue in ijson.items(self.file, self.prefix, use_float=True):
                self.count += 1
                if self.progress and self.count % PROGRESS_EVERY == 0:
                    self.progress(self.count, self.file.tell())
                if not isinstance(issue, dict):
                    self.errors.add(f"issue {self.count}", 0, "", "is not a JSON object.")
                    continue
                yield self.count, issue
        except InputTooLarge as error:
            after = f" (after issue {self.count:,})" if self.count else ""
            self.errors.add("the file", 0, "", f"is refused{after}: {error}")
        except ijson.IncompleteJSONError as error:
            after = f" after issue {self.count}" if self.count else ""
            message = (str(error).strip().splitlines() or ["unexpected end"])[0]  # yajl adds a pointer
            self.errors.add(
                "the file",
                0,
                "",
                f"the JSON ends early or is broken{after} ({message}); is the file truncated?",
            )
        except (ijson.JSONError, UnicodeDecodeError, ValueError) as error:
            message = (str(error).strip().splitlines() or [type(error).__name__])[0]
            self.errors.add("the file", 0, "", f"is not valid JSON after issue {self.count} ({message}).")
        if self.progress:
            self.progress(self.count, self.file.tell())


def field_text(issue: dict, *path: str) -> str:
    value = issue
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value.strip() if isinstance(value, str) else ""


def parse_timestamp(value, now: dt.datetime) -> dt.datetime | str:
    """An aware datetime from ISO 8601 (Jira's `+0000` and GitHub's `Z` included), or the reason not."""
    if not isinstance(value, str) or not value:
        return "is missing."
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not an ISO 8601 date and time."
    if parsed.tzinfo is not None and EARLIEST_INSTANT <= parsed <= now + CLOCK_SKEW:
        return parsed  # the usual case, checked in one comparison (700,000 of a large export)
    if parsed.tzinfo is None:
        return f"{value!r} has no UTC offset; the export must carry one (e.g. +0000 or Z)."
    if parsed > now + CLOCK_SKEW:
        return f"{value!r} is in the future."
    return too_early(parsed) or parsed


@dataclass
class Issue:
    """One issue as both tools describe it; `moves` start with its creation in its first status."""

    number: int
    key: str
    title: str
    issue_type: str
    labels: list[str]
    moves: list[tuple[dt.datetime, str]]
    parent_key: str = ""
    blocked_by: list[str] = field(default_factory=list)
    project: str = ""
    hints: dict[str, str] = field(default_factory=dict)  # status -> Jira statusCategory key
    # The export holds only part of the issue's changelog (Jira's `changelog.total` counts more
    # histories than it sent): its first moves, and so its start, are unknown.
    cut_short: bool = False
