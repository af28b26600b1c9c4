"""Base classes of every app's API: integer ids, CSV lists, change history, the read-only
resource, and the one way a refused write becomes a 403."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from core import access
from core.api.csv import CsvListMixin
from core.api.serializers import HistoryPageSerializer, HistoryQuerySerializer
from core.audit import history_of

FORMAT_PARAMETER = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    enum=["json", "csv"],
    description="`csv` streams every row the filters select as a CSV file (no pagination).",
)


def list_schema(viewset):
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
        parameters=[HistoryQuerySerializer],
        responses=HistoryPageSerializer,
        description="The row's changes, newest first: who, when, and each field's value before and after.",
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[], renderer_classes=[JSONRenderer])
    def history(self, request, pk=None, format=None):  # format: the `.json` suffix route
        query = HistoryQuerySerializer(data=request.query_params)
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
        return Response(HistoryPageSerializer(data).data)


class ReadViewSet(IdLookup, CsvListMixin, HistoryMixin, viewsets.ReadOnlyModelViewSet):
    """A resource every logged-in user may read, as JSON pages or a streamed CSV file, with its
    change history."""


def may_or_403(user, action_name: str, obj, message: str) -> None:
    if not access.may(user, action_name, obj):
        raise PermissionDenied(message)
