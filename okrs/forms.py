"""Forms of the OKR pages: shape and choices only; the services hold the rules."""

from html import escape

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.safestring import mark_safe

from streams.flow.periods import Period
from streams.models import ValueStream
from teams.models import Person, Team

from .models import CheckIn, KeyResult, Objective
from .selectors import TreeFilter


class PeriodForm(forms.Form):
    period = forms.CharField(
        required=False,
        max_length=7,
        help_text="A quarter like 2026-Q4 or a year like 2026.",
        widget=forms.TextInput(attrs={"size": 8, "placeholder": "2026-Q4"}),
    )


def _attributes(attrs: dict) -> str:
    """Attributes as Django's `widgets/attrs.html` writes them: True as the name alone, False left out."""
    return "".join(
        f" {name}" if value is True else f' {name}="{escape(str(value))}"'
        for name, value in attrs.items()
        if value is not False
    )


class ListSelect(forms.Select):
    """Django's Select with its options written in Python, the same HTML: the OKR page's filters
    list every owner and stream (hundreds at scale), one template include per option (20 ms)."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        html = [f'<select name="{escape(widget["name"])}"{_attributes(widget["attrs"])}>']
        for group_name, options, _ in widget["optgroups"]:
            if group_name:
                html.append(f'\n  <optgroup label="{escape(str(group_name))}">')
            html += (
                f'\n  <option value="{escape(str(option["value"]))}"{_attributes(option["attrs"])}>'
                f"{escape(str(option['label']))}</option>\n"
                for option in options
            )
            if group_name:
                html.append("\n  </optgroup>")
        html.append("\n</select>")
        return mark_safe("".join(html))


class TreeFilterForm(forms.Form):
    """The OKR page's filters; the choices are the people, streams and teams that have objectives
    or key results in the period (so the lists stay short at any scale)."""

    owner = forms.ModelChoiceField(
        queryset=Person.objects.none(), required=False, empty_label="Anyone", widget=ListSelect
    )
    stream = forms.ModelChoiceField(
        queryset=ValueStream.objects.none(), required=False, empty_label="Every stream", widget=ListSelect
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="Every team", widget=ListSelect
    )
    attention = forms.BooleanField(
        required=False, label="Needs attention", help_text="A key result stale or of low confidence."
    )

    def __init__(self, data, *, period: Period):
        super().__init__(data)
        labels = {period.label, str(period.start.year)}
        in_period = Objective.objects.filter(period__in=labels)
        # Two id lists, not joins and DISTINCT: 6 ms instead of 16 at scale.
        key_results = KeyResult.objects.filter(objective__in=in_period)
        owners = Q(pk__in=in_period.values("owner_id")) | Q(pk__in=key_results.values("owner_id"))
        self.fields["owner"].queryset = Person.objects.filter(owners).order_by("name", "pk")
        self.fields["stream"].queryset = ValueStream.objects.order_by("name")
        self.fields["team"].queryset = Team.objects.filter(objectives__in=in_period).distinct().order_by("name")

    def tree_filter(self) -> TreeFilter:
        """The filter asked for; an invalid field (its error shown) filters nothing."""
        data = self.cleaned_data if self.is_valid() else {}
        pk = lambda name: data[name].pk if data.get(name) else None  # noqa: E731
        return TreeFilter(
            owner_id=pk("owner"), stream_id=pk("stream"), team_id=pk("team"), attention=bool(data.get("attention"))
        )


class CheckInForm(forms.ModelForm):
    class Meta:
        model = CheckIn
        fields = ["value", "confidence", "date", "note"]
        widgets = {
            "date": forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
            "confidence": forms.NumberInput(attrs={"min": 0, "max": 1, "step": "0.05"}),
            "note": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, measured: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["date"].initial = timezone.localdate()
        if measured:  # the portal measures the value: a person gives their confidence and a note
            del self.fields["value"]


class ObjectiveForm(forms.ModelForm):
    class Meta:
        model = Objective
        fields = ["title", "description", "level", "period", "owner", "parent", "stream", "team"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        parents = Objective.objects.exclude(level=Objective.Level.TEAM).order_by("-period", "level", "title")
        if self.instance.pk:
            parents = parents.exclude(pk=self.instance.pk)
        self.fields["parent"].queryset = parents
        self.fields["owner"].queryset = self.fields["owner"].queryset.order_by("name")


# What a key result's form edits (its page and the admin, which adds its objective and items).
KEY_RESULT_FIELDS = [
    "title",
    "owner",
    "kind",
    "source",
    "measure",
    "measure_stream",
    "measure_team",
    "measure_flow_type",
    "measure_criterion",
    "measure_weeks",
    "unit",
    "start_value",
    "target_value",
    "current_value",
    "weight",
    "order",
]


class KeyResultForm(forms.ModelForm):
    class Meta:
        model = KeyResult
        fields = KEY_RESULT_FIELDS
        help_texts = {
            "source": "Measured by the portal: its start is the measure at the period's start, and a daily "
            "job records the figure; check-ins then give confidence and a note.",
            "start_value": "Typed key results only: a measured one starts at the measure on the period's first day.",
            "current_value": "Typed key results only: a measured one follows the measure.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A form that names no source or window (an older page, a script) keeps the defaults; a
        # measured key result's start and current values are the portal's, so none is asked for.
        for name in ("source", "measure_weeks", "start_value", "current_value"):
            self.fields[name].required = False

    def clean_source(self):
        return self.cleaned_data.get("source") or KeyResult.Source.TYPED

    def clean_measure_weeks(self):
        return self.cleaned_data.get("measure_weeks") or 12

    def clean(self):
        cleaned = super().clean()
        for name in ("start_value", "current_value"):
            if cleaned.get(name) is None:
                if cleaned.get("source") != KeyResult.Source.MEASURED:
                    self.add_error(name, "Give a value: a key result typed in check-ins starts from it.")
                else:
                    cleaned[name] = getattr(self.instance, name)  # the measure will set it
        return cleaned
