"""Forms of the import pages: the upload and the mapping step."""

from django import forms

from core.uploads import upload_refusal
from streams.integrations.toolchain import Mapping
from streams.models import FlowType, WorkflowState


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
            state = self.state_name(data, i, status)
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

    @staticmethod
    def state_name(data: dict, i: int, status: str) -> str:
        """The state the i-th status lands in: the name typed, else the status's own (cut to 60)."""
        return (data.get(f"status_{i}_state") or "").strip() or status[:60]

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
                status: (self.state_name(data, i, status), data[f"status_{i}_category"])
                for i, status in enumerate(self.statuses)
            },
            types={name: data[f"type_{i}"] for i, name in enumerate(self.types)},
            labels={name: data.get(f"label_{i}") or "" for i, name in enumerate(self.labels)},
            wip_limits={
                self.state_name(data, i, status): data[f"status_{i}_wip"]
                for i, status in enumerate(self.statuses)
                if data.get(f"status_{i}_wip") is not None
            },
        )
