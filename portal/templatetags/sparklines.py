"""Inline SVG sparklines: a trend drawn on the server, with its numbers in the title for screen readers."""

from django import template
from django.utils.html import format_html

register = template.Library()

WIDTH, HEIGHT, PAD = 96, 24, 2


@register.simple_tag
def sparkline(values, label: str = "trend", digits: int = 0):
    """A polyline of the values (None leaves a gap in the numbers and is skipped in the line)."""
    points = [(n, float(v)) for n, v in enumerate(values or []) if v is not None]
    if len(points) < 2:
        return format_html('<span class="muted">{}</span>', "no trend yet")
    top = max(v for _, v in points) or 1.0
    last = len(values) - 1
    coordinates = " ".join(
        f"{PAD + n * (WIDTH - 2 * PAD) / last:.1f},{HEIGHT - PAD - v / top * (HEIGHT - 2 * PAD):.1f}" for n, v in points
    )
    spoken = ", ".join("—" if v is None else f"{float(v):.{digits}f}" for v in values)
    return format_html(
        '<svg class="sparkline" role="img" width="{}" height="{}" viewBox="0 0 {} {}" aria-label="{}">'
        "<title>{}</title>"
        '<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{}"/></svg>',
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        f"{label}: {spoken}",
        f"{label}: {spoken}",
        coordinates,
    )
