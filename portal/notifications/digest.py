"""The leaders' weekly digest: what changed in the portfolio since last week's.

Each run stores the week's figures per stream (`PortfolioDigest`: flow health, aligned share of
work in progress, the four delivery levels, ownership gaps) and compares them with the previous
week's: a stream whose health checks passing changed, whose aligned share moved by
ALIGNED_STEP or more, whose delivery level changed on a key, or which has a new ownership gap,
gets a line linked to the page that explains it. The first digest, with nothing to compare,
lists the streams failing half their health checks or more and every ownership gap.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import Group
from django.urls import reverse

from core import access
from portal.leadership import leadership
from portal.notifications.models import Kind, PortfolioDigest
from portal.notifications.services import Message, digest_due, notify, period_key, preferences_for
from portal.portfolio import portfolio
from teams.models import Person

ALIGNED_STEP = 0.05  # a change of 5 points of aligned WIP share is told


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def portfolio_figures(user) -> tuple[dict, str]:
    """The figures per stream slug as a leader sees them now, and the window they cover."""
    board, lead = portfolio(user=user, filters={}), leadership(user=user)
    gaps: dict[int, list[str]] = {}
    for stream, gap in lead.gaps:
        gaps.setdefault(stream.pk, []).append(gap)
    figures = {}
    for row in board.rows:
        figures[row.stream.slug] = {
            "name": row.stream.name,
            "health": [row.health.passed, row.health.measured],
            "aligned": row.alignment.wip_share,
            "delivery": dict(row.delivery.bands),
            "gaps": gaps.get(row.stream.pk, []),
        }
    return figures, board.window.describe()


def changes(now: dict, before: dict | None) -> list[tuple[str, str]]:
    """The lines of the digest: what changed per stream since `before` (None: the first digest)."""
    lines = []
    for slug, row in sorted(now.items(), key=lambda pair: pair[1]["name"]):
        name, was = row["name"], (before or {}).get(slug)
        health_url = reverse("stream-health", args=[slug])
        passed, measured = row["health"]
        if before is None:
            if measured and passed * 2 <= measured:
                lines.append((f"{name}: flow health {passed} of {measured} checks pass", health_url))
        elif was is None:
            lines.append((f"{name}: new in the portfolio, flow health {passed} of {measured} checks pass", health_url))
        else:
            if was["health"] != row["health"]:
                lines.append(
                    (
                        f"{name}: flow health {passed} of {measured} checks pass "
                        f"(was {was['health'][0]} of {was['health'][1]})",
                        health_url,
                    )
                )
            if row["aligned"] is not None and was["aligned"] is not None:
                if abs(row["aligned"] - was["aligned"]) >= ALIGNED_STEP:
                    lines.append(
                        (
                            f"{name}: aligned work in progress {row['aligned']:.0%} (was {was['aligned']:.0%})",
                            reverse("streams:stream-detail", args=[slug]),
                        )
                    )
            for key, level in row["delivery"].items():
                if level != was["delivery"].get(key):
                    lines.append(
                        (
                            f"{name}: {key.replace('_', ' ')} {level or 'not measured'} "
                            f"(was {was['delivery'].get(key) or 'not measured'})",
                            reverse("streams:delivery", args=[slug]),
                        )
                    )
        old_gaps = set(was["gaps"]) if was else set()
        for gap in row["gaps"]:
            if before is None or gap not in old_gaps:
                lines.append((f"{name}: {gap}" + ("" if before is None else " (new)"), reverse("leadership")))
    return lines


def leader_digests(today: dt.date) -> int:
    """The week's figures stored (once a week), and a digest to each leader whose frequency
    makes it due today."""
    leaders = list(
        Person.objects.filter(user__groups__name=access.LEADER, user__is_active=True).select_related("user").distinct()
    )
    if not leaders or not Group.objects.filter(name=access.LEADER).exists():
        return 0
    preferences = preferences_for(leaders, Kind.LEADER_DIGEST)
    due = [person for person in leaders if digest_due(preferences[person.pk], today)]
    if not due:
        return 0
    week = _monday(today)
    figures, window = portfolio_figures(due[0].user)
    PortfolioDigest.objects.update_or_create(week_start=week, defaults={"figures": figures})
    previous = PortfolioDigest.objects.filter(week_start__lt=week).order_by("-week_start").first()
    lines = changes(figures, previous.figures if previous else None)
    compared = f"compared with the week of {previous.week_start:%Y-%m-%d}" if previous else "the first digest"
    n, what = len(lines), ("change" if previous else "thing") + ("s" if len(lines) != 1 else "")
    message = Message(
        subject=f"Portfolio this week: {n} {what}{'' if previous else ' to look at'} across {len(figures)} streams",
        url=reverse("home"),
        lines=tuple(lines[:60]),
        figures=f"n = {len(figures)} streams; flow over {window}; {compared}",
    )
    told = 0
    for person in due:
        preference = preferences[person.pk]
        key = f"portfolio:{period_key(preference, today)}"
        told += bool(notify(person, Kind.LEADER_DIGEST, key, message, preference=preference))
    return told
