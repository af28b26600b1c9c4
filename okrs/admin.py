"""Admin data entry for objectives, key results and check-ins."""

import copy

from django import forms
from django.contrib import admin
from django.db import transaction
from django.forms.models import construct_instance

from core import access
from core.admin import PortalModelAdmin, PortalTabularInline, require
from core.errors import DomainError

from .forms import KEY_RESULT_FIELDS
from .models import CheckIn, KeyResult, Objective
from .services import key_result_save


class _DryRunDone(Exception):
    """Unwinds the savepoint of a dry run that succeeded."""


class KeyResultAdminForm(forms.ModelForm):
    """Dry-runs `key_result_save` (the measure's scope, its start read from the data, the
    direction of its target) so the service's refusals are form errors before anything is saved."""

    class Meta:
        model = KeyResult
        fields = ["objective", *KEY_RESULT_FIELDS, "items"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            with transaction.atomic():
                # clean() runs before the form's values reach the instance: apply them to a copy.
                key_result_save(key_result=construct_instance(self, copy.copy(self.instance)))
                raise _DryRunDone
        except _DryRunDone:
            pass
        except DomainError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return cleaned


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
    form = KeyResultAdminForm

    def save_model(self, request, obj, form, change):
        require(request, access.CHANGE if change else access.ADD, obj)
        key_result_save(key_result=obj)  # the pages' service: measures read, rules kept

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
