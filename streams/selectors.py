"""Reads of streams used by pages, the API and tasks."""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from streams.models import ValueStream
from teams.models import Team


def stream_get(*, user, slug: str) -> ValueStream:
    """One stream the user may see, with its director and teams; 404 otherwise."""
    streams = (
        ValueStream.objects.for_user(user)
        .with_director()
        .prefetch_related(Prefetch("teams", queryset=Team.objects.only("pk", "name", "slug", "type")))
    )
    return get_object_or_404(streams, slug=slug)
