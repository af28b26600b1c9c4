"""Admin data entry for objectives, key results and check-ins."""

from django.contrib import admin

from core.admin import PortalModelAdmin, PortalTabularInline

from .models import CheckIn, KeyResult, Objective


class KeyResultInline(PortalTabularInline):
    model = KeyResult
    fields = ["order", "title", "kind", "unit", "start_value", "target_value", "current_value", "weight"]
    show_change_link = True


class CheckInInline(PortalTabularInline):
    model = CheckIn
    fields = ["date", "value", "confidence", "note", "author"]
    autocomplete_fields = ["author"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


@admin.register(Objective)
class ObjectiveAdmin(PortalModelAdmin):
    list_display = ["title", "level", "period", "owner", "stream", "team", "parent"]
    list_filter = ["level", "period", "stream"]
    search_fields = ["title", "owner__name", "period"]
    list_select_related = ["owner", "stream", "team", "parent"]
    autocomplete_fields = ["owner", "parent", "stream", "team"]
    inlines = [KeyResultInline]


@admin.register(KeyResult)
class KeyResultAdmin(PortalModelAdmin):
    list_display = [
        "title",
        "objective",
        "kind",
        "start_value",
        "target_value",
        "current_value",
        "progress_percent",
        "weight",
    ]
    list_filter = ["kind", "objective__level", "objective__period"]
    search_fields = ["title", "objective__title"]
    list_select_related = ["objective"]
    autocomplete_fields = ["objective", "items"]
    inlines = [CheckInInline]

    @admin.display(description="progress")
    def progress_percent(self, key_result: KeyResult) -> str:
        return f"{key_result.progress:.0%}"


@admin.register(CheckIn)
class CheckInAdmin(PortalModelAdmin):
    list_display = ["key_result", "date", "value", "confidence", "author"]
    list_filter = ["date", "key_result__objective__period"]
    search_fields = ["key_result__title", "note"]
    list_select_related = ["key_result", "author"]
    autocomplete_fields = ["key_result", "author"]

    def get_changeform_initial_data(self, request):
        # Whoever enters a check-in is usually its author.
        return {"author": request.user.pk, **super().get_changeform_initial_data(request)}
