"""Forms of readiness: signing off a check, proposing an improvement, editing a criterion."""

from django import forms

from streams.models import FlowType, ReadinessCheck, ReadinessCriterion, ValueStream
from teams.models import Team


class SignOffForm(forms.Form):
    """A decision on a readiness check: met, waived (with a reason), or not applicable."""

    # Nothing is preselected: a sign-off is a decision, not one stray click.
    status = forms.ChoiceField(
        label="Decision",
        choices=[("", "Choose a decision…")]
        + [
            (s.value, s.label)
            for s in (ReadinessCheck.Status.MET, ReadinessCheck.Status.WAIVED, ReadinessCheck.Status.NOT_APPLICABLE)
        ],
        error_messages={"required": "Choose a decision: met, waived (with a reason) or not applicable."},
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
