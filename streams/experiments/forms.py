"""The form of an improvement experiment."""

import datetime as dt

from django import forms

from core.dates import EARLIEST
from streams.experiments.services import MIN_DAYS
from streams.models import FlowType, ImprovementExperiment


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
