"""Reads of readiness: each owner team's pending checks and lead times, its queue, and the
criteria and checks the API lists."""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt

from django.db import connection
from django.db.models import Count, F, Min, Q, QuerySet
from django.utils import timezone

from core.sql import Dialect
from streams.models import ReadinessCheck, ReadinessCriterion, WorkflowState
from teams.models import Team

READINESS_WINDOW_DAYS = 84  # lead times are of the checks met in the last 12 weeks
LEAD_TIME_SAMPLE_MAX = 2000  # a forecast draws from each criterion's newest sign-offs, at most this many


@dataclass
class OwnerTeamReadiness:
    """One owner team's readiness backlog and how fast it signs off."""

    team: Team
    pending: int = 0
    overdue: int = 0  # pending on items whose target date has passed
    oldest_days: float | None = None
    met: int = 0
    lead_p50: float | None = None
    lead_p85: float | None = None


@dataclass
class CriterionLeadTime:
    criterion: ReadinessCriterion
    met: int
    p50: float | None
    p85: float | None


def _lead_time_rows(
    group_by: str,
    since: dt.datetime,
    owner_team_id: int | None = None,
    *,
    until: dt.datetime | None = None,
    criterion_id: int | None = None,
) -> dict[int, tuple[int, float | None, float | None]]:
    """Per group, the checks met in [since, until) (of one owner team's criteria, or of one
    criterion, when given): count, p50 and p85 of created → signed off, in days."""
    sql = Dialect(connection)
    days = sql.days("k.signed_off_at", "k.created_at")
    checks, criteria = ReadinessCheck._meta.db_table, ReadinessCriterion._meta.db_table
    where, params = ["k.status = 'met'", "k.signed_off_at >= %s"], [since]
    for clause, value in (
        ("k.signed_off_at < %s", until),
        ("c.owner_team_id = %s", owner_team_id),
        ("k.criterion_id = %s", criterion_id),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT {group_by}, COUNT(*), {sql.percentile(days, 0.5)}, {sql.percentile(days, 0.85)}
                FROM {checks} k JOIN {criteria} c ON c.id = k.criterion_id
                WHERE {" AND ".join(where)}
                GROUP BY {group_by}""",
            params,
        )
        return {
            key: (int(n), None if p50 is None else float(p50), None if p85 is None else float(p85))
            for key, n, p50, p85 in cursor.fetchall()
        }


def sign_off_lead_time(
    as_of: dt.datetime, *, owner_team_id: int | None = None, criterion_id: int | None = None
) -> tuple[int, float | None, float | None]:
    """Checks met in the READINESS_WINDOW_DAYS before `as_of` (of an owner team's criteria, or of
    one criterion): count, p50 and p85 of created → signed off in days; the readiness page's figures."""
    since = as_of - dt.timedelta(days=READINESS_WINDOW_DAYS)
    group_by = "k.criterion_id" if criterion_id is not None else "c.owner_team_id"
    rows = _lead_time_rows(group_by, since, owner_team_id, until=as_of, criterion_id=criterion_id)
    return rows.get(criterion_id if criterion_id is not None else owner_team_id, (0, None, None))


def lead_time_samples(criterion_ids: list[int], as_of: dt.datetime) -> dict[int, list[float]]:
    """Each criterion's most recent checks met in the READINESS_WINDOW_DAYS before `as_of`, at
    most LEAD_TIME_SAMPLE_MAX of them: their lead times (created → signed off) in days, for
    forecasts that draw from them (one query). The cap keeps a forecast's cost flat as the
    organisation grows (a criterion shared by every stream has hundreds of thousands of
    sign-offs at scale); that many draws describe the lead times as well as all of them.
    On PostgreSQL each criterion's newest sign-offs come from `readiness_met_recent_idx`."""
    if not criterion_ids:
        return {}
    sql = Dialect(connection)
    table = ReadinessCheck._meta.db_table
    days = sql.days("k.signed_off_at", "k.created_at")
    ids = ", ".join(str(int(pk)) for pk in criterion_ids)
    window = "k.status = 'met' AND k.signed_off_at >= %s AND k.signed_off_at < %s"
    if sql.postgres:
        query = f"""SELECT c.id, k.days FROM UNNEST(ARRAY[{ids}]) AS c(id)
                    CROSS JOIN LATERAL (
                        SELECT {days} AS days FROM {table} k WHERE k.criterion_id = c.id AND {window}
                        ORDER BY k.signed_off_at DESC LIMIT {int(LEAD_TIME_SAMPLE_MAX)}
                    ) k"""
    else:
        query = f"""SELECT criterion_id, days FROM (
                        SELECT k.criterion_id, {days} AS days,
                               ROW_NUMBER() OVER (PARTITION BY k.criterion_id ORDER BY k.signed_off_at DESC) AS n
                        FROM {table} k WHERE k.criterion_id IN ({ids}) AND {window}
                    ) newest WHERE n <= {int(LEAD_TIME_SAMPLE_MAX)}"""
    with connection.cursor() as cursor:
        cursor.execute(query, [as_of - dt.timedelta(days=READINESS_WINDOW_DAYS), as_of])
        samples: dict[int, list[float]] = {}
        for criterion_id, value in cursor.fetchall():
            samples.setdefault(criterion_id, []).append(max(0.0, float(value)))
        return samples


def readiness_by_owner_team(now: dt.datetime | None = None) -> list[OwnerTeamReadiness]:
    """Every team owning an active criterion, with its pending checks across all streams (on
    items not removed) and the lead time of its sign-offs; three queries whatever the size."""
    now = now or timezone.now()
    teams = Team.objects.filter(readiness_criteria__active=True).distinct().order_by("name")
    rows = {team.pk: OwnerTeamReadiness(team) for team in teams}
    pending = (
        ReadinessCheck.objects.filter(status=ReadinessCheck.Status.PENDING, criterion__owner_team__in=list(rows))
        .exclude(item__state__category=WorkflowState.Category.REMOVED)
        .values("criterion__owner_team")
        .annotate(
            n=Count("pk"),
            overdue=Count("pk", filter=Q(item__target_date__lt=now.date())),
            oldest=Min("created_at"),
        )
        .order_by()
    )
    for row in pending:
        team = rows[row["criterion__owner_team"]]
        team.pending, team.overdue = row["n"], row["overdue"]
        team.oldest_days = (now - row["oldest"]).total_seconds() / 86400
    since = now - dt.timedelta(days=READINESS_WINDOW_DAYS)
    for team_id, (met, p50, p85) in _lead_time_rows("c.owner_team_id", since).items():
        if team_id in rows:
            rows[team_id].met, rows[team_id].lead_p50, rows[team_id].lead_p85 = met, p50, p85
    return list(rows.values())


def criterion_lead_times(team: Team, now: dt.datetime | None = None) -> list[CriterionLeadTime]:
    """The team's criteria with the lead time (created → met) of their checks met lately."""
    since = (now or timezone.now()) - dt.timedelta(days=READINESS_WINDOW_DAYS)
    figures = _lead_time_rows("k.criterion_id", since, owner_team_id=team.pk)
    return [
        CriterionLeadTime(criterion, *figures.get(criterion.pk, (0, None, None)))
        for criterion in team.readiness_criteria.order_by("name")
    ]


def readiness_queue(team: Team) -> QuerySet[ReadinessCheck]:
    """The team's pending checks across all streams, by the item's target date (none last), then
    oldest first; on items not removed."""
    return (
        ReadinessCheck.objects.filter(status=ReadinessCheck.Status.PENDING, criterion__owner_team=team)
        .exclude(item__state__category=WorkflowState.Category.REMOVED)
        .select_related("criterion__owner_team", "item__stream", "item__state")
        .order_by(F("item__target_date").asc(nulls_last=True), "created_at", "pk")
    )


def criterion_list() -> QuerySet[ReadinessCriterion]:
    """Readiness criteria with their owner team and the streams they apply to."""
    return ReadinessCriterion.objects.select_related("owner_team").prefetch_related("streams")


def check_list() -> QuerySet[ReadinessCheck]:
    """Readiness checks with their criterion and its owner team."""
    return ReadinessCheck.objects.select_related("criterion__owner_team")
