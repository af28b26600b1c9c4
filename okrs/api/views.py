"""/api/v1/ resources of objectives, key results, their links to work, and check-ins."""

from django.shortcuts import get_object_or_404
import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core import access
from core.api.csv import CsvListMixin
from core.api.viewsets import HistoryMixin, IdLookup, ReadViewSet, list_schema, may_or_403
from okrs.api.serializers import CheckInSerializer, KeyResultSerializer, LinkSerializer, ObjectiveSerializer
from okrs.models import CheckIn, KeyResult, Objective
from okrs.selectors import KeyResultLink, check_in_list, key_result_link_list, key_result_list, objective_list
from okrs.services import check_in_record, key_result_link, key_result_unlink
from streams.backlog.filters import ID_BOUNDS
from streams.models import BacklogItem


class ObjectiveFilter(django_filters.FilterSet):
    stream = django_filters.CharFilter(field_name="stream__slug", label="Value stream (slug)", max_length=120)
    team = django_filters.CharFilter(field_name="team__slug", label="Team (slug)", max_length=120)

    class Meta:
        model = Objective
        fields = ["period", "level", "parent", "owner"]


@list_schema
class ObjectiveViewSet(ReadViewSet):
    queryset = objective_list()
    serializer_class = ObjectiveSerializer
    filterset_class = ObjectiveFilter


@list_schema
class KeyResultViewSet(ReadViewSet):
    queryset = key_result_list()
    serializer_class = KeyResultSerializer

    class filterset_class(django_filters.FilterSet):
        period = django_filters.CharFilter(field_name="objective__period", label="Objective's period", max_length=7)

        class Meta:
            model = KeyResult
            fields = ["objective", "kind"]

    @extend_schema(
        request=LinkSerializer,
        responses={201: LinkSerializer, 200: LinkSerializer},
        description="Link a backlog item to the key result (201 when new, 200 when it was linked already).",
    )
    @action(detail=True, methods=["post"], url_path="items")
    def link(self, request, pk=None, format=None):
        key_result = self.get_object()
        data = LinkSerializer(data=request.data)
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


class KeyResultLinkSerializer(serializers.ModelSerializer):
    key_result = serializers.IntegerField(source="keyresult_id", read_only=True)
    item = serializers.IntegerField(source="backlogitem_id", read_only=True)

    class Meta:
        model = KeyResultLink
        fields = ["id", "key_result", "item"]


@list_schema
class KeyResultLinkViewSet(IdLookup, CsvListMixin, viewsets.ReadOnlyModelViewSet):
    """Which items serve which key results (direct links; children count through their parent).

    A link's history is the key result's: `GET /key-results/{id}/history/` shows its `items`."""

    queryset = key_result_link_list()
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


@list_schema
class CheckInViewSet(IdLookup, CsvListMixin, HistoryMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Check-ins of key results; recording one makes its value the key result's current value."""

    queryset = check_in_list()
    serializer_class = CheckInSerializer
    permission_classes = [permissions.IsAuthenticated, CheckInPermission]
    filterset_fields = ["key_result", "date"]

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        key_result = data.validated_data["key_result"]
        may_or_403(request.user, access.CHANGE, key_result, f"You may not check in on “{key_result.title}”.")
        check_in = check_in_record(
            key_result=key_result,
            value=data.validated_data["value"],
            confidence=data.validated_data["confidence"],
            date=data.validated_data.get("date"),
            note=data.validated_data.get("note", ""),
            author=request.user,
        )
        return Response(self.get_serializer(check_in).data, status=status.HTTP_201_CREATED)
