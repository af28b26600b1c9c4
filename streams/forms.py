"""Forms of the streams pages: they check shape only and hand plain values to selectors."""

import datetime as dt

from django import forms
from django.utils import timezone

from teams.models import Team

from .flow import DEFAULT_WEEKS, Window
from .forecast import MAX_DAYS
from .models import FlowType, ReadinessCheck, ReadinessCriterion, ValueStream

EARLIEST = dt.date(2000, 1, 1)  # before any history a portal could hold; keeps date arithmetic in range
WEEK_CHOICES = [(4, "4 weeks"), (8, "8 weeks"), (12, "12 weeks"), (26, "26 weeks"), (52, "52 weeks")]


class FlowWindowForm(forms.Form):
    """The window a flow page measures: the last N weeks, or a from/to range of days."""

    weeks = forms.TypedChoiceField(choices=WEEK_CHOICES, coerce=int, required=False, initial=DEFAULT_WEEKS)
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        today = timezone.now().astimezone(dt.UTC).date()
        if end and end > today:
            self.add_error("end", "The window cannot end in the future: there is no history there yet.")
        if start and start > (end or today):
            self.add_error("start", f"The window must start on or before its last day ({end or today}).")
        if start and (end or today) - start > dt.timedelta(days=3 * 366):
            self.add_error("start", "Choose a window of at most three years.")
        for name in ("start", "end"):
            if cleaned.get(name) and cleaned[name] < EARLIEST:
                self.add_error(name, f"Choose a date from {EARLIEST} on.")
        return cleaned

    def window(self, *, as_of: dt.datetime | None = None) -> Window:
        """The chosen window; the default 12 weeks when the form is empty or invalid.

        A window that ends in the past is read as of its end, so WIP and aging describe then.
        """
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        start, end = data.get("start"), data.get("end")
        if as_of is None and end:
            end_of_window = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
            if end_of_window < timezone.now():
                as_of = end_of_window
        if start:
            return Window.build(start=start, end=end, as_of=as_of)
        weeks = data.get("weeks") or DEFAULT_WEEKS
        window_end = end or (as_of or timezone.now()).astimezone(dt.UTC).date()
        return Window.build(start=window_end - dt.timedelta(days=7 * weeks - 1), end=window_end, as_of=as_of)


class ForecastForm(forms.Form):
    """The two Monte Carlo questions: how many by a date, and when N items will be done."""

    by_date = forms.DateField(label="How many items by", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    items = forms.IntegerField(label="When will this many be done", required=False, min_value=1, max_value=100_000)

    def clean_by_date(self):
        value = self.cleaned_data.get("by_date")
        today = timezone.now().astimezone(dt.UTC).date()
        if value and value <= today:
            raise forms.ValidationError("Choose a date after today.")
        if value and (value - today).days > MAX_DAYS:
            raise forms.ValidationError("Choose a date within three years: further out, a forecast says nothing.")
        return value


class SignOffForm(forms.Form):
    """A decision on a readiness check: met, waived (with a reason), or not applicable."""

    status = forms.ChoiceField(
        label="Decision",
        choices=[
            (s.value, s.label)
            for s in (ReadinessCheck.Status.MET, ReadinessCheck.Status.WAIVED, ReadinessCheck.Status.NOT_APPLICABLE)
        ],
    )
    reason = forms.CharField(
        label="Reason", required=False, max_length=1000, help_text="Required when waived: why it may ship without it."
    )


class ProposalForm(forms.Form):
    """An improvement idea a business-operations team proposes into a stream's backlog."""

    stream = forms.ModelChoiceField(queryset=ValueStream.objects.order_by("name"), label="Value stream")
    title = forms.CharField(max_length=300)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    flow_type = forms.ChoiceField(choices=FlowType.choices, initial=FlowType.FEATURE, label="Type")
    customer_facing = forms.BooleanField(required=False, label="Customer-facing")


class ReadinessCriterionForm(forms.ModelForm):
    """A readiness criterion as its owning team manages it."""

    class Meta:
        model = ReadinessCriterion
        fields = ["name", "description", "owner_team", "all_streams", "streams", "flow_types", "active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3}), "streams": forms.SelectMultiple(attrs={"size": 8})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        teams = Team.objects.filter(type=Team.Type.BUSINESS_OPERATIONS).order_by("name")
        if not user.is_superuser:
            teams = teams.filter(memberships__person__user=user)
        self.fields["owner_team"].queryset = teams
        self.fields["streams"].queryset = ValueStream.objects.order_by("name")
        self.fields["streams"].required = False

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("all_streams") and not cleaned.get("streams"):
            self.add_error("streams", "Choose the value streams it applies to, or tick “All streams”.")
        return cleaned
