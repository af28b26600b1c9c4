"""Saved scenarios: a forecast re-run under stated levers, kept with who saved it, when, and what
it showed, so a leadership meeting can come back to it. A scenario never changes real data."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from okrs.models import KeyResult
from streams.models import ValueStream


class Scenario(models.Model):
    name = models.CharField(max_length=160, help_text="What the scenario asks, e.g. “Cap WIP at 12 before Q1”.")
    stream = models.ForeignKey(ValueStream, null=True, blank=True, on_delete=models.CASCADE, related_name="scenarios")
    key_result = models.ForeignKey(KeyResult, null=True, blank=True, on_delete=models.CASCADE, related_name="scenarios")
    levers = models.JSONField(default=dict, help_text="The levers as the scenario form reads them.")
    described = models.JSONField(default=list, help_text="The levers in words, as they read when saved.")
    result = models.JSONField(default=dict, help_text="Today's figures and the scenario's, when saved.")
    as_of = models.DateField(help_text="The day the figures were computed.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="scenarios"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(stream__isnull=False) & Q(key_result__isnull=True))
                | (Q(stream__isnull=True) & Q(key_result__isnull=False)),
                name="scenario_of_a_stream_or_a_key_result",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("scenario-detail", args=[self.pk])
