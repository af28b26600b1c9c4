"""What the API shows of streams and their work, and what it accepts for the writes it offers.

Related rows appear as their id (and, where people look them up by it, their slug), so a
list's JSON and its CSV carry the same flat columns."""

from rest_framework import serializers

from core.api.fields import AwareDateTimeField
from streams.models import (
    BacklogItem,
    BlockedPeriod,
    Connection,
    Dependency,
    Deployment,
    DeploymentItem,
    FlowType,
    ImprovementExperiment,
    Incident,
    LeadershipAssignment,
    ProcessBlock,
    ReadinessCheck,
    ReadinessCriterion,
    StateTransition,
    SyncRun,
    TargetMix,
    ValueStream,
    ValueStreamMap,
    Waste,
    WorkflowState,
)
from teams.models import Team


class ValueStreamSerializer(serializers.ModelSerializer):
    teams = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    required_disciplines = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")

    class Meta:
        model = ValueStream
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "customer",
            "industry",
            "status",
            "revenue",
            "cost",
            "pnl_period",
            "created_at",
            "teams",
            "required_disciplines",
        ]


class TargetMixSerializer(serializers.ModelSerializer):
    class Meta:
        model = TargetMix
        fields = ["id", "stream", "period", "flow_type", "percent"]


class LeadershipAssignmentSerializer(serializers.ModelSerializer):
    person_name = serializers.CharField(source="person.name", read_only=True)
    stream_slug = serializers.CharField(source="stream.slug", read_only=True)

    class Meta:
        model = LeadershipAssignment
        fields = [
            "id",
            "person",
            "person_name",
            "stream",
            "stream_slug",
            "role",
            "kind",
            "time_share_percent",
            "digital_experience_years",
            "owns_pnl",
            "induction_completed",
            "mentor",
            "strengths",
            "weaknesses",
            "start_date",
            "review_date",
            "end_date",
        ]


class WorkflowStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkflowState
        fields = ["id", "stream", "name", "category", "order", "wip_limit"]


class BacklogItemSerializer(serializers.ModelSerializer):
    """An item as reporting tools read it; `started_at`/`finished_at` derive from its history."""

    key = serializers.CharField(source="item_key", read_only=True, help_text="The source tool's key, or #id.")
    stream_slug = serializers.CharField(source="stream.slug", read_only=True)
    team_slug = serializers.CharField(source="team.slug", read_only=True, allow_null=True)
    state_name = serializers.CharField(source="state.name", read_only=True)
    category = serializers.CharField(source="state.category", read_only=True)

    class Meta:
        model = BacklogItem
        fields = [
            "id",
            "key",
            "title",
            "description",
            "flow_type",
            "stream",
            "stream_slug",
            "team",
            "team_slug",
            "parent",
            "state",
            "state_name",
            "category",
            "size",
            "rank",
            "created_at",
            "started_at",
            "finished_at",
            "history_cut_short",
            "updated_at",
            "source",
            "external_key",
            "target_date",
            "customer_facing",
            "proposed_by",
        ]
        read_only_fields = fields


TOOL_FIELDS = ("source", "external_key")


def refuse_tool_fields(data) -> None:
    """A tool's source and key are set by imports, connectors and webhooks only: naming them in a
    write is an error, not silently ignored, so a client learns why its key did not stick."""
    claimed = [name for name in TOOL_FIELDS if hasattr(data, "__contains__") and name in data]
    if claimed:
        raise serializers.ValidationError(
            {
                name: "Set by imports, connectors and webhooks only (they tie the item to the tool's issue); "
                "leave it out."
                for name in claimed
            }
        )


class ItemCreateSerializer(serializers.Serializer):
    """A new backlog item. It enters the stream's first backlog state unless `state` is given."""

    stream = serializers.SlugRelatedField(slug_field="slug", queryset=ValueStream.objects.all())
    title = serializers.CharField(max_length=300)
    flow_type = serializers.ChoiceField(choices=FlowType.choices, default=FlowType.FEATURE)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True)
    parent = serializers.PrimaryKeyRelatedField(queryset=BacklogItem.objects.all(), required=False, allow_null=True)
    state = serializers.PrimaryKeyRelatedField(queryset=WorkflowState.objects.all(), required=False)
    size = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=32767)
    rank = serializers.FloatField(required=False, min_value=-1e12, max_value=1e12)
    target_date = serializers.DateField(required=False, allow_null=True)
    customer_facing = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        refuse_tool_fields(self.initial_data)
        stream = attrs["stream"]
        state = attrs.get("state")
        if state is not None and state.stream_id != stream.pk:
            raise serializers.ValidationError({"state": f"State {state.pk} belongs to another value stream."})
        parent = attrs.get("parent")
        if parent is not None and parent.stream_id != stream.pk:
            raise serializers.ValidationError({"parent": f"Item {parent.pk} belongs to another value stream."})
        return attrs


class ItemUpdateSerializer(serializers.Serializer):
    """The fields of an item that may change (its state has its own endpoint, `transition`)."""

    title = serializers.CharField(max_length=300, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    flow_type = serializers.ChoiceField(choices=FlowType.choices, required=False)
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True)
    parent = serializers.PrimaryKeyRelatedField(queryset=BacklogItem.objects.all(), required=False, allow_null=True)
    size = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=32767)
    rank = serializers.FloatField(required=False, min_value=-1e12, max_value=1e12)
    target_date = serializers.DateField(required=False, allow_null=True)
    customer_facing = serializers.BooleanField(required=False)
    stream = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=ValueStream.objects.all(),
        required=False,
        help_text="Move the open item (and its history) to another value stream.",
    )

    def validate(self, attrs):
        refuse_tool_fields(self.initial_data)
        return attrs


class TransitionRequestSerializer(serializers.Serializer):
    """Move an item to another workflow state of its stream, now or at a past instant."""

    state = serializers.PrimaryKeyRelatedField(queryset=WorkflowState.objects.all(), help_text="Workflow state id.")
    at = AwareDateTimeField(required=False, help_text="When it happened (ISO 8601 with UTC offset); default now.")


class StateTransitionSerializer(serializers.ModelSerializer):
    from_state_name = serializers.CharField(source="from_state.name", read_only=True, allow_null=True)
    to_state_name = serializers.CharField(source="to_state.name", read_only=True)

    class Meta:
        model = StateTransition
        fields = ["id", "item", "from_state", "from_state_name", "to_state", "to_state_name", "at", "actor", "source"]


class BlockedPeriodSerializer(serializers.ModelSerializer):
    class Meta:
        model = BlockedPeriod
        fields = ["id", "item", "reason", "note", "started_at", "ended_at"]


class DependencySerializer(serializers.ModelSerializer):
    class Meta:
        model = Dependency
        fields = ["id", "item", "blocked_by", "created_at", "note"]


class ReadinessCriterionSerializer(serializers.ModelSerializer):
    owner_team_slug = serializers.CharField(source="owner_team.slug", read_only=True)
    streams = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    flow_types = serializers.ListField(child=serializers.ChoiceField(choices=FlowType.choices), read_only=True)

    class Meta:
        model = ReadinessCriterion
        fields = ["id", "name", "description", "owner_team", "owner_team_slug", "all_streams", "streams", "flow_types"]
        fields += ["active"]


class ReadinessCheckSerializer(serializers.ModelSerializer):
    criterion_name = serializers.CharField(source="criterion.name", read_only=True)
    owner_team = serializers.IntegerField(source="criterion.owner_team_id", read_only=True)

    class Meta:
        model = ReadinessCheck
        fields = [
            "id",
            "item",
            "criterion",
            "criterion_name",
            "owner_team",
            "status",
            "reason",
            "signed_off_by",
            "signed_off_at",
            "created_at",
        ]


class DecisionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[
            ReadinessCheck.Status.MET,
            ReadinessCheck.Status.WAIVED,
            ReadinessCheck.Status.NOT_APPLICABLE,
        ]
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class ValueStreamMapSerializer(serializers.ModelSerializer):
    class Meta:
        model = ValueStreamMap
        fields = ["id", "stream", "name", "kind", "as_of", "notes"]


class ProcessBlockSerializer(serializers.ModelSerializer):
    wastes = serializers.ListField(child=serializers.ChoiceField(choices=Waste.choices), read_only=True)
    states = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="Workflow states the measured map compares this activity with."
    )

    class Meta:
        model = ProcessBlock
        fields = [
            "id",
            "map",
            "order",
            "activity",
            "team",
            "people",
            "process_time_hours",
            "lead_time_hours",
            "queue_before",
            "percent_complete_accurate",
            "barriers",
            "wastes",
            "states",
        ]


class ImprovementExperimentSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImprovementExperiment
        fields = [
            "id",
            "stream",
            "title",
            "hypothesis",
            "change",
            "target_metric",
            "flow_type",
            "expected_direction",
            "expected_size_percent",
            "start_date",
            "review_date",
            "baseline",
            "result",
            "verdict",
            "decided_at",
        ]


class ShippedItemSerializer(serializers.ModelSerializer):
    key = serializers.CharField(source="item.key", read_only=True, help_text="The item's key, or #id.")

    class Meta:
        model = DeploymentItem
        fields = ["item", "key", "first_commit_at"]


class DeploymentSerializer(serializers.ModelSerializer):
    stream_slug = serializers.CharField(source="stream.slug", read_only=True)
    items = ShippedItemSerializer(source="shipped", many=True, read_only=True, help_text="What it shipped.")

    class Meta:
        model = Deployment
        fields = [
            "id",
            "stream",
            "stream_slug",
            "service",
            "environment",
            "started_at",
            "finished_at",
            "status",
            "version",
            "source",
            "external_id",
            "created_at",
            "items",
        ]


class IncidentSerializer(serializers.ModelSerializer):
    stream_slug = serializers.CharField(source="stream.slug", read_only=True)
    items = serializers.PrimaryKeyRelatedField(many=True, read_only=True, help_text="Ids of the related items.")
    restore_hours = serializers.SerializerMethodField(help_text="resolved − opened in hours; null while open.")

    class Meta:
        model = Incident
        fields = [
            "id",
            "stream",
            "stream_slug",
            "title",
            "severity",
            "opened_at",
            "resolved_at",
            "restore_hours",
            "caused_by",
            "source",
            "external_id",
            "created_at",
            "items",
        ]

    def get_restore_hours(self, incident) -> float | None:
        if incident.resolved_at is None:
            return None
        return round((incident.resolved_at - incident.opened_at).total_seconds() / 3600, 2)


class ConnectionSerializer(serializers.ModelSerializer):
    """A live connection and its sync health; never its token."""

    class Meta:
        model = Connection
        fields = ["id", "stream", "tool", "base_url", "scope", "status", "status_message", "synced_at", "backfilled_at"]
        read_only_fields = fields


class SyncRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = [
            "id",
            "connection",
            "kind",
            "status",
            "started_at",
            "finished_at",
            "read",
            "items_new",
            "items_changed",
            "items_unchanged",
            "items_held",
            "moves_written",
            "requests",
            "rate_limit_waits",
            "retries",
            "waited_seconds",
            "tool_seconds",
            "batches",
            "error",
        ]
        read_only_fields = fields
