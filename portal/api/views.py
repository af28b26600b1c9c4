"""The resources of DESIGN.md under /api/v1/: read for every logged-in user, as the pages are;
writes only where a user may write (`core.access.may`), through the same services as the pages.
"""

from django.db import transaction
from django.db.models import CharField, F, Prefetch, Value
from django.db.models.functions import Cast, Coalesce, Concat, NullIf
from django.shortcuts import get_object_or_404
import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from core import access
from core.api.csv import CsvListMixin
from core.api.parsers import BoundedJSONParser
from okrs.models import CheckIn, KeyResult, Objective
from okrs.services import check_in_record, key_result_link, key_result_unlink
from portal.audit import history_of
from streams.backlog.filters import ID_BOUNDS, BacklogItemFilter, DayRangeFilter
from streams.backlog.services import item_change_state, item_create, item_move_to_stream, item_update
from streams.delivery.records import DeploymentInput, IncidentInput, deployment_record, incident_record
from streams.models import (
    BacklogItem,
    BlockedPeriod,
    DeliverySource,
    Dependency,
    Deployment,
    DeploymentItem,
    ImprovementExperiment,
    Incident,
    LeadershipAssignment,
    ProcessBlock,
    ReadinessCheck,
    ReadinessCriterion,
    StateTransition,
    TargetMix,
    ValueStream,
    ValueStreamMap,
    WorkflowState,
)
from streams.readiness.services import may_sign_off, readiness_check_decide
from teams.models import Discipline, Membership, Person, Team

from . import serializers as s

FORMAT_PARAMETER = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    enum=["json", "csv"],
    description="`csv` streams every row the filters select as a CSV file (no pagination).",
)


def _list_schema(viewset):
    """Document `format=csv` on a viewset's list."""
    return extend_schema_view(list=extend_schema(parameters=[FORMAT_PARAMETER]))(viewset)


class IdLookup:
    """Objects are addressed by their integer id; anything else is a 404 before any query."""

    lookup_value_regex = r"\d+"


class HistoryMixin:
    """`GET .../{id}/history/`: who changed the row, when, and what, newest first.

    The history outlives the row: a deleted row's changes stay readable by its id.
    """

    @extend_schema(
        parameters=[s.HistoryQuerySerializer],
        responses=s.HistoryPageSerializer,
        description="The row's changes, newest first: who, when, and each field's value before and after.",
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[], renderer_classes=[JSONRenderer])
    def history(self, request, pk=None, format=None):  # format: the `.json` suffix route
        query = s.HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        model = self.get_queryset().model
        asked = query.validated_data
        page = history_of(model, int(pk), limit=asked["page_size"], before=asked.get("before"))
        if not page.changes and page.next_before is None and not model._default_manager.filter(pk=pk).exists():
            raise NotFound(f"No {model._meta.verbose_name} with id {pk} exists or ever had a recorded change.")
        next_url = None
        if page.next_before is not None:
            next_url = replace_query_param(request.build_absolute_uri(), "before", page.next_before)
        data = {"object_id": int(pk), "results": page.changes, "next": next_url}
        return Response(s.HistoryPageSerializer(data).data)


class ReadViewSet(IdLookup, CsvListMixin, HistoryMixin, viewsets.ReadOnlyModelViewSet):
    """A resource every logged-in user may read, as JSON pages or a streamed CSV file, with its
    change history."""


def _may_or_403(user, action_name: str, obj, message: str) -> None:
    if not access.may(user, action_name, obj):
        raise PermissionDenied(message)


# --- teams --------------------------------------------------------------------------------------


@_list_schema
class DisciplineViewSet(ReadViewSet):
    queryset = Discipline.objects.all()
    serializer_class = s.DisciplineSerializer
    filterset_fields = ["slug"]


@_list_schema
class PersonViewSet(ReadViewSet):
    queryset = Person.objects.prefetch_related("disciplines")
    serializer_class = s.PersonSerializer
    filterset_fields = ["email"]


@_list_schema
class TeamViewSet(ReadViewSet):
    queryset = Team.objects.all()
    serializer_class = s.TeamSerializer
    filterset_fields = ["slug", "type", "work_mode"]


class MembershipFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__slug", label="Team (slug)", max_length=120)

    class Meta:
        model = Membership
        fields = ["person", "role"]


@_list_schema
class MembershipViewSet(ReadViewSet):
    queryset = Membership.objects.select_related("team")
    serializer_class = s.MembershipSerializer
    filterset_class = MembershipFilter


# --- streams ------------------------------------------------------------------------------------


@_list_schema
class ValueStreamViewSet(ReadViewSet):
    serializer_class = s.ValueStreamSerializer
    filterset_fields = ["slug", "status", "customer", "industry"]

    def get_queryset(self):
        return ValueStream.objects.for_user(self.request.user).prefetch_related("teams", "required_disciplines")


class StreamFilter(django_filters.FilterSet):
    """`stream` as a slug, for the resources that belong to a stream."""

    stream = django_filters.CharFilter(field_name="stream__slug", label="Value stream (slug)", max_length=120)


@_list_schema
class TargetMixViewSet(ReadViewSet):
    queryset = TargetMix.objects.all()
    serializer_class = s.TargetMixSerializer

    class filterset_class(StreamFilter):
        class Meta:
            model = TargetMix
            fields = ["period", "flow_type"]


@_list_schema
class LeadershipAssignmentViewSet(ReadViewSet):
    queryset = LeadershipAssignment.objects.select_related("person", "stream")
    serializer_class = s.LeadershipAssignmentSerializer

    class filterset_class(StreamFilter):
        active = django_filters.BooleanFilter(field_name="end_date", lookup_expr="isnull", label="Active (no end)")

        class Meta:
            model = LeadershipAssignment
            fields = ["person", "role", "kind"]


@_list_schema
class WorkflowStateViewSet(ReadViewSet):
    queryset = WorkflowState.objects.all()
    serializer_class = s.WorkflowStateSerializer

    class filterset_class(StreamFilter):
        class Meta:
            model = WorkflowState
            fields = ["category"]


def items_with_key(queryset):
    """Annotate each item's display key (the source tool's key, or #id) as `item_key`."""
    return queryset.annotate(
        item_key=Coalesce(
            NullIf(F("external_key"), Value("")),
            Concat(Value("#"), Cast("id", CharField())),
            output_field=CharField(),
        )
    )


@_list_schema
@extend_schema_view(
    create=extend_schema(request=s.ItemCreateSerializer, responses={201: s.BacklogItemSerializer}),
    partial_update=extend_schema(request=s.ItemUpdateSerializer, responses={200: s.BacklogItemSerializer}),
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

    serializer_class = s.BacklogItemSerializer
    filterset_class = BacklogItemFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        items = BacklogItem.objects.for_user(self.request.user).select_related("stream", "team", "state")
        return items_with_key(items)

    def _fresh(self, pk: int) -> BacklogItem:
        return self.get_queryset().get(pk=pk)

    def create(self, request, *args, **kwargs):
        data = s.ItemCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        stream = fields.pop("stream")
        draft = BacklogItem(stream=stream, team=fields.get("team"))
        _may_or_403(request.user, access.ADD, draft, f"You may not add items to the backlog of {stream.name}.")
        item = item_create(stream_id=stream.pk, actor=request.user, via="api", **fields)
        body = s.BacklogItemSerializer(self._fresh(item.pk)).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": f"{request.path}{item.pk}/"})

    def partial_update(self, request, *args, **kwargs):
        item = self.get_object()
        _may_or_403(request.user, access.CHANGE, item, f"You may not change {item.key}.")
        data = s.ItemUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        stream = changes.pop("stream", None)
        with transaction.atomic():
            if stream is not None and stream.pk != item.stream_id:
                moved = BacklogItem(stream=stream, team=changes.get("team", item.team))
                _may_or_403(request.user, access.ADD, moved, f"You may not add items to the backlog of {stream.name}.")
                item = item_move_to_stream(item=item, stream_id=stream.pk, actor=request.user, via="api")
            if changes:
                item_update(item=item, actor=request.user, **changes)
        return Response(s.BacklogItemSerializer(self._fresh(item.pk)).data)

    @extend_schema(
        request=s.TransitionRequestSerializer,
        responses={201: s.StateTransitionSerializer},
        description=(
            "Move the item to another workflow state of its stream. Entering a done state with readiness "
            "checks still pending is refused (409, `code: release_gate`) and names the unmet criteria."
        ),
    )
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None, format=None):
        item = self.get_object()
        _may_or_403(request.user, access.CHANGE_STATE, item, f"You may not move {item.key}.")
        data = s.TransitionRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        transition = item_change_state(
            item=item,
            to_state=data.validated_data["state"],
            at=data.validated_data.get("at"),
            actor=request.user,
            via="api",
        )
        transition = StateTransition.objects.select_related("from_state", "to_state").get(pk=transition.pk)
        return Response(s.StateTransitionSerializer(transition).data, status=status.HTTP_201_CREATED)


class TransitionFilter(django_filters.FilterSet):
    stream = django_filters.CharFilter(field_name="item__stream__slug", label="Value stream (slug)", max_length=120)
    at_after = DayRangeFilter(field_name="at", side="after", label="At or after (YYYY-MM-DD, UTC)")
    at_before = DayRangeFilter(field_name="at", side="before", label="At or before (YYYY-MM-DD, UTC)")

    class Meta:
        model = StateTransition
        fields = ["item", "to_state", "source"]


@_list_schema
class StateTransitionViewSet(ReadViewSet):
    """The history every flow metric is computed from."""

    queryset = StateTransition.objects.select_related("from_state", "to_state")
    serializer_class = s.StateTransitionSerializer
    filterset_class = TransitionFilter


class ItemChildFilter(django_filters.FilterSet):
    stream = django_filters.CharFilter(field_name="item__stream__slug", label="Value stream (slug)", max_length=120)


@_list_schema
class BlockedPeriodViewSet(ReadViewSet):
    queryset = BlockedPeriod.objects.all()
    serializer_class = s.BlockedPeriodSerializer

    class filterset_class(ItemChildFilter):
        open = django_filters.BooleanFilter(field_name="ended_at", lookup_expr="isnull", label="Still blocked")

        class Meta:
            model = BlockedPeriod
            fields = ["item", "reason"]


@_list_schema
class DependencyViewSet(ReadViewSet):
    queryset = Dependency.objects.all()
    serializer_class = s.DependencySerializer

    class filterset_class(ItemChildFilter):
        class Meta:
            model = Dependency
            fields = ["item", "blocked_by"]


@_list_schema
class ReadinessCriterionViewSet(ReadViewSet):
    queryset = ReadinessCriterion.objects.select_related("owner_team").prefetch_related("streams")
    serializer_class = s.ReadinessCriterionSerializer

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


@_list_schema
class ReadinessCheckViewSet(ReadViewSet):
    queryset = ReadinessCheck.objects.select_related("criterion__owner_team")
    serializer_class = s.ReadinessCheckSerializer
    filterset_class = ReadinessCheckFilter

    @extend_schema(
        request=s.DecisionSerializer,
        responses={200: s.ReadinessCheckSerializer},
        description="Sign the check off: met, waived (a reason is required) or not applicable. Members of the "
        "criterion's owning team may.",
    )
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None, format=None):
        check = self.get_object()
        if not may_sign_off(request.user, check):
            raise PermissionDenied(f"Only members of {check.criterion.owner_team.name} may sign this check off.")
        data = s.DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        readiness_check_decide(
            check=check, status=data.validated_data["status"], reason=data.validated_data["reason"], actor=request.user
        )
        return Response(s.ReadinessCheckSerializer(ReadinessCheck.objects.get(pk=check.pk)).data)


@_list_schema
class ValueStreamMapViewSet(ReadViewSet):
    queryset = ValueStreamMap.objects.all()
    serializer_class = s.ValueStreamMapSerializer

    class filterset_class(StreamFilter):
        class Meta:
            model = ValueStreamMap
            fields = ["kind"]


@_list_schema
class ProcessBlockViewSet(ReadViewSet):
    queryset = ProcessBlock.objects.prefetch_related("states")
    serializer_class = s.ProcessBlockSerializer
    filterset_fields = ["map", "team"]


@_list_schema
class ImprovementExperimentViewSet(ReadViewSet):
    queryset = ImprovementExperiment.objects.all()
    serializer_class = s.ImprovementExperimentSerializer

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
        _may_or_403(request.user, access.ADD, model(stream=stream), f"You may not record {self.noun} of {stream.name}.")
        external_id = data.validated_data.get("external_id")
        earlier = external_id and model.objects.filter(source=DeliverySource.API, external_id=external_id).first()
        if earlier and earlier.stream_id != stream.pk:
            _may_or_403(request.user, access.CHANGE, earlier, f"You may not move {self.noun} out of their stream.")
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


@_list_schema
@extend_schema_view(
    create=extend_schema(
        request=DeploymentInput,
        responses={201: s.DeploymentSerializer, 200: s.DeploymentSerializer},
        description="Record a deployment, or update the one this API recorded with the same `external_id` "
        "(201 when created, 200 when updated). A pipeline posts `in_progress` when it starts and the outcome "
        "when it ends. Refused with 400 and a message per field: a finish before the start, an unknown stream, "
        "items that are not in the stream.",
    )
)
class DeploymentViewSet(DeliveryRecordViewSet):
    """Deployments of each stream's services, with the items they shipped."""

    queryset = Deployment.objects.select_related("stream").prefetch_related(
        Prefetch("shipped", queryset=DeploymentItem.objects.select_related("item").order_by("pk"))
    )
    serializer_class = s.DeploymentSerializer
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


@_list_schema
@extend_schema_view(
    create=extend_schema(
        request=IncidentInput,
        responses={201: s.IncidentSerializer, 200: s.IncidentSerializer},
        description="Record an incident, or update the one this API recorded with the same `external_id` "
        "(201 when created, 200 when updated). Name the deployment that caused it by `caused_by` (id) or "
        "`caused_by_external_id`; it then counts as a change failure.",
    )
)
class IncidentViewSet(DeliveryRecordViewSet):
    """Incidents of each stream: severity, when opened and resolved, and their cause when known."""

    queryset = Incident.objects.select_related("stream").prefetch_related(
        Prefetch("items", queryset=BacklogItem.objects.only("id").order_by("pk"))
    )
    serializer_class = s.IncidentSerializer
    filterset_class = IncidentFilter
    input_class = IncidentInput
    record = staticmethod(incident_record)
    noun = "incidents"


# --- okrs ---------------------------------------------------------------------------------------


class ObjectiveFilter(django_filters.FilterSet):
    stream = django_filters.CharFilter(field_name="stream__slug", label="Value stream (slug)", max_length=120)
    team = django_filters.CharFilter(field_name="team__slug", label="Team (slug)", max_length=120)

    class Meta:
        model = Objective
        fields = ["period", "level", "parent", "owner"]


@_list_schema
class ObjectiveViewSet(ReadViewSet):
    queryset = Objective.objects.all()
    serializer_class = s.ObjectiveSerializer
    filterset_class = ObjectiveFilter


@_list_schema
class KeyResultViewSet(ReadViewSet):
    queryset = KeyResult.objects.all()
    serializer_class = s.KeyResultSerializer

    class filterset_class(django_filters.FilterSet):
        period = django_filters.CharFilter(field_name="objective__period", label="Objective's period", max_length=7)

        class Meta:
            model = KeyResult
            fields = ["objective", "kind"]

    @extend_schema(
        request=s.LinkSerializer,
        responses={201: s.LinkSerializer, 200: s.LinkSerializer},
        description="Link a backlog item to the key result (201 when new, 200 when it was linked already).",
    )
    @action(detail=True, methods=["post"], url_path="items")
    def link(self, request, pk=None, format=None):
        key_result = self.get_object()
        data = s.LinkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = BacklogItem.objects.select_related("state").get(pk=data.validated_data["item"].pk)
        created = key_result_link(key_result=key_result, item=item, actor=request.user)
        return Response({"item": item.pk}, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=None, responses={204: None}, description="Remove the link (404 if there was none).")
    @action(detail=True, methods=["delete"], url_path=r"items/(?P<item_pk>\d+)")
    def unlink(self, request, pk=None, item_pk=None, format=None):
        key_result = self.get_object()
        item = get_object_or_404(BacklogItem, pk=item_pk)
        if not key_result_unlink(key_result=key_result, item=item, actor=request.user):
            return Response(
                {"detail": f"{item.key} is not linked to this key result.", "code": "not_found"},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


KeyResultLink = KeyResult.items.through


class KeyResultLinkSerializer(s.serializers.ModelSerializer):
    key_result = s.serializers.IntegerField(source="keyresult_id", read_only=True)
    item = s.serializers.IntegerField(source="backlogitem_id", read_only=True)

    class Meta:
        model = KeyResultLink
        fields = ["id", "key_result", "item"]


@_list_schema
class KeyResultLinkViewSet(IdLookup, CsvListMixin, viewsets.ReadOnlyModelViewSet):
    """Which items serve which key results (direct links; children count through their parent).

    A link's history is the key result's: `GET /key-results/{id}/history/` shows its `items`."""

    queryset = KeyResultLink.objects.all()
    serializer_class = KeyResultLinkSerializer

    class filterset_class(django_filters.FilterSet):
        key_result = django_filters.NumberFilter(field_name="keyresult_id", label="Key result (id)", **ID_BOUNDS)
        item = django_filters.NumberFilter(field_name="backlogitem_id", label="Item (id)", **ID_BOUNDS)

        class Meta:
            model = KeyResultLink
            fields: list[str] = []


class CheckInPermission(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or access.may(request.user, access.ADD, CheckIn)


@_list_schema
class CheckInViewSet(IdLookup, CsvListMixin, HistoryMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Check-ins of key results; recording one makes its value the key result's current value."""

    queryset = CheckIn.objects.all()
    serializer_class = s.CheckInSerializer
    permission_classes = [permissions.IsAuthenticated, CheckInPermission]
    filterset_fields = ["key_result", "date"]

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        key_result = data.validated_data["key_result"]
        _may_or_403(request.user, access.CHANGE, key_result, f"You may not check in on “{key_result.title}”.")
        check_in = check_in_record(
            key_result=key_result,
            value=data.validated_data["value"],
            confidence=data.validated_data["confidence"],
            date=data.validated_data.get("date"),
            note=data.validated_data.get("note", ""),
            author=request.user,
        )
        return Response(self.get_serializer(check_in).data, status=status.HTTP_201_CREATED)
