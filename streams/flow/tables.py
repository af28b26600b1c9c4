"""The stream page's long data tables, rendered in Python: a table body in one join instead of
a template loop per cell (a page at scale renders some 400 rows; the template engine spent
most of the page's time on them, and `format_html` per cell most of the rest).

Every value goes through `html.escape` (what Django's `escape` runs) before it is joined."""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from core.urls import fast_reverse
from streams.flow.engine import FlowReport, ItemFacts

TITLE_CHARS = 40


def days(value) -> str:
    """A duration in days with one decimal ("3.5"), or "—" (as the `days` filter)."""
    return "—" if value is None else f"{float(value):.1f}"


def day(moment) -> str:
    """A date or time as YYYY-MM-DD, a time in the current time zone (as `|date:"Y-m-d"`)."""
    if moment is None:
        return ""
    return (localtime(moment) if getattr(moment, "tzinfo", None) else moment).strftime("%Y-%m-%d")


def _e(value) -> str:
    return escape(str(value))


def shortened(text: str, chars: int = TITLE_CHARS) -> str:
    """At most `chars` characters, an ellipsis ending a shortened one (as `|truncatechars`, without
    its Unicode normalisation: a tenth of the page's time for 200 titles)."""
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _item(facts: ItemFacts, *, linked: bool) -> str:
    """The item's key (a link to its page) and its title, shortened."""
    key = _e(facts.key)
    if linked:
        key = f'<a href="{_e(fast_reverse("item-detail", facts.item_id))}">{key}</a>'
    return f"{key} {_e(shortened(facts.title))}"


def _num(value) -> str:
    return f'<td class="num">{_e(value)}</td>'


def finished_body(rows: list[ItemFacts]) -> SafeString:
    return mark_safe(  # every value escaped by _e
        "".join(
            f"<tr><td>{_item(f, linked=False)}</td><td>{_e(f.flow_type)}</td><td>{day(f.finish)}</td>"
            f"{_num(days(f.flow_days))}{_num(days(f.active_days))}{_num(days(f.waiting_days))}"
            f"{_num(days(f.returned_days))}{_num(f.reopens)}</tr>"
            for f in rows
        )
    )


def wip_body(rows: list[ItemFacts]) -> SafeString:
    return mark_safe(  # every value escaped by _e
        "".join(
            f"<tr><td>{_item(f, linked=True)}</td><td>{_e(f.category)}</td>{_num(days(f.age_days))}"
            f"<td>{_e(f.pace or '—')}</td></tr>"
            for f in rows
        )
    )


def returned_body(rows: list[dict]) -> SafeString:
    return mark_safe(  # every value escaped by _e
        "".join(
            f"<tr><td>{_item(row['facts'], linked=True)}</td><td>{day(row['facts'].returned_since)}</td>"
            f"{_num(days(row['days_there']))}{_num(days(row['facts'].returned_days))}"
            f"{_num(days(row['facts'].age_days))}</tr>"
            for row in rows
        )
    )


def counts_body(rows: list[dict], key: str) -> SafeString:
    """Cumulative flow rows: the day, then its counts (`key`: "counts" per state, or "categories")."""
    return mark_safe(  # every value escaped by _e
        "".join(f"<tr><td>{day(row['day'])}</td>{''.join(_num(n) for n in row[key])}</tr>" for row in rows)
    )


def load_body(report: FlowReport) -> SafeString:
    return mark_safe(  # every value escaped by _e
        "".join(f"<tr><td>{day(d['day'])}</td>{_num(d['wip'])}</tr>" for d in report.daily)
    )


def stream_tables(report: FlowReport, *, cfd_rows, finished_rows, wip_rows, returned_rows) -> dict[str, SafeString]:
    """Every long table body of the stream page, by name."""
    return {
        "cfd_states": counts_body(cfd_rows, "counts"),
        "cfd_categories": counts_body(cfd_rows, "categories"),
        "finished": finished_body(finished_rows),
        "wip": wip_body(wip_rows),
        "returned": returned_body(returned_rows),
        "load": load_body(report),
    }
