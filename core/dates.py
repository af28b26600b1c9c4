"""The one floor for dates every door accepts: nothing a portal holds happened before 2000.

A year-0001 date slipped through imports and check-ins; it broke date arithmetic downstream
(windows, percentiles, charts) and meant nothing. Pages, the API, imports, webhooks and the
services all refuse a date before EARLIEST with the same sentence.
"""

from __future__ import annotations

import datetime as dt

EARLIEST = dt.date(2000, 1, 1)
EARLIEST_INSTANT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def too_early(value: dt.date | dt.datetime | None) -> str:
    """Why `value` is refused ('' when it is fine, or empty)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        early = value < EARLIEST_INSTANT if value.tzinfo else value < EARLIEST_INSTANT.replace(tzinfo=None)
    else:
        early = value < EARLIEST
    if not early:
        return ""
    day = f"{value.year:04d}-{value.month:02d}-{value.day:02d}"  # strftime drops the zeros of year 1
    return f"{day} is before {EARLIEST:%Y-%m-%d}; the portal takes dates from {EARLIEST.year} on."
