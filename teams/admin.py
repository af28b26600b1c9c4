"""Admin data entry for disciplines, people, teams and memberships."""

from django.contrib import admin
from django.db.models import Count

from core.admin import PortalModelAdmin, PortalTabularInline

from .models import Discipline, Membership, Person, Team


@admin.register(Discipline)
class DisciplineAdmin(PortalModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class PersonMembershipInline(PortalTabularInline):
    model = Membership
    fields = ["team", "role", "allocation_percent"]
    autocomplete_fields = ["team"]


class TeamMembershipInline(PortalTabularInline):
    model = Membership
    fields = ["person", "role", "allocation_percent"]
    autocomplete_fields = ["person"]


@admin.register(Person)
class PersonAdmin(PortalModelAdmin):
    list_display = ["name", "email", "title", "user"]
    list_filter = ["disciplines"]
    search_fields = ["name", "email", "title"]
    list_select_related = ["user"]
    autocomplete_fields = ["user", "disciplines"]
    inlines = [PersonMembershipInline]


@admin.register(Team)
class TeamAdmin(PortalModelAdmin):
    list_display = ["name", "type", "work_mode", "wip_limit", "member_count"]
    list_filter = ["type", "work_mode"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TeamMembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, team: Team) -> int:
        return team.member_count


@admin.register(Membership)
class MembershipAdmin(PortalModelAdmin):
    list_display = ["person", "team", "role", "allocation_percent"]
    list_filter = ["role", "team__type"]
    search_fields = ["person__name", "person__email", "team__name"]
    list_select_related = ["person", "team"]
    autocomplete_fields = ["person", "team"]
