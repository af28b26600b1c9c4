"""Reads of value stream maps and their blocks for the API (the pages read a map through
`streams.maps.services`, which also computes its totals)."""

from __future__ import annotations

from django.db.models import QuerySet

from streams.models import ProcessBlock, ValueStreamMap


def map_list() -> QuerySet[ValueStreamMap]:
    return ValueStreamMap.objects.all()


def block_list() -> QuerySet[ProcessBlock]:
    """Process blocks with the workflow states each one groups."""
    return ProcessBlock.objects.prefetch_related("states")
