"""A value stream map drawn on the server as SVG, the way the method draws it: the activities in
order as boxes (process time, lead time, %C&A, people, wastes), the work queued before each as
a triangle with its count, and the timeline ladder beneath: process time low under each
activity, the wait (lead minus process time) high after it, the totals at its end. Every text
is escaped; the picture carries a title and each box a tooltip, and the table beside it holds
the same figures for screen readers."""

from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from .humanize_days import duration

register = template.Library()

BOX_W, BOX_H, STEP, LEFT, TOP = 168, 104, 212, 12, 40
LADDER = 44  # the timeline ladder's height


def _people(count) -> str:
    return "1 person" if int(count) == 1 else f"{int(count)} people"


def _short(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


@register.simple_tag
def vsm_svg(blocks, totals=None, label: str = "Value stream map"):
    blocks = list(blocks)
    if not blocks:
        return ""
    width = LEFT * 2 + STEP * (len(blocks) - 1) + BOX_W + 150
    height = TOP + BOX_H + 30 + LADDER + 24
    ladder_top = TOP + BOX_H + 30
    parts = [
        f'<svg class="vsm" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(label)}">',
        f"<title>{escape(label)}: {len(blocks)} activities</title>",
    ]
    for n, block in enumerate(blocks):
        x = LEFT + n * STEP
        queue = int(block.queue_before or 0)
        # The queue before the activity: a triangle with its count (the method's "inventory").
        tx, ty = x - 28, TOP + BOX_H / 2
        if n or queue:
            parts.append(
                f'<g class="queue"><polygon points="{tx - 12},{ty + 12} {tx + 12},{ty + 12} {tx},{ty - 10}" '
                f'fill="#fdf3d6" stroke="#a15c00"></polygon>'
                f'<text x="{tx}" y="{ty + 26}" text-anchor="middle" class="vsm-small">{queue} queued</text></g>'
            )
        if n:
            parts.append(
                f'<line x1="{x - STEP + BOX_W}" x2="{x - 2}" y1="{TOP + 20}" y2="{TOP + 20}" stroke="#8a94a6" '
                'marker-end="url(#vsm-arrow)"></line>'
            )
        wastes = ", ".join(block.waste_labels)
        noted = escape(_short(wastes, 30)) or "no waste noted"
        tip = (
            f"{block.activity}: process {duration(block.process_time_hours)}, lead {duration(block.lead_time_hours)}, "
            f"%C&A {block.percent_complete_accurate}%, {_people(block.people)}, {queue} queued before"
            + (f"; wastes: {wastes}" if wastes else "")
        )
        parts.append(
            f'<g class="activity"><title>{escape(tip)}</title>'
            f'<rect x="{x}" y="{TOP}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="#fff" stroke="#2557a7"></rect>'
            f'<text x="{x + 10}" y="{TOP + 20}" class="vsm-name">{n + 1}. {escape(_short(block.activity, 20))}</text>'
            f'<text x="{x + 10}" y="{TOP + 42}" class="vsm-fig">PT {escape(duration(block.process_time_hours))} · '
            f"LT {escape(duration(block.lead_time_hours))}</text>"
            f'<text x="{x + 10}" y="{TOP + 60}" class="vsm-fig">%C&amp;A {int(block.percent_complete_accurate)}% · '
            f"{_people(block.people)}</text>"
            f'<text x="{x + 10}" y="{TOP + 80}" class="vsm-small">{noted}</text>'
            "</g>"
        )
        # The ladder: process time low, under the activity; the wait (lead minus process time)
        # high, from this activity to the next, as the method draws it.
        low, high = ladder_top + LADDER, ladder_top
        wait = max(0.0, float(block.lead_time_hours or 0) - float(block.process_time_hours or 0))
        right = x + STEP if n + 1 < len(blocks) else x + BOX_W + 8
        parts.append(
            f'<polyline points="{x},{low} {x + BOX_W},{low} {x + BOX_W},{high} {right},{high}" '
            f'fill="none" stroke="#52606d"></polyline>'
            f'<text x="{x + BOX_W / 2}" y="{low + 16}" text-anchor="middle" class="vsm-small">'
            f"PT {escape(duration(block.process_time_hours))}</text>"
            f'<text x="{(x + BOX_W + right) / 2}" y="{high - 6}" text-anchor="middle" class="vsm-small">'
            f"wait {escape(duration(wait))}</text>"
        )
    if totals is not None:
        end = LEFT + (len(blocks) - 1) * STEP + BOX_W + 44
        ratio = "—" if totals.activity_ratio is None else f"{totals.activity_ratio:.1f}%"
        parts.append(
            f'<text x="{end}" y="{ladder_top + 4}" class="vsm-fig">Lead {escape(duration(totals.lead_hours))}</text>'
            f'<text x="{end}" y="{ladder_top + 22}" class="vsm-fig">'
            f"Process {escape(duration(totals.process_hours))}</text>"
            f'<text x="{end}" y="{ladder_top + 40}" class="vsm-small">ratio {escape(ratio)}</text>'
        )
    parts.insert(
        2,
        '<defs><marker id="vsm-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8a94a6"></path></marker></defs>',
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped
