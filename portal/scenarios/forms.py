"""The levers of a scenario, read from the query string (so a scenario is a link) and checked:
a WIP cap, items descoped, a readiness criterion added to a flow type, a team's capacity moved."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from streams.flow.releasable import SAMPLE_WEEKS
from streams.flow.scenarios import AddedCheck, Levers, TeamMove, finished_by_team, team_split
from streams.models import BacklogItem, FlowType, ValueStream
from teams.models import Team

LEVER_FIELDS = (
    "cap_stream",
    "cap",
    "descope",
    "check_team",
    "check_name",
    "check_flow_type",
    "move_team",
    "move_from",
    "move_to",
    "move_percent",
)
MAX_CAP = 100_000


class ScenarioForm(forms.Form):
    cap_stream = forms.ModelChoiceField(
        queryset=ValueStream.objects.none(), required=False, label="Cap the WIP of", empty_label="(no cap)"
    )
    cap = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_CAP, label="at most, items in progress", help_text="e.g. 10"
    )
    descope = forms.TypedMultipleChoiceField(
        coerce=int, required=False, label="Leave out (with their children)", widget=forms.CheckboxSelectMultiple
    )
    check_team = forms.ModelChoiceField(
        queryset=Team.objects.filter(readiness_criteria__isnull=False).distinct(),
        required=False,
        label="Add a readiness criterion owned by",
        empty_label="(none)",
    )
    check_name = forms.CharField(required=False, max_length=120, label="named", help_text="e.g. Legal review")
    check_flow_type = forms.ChoiceField(
        choices=[("", "(choose)"), *FlowType.choices], required=False, label="to every item of flow type"
    )
    move_team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, label="Move capacity of", empty_label="(no move)"
    )
    move_percent = forms.IntegerField(required=False, min_value=1, max_value=100, label="percent of it")
    move_from = forms.ModelChoiceField(queryset=ValueStream.objects.all(), required=False, label="from")
    move_to = forms.ModelChoiceField(queryset=ValueStream.objects.all(), required=False, label="to")

    def __init__(self, data, *, streams, candidates: list[BacklogItem], now: dt.datetime | None = None):
        super().__init__(data)
        self.now = now or timezone.now()
        self.fields["cap_stream"].queryset = ValueStream.objects.filter(pk__in=[s.pk for s in streams])
        if len(streams) == 1:
            self.fields["cap_stream"].initial = streams[0].pk
        self.fields["descope"].choices = [(item.pk, f"{item.key} {item.title}") for item in candidates]
        self.candidates = {item.pk: item for item in candidates}
        self.split: dict[int, float] = {}

    def _all_or_nothing(self, cleaned, names: tuple[str, ...], what: str) -> bool:
        given = [name for name in names if cleaned.get(name) not in (None, "")]
        if given and len(given) < len(names):
            for name in names:
                if name not in given:
                    self.add_error(name, f"Needed to {what}.")
            return False
        return bool(given)

    def clean(self):
        cleaned = super().clean()
        self._all_or_nothing(cleaned, ("cap_stream", "cap"), "cap the WIP")
        self._all_or_nothing(cleaned, ("check_team", "check_name", "check_flow_type"), "add a readiness criterion")
        if self._all_or_nothing(cleaned, ("move_team", "move_percent", "move_from", "move_to"), "move capacity"):
            self._check_move(cleaned)
        return cleaned

    def _check_move(self, cleaned) -> None:
        team, source, target, percent = (cleaned[k] for k in ("move_team", "move_from", "move_to", "move_percent"))
        if source == target:
            self.add_error("move_to", "Choose another stream than the one the capacity leaves.")
            return
        if not team.streams.filter(pk=target.pk).exists():
            self.add_error(
                "move_to", f"{team.name} does not serve {target.name}: add the team to the stream first, if it should."
            )
            return
        midnight = dt.datetime.combine(self.now.astimezone(dt.UTC).date(), dt.time(), dt.UTC)
        by_team = finished_by_team({team.pk}, midnight - dt.timedelta(weeks=SAMPLE_WEEKS), midnight)
        self.split = team_split(team.pk, by_team)
        share = self.split.get(source.pk, 0.0)
        if not share:
            self.add_error(
                "move_from",
                f"{team.name} finished nothing in {source.name} in the last {SAMPLE_WEEKS} weeks: "
                "it has no capacity there to move.",
            )
        elif percent / 100 > share + 1e-9:
            self.add_error(
                "move_percent",
                f"{team.name} spent {share:.0%} of its capacity in {source.name} (by the items it finished in the last "
                f"{SAMPLE_WEEKS} weeks): at most {int(share * 100 + 1e-9)}% can move from there.",
            )

    def levers(self) -> Levers:
        """The levers of a valid form (empty ones left out)."""
        data = self.cleaned_data
        return Levers(
            wip_caps={data["cap_stream"].pk: data["cap"]} if data.get("cap_stream") and data.get("cap") else {},
            descoped=frozenset(data.get("descope") or ()),
            added_checks=(
                (AddedCheck(data["check_team"].pk, data["check_name"].strip(), data["check_flow_type"]),)
                if data.get("check_team") and data.get("check_name")
                else ()
            ),
            moves=(
                (TeamMove(data["move_team"].pk, data["move_from"].pk, data["move_to"].pk, data["move_percent"] / 100),)
                if data.get("move_team")
                else ()
            ),
        )

    def described(self) -> list[str]:
        """The levers in words, as a saved scenario keeps them."""
        data, words = self.cleaned_data, []
        if data.get("cap_stream") and data.get("cap"):
            words.append(f"Cap {data['cap_stream'].name}'s work in progress at {data['cap']} items.")
        for pk in data.get("descope") or ():
            item = self.candidates[pk]
            children = item.children.count()
            words.append(
                f"Descope {item.key} “{item.title}”"
                + (f" and its {children} child item{'s' if children != 1 else ''}." if children else ".")
            )
        if data.get("check_team") and data.get("check_name"):
            words.append(
                f"Add the readiness criterion “{data['check_name'].strip()}”, signed off by {data['check_team'].name}, "
                f"to every {FlowType(data['check_flow_type']).label.lower()} forecast."
            )
        if data.get("move_team"):
            team = data["move_team"]
            allocation = sum(m.allocation_percent for m in team.memberships.all()) / 100
            people = allocation * data["move_percent"] / 100
            words.append(
                f"Move {data['move_percent']}% of {team.name}'s capacity (about {people:.1f} "
                f"{'person' if round(people, 1) == 1 else 'people'}) from {data['move_from'].name} to "
                f"{data['move_to'].name}."
            )
        return words

    def query(self) -> dict:
        """The levers as the query string carries them (for links and saving)."""
        data, query = self.cleaned_data, {}
        for name in LEVER_FIELDS:
            value = data.get(name)
            if value in (None, "", []):
                continue
            query[name] = [str(v) for v in value] if name == "descope" else str(getattr(value, "pk", value))
        return query


class ScenarioSaveForm(forms.Form):
    name = forms.CharField(max_length=160, label="Name", help_text="What it asks, e.g. “Cap WIP at 12 before Q1”.")
