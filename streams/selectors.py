"""Reads of streams used by pages, the API and tasks."""

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from teams.models import Team

from .models import ValueStream


def stream_list(*, user) -> QuerySet[ValueStream]:
    """Streams the user may see, with their active director, serving teams and item counts.

    Shaped for list pages: a fixed number of queries however many streams there are.
    """
    return (
        ValueStream.objects.for_user(user)
        .with_director()
        .with_item_counts()
        .prefetch_related(Prefetch("teams", queryset=Team.objects.only("pk", "name", "slug", "type")))
        .order_by("name")
    )


def stream_get(*, user, slug: str) -> ValueStream:
    """One stream the user may see, with its director and teams; 404 otherwise."""
    streams = (
        ValueStream.objects.for_user(user)
        .with_director()
        .prefetch_related(Prefetch("teams", queryset=Team.objects.only("pk", "name", "slug", "type")))
    )
    return get_object_or_404(streams, slug=slug)
