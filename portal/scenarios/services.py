"""Saving and deleting scenarios: the only writes a scenario makes, to its own table."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from core import access
from core.errors import PERMISSION_DENIED, DomainError
from portal.scenarios.forms import ScenarioForm
from portal.scenarios.models import Scenario
from portal.scenarios.outlook import Subject, outlook


@transaction.atomic
def scenario_save(*, user, subject: Subject, name: str, form: ScenarioForm, now: dt.datetime | None = None) -> Scenario:
    """Save a valid scenario form's levers with the figures they give now (who, when, what)."""
    if not access.may(user, access.ADD, Scenario):
        raise DomainError(
            "Scenarios are saved by leaders, product directors and product owners; you can run one without saving.",
            code=PERMISSION_DENIED,
        )
    now = now or timezone.now()
    described = form.described()
    return Scenario.objects.create(
        name=name.strip(),
        stream=subject.stream,
        key_result=subject.key_result,
        levers=form.query(),
        described=described,
        result=outlook(subject, form.levers(), described, now),
        as_of=now.astimezone(dt.UTC).date(),
        created_by=user,
        created_at=now,
    )


def scenario_delete(*, user, scenario: Scenario) -> None:
    if not access.may(user, access.DELETE, scenario):
        raise DomainError("A saved scenario is deleted by whoever saved it.", code=PERMISSION_DENIED)
    scenario.delete()
