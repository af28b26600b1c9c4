"""What a person should open first, by their role: shown at the top of the portfolio, which is
everyone's home. A leader: what changed and the orphan work; a director: their streams; a product
owner: their backlog and what waits on them; operations: their team's readiness queue; everyone:
their unread notifications. A few queries, whatever the size of the organisation."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from core import access
from portal.notifications.services import unread_count
from streams.models import ReadinessCheck, ValueStream, WorkflowState
from streams.rules import scope_of
from teams.models import Team


@dataclass(frozen=True)
class Step:
    text: str
    url: str


def first_steps(user) -> list[Step]:
    scope = scope_of(user)
    steps: list[Step] = []
    unread = unread_count(user)
    if unread:
        steps.append(
            Step(
                f"{unread} unread notification{'s' * (unread != 1)}: what waits on you", reverse("notifications:inbox")
            )
        )
    if access.LEADER in scope.roles:
        steps.append(Step("Orphan work and unsupported key results of this quarter", reverse("okrs:alignment")))
        steps.append(Step("Who leads each stream, and the gaps", reverse("leadership")))
    if scope.led_stream_ids:
        for stream in ValueStream.objects.filter(pk__in=scope.led_stream_ids).order_by("name")[:3]:
            steps.append(Step(f"Your stream {stream.name}: its flow, forecasts and data", stream.get_absolute_url()))
    if access.PRODUCT_OWNER in scope.roles and scope.served_stream_ids:
        steps.append(Step("Your backlog: rank, move, and what the release gate holds back", reverse("streams:backlog")))
    if access.OPERATIONS in scope.roles and scope.team_ids:
        pending = (
            ReadinessCheck.objects.filter(
                status=ReadinessCheck.Status.PENDING, criterion__owner_team_id__in=scope.team_ids
            )
            .exclude(item__state__category=WorkflowState.Category.REMOVED)
            .count()
        )
        team = Team.objects.filter(pk__in=scope.team_ids, readiness_criteria__isnull=False).order_by("name").first()
        if team is not None:
            steps.append(
                Step(
                    f"{pending} readiness check{'s' * (pending != 1)} wait{'s' * (pending == 1)} on {team.name}: "
                    f"sign {'it' if pending == 1 else 'them'} off",
                    reverse("readiness:queue") + f"?team={team.slug}",
                )
            )
    return steps
