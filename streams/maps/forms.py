"""Forms of value stream maps and their process blocks."""

from django import forms

from streams.models import ProcessBlock, ValueStream, ValueStreamMap, WorkflowState
from teams.models import Team


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
