"""/api/v1/ resources of streams and their work: read for every logged-in user, as the pages
are; writes only where a user may write (`core.access.may`), through the same services as the pages."""

from django.db import transaction
import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from core import access
from core.api.csv import CsvListMixin
from core.api.parsers import BoundedJSONParser
from core.api.viewsets import HistoryMixin, IdLookup, ReadViewSet, list_schema, may_or_403
from streams.api.serializers import (
    BacklogItemSerializer,
    BlockedPeriodSerializer,
    ConnectionSerializer,
    DecisionSerializer,
    DependencySerializer,
    DeploymentSerializer,
    ImprovementExperimentSerializer,
    IncidentSerializer,
    ItemCreateSerializer,
    ItemUpdateSerializer,
    LeadershipAssignmentSerializer,
    ProcessBlockSerializer,
    ReadinessCheckSerializer,
    ReadinessCriterionSerializer,
    StateTransitionSerializer,
    SyncRunSerializer,
    TargetMixSerializer,
    TransitionRequestSerializer,
    ValueStreamMapSerializer,
    ValueStreamSerializer,
    WorkflowStateSerializer,
)
from streams.backlog.filters import BacklogItemFilter, DayRangeFilter
from streams.backlog.selectors import blocked_period_list, dependency_list, item_list, transition_list
from streams.backlog.services import item_change_state, item_create, item_move_to_stream, item_update
from streams.delivery.records import DeploymentInput, IncidentInput, deployment_record, incident_record
from streams.delivery.selectors import deployment_list, incident_list
from streams.experiments.selectors import experiment_list
from streams.flow.releasable import releasable_forecast
from streams.integrations.selectors import connection_list, sync_run_list
from streams.maps.selectors import block_list, map_list
from streams.models import (
    BacklogItem,
    BlockedPeriod,
    Connection,
    DeliverySource,
    Dependency,
    Deployment,
    ImprovementExperiment,
    Incident,
    LeadershipAssignment,
    ReadinessCheck,
    ReadinessCriterion,
    StateTransition,
    SyncRun,
    TargetMix,
    ValueStreamMap,
    WorkflowState,
)
from streams.readiness.selectors import check_list, criterion_list
from streams.readiness.services import may_sign_off, readiness_check_decide
from streams.selectors import leadership_list, stream_list, target_mix_list, workflow_state_list


@list_schema
class ValueStreamViewSet(ReadViewSet):
    serializer_class = ValueStreamSerializer
    filterset_fields = ["slug", "status", "customer", "industry"]

    def get_queryset(self):
        return stream_list(user=self.request.user)


class StreamFilter(django_filters.FilterSet):
    """`stream` as a slug, for the resources that belong to a stream."""

    stream = django_filters.CharFilter(field_name="stream__slug", label="Value stream (slug)", max_length=120)


@list_schema
class TargetMixViewSet(ReadViewSet):
    queryset = target_mix_list()
    serializer_class = TargetMixSerializer

    class filterset_class(StreamFilter):
        class Meta:
            model = TargetMix
            fields = ["period", "flow_type"]


@list_schema
class LeadershipAssignmentViewSet(ReadViewSet):
    queryset = leadership_list()
    serializer_class = LeadershipAssignmentSerializer

    class filterset_class(StreamFilter):
        active = django_filters.BooleanFilter(field_name="end_date", lookup_expr="isnull", label="Active (no end)")

        class Meta:
            model = LeadershipAssignment
            fields = ["person", "role", "kind"]


@list_schema
class WorkflowStateViewSet(ReadViewSet):
    queryset = workflow_state_list()
    serializer_class = WorkflowStateSerializer

    class filterset_class(StreamFilter):
        class Meta:
            model = WorkflowState
            fields = ["category"]


@list_schema
@extend_schema_view(
    create=extend_schema(request=ItemCreateSerializer, responses={201: BacklogItemSerializer}),
    partial_update=extend_schema(request=ItemUpdateSerializer, responses={200: BacklogItemSerializer}),
)
class BacklogItemViewSet(
    IdLookup,
    CsvListMixin,
    HistoryMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Backlog items with the filters of the backlog page. Creating, editing and moving them
    needs the right to change the stream's backlog; moves go through the release gate."""

    serializer_class = BacklogItemSerializer
    filterset_class = BacklogItemFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return item_list(user=self.request.user)

    def _fresh(self, pk: int) -> BacklogItem:
        return self.get_queryset().get(pk=pk)

    def create(self, request, *args, **kwargs):
        data = ItemCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        stream = fields.pop("stream")
        draft = BacklogItem(stream=stream, team=fields.get("team"))
        may_or_403(request.user, access.ADD, draft, f"You may not add items to the backlog of {stream.name}.")
        item = item_create(stream_id=stream.pk, actor=request.user, via="api", **fields)
        body = BacklogItemSerializer(self._fresh(item.pk)).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": f"{request.path}{item.pk}/"})

    def partial_update(self, request, *args, **kwargs):
        item = self.get_object()
        may_or_403(request.user, access.CHANGE, item, f"You may not change {item.key}.")
        data = ItemUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        stream = changes.pop("stream", None)
        with transaction.atomic():
            if stream is not None and stream.pk != item.stream_id:
                moved = BacklogItem(stream=stream, team=changes.get("team", item.team))
                may_or_403(request.user, access.ADD, moved, f"You may not add items to the backlog of {stream.name}.")
                item = item_move_to_stream(item=item, stream_id=stream.pk, actor=request.user, via="api")
            if changes:
                item_update(item=item, actor=request.user, **changes)
        return Response(BacklogItemSerializer(self._fresh(item.pk)).data)

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        description=(
            "When the item can go live: P50 and P85 dates of its remaining development, its pending readiness "
            "sign-offs and the wait for the stream's next production deployment, with the breakdown, or `refused` "
            "saying why there is no forecast (not in progress, too little history)."
        ),
    )
    @action(detail=True, methods=["get"])
    def releasable(self, request, pk=None, format=None):
        item = self.get_object()
        return Response(
            releasable_dict(releasable_forecast(BacklogItem.objects.select_related("state").get(pk=item.pk)))
        )

    @extend_schema(
        request=TransitionRequestSerializer,
        responses={201: StateTransitionSerializer},
        description=(
            "Move the item to another workflow state of its stream. Entering a done state with readiness "
            "checks still pending is refused (409, `code: release_gate`) and names the unmet criteria."
        ),
    )
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None, format=None):
        item = self.get_object()
        may_or_403(request.user, access.CHANGE_STATE, item, f"You may not move {item.key}.")
        data = TransitionRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        transition = item_change_state(
            item=item,
            to_state=data.validated_data["state"],
            at=data.validated_data.get("at"),
            actor=request.user,
            via="api",
        )
        transition = StateTransition.objects.select_related("from_state", "to_state").get(pk=transition.pk)
        return Response(StateTransitionSerializer(transition).data, status=status.HTTP_201_CREATED)


def releasable_dict(forecast) -> dict:
    """The releasable forecast as the API answers it (days rounded to 0.01)."""

    def days(value):
        return None if value is None else round(value, 2)

    return {
        "item": forecast.item.pk,
        "refused": forecast.refused or None,
        "p50": forecast.p50,
        "p85": forecast.p85,
        "target_date": forecast.item.target_date,
        "misses_target": forecast.misses_target,
        "breakdown": forecast.breakdown,
        "parts": [
            {"label": p.label, "p50_days": days(p.p50), "p85_days": days(p.p85), "note": p.note} for p in forecast.parts
        ],
        "notes": forecast.notes,
        "remaining_items": forecast.remaining,
        "share_of_throughput": round(forecast.share, 4),
        "sample_days": forecast.sample_days,
        "sample_items": forecast.sample_items,
        "method": "Monte Carlo, 10,000 trials, fixed seed: remaining development at the stream's throughput of the "
        "last 12 weeks thinned to the item's share of its WIP, plus a sign-off lead time drawn from each pending "
        "readiness check's criterion, plus the wait for the next production deployment from the stream's cadence.",
    }


class TransitionFilter(django_filters.FilterSet):
    stream = django_filters.CharFilter(field_name="item__stream__slug", label="Value stream (slug)", max_length=120)
    at_after = DayRangeFilter(field_name="at", side="after", label="At or after (YYYY-MM-DD, UTC)")
    at_before = DayRangeFilter(field_name="at", side="before", label="At or before (YYYY-MM-DD, UTC)")

    class Meta:
        model = StateTransition
        fields = ["item", "to_state", "source"]


@list_schema
class StateTransitionViewSet(ReadViewSet):
    """The history every flow metric is computed from."""

    queryset = transition_list()
    serializer_class = StateTransitionSerializer
    filterset_class = TransitionFilter


class ItemChildFilter(django_filters.FilterSet):
    stream = django_filters.CharFilter(field_name="item__stream__slug", label="Value stream (slug)", max_length=120)


@list_schema
class BlockedPeriodViewSet(ReadViewSet):
    queryset = blocked_period_list()
    serializer_class = BlockedPeriodSerializer

    class filterset_class(ItemChildFilter):
        open = django_filters.BooleanFilter(field_name="ended_at", lookup_expr="isnull", label="Still blocked")

        class Meta:
            model = BlockedPeriod
            fields = ["item", "reason"]


@list_schema
class DependencyViewSet(ReadViewSet):
    queryset = dependency_list()
    serializer_class = DependencySerializer

    class filterset_class(ItemChildFilter):
        class Meta:
            model = Dependency
            fields = ["item", "blocked_by"]


@list_schema
class ReadinessCriterionViewSet(ReadViewSet):
    queryset = criterion_list()
    serializer_class = ReadinessCriterionSerializer

    class filterset_class(django_filters.FilterSet):
        owner_team = django_filters.CharFilter(field_name="owner_team__slug", label="Owner team (slug)", max_length=120)

        class Meta:
            model = ReadinessCriterion
            fields = ["active", "all_streams"]


class ReadinessCheckFilter(ItemChildFilter):
    owner_team = django_filters.CharFilter(
        field_name="criterion__owner_team__slug", label="Owner team (slug)", max_length=120
    )

    class Meta:
        model = ReadinessCheck
        fields = ["item", "criterion", "status"]


@list_schema
class ReadinessCheckViewSet(ReadViewSet):
    queryset = check_list()
    serializer_class = ReadinessCheckSerializer
    filterset_class = ReadinessCheckFilter

    @extend_schema(
        request=DecisionSerializer,
        responses={200: ReadinessCheckSerializer},
        description="Sign the check off: met, waived (a reason is required) or not applicable. Members of the "
        "criterion's owning team may.",
    )
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None, format=None):
        check = self.get_object()
        if not may_sign_off(request.user, check):
            raise PermissionDenied(f"Only members of {check.criterion.owner_team.name} may sign this check off.")
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        readiness_check_decide(
            check=check, status=data.validated_data["status"], reason=data.validated_data["reason"], actor=request.user
        )
        return Response(ReadinessCheckSerializer(ReadinessCheck.objects.get(pk=check.pk)).data)


@list_schema
class ValueStreamMapViewSet(ReadViewSet):
    queryset = map_list()
    serializer_class = ValueStreamMapSerializer

    class filterset_class(StreamFilter):
        class Meta:
            model = ValueStreamMap
            fields = ["kind"]


@list_schema
class ProcessBlockViewSet(ReadViewSet):
    queryset = block_list()
    serializer_class = ProcessBlockSerializer
    filterset_fields = ["map", "team"]


@list_schema
class ImprovementExperimentViewSet(ReadViewSet):
    queryset = experiment_list()
    serializer_class = ImprovementExperimentSerializer

    class filterset_class(StreamFilter):
        class Meta:
            model = ImprovementExperiment
            fields = ["verdict", "target_metric"]


class DeliveryRecordViewSet(ReadViewSet, mixins.CreateModelMixin):
    """Read for every logged-in user; `POST` creates, or updates the record with the same
    `external_id` (201 created, 200 updated), for those who may change the stream's backlog."""

    parser_classes = [BoundedJSONParser]  # pipelines and incident tools send JSON; items are a list of objects
    input_class: type
    record = staticmethod(lambda **kwargs: None)
    noun = ""

    def create(self, request, *args, **kwargs):
        data = self.input_class(data=request.data, context={"source": DeliverySource.API})
        data.is_valid(raise_exception=True)
        stream = data.validated_data["stream"]
        model = self.queryset.model
        may_or_403(request.user, access.ADD, model(stream=stream), f"You may not record {self.noun} of {stream.name}.")
        external_id = data.validated_data.get("external_id")
        earlier = external_id and model.objects.filter(source=DeliverySource.API, external_id=external_id).first()
        if earlier and earlier.stream_id != stream.pk:
            may_or_403(request.user, access.CHANGE, earlier, f"You may not move {self.noun} out of their stream.")
        outcome = self.record(data=data.validated_data, source=DeliverySource.API, actor=request.user)
        pk = outcome.record.pk
        body = self.get_serializer(self.get_queryset().get(pk=pk)).data
        code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        return Response(body, status=code, headers={"Location": f"{request.path}{pk}/"})


class DeploymentFilter(StreamFilter):
    finished_after = DayRangeFilter(field_name="finished_at", side="after", label="Finished on or after (YYYY-MM-DD)")
    finished_before = DayRangeFilter(
        field_name="finished_at", side="before", label="Finished on or before (YYYY-MM-DD)"
    )

    class Meta:
        model = Deployment
        fields = ["service", "environment", "status", "source", "external_id"]


@list_schema
@extend_schema_view(
    create=extend_schema(
        request=DeploymentInput,
        responses={201: DeploymentSerializer, 200: DeploymentSerializer},
        description="Record a deployment, or update the one this API recorded with the same `external_id` "
        "(201 when created, 200 when updated). A pipeline posts `in_progress` when it starts and the outcome "
        "when it ends. Refused with 400 and a message per field: a finish before the start, an unknown stream, "
        "items that are not in the stream.",
    )
)
class DeploymentViewSet(DeliveryRecordViewSet):
    """Deployments of each stream's services, with the items they shipped."""

    queryset = deployment_list()
    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilter
    input_class = DeploymentInput
    record = staticmethod(deployment_record)
    noun = "deployments"


class IncidentFilter(StreamFilter):
    open = django_filters.BooleanFilter(field_name="resolved_at", lookup_expr="isnull", label="Still open")
    opened_after = DayRangeFilter(field_name="opened_at", side="after", label="Opened on or after (YYYY-MM-DD)")
    opened_before = DayRangeFilter(field_name="opened_at", side="before", label="Opened on or before (YYYY-MM-DD)")

    class Meta:
        model = Incident
        fields = ["severity", "caused_by", "source", "external_id"]


@list_schema
@extend_schema_view(
    create=extend_schema(
        request=IncidentInput,
        responses={201: IncidentSerializer, 200: IncidentSerializer},
        description="Record an incident, or update the one this API recorded with the same `external_id` "
        "(201 when created, 200 when updated). Name the deployment that caused it by `caused_by` (id) or "
        "`caused_by_external_id`; it then counts as a change failure.",
    )
)
class IncidentViewSet(DeliveryRecordViewSet):
    """Incidents of each stream: severity, when opened and resolved, and their cause when known."""

    queryset = incident_list()
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter
    input_class = IncidentInput
    record = staticmethod(incident_record)
    noun = "incidents"


@list_schema
class ConnectionViewSet(ReadViewSet):
    """Live connections to the tools streams are fed from, with their sync health (never a token).
    Connections are made and changed on the stream's connection pages."""

    queryset = connection_list()
    serializer_class = ConnectionSerializer

    class filterset_class(StreamFilter):
        class Meta:
            model = Connection
            fields = ["tool", "status"]


@list_schema
class SyncRunViewSet(IdLookup, CsvListMixin, viewsets.ReadOnlyModelViewSet):
    """Every sync of a connection: what it read and wrote, what it cost, how it ended."""

    queryset = sync_run_list()
    serializer_class = SyncRunSerializer

    class filterset_class(django_filters.FilterSet):
        stream = django_filters.CharFilter(
            field_name="connection__stream__slug", label="Value stream (slug)", max_length=120
        )

        class Meta:
            model = SyncRun
            fields = ["connection", "kind", "status"]
