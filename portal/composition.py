"""Team composition for /teams/: who is in each team and how much of them, the disciplines
teams bring against what their streams need, WIP against limits, and who waits on whom.

A fixed number of grouped queries whatever the number of teams, people or items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Prefetch, Sum
from django.utils import timezone

from core.freshness import DELIVERY, fresh_cached
from core.lookups import any_of
from core.sql import Dialect
from streams.models import BacklogItem, Dependency, ValueStream, WorkflowState
from teams.models import Discipline, Membership, Person, Team

DEPENDENCY_PAIRS_SHOWN = 50
TEAMS_PAGE = 100  # teams per page: 4,000 teams at ten times the DESIGN.md scale took 1.9 s to show


@dataclass
class TeamRow:
    team: Team
    members: int = 0
    fte: float = 0.0  # allocations summed, in full-time people
    wip: int = 0
    disciplines: list[str] = field(default_factory=list)

    @property
    def over_limit(self) -> bool:
        return self.team.wip_limit is not None and self.wip > self.team.wip_limit


@dataclass
class Overallocated:
    person: Person
    total: int  # percent over all their teams
    teams: list[tuple[str, int]]


@dataclass
class StreamNeeds:
    stream: ValueStream
    needed: list[str]
    missing: list[str]


@dataclass
class WaitingPair:
    waiting: Team
    blocking: Team
    dependencies: int
    oldest_days: float


@dataclass
class Composition:
    teams: list[TeamRow]  # the page's teams, by name
    overallocated: list[Overallocated]
    needs: list[StreamNeeds]
    waits: list[WaitingPair]
    page: Page  # which page of all the teams the filter keeps


def composition(*, team_type: str = "", page: str | int | None = 1) -> Composition:
    """The page's teams (TEAMS_PAGE of them, by name; `page` as a query string gives it, out of
    range meaning the last) with their figures, and the organisation's allocation, needs and
    waits. The number of queries is fixed; the teams' figures are read for the page's only."""
    teams_qs = Team.objects.order_by("name", "pk").prefetch_related(
        Prefetch("streams", queryset=ValueStream.objects.only("pk", "name", "slug").order_by("name"))
    )
    if team_type:
        teams_qs = teams_qs.filter(type=team_type)
    shown = Paginator(teams_qs, TEAMS_PAGE).get_page(page)
    rows = {team.pk: TeamRow(team) for team in shown}
    for team_id, members, allocation in (
        Membership.objects.filter(team_id__in=list(rows))
        .values("team_id")
        .annotate(n=Count("pk"), total=Sum("allocation_percent"))
        .values_list("team_id", "n", "total")
        .order_by()
    ):
        rows[team_id].members, rows[team_id].fte = members, (allocation or 0) / 100
    for team_id, wip in (
        BacklogItem.objects.in_progress()
        .filter(team_id__in=list(rows))
        .values("team_id")
        .annotate(n=Count("pk"))
        .values_list("team_id", "n")
        .order_by()
    ):
        rows[team_id].wip = wip
    for team_id, name in (
        Membership.objects.filter(team_id__in=list(rows), person__disciplines__isnull=False)
        .values_list("team_id", "person__disciplines__name")
        .distinct()
        .order_by("team_id", "person__disciplines__name")
    ):
        rows[team_id].disciplines.append(name)
    return Composition(list(rows.values()), _overallocated(), _stream_needs(), _waits(), shown)


def _overallocated() -> list[Overallocated]:
    """People whose allocations over all their teams add up to more than 100%."""
    over = (
        Membership.objects.values("person_id")
        .annotate(total=Sum("allocation_percent"))
        .filter(total__gt=100)
        .values_list("person_id", flat=True)
    )
    people: dict[int, Overallocated] = {}
    for membership in (
        Membership.objects.filter(person_id__in=over)
        .select_related("person", "team")
        .order_by("person__name", "team__name")
    ):
        entry = people.setdefault(membership.person_id, Overallocated(membership.person, 0, []))
        entry.total += membership.allocation_percent
        entry.teams.append((membership.team.name, membership.allocation_percent))
    return sorted(people.values(), key=lambda entry: (-entry.total, entry.person.name))


def _stream_needs() -> list[StreamNeeds]:
    """Each stream's required disciplines, and those no member of a team serving it has."""
    needs = ValueStream.required_disciplines.through._meta.db_table
    teams, members = ValueStream.teams.through._meta.db_table, Membership._meta.db_table
    skills, disciplines = Person.disciplines.through._meta.db_table, Discipline._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT r.valuestream_id, d.name,
                       CASE WHEN EXISTS (
                           SELECT 1 FROM {teams} t JOIN {members} m ON m.team_id = t.team_id
                           JOIN {skills} s ON s.person_id = m.person_id
                           WHERE t.valuestream_id = r.valuestream_id AND s.discipline_id = r.discipline_id
                       ) THEN 1 ELSE 0 END
                FROM {needs} r JOIN {disciplines} d ON d.id = r.discipline_id
                ORDER BY r.valuestream_id, d.name"""
        )
        found = cursor.fetchall()
    by_stream: dict[int, StreamNeeds] = {}
    streams = ValueStream.objects.in_bulk({row[0] for row in found})
    for stream_id, name, covered in found:
        entry = by_stream.setdefault(stream_id, StreamNeeds(streams[stream_id], [], []))
        entry.needed.append(name)
        if not covered:
            entry.missing.append(name)
    return sorted(by_stream.values(), key=lambda entry: (-len(entry.missing), entry.stream.name))


def _unfinished_cross_team() -> list[tuple[int, int, int, dt.datetime]]:
    """(waiting team, blocking team, waiting item, created) of every dependency between two
    unfinished items of different teams. What decides it (finishes, teams, dependencies) moves
    the DELIVERY generation, so it is cached under it: an ordinary move keeps it."""
    sql = Dialect(connection)
    with connection.cursor() as cursor:
        # From the dependencies, each side probed by id: joining from the items side made
        # PostgreSQL scan every unfinished item (0.10 s at 500,000 items for 20,000 dependencies).
        cursor.execute(
            f"""
            SELECT i.team_id, b.team_id, d.item_id, d.created_at
            FROM {Dependency._meta.db_table} d
            {sql.item_join("d.item_id", "i", "x.team_id, x.finished_at")}
            {sql.item_join("d.blocked_by_id", "b", "x.team_id, x.finished_at")}
            WHERE i.finished_at IS NULL AND b.finished_at IS NULL AND i.team_id <> b.team_id
            """
        )
        return [(waiting, blocking, item, Dialect.to_datetime(at)) for waiting, blocking, item, at in cursor.fetchall()]


def _waits(now: dt.datetime | None = None) -> list[WaitingPair]:
    """Open cross-team dependencies (the waiting item neither finished nor removed, its blocker
    not finished), by waiting team → blocking team, most first: how many and how long the
    oldest has waited. Whether a waiting item was removed is a move, read at each view."""
    now = now or timezone.now()
    unfinished = fresh_cached("teams:unfinished-cross-team-dependencies", _unfinished_cross_team, generation=DELIVERY)
    removed = set(
        BacklogItem.objects.filter(  # one array, not one placeholder per waiting item (core.lookups)
            any_of("pk", {item for _, _, item, _ in unfinished}), state__category=WorkflowState.Category.REMOVED
        )
        .order_by()
        .values_list("pk", flat=True)
    )
    pairs: dict[tuple[int, int], list] = {}
    for waiting, blocking, item, created in unfinished:
        if item not in removed:
            pair = pairs.setdefault((waiting, blocking), [0, created])
            pair[0] += 1
            pair[1] = min(pair[1], created)
    shown = sorted(pairs.items(), key=lambda entry: (-entry[1][0], entry[1][1]))[:DEPENDENCY_PAIRS_SHOWN]
    teams = Team.objects.in_bulk({team for pair, _ in shown for team in pair})
    return [
        WaitingPair(
            waiting=teams[waiting],
            blocking=teams[blocking],
            dependencies=n,
            oldest_days=(now - oldest).total_seconds() / 86400,
        )
        for (waiting, blocking), (n, oldest) in shown
    ]
