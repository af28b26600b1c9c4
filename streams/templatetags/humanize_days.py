"""Template filters for durations measured in days."""

from django import template
from django.utils import timezone
from django.utils.html import format_html_join

register = template.Library()


@register.filter
def days(value) -> str:
    """A duration in days with one decimal ("3.5"), or "—" when there is none."""
    if value is None or value == "":
        return "—"
    return f"{float(value):.1f}"


@register.filter
def duration(hours) -> str:
    """Calendar hours in the unit a person reads at a glance, always named: "45 min", "6 h",
    "30 h", "3.5 days" (from 48 hours on; a day is 24 hours); "—" when there is none."""
    if hours is None or hours == "":
        return "—"
    value = float(hours)
    if value < 1:
        return f"{round(value * 60)} min"
    if value < 48:
        return f"{value:.1f}".removesuffix(".0") + " h"
    return f"{value / 24:.1f}".removesuffix(".0") + " days"


@register.filter
def num_cells(values) -> str:
    """Table cells of numbers (`<td class="num">`), escaped: long data tables render in one
    join instead of a template loop per cell."""
    return format_html_join("", '<td class="num">{}</td>', ((value,) for value in values))


@register.filter
def signed_percent(fraction) -> str:
    """A fraction as a signed whole percentage ("+47%", "−12%"), or "—"."""
    if fraction is None:
        return "—"
    value = round(100 * float(fraction))
    return f"+{value}%" if value > 0 else (f"−{-value}%" if value < 0 else "0%")


@register.filter
def whole_days(value) -> str:
    """A duration in whole days ("114"), for ages in queues where a decimal is noise; "—" when none."""
    if value is None or value == "":
        return "—"
    return f"{float(value):.0f}"


@register.filter
def age_days(moment) -> str:
    """Whole days from an aware datetime to now ("114"), or "—"."""
    if not moment:
        return "—"
    return f"{(timezone.now() - moment).total_seconds() // 86400:.0f}"


@register.filter
def days_since(moment) -> str:
    """Days from an aware datetime to now, with one decimal ("12.5"), or "—"."""
    if not moment:
        return "—"
    return f"{(timezone.now() - moment).total_seconds() / 86400:.1f}"
