"""The teams page's long lists written in Python: at scale its 400 team rows (1,300 stream
links), 100 streams' needs and 50 waiting pairs cost the template engine most of the page's
time. These functions write the HTML `templates/portal/teams.html`'s loops wrote; every text
passes through `html.escape`, counts are integers."""

from __future__ import annotations

from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from streams.templatetags.humanize_days import days
from teams.models import Team

from ..composition import StreamNeeds, TeamRow, WaitingPair
from .portfolio_rows import one_decimal

register = template.Library()

TYPES = dict(Team.Type.choices)  # get_type_display's labels, without its lookups per row


def _e(value) -> str:
    return escape(str(value))


def _streams(row: TeamRow, links: dict[int, str]) -> str:
    """The streams the team serves, each a link; `links` keeps each stream's link once written
    (100 streams serve 400 teams through 1,300 links at scale)."""
    written = []
    for stream in row.team.streams.all():
        link = links.get(stream.pk)
        if link is None:
            link = links[stream.pk] = f'<a href="{_e(stream.get_absolute_url())}">{_e(stream.name)}</a>'
        written.append(link)
    return ", ".join(written) or "—"


def team_row(row: TeamRow, links: dict[int, str] | None = None) -> str:
    """A team's `<tr>`: name, type, members, full-time equivalent, WIP against its limit (marked
    above it), disciplines, the streams it serves (links)."""
    team = row.team
    if row.over_limit:
        wip = f'<span class="gap" title="Above the team\'s WIP limit">{row.wip} / {team.wip_limit}</span>'
    else:
        wip = f"{row.wip} / {team.wip_limit or 'no limit'}"
    disciplines = ", ".join(_e(name) for name in row.disciplines) or "—"
    kind = _e(TYPES.get(team.type, team.type))
    return (
        f'<tr data-team="{_e(team.slug)}"><th scope="row">{_e(team.name)}</th><td>{kind}</td>'
        f'<td class="num">{row.members}</td><td class="num">{one_decimal(row.fte)}</td><td class="num">{wip}</td>'
        f"<td>{disciplines}</td><td>{_streams(row, {} if links is None else links)}</td></tr>"
    )


@register.simple_tag
def team_rows(rows: list[TeamRow]) -> SafeString:
    """The teams table's body."""
    links: dict[int, str] = {}
    return mark_safe("\n".join(team_row(row, links) for row in rows))  # every text escaped by _e


@register.simple_tag
def wait_rows(waits: list[WaitingPair]) -> SafeString:
    """The "who waits on whom" table's body: waiting team, the team it waits on, open
    dependencies, age of the oldest in days."""
    return mark_safe(  # every text escaped by _e
        "".join(
            f'<tr><th scope="row">{_e(pair.waiting.name)}</th><td>{_e(pair.blocking.name)}</td>'
            f'<td class="num">{pair.dependencies}</td><td class="num">{days(pair.oldest_days)}</td></tr>'
            for pair in waits
        )
    )


def _needs(entry: StreamNeeds) -> str:
    if entry.missing:
        missing, needed = ", ".join(_e(n) for n in entry.missing), ", ".join(_e(n) for n in entry.needed)
        return f'<span class="gap">missing {missing}</span> (needs {needed})'
    return f"all {len(entry.needed)} covered"


@register.simple_tag
def needs_items(needs: list[StreamNeeds]) -> SafeString:
    """The "disciplines streams need" list's items: a stream (link) and the disciplines it misses."""
    return mark_safe(  # every text escaped by _e
        "\n".join(
            f'<li><a href="{_e(entry.stream.get_absolute_url())}">{_e(entry.stream.name)}</a>: {_needs(entry)}</li>'
            for entry in needs
        )
    )
