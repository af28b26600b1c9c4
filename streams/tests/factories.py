"""Factories for streams and their work; an item's state belongs to the item's stream."""

import datetime as dt

from django.utils import timezone
import factory

from streams.models import (
    BacklogItem,
    FlowType,
    LeadershipAssignment,
    ReadinessCheck,
    ReadinessCriterion,
    ValueStream,
    WorkflowState,
)
from teams.models import Team
from teams.tests.factories import PersonFactory, TeamFactory

# A workflow with every category, including a waiting state, in board order.
DEFAULT_WORKFLOW = [
    ("Backlog", "backlog"),
    ("Ready", "backlog"),
    ("In progress", "active"),
    ("Waiting for review", "waiting"),
    ("Review", "active"),
    ("Done", "done"),
    ("Removed", "removed"),
]


class ValueStreamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ValueStream
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Stream {n}")
    slug = factory.Sequence(lambda n: f"stream-{n}")
    industry = "Retail banking"

    @factory.post_generation
    def workflow(self, create, extracted, **kwargs):
        """Create the default workflow unless `workflow=False` (or a list of (name, category))."""
        if not create or extracted is False:
            return
        for order, (name, category) in enumerate(extracted or DEFAULT_WORKFLOW):
            WorkflowState.objects.create(stream=self, name=name, category=category, order=order)


def state(stream: ValueStream, name: str) -> WorkflowState:
    return WorkflowState.objects.get(stream=stream, name=name)


class BacklogItemFactory(factory.django.DjangoModelFactory):
    """An item placed straight into a state, with no history: use `streams.backlog.services.item_create`
    when the test is about history."""

    class Meta:
        model = BacklogItem

    stream = factory.SubFactory(ValueStreamFactory)
    title = factory.Sequence(lambda n: f"Item {n}")
    flow_type = FlowType.FEATURE
    state = factory.LazyAttribute(lambda o: o.stream.states.order_by("order").first())
    created_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=30))


class LeadershipAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadershipAssignment

    person = factory.SubFactory(PersonFactory)
    stream = factory.SubFactory(ValueStreamFactory)
    role = LeadershipAssignment.Role.PRODUCT_DIRECTOR
    start_date = dt.date(2026, 1, 1)


class ReadinessCriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReadinessCriterion

    name = factory.Sequence(lambda n: f"Criterion {n}")
    owner_team = factory.SubFactory(TeamFactory, type=Team.Type.BUSINESS_OPERATIONS)
    all_streams = True
    flow_types = [FlowType.FEATURE]


class ReadinessCheckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReadinessCheck

    item = factory.SubFactory(BacklogItemFactory)
    criterion = factory.SubFactory(ReadinessCriterionFactory)
