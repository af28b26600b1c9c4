"""The OKR tree's key-result rows built in Python: through the template engine, the 508 rows of
the DESIGN.md scale cost about 25,000 variable lookups (0.3 s of a 0.5 s page); one function per
row writes the same HTML in a fraction of that."""

from html import escape

from django import template
from django.utils.dates import MONTHS_3
from django.utils.safestring import SafeString, mark_safe

from core.urls import fast_reverse

from ..models import KeyResult
from .humanize_okrs import decimal2, percent
from .okr_drawing import confidence_badge, kr_trend, progress_bar

register = template.Library()


def day_month_year(day) -> str:
    """`day|date:"j M Y"` ("6 Dec 2026", the month in the active language) without the filter's
    format lookups; "" for None, as the filter."""
    return f"{day.day} {MONTHS_3[day.month].title()} {day.year:04d}" if day else ""


@register.simple_tag
def key_result_row(row, node, period) -> SafeString:
    """One key result's `<tr>` in its objective's table (`node`) on the tree of `period`: title,
    kind and owner, progress bar and values, confidence, trend, last check-in, linked work, and
    the check-in and edit links for those who may use them. What people type (titles, names,
    units) is escaped; the rest is numbers, fixed words, addresses and the drawings' safe HTML."""
    kr = row.key_result
    pk = kr.pk
    owner = row.owner
    measured = ""
    if kr.source == KeyResult.Source.MEASURED:
        measured = f' <span class="tag pass" title="{escape(str(kr.get_measure_display()))}">measured</span>'
    actions = ""
    if row.may_check_in:
        check_in = escape(f"{fast_reverse('okrs:check-in', pk)}?period={period.label}")
        edit = f' · <a href="{fast_reverse("okrs:key-result-edit", pk)}">Edit</a>' if node.may_change else ""
        actions = (
            f' <a href="{check_in}" hx-get="{check_in}" hx-target="#objective-{node.objective.pk}"'
            f' hx-swap="outerHTML">Check in</a>{edit} '
        )
    checked = day_month_year(row.last_check_in) or "never"
    stale = ' <span class="tag warn">stale</span>' if row.stale else ""
    return mark_safe(
        f'<tr id="key-result-{pk}"> <th scope="row"><a href="{fast_reverse("okrs:key-result-detail", pk)}">'
        f"{escape(kr.title)}</a> "
        f'<span class="tag">{escape(str(kr.get_kind_display()))}</span>{measured} '
        f'<span class="small muted">{escape(owner.name) if owner else "no owner"}</span></th> '
        f'<td class="nowrap">{progress_bar(row.progress, node.elapsed)} '
        f'<strong data-testid="kr-progress">{percent(row.progress)}</strong> '
        f'<span class="small muted">{decimal2(kr.start_value)} → <strong>{decimal2(kr.current_value)}</strong> → '
        f"{decimal2(kr.target_value)} {escape(kr.unit)}</span></td> "
        f'<td class="nowrap">{confidence_badge(row.confidence)}</td> '
        f"<td>{kr_trend(row.trend, kr.start_value, kr.target_value, node.period, kr.unit)}</td> "
        f'<td class="nowrap">{checked}{stale}</td> '
        f'<td class="nowrap">{row.wip} in progress<span class="small muted">{row.finished} finished in '
        f"{escape(period.label)}</span></td> "
        f'<td class="nowrap">{actions}</td> </tr>'
    )
