"""Who may do what: the mechanism behind `may(user, action, obj)`.

Every page, fragment, admin screen, API call, import and webhook asks `may`. This module
knows no domain model: each app registers the rules of its own models (`streams/rules.py`,
`okrs/rules.py`) when it is ready, keyed by model label. A model no rule claims is for
administrators only (people, teams, memberships, disciplines, leadership assignments).

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

A hand-written registry rather than django-rules: django-rules answers through Django's
permission backends (`user.has_perm`), where the model backend's group permissions and our
login guard would take part in every decision; its predicate registry alone is what the
30 lines below are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

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

# rule(user, action, label, obj): obj is the row asked about, or None for "some row of it".
Rule = Callable[[object, str, str, "Model | None"], bool]
_RULES: dict[str, Rule] = {}


def register(labels: Iterable[str], rule: Rule) -> None:
    """Let `rule` decide every action but viewing on the models named (`app.model`, lower case)."""
    for label in labels:
        if label in _RULES and _RULES[label] is not rule:
            raise ValueError(f"{label} already has a rule")
        _RULES[label] = rule


def rule_for(label: str) -> Rule | None:
    """The rule registered for a model label; None: administrators only."""
    return _RULES.get(label)


def label_of(obj_or_model) -> str:
    return obj_or_model._meta.label_lower


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
    label = label_of(target)
    rule = rule_for(label)
    if rule is None:
        return False  # administrators only
    return bool(rule(user, action, label, target if isinstance(target, Model) else None))
