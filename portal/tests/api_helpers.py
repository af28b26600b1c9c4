"""What the API tests share: a client acting as a user, and a member of a team with roles."""

from rest_framework.test import APIClient

from teams.tests.factories import MembershipFactory, PersonFactory, UserFactory


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def member_of(team, *roles, username):
    """A new user with `roles` whose person is a member of `team`."""
    person = PersonFactory(user=UserFactory(username=username, roles=list(roles)))
    MembershipFactory(person=person, team=team)
    return person.user
