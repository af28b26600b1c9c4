"""Filters of backlog items, shared by the backlog page and the REST API (django-filter).

One `BacklogItemFilter` states what each filter means; the page shows a few of them as its
filter bar, the API accepts all of them as query parameters, and both reject bad values with
a message naming the parameter.
"""

import datetime as dt

from django import forms
from django.db.models import Q
import django_filters
from django_filters.rest_framework import BooleanFilter
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from streams.flow.periods import parse_period
from streams.models import BacklogItem, FlowType, ValueStream, WorkflowState
from teams.models import Team

# What the page's "Show" menu offers, and the workflow categories behind each choice.
ITEM_VIEWS = {
    "open": ("backlog", "active", "waiting"),
    "backlog": ("backlog",),
    "in_progress": ("active", "waiting"),
    "done": ("done",),
    "removed": ("removed",),
}
VIEW_CHOICES = [
    ("open", "Open (not finished)"),
    ("backlog", "Not started"),
    ("in_progress", "In progress"),
    ("done", "Done"),
    ("removed", "Removed"),
]


# Ids are positive 64-bit integers; a bound keeps absurd numbers from reaching the database.
ID_BOUNDS = {"min_value": 1, "max_value": 2**63 - 1}


def day_start(day: dt.date) -> dt.datetime:
    """The first instant of a UTC day: date filters compare datetimes, so indexes serve them."""
    return dt.datetime.combine(day, dt.time(), dt.UTC)


class PeriodField(forms.CharField):
    """A planning period ("2026-Q4" or "2026"), cleaned to a `Period`."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        return parse_period(value)


@extend_schema_field(OpenApiTypes.STR)
class PeriodFilter(django_filters.Filter):
    field_class = PeriodField


class DayRangeFilter(django_filters.DateFilter):
    """`field >= day` (`after`) or `field < day + 1` (`before`): whole UTC days, inclusive."""

    def __init__(self, *args, side: str, **kwargs):
        self.side = side
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        if self.side == "after":
            return qs.filter(**{f"{self.field_name}__gte": day_start(value)})
        if value == dt.date.max:
            return qs  # every instant is on or before the last day a date can hold
        return qs.filter(**{f"{self.field_name}__lt": day_start(value + dt.timedelta(days=1))})


def _day_range(field: str, what: str) -> tuple[DayRangeFilter, DayRangeFilter]:
    return (
        DayRangeFilter(field_name=field, side="after", label=f"{what} on or after (YYYY-MM-DD, UTC)"),
        DayRangeFilter(field_name=field, side="before", label=f"{what} on or before (YYYY-MM-DD, UTC)"),
    )


class BacklogItemFilter(django_filters.FilterSet):
    stream = django_filters.ModelChoiceFilter(
        queryset=ValueStream.objects.all(), to_field_name="slug", label="Value stream (slug)"
    )
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), to_field_name="slug", label="Team (slug)")
    flow_type = django_filters.ChoiceFilter(choices=FlowType.choices, label="Type", empty_label="Any type")
    state = django_filters.NumberFilter(field_name="state_id", label="Workflow state (id)", **ID_BOUNDS)
    category = django_filters.ChoiceFilter(
        field_name="state__category", choices=WorkflowState.Category.choices, label="Workflow category"
    )
    view = django_filters.ChoiceFilter(choices=VIEW_CHOICES, method="filter_view", label="Show", empty_label=None)
    proposed = BooleanFilter(method="filter_proposed", label="Proposed by operations (true or false)")
    q = django_filters.CharFilter(method="filter_q", label="Search", max_length=100)
    source = django_filters.CharFilter(label="Imported from (e.g. jira)", max_length=16)
    external_key = django_filters.CharFilter(label="Key in the source tool", max_length=100)
    parent = django_filters.NumberFilter(field_name="parent_id", label="Parent item (id)", **ID_BOUNDS)
    created_after, created_before = _day_range("created_at", "Created")
    started_after, started_before = _day_range("started_at", "Started")
    finished_after, finished_before = _day_range("finished_at", "Finished")
    finished_in = PeriodFilter(method="filter_finished_in", label="Finished in period (2026-Q4 or 2026)")

    class Meta:
        model = BacklogItem
        fields: list[str] = []

    def filter_view(self, queryset, name, value):
        return queryset.filter(state__category__in=ITEM_VIEWS[value]) if value else queryset

    def filter_proposed(self, queryset, name, value):
        return queryset.filter(proposed_by__isnull=False) if value else queryset

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(title__icontains=value) | Q(external_key__iexact=value)) if value else queryset

    def filter_finished_in(self, queryset, name, period):
        if period is None:
            return queryset
        return queryset.filter(finished_at__gte=day_start(period.start), finished_at__lt=day_start(period.end))


class BacklogPageFilter(BacklogItemFilter):
    """The backlog page's filter bar: the same filters, the few a product owner uses there."""

    proposed = django_filters.BooleanFilter(
        method="filter_proposed", label="Proposed by operations", widget=forms.CheckboxInput
    )

    class Meta(BacklogItemFilter.Meta):
        pass

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in list(self.filters):
            if name not in ("view", "flow_type", "proposed", "q"):
                del self.filters[name]
