"""Imports from toolchains: remembered mappings, projects, webhook deliveries, import jobs."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .backlog import WorkflowState
from .streams import FlowType, ValueStream

# --- Imports from toolchains ------------------------------------------------------------------


class ImportSource(models.TextChoices):
    JIRA = "jira", "Jira"
    GITHUB = "github", "GitHub"
    CSV = "csv", "Generic CSV"


class ImportMapping(models.Model):
    """How a tool's status, issue type or label lands in a stream; remembered per source and stream.

    A status maps to a workflow state (created by the import if the stream lacks it) and the
    state's category; an issue type or a label maps to a flow type. A label mapped to no flow
    type leaves the type to the issue type.
    """

    class Kind(models.TextChoices):
        STATUS = "status", "Status"
        TYPE = "type", "Issue type"
        LABEL = "label", "Label"

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="import_mappings")
    source = models.CharField(max_length=16, choices=ImportSource.choices)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.CharField(max_length=200, help_text="The name as the tool writes it.")
    state_name = models.CharField(max_length=60, blank=True)
    category = models.CharField(max_length=8, choices=WorkflowState.Category.choices, blank=True)
    flow_type = models.CharField(max_length=8, choices=FlowType.choices, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["stream", "source", "kind", "value"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "source", "kind", "value"], name="import_mapping_unique"),
        ]

    def __str__(self) -> str:
        target = f"{self.state_name} ({self.category})" if self.kind == self.Kind.STATUS else self.flow_type or "—"
        return f"{self.get_source_display()} {self.kind} {self.value!r} → {target}"


class ImportProject(models.Model):
    """A tool's project (Jira project key, GitHub owner/repo) whose issues land in a stream.

    Recorded by imports; webhooks put issues created later into the same stream."""

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="import_projects")
    source = models.CharField(max_length=16, choices=ImportSource.choices)
    project = models.CharField(max_length=200)

    class Meta:
        ordering = ["source", "project"]
        constraints = [models.UniqueConstraint(fields=["source", "project"], name="import_project_unique")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.project} → {self.stream_id}"


class WebhookDelivery(models.Model):
    """A webhook delivery the portal applied, by the id its tool gave it (`streams.integrations.hooks`).

    Jira (`X-Atlassian-Webhook-Identifier`) and GitHub (`X-GitHub-Delivery`) send a retried or
    redelivered delivery again under the same id; a second arrival is answered "duplicate" and
    changes nothing. A row is written in the transaction that applies its delivery, so one that
    was refused or failed is not marked seen and its retry is applied.

    Retention: the rows only catch replays, and tools retry for hours (GitHub lets people
    redeliver for 3 days), so rows older than a month can be deleted at will
    (`WebhookDelivery.objects.filter(received_at__lt=...).delete()`). An older event replayed
    after its row is gone still overwrites nothing newer (`BacklogItem.source_updated_at`).
    """

    source = models.CharField(max_length=16, choices=ImportSource.choices)
    delivery_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.PositiveSmallIntegerField(default=200, help_text="The HTTP status the delivery was answered.")

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["source", "delivery_id"], name="webhook_delivery_unique")]
        indexes = [models.Index(fields=["received_at"], name="webhook_delivery_received_idx")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} delivery {self.delivery_id} ({self.status})"


class ImportJob(models.Model):
    """One import of a file into a stream, run by a background job; its progress and outcome."""

    class Status(models.TextChoices):
        SCANNING = "scanning", "Reading the names in the file"
        MAPPING = "mapping", "Waiting for the mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Imported"
        REFUSED = "refused", "Refused: the file has problems"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.SCANNING, Status.QUEUED, Status.RUNNING)

    source = models.CharField(max_length=16, choices=ImportSource.choices)
    stream = models.ForeignKey(ValueStream, null=True, blank=True, on_delete=models.CASCADE, related_name="imports")
    stream_slug = models.SlugField(max_length=120, help_text="The stream to import into (created if missing).")
    stream_name = models.CharField(max_length=200, blank=True)
    files = models.JSONField(default=dict, help_text="Role → stored file name (export; or states, items, transitions).")
    file_names = models.CharField(max_length=500, blank=True, help_text="The uploaded files' own names.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=200, blank=True)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(default=0)
    found = models.JSONField(default=dict, blank=True, help_text="Statuses, types and labels found in the file.")
    mapping = models.JSONField(default=dict, blank=True, help_text="The mapping confirmed for this import.")
    result = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    errors_more = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    interrupted = models.PositiveSmallIntegerField(
        default=0, help_text="Runs whose worker died before finishing, since the last retry from the page."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the job queue accepted the job; empty while the queue was unreachable."
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["stream", "-created_at"], name="import_job_stream_idx")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} import #{self.pk} into {self.stream_slug} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(99, int(100 * self.progress_done / self.progress_total))

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE
