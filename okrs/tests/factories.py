"""Factories for objectives and key results; a key result belongs to its objective's period."""

import datetime as dt
from decimal import Decimal

import factory

from okrs.models import CheckIn, KeyResult, Objective
from streams.flow.periods import period_containing


class ObjectiveFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Objective

    title = factory.Sequence(lambda n: f"Objective {n}")
    level = Objective.Level.COMPANY
    period = factory.LazyFunction(lambda: period_containing(dt.date.today()).label)


class KeyResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeyResult

    objective = factory.SubFactory(ObjectiveFactory)
    title = factory.Sequence(lambda n: f"Key result {n}")
    start_value = Decimal("0")
    target_value = Decimal("100")
    current_value = Decimal("40")


class CheckInFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckIn

    key_result = factory.SubFactory(KeyResultFactory)
    value = Decimal("40")
    confidence = Decimal("0.7")
    date = factory.LazyFunction(dt.date.today)
