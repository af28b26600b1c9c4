"""/api/v1/ resources of people, teams, memberships and disciplines: read for every logged-in user."""

import django_filters

from core.api.viewsets import ReadViewSet, list_schema
from teams.api.serializers import DisciplineSerializer, MembershipSerializer, PersonSerializer, TeamSerializer
from teams.models import Membership
from teams.selectors import discipline_list, membership_list, person_list, team_list


@list_schema
class DisciplineViewSet(ReadViewSet):
    queryset = discipline_list()
    serializer_class = DisciplineSerializer
    filterset_fields = ["slug"]


@list_schema
class PersonViewSet(ReadViewSet):
    queryset = person_list()
    serializer_class = PersonSerializer
    filterset_fields = ["email"]


@list_schema
class TeamViewSet(ReadViewSet):
    queryset = team_list()
    serializer_class = TeamSerializer
    filterset_fields = ["slug", "type", "work_mode"]


class MembershipFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__slug", label="Team (slug)", max_length=120)

    class Meta:
        model = Membership
        fields = ["person", "role"]


@list_schema
class MembershipViewSet(ReadViewSet):
    queryset = membership_list()
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilter
