"""`core.access.may`: each role may do exactly what DESIGN and the issue give it."""

from django.contrib.auth.models import AnonymousUser
import pytest

from core import access
from okrs.models import Objective
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from streams.models import BacklogItem, ReadinessCheck
from streams.tests.factories import (
    BacklogItemFactory,
    LeadershipAssignmentFactory,
    ReadinessCheckFactory,
    ValueStreamFactory,
)
from teams.models import Team
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def person_user(role, **user):
    person = PersonFactory(user=UserFactory(roles=[role], **user))
    return person.user, person


@pytest.fixture
def world():
    """Two streams; a team serving the first; an operations team owning a criterion."""
    mine, other = ValueStreamFactory(), ValueStreamFactory()
    team = TeamFactory()
    mine.teams.add(team)
    ops = TeamFactory(type=Team.Type.BUSINESS_OPERATIONS)
    return {"mine": mine, "other": other, "team": team, "ops": ops}


def test_anonymous_and_inactive_users_may_do_nothing(world):
    item = BacklogItemFactory(stream=world["mine"])
    assert not access.may(AnonymousUser(), access.VIEW, item)
    assert not access.may(UserFactory(is_active=False, roles=[access.LEADER]), access.VIEW, item)


def test_everyone_logged_in_may_view_and_viewers_only_view(world):
    viewer = UserFactory(roles=[access.VIEWER])
    item = BacklogItemFactory(stream=world["mine"])
    assert access.may(viewer, access.VIEW, item)
    for action in (access.CHANGE, access.CHANGE_STATE, access.DELETE):
        assert not access.may(viewer, action, item)
    assert not access.may(viewer, access.ADD, BacklogItem)


def test_superuser_may_do_everything(world):
    assert access.may(UserFactory(is_superuser=True), access.DELETE, world["mine"])


def test_product_director_edits_only_their_own_streams(world):
    user, person = person_user(access.PRODUCT_DIRECTOR)
    LeadershipAssignmentFactory(person=person, stream=world["mine"])
    assert access.may(user, access.CHANGE, world["mine"])
    assert access.may(user, access.CHANGE_STATE, BacklogItemFactory(stream=world["mine"]))
    assert not access.may(user, access.CHANGE, world["other"])
    assert not access.may(user, access.CHANGE_STATE, BacklogItemFactory(stream=world["other"]))
    assert not access.may(user, access.ADD, world["mine"].__class__)  # new streams are for administrators
    stream_objective = ObjectiveFactory(level=Objective.Level.STREAM, stream=world["mine"])
    assert access.may(user, access.CHANGE, KeyResultFactory(objective=stream_objective))
    assert not access.may(user, access.CHANGE, ObjectiveFactory(level=Objective.Level.COMPANY))


def test_a_director_who_left_edits_nothing(world):
    user, person = person_user(access.PRODUCT_DIRECTOR)
    LeadershipAssignmentFactory(person=person, stream=world["mine"], end_date="2026-06-30")
    assert not access.may(user, access.CHANGE, world["mine"])


def test_product_owner_edits_the_backlog_of_streams_their_teams_serve(world):
    user, person = person_user(access.PRODUCT_OWNER)
    MembershipFactory(person=person, team=world["team"])
    assert access.may(user, access.CHANGE_STATE, BacklogItemFactory(stream=world["mine"]))
    assert not access.may(user, access.CHANGE, BacklogItemFactory(stream=world["other"]))
    assert not access.may(user, access.CHANGE, world["mine"])  # the stream itself is the director's
    assert access.may(user, access.ADD, BacklogItem)
    team_objective = ObjectiveFactory(level=Objective.Level.TEAM, team=world["team"])
    assert access.may(user, access.CHANGE, team_objective)


def test_naming_their_own_team_gives_a_product_owner_nothing_in_another_stream(world):
    user, person = person_user(access.PRODUCT_OWNER)
    MembershipFactory(person=person, team=world["team"])
    theirs_elsewhere = BacklogItemFactory(stream=world["other"], team=world["team"])
    for action in (access.ADD, access.CHANGE, access.CHANGE_STATE, access.DELETE):
        assert not access.may(user, action, theirs_elsewhere), action
    assert not access.may(user, access.ADD, BacklogItem(stream=world["other"], team=world["team"]))


def test_a_product_owner_whose_teams_serve_no_stream_may_add_nothing(world):
    user, person = person_user(access.PRODUCT_OWNER)
    MembershipFactory(person=person, team=TeamFactory())
    assert not access.may(user, access.ADD, BacklogItem)


def test_leader_edits_company_objectives_only(world):
    user = UserFactory(roles=[access.LEADER])
    assert access.may(user, access.CHANGE, ObjectiveFactory(level=Objective.Level.COMPANY))
    assert not access.may(user, access.CHANGE, ObjectiveFactory(level=Objective.Level.STREAM, stream=world["mine"]))
    assert not access.may(user, access.CHANGE_STATE, BacklogItemFactory(stream=world["mine"]))


def test_operations_signs_off_only_their_teams_criteria(world):
    user, person = person_user(access.OPERATIONS)
    MembershipFactory(person=person, team=world["ops"])
    mine = ReadinessCheckFactory(criterion__owner_team=world["ops"])
    theirs = ReadinessCheckFactory()
    assert access.may(user, access.SIGN_OFF, mine)
    assert not access.may(user, access.SIGN_OFF, theirs)
    assert access.may(user, access.CHANGE, mine.criterion)
    assert not access.may(user, access.ADD, ReadinessCheck)  # checks are made by the system
    assert not access.may(user, access.CHANGE_STATE, mine.item)


def test_scope_is_loaded_once_per_user_object(world, django_assert_max_num_queries):
    user, person = person_user(access.PRODUCT_OWNER)
    MembershipFactory(person=person, team=world["team"])
    items = [BacklogItemFactory(stream=world["mine"]) for _ in range(5)]
    access.may(user, access.CHANGE, items[0])
    with django_assert_max_num_queries(0):
        assert all(access.may(user, access.CHANGE, item) for item in items)


def test_unknown_action_is_a_programming_error(world):
    with pytest.raises(ValueError, match="unknown action"):
        access.may(UserFactory(), "approve", world["mine"])


def test_each_app_registers_the_rules_of_its_own_models_and_the_rest_is_for_administrators(world):
    """core.access knows no model: the streams and okrs apps register theirs when ready, a
    model no rule claims (a team) is for administrators, and a model cannot get two rules."""
    from okrs.rules import may_okr
    from streams.rules import may_readiness, may_stream_work

    assert access.rule_for("streams.backlogitem") is may_stream_work
    assert access.rule_for("streams.readinesscheck") is may_readiness
    assert access.rule_for("okrs.keyresult") is may_okr
    assert access.rule_for("teams.team") is None
    director, _ = person_user(access.PRODUCT_DIRECTOR)
    assert not access.may(director, access.CHANGE, Team) and access.may(director, access.VIEW, Team)
    with pytest.raises(ValueError, match="already has a rule"):
        access.register(["streams.backlogitem"], may_okr)


def test_a_refusal_for_lack_of_rights_becomes_a_403_and_any_other_is_left_to_the_caller():
    from django.core.exceptions import PermissionDenied

    from core.errors import PERMISSION_DENIED, DomainError, raise_if_denied

    with pytest.raises(PermissionDenied, match="Only the owners may"):
        raise_if_denied(DomainError("Only the owners may.", code=PERMISSION_DENIED))
    assert raise_if_denied(DomainError("The date is in the future.", field="at")) is None
