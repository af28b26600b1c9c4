"""Who may change what in the streams app: registered with `core.access` when the app is ready.

- A stream's product directors (and value stream managers) edit its settings, work, maps
  and experiments; creating and retiring streams is an administrator's decision.
- The product owners of the teams a stream serves edit its backlog and delivery records.
  The stream decides, never the team an item names.
- Operations manage the readiness criteria their teams own; any member of the owning team
  signs off its checks; checks are created and removed by the system.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import access
from core.access import ADD, DELETE, OPERATIONS, PRODUCT_DIRECTOR, PRODUCT_OWNER, SIGN_OFF
from teams.models import Membership, Person

from .models import LeadershipAssignment, ValueStream

# Models whose rows belong to a stream's backlog (product owners edit them).
BACKLOG_MODELS = {
    "streams.backlogitem",
    "streams.blockedperiod",
    "streams.dependency",
    "streams.statetransition",
    # What a stream's delivery records: its teams' pipelines and incident tools post them.
    "streams.deployment",
    "streams.deploymentitem",
    "streams.incident",
}
# Models a stream's leadership edits.
STREAM_MODELS = {
    "streams.valuestream",
    "streams.workflowstate",
    "streams.targetmix",
    "streams.valuestreammap",
    "streams.processblock",
    "streams.improvementexperiment",
    "streams.connection",  # the live connection that feeds the stream, and its credentials
} | BACKLOG_MODELS
READINESS_MODELS = {"streams.readinesscriterion", "streams.readinesscheck"}


@dataclass(frozen=True)
class Scope:
    """What a user's roles and positions give them, loaded once per request (at most five queries)."""

    roles: frozenset[str] = frozenset()
    team_ids: frozenset[int] = frozenset()
    led_stream_ids: frozenset[int] = frozenset()
    served_stream_ids: frozenset[int] = frozenset()


def scope_of(user) -> Scope:
    """The user's roles, teams, led streams and the streams their teams serve; cached on the user."""
    cached = getattr(user, "_access_scope", None)
    if cached is not None:
        return cached
    if not getattr(user, "is_authenticated", False):
        return Scope()
    roles = frozenset(user.groups.values_list("name", flat=True))
    person = Person.objects.filter(user=user).values("pk").first()
    team_ids: frozenset[int] = frozenset()
    led: frozenset[int] = frozenset()
    served: frozenset[int] = frozenset()
    if person:
        team_ids = frozenset(Membership.objects.filter(person_id=person["pk"]).values_list("team_id", flat=True))
        led = frozenset(
            LeadershipAssignment.objects.filter(person_id=person["pk"], end_date__isnull=True).values_list(
                "stream_id", flat=True
            )
        )
        if team_ids:
            served = frozenset(ValueStream.objects.filter(teams__in=team_ids).values_list("pk", flat=True))
    scope = Scope(roles=roles, team_ids=team_ids, led_stream_ids=led, served_stream_ids=served)
    user._access_scope = scope
    return scope


def stream_id_of(obj) -> int | None:
    """The stream a row of the streams app belongs to."""
    label = access.label_of(obj)
    if label == "streams.valuestream":
        return obj.pk
    if hasattr(obj, "stream_id"):
        return obj.stream_id
    if hasattr(obj, "item_id") and obj.item_id:
        return obj.item.stream_id
    if label == "streams.processblock" and obj.map_id:
        return obj.map.stream_id
    return None


def may_stream_work(user, action: str, label: str, obj) -> bool:
    scope = scope_of(user)
    director = PRODUCT_DIRECTOR in scope.roles
    owner = PRODUCT_OWNER in scope.roles and label in BACKLOG_MODELS
    if label == "streams.valuestream" and action in (ADD, DELETE):
        return False  # creating and retiring streams is an administrator's decision
    if obj is None:
        return (director and bool(scope.led_stream_ids)) or (owner and bool(scope.served_stream_ids))
    stream_id = stream_id_of(obj)
    if director and stream_id in scope.led_stream_ids:
        return True
    # The stream decides, never the team an item names: a product owner could otherwise write
    # into any stream by putting their own team on the item.
    return owner and stream_id in scope.served_stream_ids


def may_readiness(user, action: str, label: str, obj) -> bool:
    scope = scope_of(user)
    if action == SIGN_OFF:
        # Whoever belongs to the criterion's owning team signs off its checks, whatever their role.
        if obj is None:
            return bool(scope.team_ids)
        criterion = obj if label == "streams.readinesscriterion" else obj.criterion
        return criterion.owner_team_id in scope.team_ids
    if OPERATIONS not in scope.roles:
        return False
    if label == "streams.readinesscheck" and action in (ADD, DELETE):
        return False  # checks are created and removed by the system, not by hand
    if obj is None:
        return bool(scope.team_ids)
    criterion = obj if label == "streams.readinesscriterion" else obj.criterion
    return criterion.owner_team_id in scope.team_ids


access.register(STREAM_MODELS, may_stream_work)
access.register(READINESS_MODELS, may_readiness)
