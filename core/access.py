"""Who may do what: the one module that answers `may(user, action, obj)`.

Every page, fragment, admin screen and (later) API call asks here. It lives in `teams`, the
leftmost app, so every app can import it; it reaches the models of other apps only through
relations and `apps.get_model`, never by importing them.

Roles are Django groups created by a data migration:
- leader: reads everything; edits company objectives.
- product director: edits their own streams (the streams they lead as product director
  or value stream manager), their work, maps, experiments and objectives.
- product owner: edits the backlog (items, state changes, blocks, dependencies, links to key
  results, delivery records) of the streams their teams serve, and nothing in other streams,
  whichever team an item names. Moving an item needs that right on both streams (CHANGE on
  the item where it is, ADD on an item of the stream it goes to).
- operations: manages the readiness criteria owned by their teams. Any member of a
  criterion's owning team (whatever their role) signs off its checks.
- viewer: reads only.
Superusers may do everything. Anyone logged in may view.
"""

from dataclasses import dataclass

from django.apps import apps
from django.db.models import Model

LEADER = "leader"
PRODUCT_DIRECTOR = "product director"
PRODUCT_OWNER = "product owner"
OPERATIONS = "operations"
VIEWER = "viewer"
ROLES = (LEADER, PRODUCT_DIRECTOR, PRODUCT_OWNER, OPERATIONS, VIEWER)

VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"
CHANGE_STATE = "change_state"  # move a backlog item to another workflow state
SIGN_OFF = "sign_off"  # decide a readiness check
ACTIONS = (VIEW, ADD, CHANGE, DELETE, CHANGE_STATE, SIGN_OFF)

# Models whose rows belong to a stream's backlog (product owners edit them).
_BACKLOG_MODELS = {
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
_STREAM_MODELS = {
    "streams.valuestream",
    "streams.workflowstate",
    "streams.targetmix",
    "streams.valuestreammap",
    "streams.processblock",
    "streams.improvementexperiment",
} | _BACKLOG_MODELS
_OKR_MODELS = {"okrs.objective", "okrs.keyresult", "okrs.checkin"}
_READINESS_MODELS = {"streams.readinesscriterion", "streams.readinesscheck"}


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
    Person = apps.get_model("teams", "Person")
    person = Person.objects.filter(user=user).values("pk").first()
    team_ids: frozenset[int] = frozenset()
    led: frozenset[int] = frozenset()
    served: frozenset[int] = frozenset()
    if person:
        Membership = apps.get_model("teams", "Membership")
        team_ids = frozenset(Membership.objects.filter(person_id=person["pk"]).values_list("team_id", flat=True))
        Assignment = apps.get_model("streams", "LeadershipAssignment")
        led = frozenset(
            Assignment.objects.filter(person_id=person["pk"], end_date__isnull=True).values_list("stream_id", flat=True)
        )
        if team_ids:
            Stream = apps.get_model("streams", "ValueStream")
            served = frozenset(Stream.objects.filter(teams__in=team_ids).values_list("pk", flat=True))
    scope = Scope(roles=roles, team_ids=team_ids, led_stream_ids=led, served_stream_ids=served)
    user._access_scope = scope
    return scope


def _label(obj_or_model) -> str:
    return obj_or_model._meta.label_lower


def _stream_id(obj) -> int | None:
    label = _label(obj)
    if label == "streams.valuestream":
        return obj.pk
    if hasattr(obj, "stream_id"):
        return obj.stream_id
    if hasattr(obj, "item_id") and obj.item_id:
        return obj.item.stream_id
    if label == "streams.processblock" and obj.map_id:
        return obj.map.stream_id
    return None


def _objective(obj):
    label = _label(obj)
    if label == "okrs.objective":
        return obj
    if label == "okrs.keyresult":
        return obj.objective if obj.objective_id else None
    if label == "okrs.checkin":
        return obj.key_result.objective if obj.key_result_id else None
    return None


def may(user, action: str, target) -> bool:
    """Whether `user` may perform `action` on `target`, a model instance or a model class.

    For a model class the answer is "could this user do it to some row of that model",
    which decides whether add buttons and admin sections are shown.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {ACTIONS}")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if action == VIEW:
        return True
    scope = scope_of(user)
    label = _label(target)
    is_instance = isinstance(target, Model)

    if label in _OKR_MODELS:
        return _may_okr(scope, target if is_instance else None)
    if label in _READINESS_MODELS:
        return _may_readiness(scope, action, label, target if is_instance else None)
    if label in _STREAM_MODELS:
        return _may_stream_work(scope, action, label, target if is_instance else None)
    # People, teams, memberships, disciplines and leadership assignments: administrators only.
    return False


def _may_stream_work(scope: Scope, action: str, label: str, obj) -> bool:
    director = PRODUCT_DIRECTOR in scope.roles
    owner = PRODUCT_OWNER in scope.roles and label in _BACKLOG_MODELS
    if label == "streams.valuestream" and action in (ADD, DELETE):
        return False  # creating and retiring streams is an administrator's decision
    if obj is None:
        return (director and bool(scope.led_stream_ids)) or (owner and bool(scope.served_stream_ids))
    stream_id = _stream_id(obj)
    if director and stream_id in scope.led_stream_ids:
        return True
    # The stream decides, never the team an item names: a product owner could otherwise write
    # into any stream by putting their own team on the item.
    return owner and stream_id in scope.served_stream_ids


def _may_okr(scope: Scope, obj) -> bool:
    if obj is None:
        return bool(scope.roles & {LEADER, PRODUCT_DIRECTOR, PRODUCT_OWNER})
    objective = _objective(obj)
    if objective is None:
        return False
    if objective.level == "company":
        return LEADER in scope.roles
    if objective.level == "stream":
        return PRODUCT_DIRECTOR in scope.roles and objective.stream_id in scope.led_stream_ids
    # Team objectives: the team's product owners, and the directors of streams the team serves.
    if PRODUCT_OWNER in scope.roles and objective.team_id in scope.team_ids:
        return True
    if PRODUCT_DIRECTOR in scope.roles and scope.led_stream_ids:
        # Iterating uses a prefetch of team__streams when the caller made one (list pages).
        return any(stream.pk in scope.led_stream_ids for stream in objective.team.streams.all())
    return False


def _may_readiness(scope: Scope, action: str, label: str, obj) -> bool:
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
