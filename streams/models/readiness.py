"""Readiness criteria of business operations, and the checks each item must pass to ship."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.fields import ChoiceListField
from core.history import PortalHistoricalRecords as HistoricalRecords
from teams.models import Team

from .backlog import BacklogItem
from .streams import FlowType, ValueStream


class ReadinessCriterion(models.Model):
    """A business-operations acceptance criterion ("support team trained") owned by a team.

    Applies to the chosen streams (or every stream) and flow item types.
    """

    name = models.CharField(max_length=160)
    description = models.TextField(blank=True)
    owner_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="readiness_criteria")
    all_streams = models.BooleanField(default=False, help_text="Applies to every value stream.")
    streams = models.ManyToManyField(ValueStream, blank=True, related_name="readiness_criteria")
    flow_types = ChoiceListField(choices=FlowType.choices, blank=False, help_text="Flow item types it applies to.")
    active = models.BooleanField(default=True)
    history = HistoricalRecords(m2m_fields=["streams"])

    class Meta:
        ordering = ["owner_team__name", "name"]
        verbose_name_plural = "readiness criteria"
        constraints = [
            models.UniqueConstraint(fields=["owner_team", "name"], name="readiness_criterion_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def applies_to(self, item: BacklogItem, stream_ids: set[int] | None = None) -> bool:
        """Whether the criterion applies to the item; pass the criterion's stream ids to skip a query."""
        if not self.active or item.flow_type not in self.flow_types:
            return False
        if self.all_streams:
            return True
        if stream_ids is None:
            stream_ids = set(self.streams.values_list("pk", flat=True))
        return item.stream_id in stream_ids


class ReadinessCheck(models.Model):
    """Whether one item meets one readiness criterion; pending checks hold the release gate."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        MET = "met", "Met"
        WAIVED = "waived", "Waived"
        NOT_APPLICABLE = "not_applicable", "Not applicable"

    item = models.ForeignKey(BacklogItem, on_delete=models.CASCADE, related_name="readiness_checks")
    criterion = models.ForeignKey(ReadinessCriterion, on_delete=models.CASCADE, related_name="checks")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True, help_text="Required when waived.")
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["item", "criterion__name"]
        constraints = [
            models.UniqueConstraint(fields=["item", "criterion"], name="readiness_check_unique"),
            models.CheckConstraint(
                condition=~Q(status="waived") | ~Q(reason=""),
                name="readiness_waiver_needs_reason",
                violation_error_message="A waived check needs a reason.",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(signed_off_at__isnull=False),
                name="readiness_signed_off_when_decided",
                violation_error_message="A decided check records when it was signed off.",
            ),
        ]
        indexes = [
            models.Index(fields=["criterion", "status"], name="readiness_criterion_status_idx"),
            # Pending checks are what pages count and list; a small share of all checks.
            models.Index(fields=["item"], condition=Q(status="pending"), name="readiness_pending_item_idx"),
            # A forecast's sample: each criterion's newest sign-offs (readiness.selectors.lead_time_samples).
            models.Index(
                fields=["criterion", "-signed_off_at"],
                include=["created_at"],
                condition=Q(status="met"),
                name="readiness_met_recent_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.criterion} for {self.item_id}: {self.get_status_display()}"
