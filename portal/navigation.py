"""The sections of the portal, in the order DESIGN.md lists them.

A section links to its page once the page's URL name exists. Until then staff users are sent
to the admin screens where that section's data is entered, and other users don't see it.
"""

from dataclasses import dataclass
from functools import cache

from django.urls import NoReverseMatch, reverse

from portal.notifications.services import unread_count


@dataclass(frozen=True)
class Section:
    label: str
    url_name: str
    admin_url_name: str | None = None


SECTIONS = (
    Section("Portfolio", "home"),
    Section("Backlog", "streams:backlog", "admin:streams_backlogitem_changelist"),
    Section("OKRs", "okrs:objective-list", "admin:okrs_objective_changelist"),
    Section("Leadership", "leadership", "admin:streams_leadershipassignment_changelist"),
    Section("Teams", "teams", "admin:teams_team_changelist"),
    Section("Readiness", "readiness:queue", "admin:streams_readinesscheck_changelist"),
    Section("Maps & experiments", "streams:maps", "admin:streams_valuestreammap_changelist"),
    Section("Scenarios", "scenario-list"),
    Section("Imports", "imports:list"),
)


@cache  # URL patterns are fixed for the life of the process
def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def navigation(request) -> dict:
    """Template context: `nav_sections` as (label, url, is_current) for the current user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_sections": []}
    entries = []
    for section in SECTIONS:
        url = _url(section.url_name)
        if url is None and user.is_staff and section.admin_url_name:
            url = _url(section.admin_url_name)
        if url:
            current = request.path == url if url == "/" else request.path.startswith(url)
            entries.append((section.label, url, current))
    return {"nav_sections": entries, "notifications_unread": lambda: unread_count(user)}
