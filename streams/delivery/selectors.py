"""Reads of delivery records for the API: deployments with the items they shipped, incidents
with the items they hit (the keys and the timeline read through `keys.py`)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from streams.models import BacklogItem, Deployment, DeploymentItem, Incident


def deployment_list() -> QuerySet[Deployment]:
    shipped = DeploymentItem.objects.select_related("item").order_by("pk")
    return Deployment.objects.select_related("stream").prefetch_related(Prefetch("shipped", queryset=shipped))


def incident_list() -> QuerySet[Incident]:
    items = BacklogItem.objects.only("id").order_by("pk")
    return Incident.objects.select_related("stream").prefetch_related(Prefetch("items", queryset=items))
