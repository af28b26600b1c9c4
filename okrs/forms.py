"""Forms of the OKR pages: shape and choices only; the services hold the rules."""

from django import forms
from django.utils import timezone

from .models import CheckIn, KeyResult, Objective


class PeriodForm(forms.Form):
    period = forms.CharField(
        required=False,
        max_length=7,
        help_text="A quarter like 2026-Q4 or a year like 2026.",
        widget=forms.TextInput(attrs={"size": 8, "placeholder": "2026-Q4"}),
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["date"].initial = timezone.localdate()


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


class KeyResultForm(forms.ModelForm):
    class Meta:
        model = KeyResult
        fields = ["title", "kind", "unit", "start_value", "target_value", "current_value", "weight", "order"]
