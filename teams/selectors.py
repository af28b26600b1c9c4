"""Reads of people, teams, memberships and disciplines for the API."""

from __future__ import annotations

from django.db.models import QuerySet

from teams.models import Discipline, Membership, Person, Team


def discipline_list() -> QuerySet[Discipline]:
    return Discipline.objects.all()


def person_list() -> QuerySet[Person]:
    """People with their disciplines."""
    return Person.objects.prefetch_related("disciplines")


def team_list() -> QuerySet[Team]:
    return Team.objects.all()


def membership_list() -> QuerySet[Membership]:
    """Memberships with their team."""
    return Membership.objects.select_related("team")
