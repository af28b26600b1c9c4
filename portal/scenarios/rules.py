"""Who may save and delete scenarios: the people who steer (leaders, product directors, product
owners) save them; a saved scenario is deleted by whoever saved it. Anyone signed in may run one:
it changes nothing."""

from __future__ import annotations

from core import access
from core.access import LEADER, PRODUCT_DIRECTOR, PRODUCT_OWNER
from streams.rules import scope_of


def may_scenario(user, action: str, label: str, obj) -> bool:
    if not scope_of(user).roles & {LEADER, PRODUCT_DIRECTOR, PRODUCT_OWNER}:
        return False
    if action == access.ADD:
        return True
    return action == access.DELETE and obj is not None and obj.created_by_id == user.pk


access.register({"portal.scenario"}, may_scenario)
