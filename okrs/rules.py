"""Who may change objectives, key results and check-ins: registered with `core.access` when
the app is ready. Company objectives are the leaders'; a stream's, its product directors';
a team's, its product owners' and the directors of the streams it serves."""

from __future__ import annotations

from core import access
from core.access import LEADER, PRODUCT_DIRECTOR, PRODUCT_OWNER
from streams.rules import scope_of

OKR_MODELS = {"okrs.objective", "okrs.keyresult", "okrs.checkin"}


def objective_of(obj):
    label = access.label_of(obj)
    if label == "okrs.objective":
        return obj
    if label == "okrs.keyresult":
        return obj.objective if obj.objective_id else None
    if label == "okrs.checkin":
        return obj.key_result.objective if obj.key_result_id else None
    return None


def may_okr(user, action: str, label: str, obj) -> bool:
    scope = scope_of(user)
    if obj is None:
        return bool(scope.roles & {LEADER, PRODUCT_DIRECTOR, PRODUCT_OWNER})
    objective = objective_of(obj)
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


access.register(OKR_MODELS, may_okr)
