"""Everyone's home says what to open first, by role."""

from django.contrib.auth.models import Group
import pytest

from core import access
from portal.notifications.models import Kind
from portal.notifications.services import Message, notify
from streams.tests.factories import (
    LeadershipAssignmentFactory,
    ReadinessCheckFactory,
    ReadinessCriterionFactory,
    ValueStreamFactory,
)
from teams.models import Team
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def person_with(*roles, username):
    for role in roles:
        Group.objects.get_or_create(name=role)
    return PersonFactory(user=UserFactory(username=username, roles=list(roles)))


def steps(client, person) -> list[str]:
    client.force_login(person.user)
    return [step.text for step in client.get("/").context["first_steps"]]


def test_each_role_is_pointed_at_its_own_first_move(client):
    ops_team = TeamFactory(name="Service operations", slug="ops", type=Team.Type.BUSINESS_OPERATIONS)
    sam = person_with(access.OPERATIONS, username="sam")
    MembershipFactory(person=sam, team=ops_team)
    ReadinessCheckFactory(criterion=ReadinessCriterionFactory(owner_team=ops_team))
    assert steps(client, sam) == ["1 readiness check waits on Service operations: sign it off"]

    stream = ValueStreamFactory(name="Payments")
    dora = person_with(access.PRODUCT_DIRECTOR, username="dora")
    LeadershipAssignmentFactory(person=dora, stream=stream)
    assert steps(client, dora) == ["Your stream Payments: its flow, forecasts and data"]

    owen = person_with(access.PRODUCT_OWNER, username="owen")
    team = TeamFactory(name="Checkout")
    stream.teams.add(team)
    MembershipFactory(person=owen, team=team)
    notify(owen, Kind.AGING, "k", Message(subject="Aging", url="/"))
    assert steps(client, owen) == [
        "1 unread notification: what waits on you",
        "Your backlog: rank, move, and what the release gate holds back",
    ]

    lena = person_with(access.LEADER, username="lena")
    assert steps(client, lena) == [
        "Orphan work and unsupported key results of this quarter",
        "Who leads each stream, and the gaps",
    ]
    page = client.get("/").content.decode()
    assert 'data-testid="first-steps"' in page and "Start here" in page
