"""Filters for scenario figures, which are kept as JSON (dates as ISO strings)."""

import datetime as dt

from django import template

register = template.Library()


@register.filter
def isodate(value: str | None) -> str:
    """ "2026-12-06" → "6 Dec 2026"; "—" for none."""
    if not value:
        return "—"
    day = dt.date.fromisoformat(value)
    return f"{day.day} {day:%b %Y}"


@register.filter
def moved(today: str | None, scenario: str | None) -> str:
    """How many days the scenario moves a date: "12 days sooner", "3 days later", "same"."""
    if not today or not scenario:
        return ""
    days = (dt.date.fromisoformat(scenario) - dt.date.fromisoformat(today)).days
    if not days:
        return "same"
    return f"{abs(days)} day{'s' if abs(days) != 1 else ''} {'sooner' if days < 0 else 'later'}"
