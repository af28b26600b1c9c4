"""OKR figures drawn on the server as small SVGs, always beside their numbers.

A drawing carries no inline style (the CSP forbids it): sizes are attributes, colours classes.
Each has its numbers in words for screen readers (`role="img"` with a label), or is hidden from
them when the number is printed beside it.
"""

import datetime as dt
from html import escape

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from .humanize_okrs import decimal2

register = template.Library()

BAR_WIDTH, BAR_HEIGHT = 120, 10
BEHIND_BY = 0.1  # progress this far below the share of the period gone by is "behind"


@register.simple_tag
def progress_bar(progress, elapsed=None) -> str:
    """Progress as a bar (over-achievement fills it), with a tick where a linear path would be
    by now: the bar is `behind` when it falls short of that tick by more than BEHIND_BY."""
    if progress is None:
        return ""
    share = min(1.0, max(0.0, float(progress)))
    status = "on-track"
    if elapsed is not None and float(progress) < float(elapsed) - BEHIND_BY:
        status = "behind"
    tick = ""
    if elapsed is not None:
        x = round(float(elapsed) * BAR_WIDTH, 1)
        tick = f'<line class="expected" x1="{x}" x2="{x}" y1="0" y2="{BAR_HEIGHT}"/>'
    # Numbers and fixed words only: nothing to escape (the tree draws 500 of these).
    return mark_safe(
        f'<svg class="bar {status}" width="{BAR_WIDTH}" height="{BAR_HEIGHT}" viewBox="0 0 {BAR_WIDTH} {BAR_HEIGHT}"'
        f' aria-hidden="true" focusable="false"><rect class="track" width="{BAR_WIDTH}" height="{BAR_HEIGHT}" rx="2"/>'
        f'<rect class="fill" width="{round(share * BAR_WIDTH, 1)}" height="{BAR_HEIGHT}" rx="2"/>{tick}</svg>'
    )


@register.filter
def confidence_level(confidence) -> str:
    """high from 0.7, medium from 0.4, else low: the words OKR practice uses for 0–1 confidence."""
    value = float(confidence)
    return "high" if value >= 0.7 else "medium" if value >= 0.4 else "low"


@register.simple_tag
def confidence_badge(confidence) -> str:
    """The latest confidence as a percentage and a word, coloured by its level; a dash without one."""
    if confidence is None:
        return mark_safe('<span class="muted" title="no check-in yet">—</span>')
    level = confidence_level(confidence)
    return mark_safe(f'<span class="tag confidence {level}">{float(confidence):.0%} · {level}</span>')


TREND_WIDTH, TREND_HEIGHT, PAD = 140, 34, 3


@register.simple_tag
def kr_trend(trend, start, target, period, unit="", large=False):
    """The check-ins across the key result's period, with the straight path from start to target
    dashed beneath: above or below the path reads as ahead or behind (for the direction set)."""
    points = [(day, float(value)) for day, value in trend or []]
    if not points:
        return format_html('<span class="muted">{}</span>', "no check-ins yet")
    width, height = (TREND_WIDTH * 3, TREND_HEIGHT * 3) if large else (TREND_WIDTH, TREND_HEIGHT)
    start, target = float(start), float(target)
    low = min([start, target] + [v for _, v in points])
    high = max([start, target] + [v for _, v in points])
    span_days = (period.end - period.start).days or 1
    span_values = (high - low) or 1.0

    def x(day: dt.date) -> float:
        return round(PAD + (day - period.start).days / span_days * (width - 2 * PAD), 1)

    def y(value: float) -> float:
        return round(height - PAD - (value - low) / span_values * (height - 2 * PAD), 1)

    coordinates = [(x(day), y(value)) for day, value in points]
    line = " ".join(f"{cx},{cy}" for cx, cy in coordinates)
    r = 3 if large else 2
    dots = "".join(f'<circle cx="{cx}" cy="{cy}" r="{r}"/>' for cx, cy in coordinates)
    spoken = "; ".join(f"{day:%d %b}: {decimal2(value)}" for day, value in points)
    unit = f" {unit}" if unit else ""
    label = escape(
        f"Check-ins: {spoken}{unit}. Path from {decimal2(start)} to {decimal2(target)}{unit}"
        f" by {period.end - dt.timedelta(days=1):%d %b}."
    )
    # The label (the unit is typed by people) is escaped; the rest is numbers.
    return mark_safe(
        f'<svg class="kr-trend" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' aria-label="{label}"><title>{label}</title>'
        f'<line class="path" x1="{x(period.start)}" y1="{y(start)}" x2="{x(period.end)}" y2="{y(target)}"/>'
        f'<polyline class="values" points="{line}"/>{dots}</svg>'
    )
