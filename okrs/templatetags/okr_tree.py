"""The OKR tree written in Python: through the template engine, the 203 objectives and 508 key
results of the DESIGN.md scale cost about 25,000 variable lookups (0.3 s of a 0.5 s page); these
functions write the same HTML in a fraction of that. What people type (titles, names, units,
descriptions) is escaped; the rest is numbers, fixed words, addresses and the drawings' HTML.
The check-in form, shown in one row at a time, stays a template (`_check_in_row.html`)."""

import functools
from html import escape

from django import template
from django.template import Context
from django.utils.dates import MONTHS_3
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import get_language

from core.urls import fast_reverse

from ..models import KeyResult, Measure, Objective
from ..selectors import KeyResultRow, ObjectiveNode
from .humanize_okrs import decimal2, percent
from .okr_drawing import confidence_badge, kr_trend, progress_bar

register = template.Library()

CHECK_IN_ROW = "okrs/partials/_check_in_row.html"
KEY_RESULTS_HEAD = (
    '<thead><tr> <th scope="col">Key result</th><th scope="col">Progress</th><th scope="col">Confidence</th> '
    '<th scope="col">Trend</th><th scope="col">Last check-in</th><th scope="col">Linked work</th> '
    '<th scope="col"><span class="visually-hidden">Actions</span></th> </tr></thead>'
)


# The choices' labels the rows show (get_FOO_display hashes its choices at every call).
KINDS, MEASURES, LEVELS = dict(KeyResult.Kind.choices), dict(Measure.choices), dict(Objective.Level.choices)


@functools.cache
def _months(language: str | None) -> dict[int, str]:
    return {month: MONTHS_3[month].title() for month in MONTHS_3}


def day_month_year(day) -> str:
    """`day|date:"j M Y"` ("6 Dec 2026", the month in the active language) without the filter's
    format lookups; "" for None, as the filter."""
    return f"{day.day} {_months(get_language())[day.month]} {day.year:04d}" if day else ""


def plural(n: int) -> str:
    return "" if n == 1 else "s"


@register.simple_tag(takes_context=True)
def objective_card(context: Context, node: ObjectiveNode) -> SafeString:
    """An objective's card (`<article>`: title, tags, progress, confidence, its key results'
    table) and, after it, the objectives aligned to it, each a card. Reads `period`, `expanded`,
    `filtered` and, for an htmx check-in, `open_kr` (the key result whose form is open) from the
    template's context."""
    return mark_safe(_card(context, node, context.get("period")))


def _card(context: Context, node: ObjectiveNode, period) -> str:
    objective = node.objective
    pk = objective.pk
    title = escape(objective.title)
    scope = objective.stream or objective.team
    is_open = context.get("expanded") or (context.get("filtered") and not node.context)
    count = len(node.key_results)
    owner = objective.owner
    description = f"· {escape(Truncator(objective.description).chars(160))}" if objective.description else ""
    changes = ""
    if node.may_change:
        changes = (
            f' · <a href="{fast_reverse("okrs:objective-edit", pk)}">Edit</a>'
            f' · <a href="{fast_reverse("okrs:key-result-create", pk)}">Add key result</a>'
        )
    if node.key_results:
        open_kr = context.get("open_kr")
        rows = " ".join(
            key_result_row(row, node, period)
            + (" " + _check_in_row(context, row, node) if open_kr == row.key_result.pk else "")
            for row in node.key_results
        )
        key_results = (
            f'<table class="data key-results"> <caption class="visually-hidden">Key results of {title}</caption> '
            f"{KEY_RESULTS_HEAD} <tbody> {rows} </tbody> </table>"
        )
    else:
        key_results = '<p class="empty">No key results yet.</p>'
    level = escape(str(LEVELS.get(objective.level, objective.level))) + (f": {escape(scope.name)}" if scope else "")
    above = ' <span class="tag">above a match</span>' if node.context and not node.continued else ""
    if node.continued:
        above = ' <span class="tag" title="Its first objectives aligned to it are on an earlier page">continued</span>'
    dashed = node.context or node.continued
    stale = ' <span class="tag warn">stale</span>' if node.stale else ""
    card = (
        f'<article class="card objective{" context" if dashed else ""}" id="objective-{pk}"'
        f' aria-labelledby="objective-{pk}-title"> <details class="objective-body"{" open" if is_open else ""}>'
        f' <summary class="objective-head"> <h2 id="objective-{pk}-title">{title}</h2> <span class="objective-tags">'
        f' <span class="tag">{level}</span> <span class="tag">{escape(objective.period)}</span>{above} </span>'
        f' <span class="objective-figures"> <span class="figure">{progress_bar(node.progress, node.elapsed)}'
        f' <strong data-testid="objective-progress">{percent(node.progress)}</strong></span>'
        f' <span class="figure">Confidence {confidence_badge(node.confidence)}</span>'
        f' <span class="figure muted">{count} key result{plural(count)}{stale}</span> </span> </summary>'
        f' <p class="muted objective-meta">Owner: {escape(owner.name) if owner and owner.name else "—"}'
        f" {description} {changes}</p> {key_results} </details> </article>"
    )
    if not node.children:
        return card
    children = "".join(f"<li> {_card(context, child, period)} </li>" for child in node.children)
    n = len(node.children)
    return (
        f'{card} <details class="okr-children" open> <summary>{n}{" more" if node.continued else ""}'
        f" objective{plural(n)} aligned to “{title}”</summary>"
        f' <ol class="okr-tree"> {children} </ol> </details>'
    )


def _check_in_row(context: Context, row: KeyResultRow, node: ObjectiveNode) -> str:
    """The open check-in form under its key result's row (htmx), from its template."""
    with context.push(row=row, node=node):
        return context.template.engine.get_template(CHECK_IN_ROW).render(context)


@register.simple_tag
def key_result_row(row: KeyResultRow, node: ObjectiveNode, period) -> SafeString:
    """One key result's `<tr>` in its objective's table (`node`) on the tree of `period`: title,
    kind and owner, progress bar and values, confidence, trend, last check-in, linked work, and
    the check-in and edit links for those who may use them."""
    kr = row.key_result
    pk = kr.pk
    owner = row.owner
    measured = ""
    if kr.source == KeyResult.Source.MEASURED:
        measure = escape(str(MEASURES.get(kr.measure, kr.measure)))
        measured = f' <span class="tag pass" title="{measure}">measured</span>'
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
        f'<span class="tag">{escape(str(KINDS.get(kr.kind, kr.kind)))}</span>{measured} '
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
