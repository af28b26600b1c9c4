"""Planning periods: labels, dates and validation."""

import datetime as dt

from django.core.exceptions import ValidationError
import pytest

from streams.flow.periods import parse_period, period_containing, validate_quarter


@pytest.mark.parametrize(
    "label, start, end",
    [
        ("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 4, 1)),
        ("2026-Q4", dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
        ("2026", dt.date(2026, 1, 1), dt.date(2027, 1, 1)),
    ],
)
def test_a_label_names_its_dates_with_an_exclusive_end(label, start, end):
    period = parse_period(label)
    assert (period.start, period.end) == (start, end)
    assert period.last_day == end - dt.timedelta(days=1)


@pytest.mark.parametrize("label", ["2026-Q5", "Q4 2026", "26-Q1", "", "2026-q1"])
def test_a_malformed_label_says_which_forms_are_accepted(label):
    with pytest.raises(ValidationError, match="2026-Q4"):
        parse_period(label)


def test_the_quarter_containing_a_day_and_the_one_before_it():
    quarter = period_containing(dt.date(2026, 11, 21))
    assert quarter.label == "2026-Q4"
    assert quarter.previous().label == "2026-Q3"
    assert period_containing(dt.date(2026, 2, 1)).previous().label == "2025-Q4"
    assert period_containing(dt.date(2026, 2, 1), quarter=False).previous().label == "2025"


def test_a_target_mix_is_set_per_quarter_not_per_year():
    validate_quarter("2026-Q2")
    with pytest.raises(ValidationError, match="per quarter"):
        validate_quarter("2026")
