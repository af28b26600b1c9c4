"""Forms of the streams pages: they check shape only and hand plain values to selectors."""

import datetime as dt

from django import forms
from django.utils import timezone

from core.dates import EARLIEST
from core.uploads import upload_refusal
from streams.experiments.services import MIN_DAYS
from streams.flow.engine import DEFAULT_WEEKS, Window, default_days
from streams.flow.forecast import MAX_DAYS
from streams.integrations.toolchain import Mapping
from teams.models import Team

from .models import (
    FlowType,
    ImprovementExperiment,
    ProcessBlock,
    ReadinessCheck,
    ReadinessCriterion,
    ValueStream,
    ValueStreamMap,
    WorkflowState,
)

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
        """The chosen window; the default window (`streams.flow.engine.default_days`) when the form is
        empty or invalid; the last N weeks are complete days as the default's are.

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
        if end:
            return Window.build(start=end - dt.timedelta(days=7 * weeks - 1), end=end, as_of=as_of)
        first, last = default_days(as_of or timezone.now(), weeks)
        return Window.build(start=first, end=last, as_of=as_of)


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


# --- Imports ----------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    """Upload an export: the tool it comes from, the stream it goes to, the file(s)."""

    source = forms.ChoiceField(
        choices=[
            ("jira", "Jira: search export with changelog (JSON)"),
            ("github", "GitHub: issues with timelines (JSON)"),
            ("csv", "Generic CSV: states, items and transitions"),
        ]
    )
    stream = forms.SlugField(
        max_length=120,
        help_text="An existing stream's slug, or a new one (administrators only) to create it.",
    )
    stream_name = forms.CharField(max_length=200, required=False, help_text="Name of a stream the import creates.")
    export = forms.FileField(required=False, help_text="The Jira or GitHub JSON export.")
    states = forms.FileField(required=False, help_text="states.csv: name,category,order")
    items = forms.FileField(required=False, help_text="items.csv: key,title,type,created_at[,parent_key,team]")
    transitions = forms.FileField(required=False, help_text="transitions.csv: key,to_state,at")

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self):
        data = super().clean()
        roles = ("states", "items", "transitions") if data.get("source") == "csv" else ("export",)
        for role in roles:
            if refusal := upload_refusal(self.request, role):
                self.add_error(role, refusal)  # dropped while uploading: say why, not "choose it"
            elif not data.get(role):
                self.add_error(role, "Choose this file." if role != "export" else "Choose the export file.")
        return data

    def uploads(self) -> dict:
        return {role: self.cleaned_data.get(role) for role in ("export", "states", "items", "transitions")}


class ImportMappingForm(forms.Form):
    """How each status, issue type and label found in the file lands in the stream."""

    def __init__(self, *args, found: dict, mapping: dict, **kwargs):
        super().__init__(*args, **kwargs)
        categories = [("", "— choose —"), *WorkflowState.Category.choices]
        self.statuses = list(found.get("statuses", {}))
        self.types = list(found.get("types", {}))
        self.labels = list(found.get("labels", {}))
        for i, status in enumerate(self.statuses):
            state, category = mapping.get("statuses", {}).get(status, [status[:60], ""])
            self.fields[f"status_{i}_state"] = forms.CharField(
                max_length=60, initial=state, required=False, label=f"State for {status}"
            )
            self.fields[f"status_{i}_category"] = forms.ChoiceField(
                choices=categories, initial=category, required=False, label=f"Category of {status}"
            )
            self.fields[f"status_{i}_wip"] = forms.IntegerField(
                min_value=1,
                max_value=100_000,
                required=False,
                initial=mapping.get("wip_limits", {}).get(state),
                label=f"WIP limit for {status}",
                widget=forms.NumberInput(attrs={"class": "number-input"}),
            )
        for i, name in enumerate(self.types):
            self.fields[f"type_{i}"] = forms.ChoiceField(
                choices=FlowType.choices, initial=mapping.get("types", {}).get(name, FlowType.FEATURE), label=name
            )
        for i, name in enumerate(self.labels):
            self.fields[f"label_{i}"] = forms.ChoiceField(
                choices=[("", "— says nothing about the type —"), *FlowType.choices],
                initial=mapping.get("labels", {}).get(name, ""),
                required=False,
                label=name,
            )
        self.counts = found
        for field in self.fields.values():  # the table shows no <label>: name each control for screen readers
            field.widget.attrs["aria-label"] = field.label

    def clean(self):
        data = super().clean()
        limits: dict[str, tuple[str, int]] = {}
        for i, status in enumerate(self.statuses):
            if not data.get(f"status_{i}_category") and f"status_{i}_category" not in self.errors:
                # required=False above so that this message, naming the status, is the one shown
                self.add_error(f"status_{i}_category", f"Choose what {status!r} means for flow.")
            limit = data.get(f"status_{i}_wip")
            if limit is None:
                continue
            category = data.get(f"status_{i}_category")
            state = (data.get(f"status_{i}_state") or "").strip() or status[:60]
            if category and category not in WorkflowState.IN_PROGRESS:
                self.add_error(
                    f"status_{i}_wip",
                    f"Only an active or waiting state takes a WIP limit; {state!r} is {category}.",
                )
            elif state in limits and limits[state][1] != limit:
                self.add_error(
                    f"status_{i}_wip",
                    f"{limits[state][0]!r} and {status!r} both land in {state!r} with different WIP limits "
                    f"({limits[state][1]} and {limit}): give the state one.",
                )
            else:
                limits[state] = (status, limit)
        return data

    def rows(self):
        """(name, count, state field, category field, WIP limit field) per status, for the template."""
        counts = self.counts.get("statuses", {})
        return [
            (
                status,
                counts.get(status, 0),
                self[f"status_{i}_state"],
                self[f"status_{i}_category"],
                self[f"status_{i}_wip"],
            )
            for i, status in enumerate(self.statuses)
        ]

    def type_rows(self):
        counts = self.counts.get("types", {})
        return [(name, counts.get(name, 0), self[f"type_{i}"]) for i, name in enumerate(self.types)]

    def label_rows(self):
        counts = self.counts.get("labels", {})
        return [(name, counts.get(name, 0), self[f"label_{i}"]) for i, name in enumerate(self.labels)]

    def mapping(self):
        data = self.cleaned_data
        return Mapping(
            statuses={
                status: (data[f"status_{i}_state"].strip() or status[:60], data[f"status_{i}_category"])
                for i, status in enumerate(self.statuses)
            },
            types={name: data[f"type_{i}"] for i, name in enumerate(self.types)},
            labels={name: data.get(f"label_{i}") or "" for i, name in enumerate(self.labels)},
            wip_limits={
                (data[f"status_{i}_state"].strip() or status[:60]): data[f"status_{i}_wip"]
                for i, status in enumerate(self.statuses)
                if data.get(f"status_{i}_wip") is not None
            },
        )


# --- Value stream maps and experiments ---------------------------------------------------------


class ValueStreamMapForm(forms.ModelForm):
    class Meta:
        model = ValueStreamMap
        fields = ["name", "kind", "as_of", "notes"]
        widgets = {"as_of": forms.DateInput(attrs={"type": "date"}), "notes": forms.Textarea(attrs={"rows": 2})}
        labels = {"as_of": "As of"}


class ProcessBlockForm(forms.ModelForm):
    """One activity of a map; its states are offered from the map's stream only."""

    class Meta:
        model = ProcessBlock
        fields = [
            "activity",
            "team",
            "people",
            "process_time_hours",
            "lead_time_hours",
            "queue_before",
            "percent_complete_accurate",
            "states",
            "wastes",
            "barriers",
        ]
        labels = {
            "process_time_hours": "Process time (hours)",
            "lead_time_hours": "Lead time (hours)",
            "queue_before": "Queue before it",
            "percent_complete_accurate": "%C&A",
            "states": "Workflow states",
            "wastes": "Wastes (DOWNTIME)",
        }
        widgets = {"barriers": forms.Textarea(attrs={"rows": 2}), "states": forms.CheckboxSelectMultiple}

    def __init__(self, *args, stream: ValueStream, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["states"].queryset = stream.states.exclude(category=WorkflowState.Category.REMOVED).order_by(
            "order", "pk"
        )
        self.fields["team"].queryset = Team.objects.order_by("name").only("pk", "name")
        self.fields["wastes"].widget = forms.CheckboxSelectMultiple(choices=self.fields["wastes"].choices)
        self.fields["lead_time_hours"].help_text = "From work arriving (its queue included) to leaving the activity."
        self.fields["process_time_hours"].help_text = "Hands-on time, at most the lead time."

    def clean(self):
        cleaned = super().clean()
        process, lead = cleaned.get("process_time_hours"), cleaned.get("lead_time_hours")
        if process is not None and lead is not None and process > lead:
            self.add_error(
                "process_time_hours", f"Process time ({process} h) cannot be longer than the lead time ({lead} h)."
            )
        return cleaned


class ExperimentForm(forms.ModelForm):
    """A hypothesis to test: the change, the metric it should move, by how much, and when."""

    class Meta:
        model = ImprovementExperiment
        fields = [
            "title",
            "hypothesis",
            "change",
            "target_metric",
            "flow_type",
            "expected_direction",
            "expected_size_percent",
            "start_date",
            "review_date",
        ]
        labels = {"expected_size_percent": "Expected size (%)", "flow_type": "Items of type"}
        widgets = {
            "hypothesis": forms.Textarea(attrs={"rows": 2}),
            "change": forms.Textarea(attrs={"rows": 2}),
            "start_date": forms.DateInput(attrs={"type": "date"}),
            "review_date": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["flow_type"].choices = [("", "All types"), *FlowType.choices]
        self.fields["start_date"].help_text = "The day the change takes effect; the weeks before it are the baseline."
        self.fields[
            "review_date"
        ].help_text = f"At least {MIN_DAYS} days after the start; the verdict is computed on this day."

    def clean(self):
        cleaned = super().clean()
        start, review = cleaned.get("start_date"), cleaned.get("review_date")
        size = cleaned.get("expected_size_percent")
        if size is not None and size < 1:
            self.add_error("expected_size_percent", "Say how large a change you expect, from 1% to 100%.")
        if start and start < EARLIEST:
            self.add_error("start_date", f"Choose a date from {EARLIEST} on.")
        if start and review and (review - start).days < MIN_DAYS:
            self.add_error(
                "review_date",
                f"Review at least {MIN_DAYS} days after the start ({start + dt.timedelta(days=MIN_DAYS)} or later): "
                "a shorter period has too few finished items to judge.",
            )
        return cleaned
