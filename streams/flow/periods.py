"""Planning periods: a quarter ("2026-Q4") or a year ("2026").

Objectives and target mixes name their period with this label; this module turns a label
into its dates and back, so every app agrees on what a period covers.
"""

from dataclasses import dataclass
import datetime as dt
import re

from django.core.exceptions import ValidationError

_PERIOD_RE = re.compile(r"^(?P<year>\d{4})(?:-Q(?P<quarter>[1-4]))?$")


@dataclass(frozen=True)
class Period:
    """A calendar quarter or year; `end` is exclusive."""

    label: str
    start: dt.date
    end: dt.date

    @property
    def is_quarter(self) -> bool:
        return "-Q" in self.label

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    def previous(self) -> "Period":
        return period_containing(self.start - dt.timedelta(days=1), quarter=self.is_quarter)

    def __str__(self) -> str:
        return self.label


def parse_period(label: str) -> Period:
    """Parse "2026-Q4" or "2026"; raise ValidationError with the accepted forms otherwise."""
    match = _PERIOD_RE.match((label or "").strip())
    if not match:
        raise ValidationError(
            "%(label)r is not a period: write a quarter like 2026-Q4 or a year like 2026.",
            params={"label": label},
            code="invalid_period",
        )
    year = int(match["year"])
    if not 1 <= year <= 9998:
        raise ValidationError(
            "%(label)r is outside the years a period can have (0001 to 9998).",
            params={"label": label},
            code="invalid_period",
        )
    if match["quarter"]:
        quarter = int(match["quarter"])
        start = dt.date(year, 3 * (quarter - 1) + 1, 1)
        end = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
        return Period(f"{year}-Q{quarter}", start, end)
    return Period(str(year), dt.date(year, 1, 1), dt.date(year + 1, 1, 1))


def validate_period(label: str) -> None:
    parse_period(label)


def validate_quarter(label: str) -> None:
    """Accept a quarter only ("2026-Q4"): what target mixes are set for."""
    if not parse_period(label).is_quarter:
        raise ValidationError(
            "%(label)r is a year; a target mix is set per quarter, e.g. %(label)s-Q1.",
            params={"label": label},
            code="not_a_quarter",
        )


def period_containing(day: dt.date, *, quarter: bool = True) -> Period:
    """The quarter (or year) that contains `day`."""
    if quarter:
        return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    return parse_period(str(day.year))
