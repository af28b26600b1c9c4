"""The leadership page's long lists written in Python: a row per stream with its leaders, a row
per director with their load, and the ownership gaps (some 300 rows at the DESIGN.md scale),
the HTML `templates/portal/leadership.html`'s loops wrote, without the template engine's
lookups. Every text passes through `html.escape`; counts are integers, dates ISO."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from ..leadership import DirectorLoad, StreamLeadership

register = template.Library()

TENTH = Decimal("0.1")


def _e(value) -> str:
    return escape(str(value))


def whole_or_tenths(value) -> str:
    """`value|floatformat:"-1"` as the site's one language (en-gb) writes it: a whole number
    without decimals ("4"), any other to one decimal, half up ("2.3"), "" for none; without the
    filter's format lookups (40 µs a call, 4 ms for the table)."""
    if value is None:
        return ""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if number == number.to_integral_value():
        return f"{int(number)}"
    return str(number.quantize(TENTH, ROUND_HALF_UP))


def _director_cells(row: StreamLeadership, today: dt.date) -> str:
    d = row.director
    if not d:
        return '<td colspan="7"><span class="gap">No product director</span></td>'
    mentor = _e(d.mentor.name) if d.mentor else '<span class="gap">none</span>'
    review = "—"
    if d.review_date:
        overdue = ' class="gap" title="Overdue"' if d.review_date < today else ""
        review = f"<span{overdue}>{d.review_date:%Y-%m-%d}</span>"
    return (
        f"<td>{_e(d.person.name)}</td>"
        f'<td><span class="tag {"warn" if d.kind == "dual_role" else ""}">{_e(d.get_kind_display())}</span>'
        f" {d.time_share_percent}%</td>"
        f'<td class="num">{whole_or_tenths(d.digital_experience_years)}</td>'
        f"<td>{'Owns' if d.owns_pnl else 'No'}</td><td>{'Done' if d.induction_completed else 'Not yet'}</td>"
        f'<td>{mentor}</td><td class="nowrap">{review}</td>'
    )


def leader_row(row: StreamLeadership, *, window_query: str, today: dt.date) -> str:
    """A stream's `<tr>`: the stream (a link over the page's window), its product director's
    kind, time share, experience, P&L, induction, mentor and review, its value stream manager."""
    manager = "—"
    if row.manager:
        m = row.manager
        manager = (
            f'{_e(m.person.name)} <span class="muted small">{_e(str(m.get_kind_display()).lower())},'
            f" {m.time_share_percent}% of their time</span>"
        )
    stream = row.stream
    return (
        f'<tr data-stream="{_e(stream.slug)}"><th scope="row">'
        f'<a href="{_e(stream.get_absolute_url())}?{window_query}">{_e(stream.name)}</a></th>'
        f"{_director_cells(row, today)}<td>{manager}</td></tr>"
    )


@register.simple_tag
def leader_rows(rows: list[StreamLeadership], window_query: str, today: dt.date) -> SafeString:
    """The "streams and their leaders" table's body."""
    query = _e(window_query)
    return mark_safe(  # every text escaped by _e
        "\n".join(leader_row(row, window_query=query, today=today) for row in rows)
    )


@register.simple_tag
def load_rows(loads: list[DirectorLoad], window_query: str) -> SafeString:
    """The "flow load per director" table's body: the director, the streams they direct (links),
    their time share summed (marked above 100%), WIP now, finished in the window."""
    query = _e(window_query)

    def row(load: DirectorLoad) -> str:
        streams = ", ".join(
            f'<a href="{_e(stream.get_absolute_url())}?{query}">{_e(stream.name)}</a>' for stream in load.streams
        )
        share = f'<span class="gap">{load.time_share}%</span>' if load.overloaded else f"{load.time_share}%"
        return (
            f'<tr><th scope="row">{_e(load.person.name)}</th><td>{streams}</td><td class="num">{share}</td>'
            f'<td class="num">{load.wip}</td><td class="num">{load.throughput}</td></tr>'
        )

    return mark_safe("\n".join(row(load) for load in loads))  # every text escaped by _e


@register.simple_tag
def gap_items(gaps: list, window_query: str) -> SafeString:
    """The ownership gaps' list items: the stream (a link over the page's window) and its gap."""
    query = _e(window_query)
    return mark_safe(  # every text escaped by _e
        "".join(
            f'<li><a href="{_e(stream.get_absolute_url())}?{query}">{_e(stream.name)}</a>:'
            f' <span class="gap">{_e(gap)}</span></li>'
            for stream, gap in gaps
        )
    )
