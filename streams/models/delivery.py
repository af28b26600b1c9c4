"""Delivery: deployments, the items they shipped, and incidents (the four DORA keys)."""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core.history import PortalHistoricalRecords as HistoricalRecords

from .backlog import BacklogItem
from .streams import ValueStream

# --- Delivery: deployments and incidents (the four DORA keys, `streams.delivery.keys`) -------------


class DeliverySource(models.TextChoices):
    MANUAL = "manual", "Entered by hand"
    API = "api", "REST API"
    GITHUB = "github", "GitHub webhook"
    CSV = "csv", "CSV import"


def _external_id_unique(model: str) -> models.UniqueConstraint:
    """Records from a pipeline or tool are idempotent by (source, external id)."""
    return models.UniqueConstraint(
        fields=["source", "external_id"],
        condition=~Q(external_id=""),
        name=f"{model}_source_external_id_unique",
        violation_error_message="Another record from this source already has this external id.",
    )


class Deployment(models.Model):
    """A release of a service or component of a stream to an environment."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        SUCCESS = "success", "Succeeded"
        FAILURE = "failure", "Failed"

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="deployments")
    service = models.CharField(max_length=120, help_text="The service or component deployed.")
    environment = models.CharField(
        max_length=60,
        default="production",
        help_text="Where it went; the delivery keys count production (production, prod, live).",
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True, help_text="Empty while it runs.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SUCCESS)
    version = models.CharField(max_length=120, blank=True)
    items = models.ManyToManyField(
        BacklogItem, through="DeploymentItem", related_name="deployments", blank=True, help_text="What it shipped."
    )
    source = models.CharField(max_length=8, choices=DeliverySource.choices, default=DeliverySource.MANUAL)
    external_id = models.CharField(
        max_length=200, blank=True, help_text="The pipeline's or tool's id; sending it again updates the record."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["stream", "finished_at"], name="deployment_stream_finished_idx")]
        constraints = [
            _external_id_unique("deployment"),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(finished_at__gte=F("started_at")),
                name="deployment_finished_after_start",
                violation_error_message="A deployment cannot finish before it starts.",
            ),
            models.CheckConstraint(
                condition=Q(status="in_progress", finished_at__isnull=True)
                | (~Q(status="in_progress") & Q(finished_at__isnull=False)),
                name="deployment_finished_when_done",
                violation_error_message="A finished deployment needs its finish time; one in progress has none.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.version or ''} to {self.environment} ({self.started_at:%Y-%m-%d %H:%M})".replace(
            "  ", " "
        )


DeploymentStatus = Deployment.Status  # named at module level for the API schema's enum names


class DeploymentItem(models.Model):
    """A backlog item a deployment shipped; `first_commit_at`, when the pipeline knows it, starts
    the item's lead time for changes instead of the item's start."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="shipped")
    item = models.ForeignKey(BacklogItem, on_delete=models.CASCADE, related_name="shipments")
    first_commit_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deployment", "item"], name="deployment_item_unique")]

    def __str__(self) -> str:
        return f"{self.item} in {self.deployment}"


class Incident(models.Model):
    """A loss or degradation of service in a stream, from its opening to its resolution."""

    class Severity(models.TextChoices):
        SEV1 = "sev1", "SEV1 – critical"
        SEV2 = "sev2", "SEV2 – major"
        SEV3 = "sev3", "SEV3 – minor"
        SEV4 = "sev4", "SEV4 – low"

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="incidents")
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=4, choices=Severity.choices, default=Severity.SEV3)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="Empty while service is not restored.")
    caused_by = models.ForeignKey(
        Deployment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
        help_text="The deployment that caused it, when known (it then counts as a change failure).",
    )
    items = models.ManyToManyField(BacklogItem, related_name="incidents", blank=True)
    source = models.CharField(max_length=8, choices=DeliverySource.choices, default=DeliverySource.MANUAL)
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    history = HistoricalRecords(m2m_fields=["items"])

    class Meta:
        ordering = ["-opened_at", "-pk"]
        indexes = [models.Index(fields=["stream", "opened_at"], name="incident_stream_opened_idx")]
        constraints = [
            _external_id_unique("incident"),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("opened_at")),
                name="incident_resolved_after_opened",
                violation_error_message="An incident cannot be resolved before it is opened.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_severity_display().split(' ')[0]}: {self.title}"
