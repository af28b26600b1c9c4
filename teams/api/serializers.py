"""What the API shows of people, teams, memberships and disciplines."""

from rest_framework import serializers

from teams.models import Discipline, Membership, Person, Team


class DisciplineSerializer(serializers.ModelSerializer):
    class Meta:
        model = Discipline
        fields = ["id", "name", "slug"]


class PersonSerializer(serializers.ModelSerializer):
    disciplines = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")

    class Meta:
        model = Person
        fields = ["id", "name", "email", "title", "disciplines"]


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug", "type", "work_mode", "wip_limit", "description"]


class MembershipSerializer(serializers.ModelSerializer):
    team_slug = serializers.CharField(source="team.slug", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "person", "team", "team_slug", "role", "allocation_percent"]
