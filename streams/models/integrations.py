"""Imports from toolchains: remembered mappings, projects, webhook deliveries, import jobs, and
live connections with their sync runs and the items they hold back."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from core import crypto
from core.history import PortalHistoricalRecords as HistoricalRecords

from .backlog import WorkflowState
from .streams import FlowType, ValueStream

# --- Imports from toolchains ------------------------------------------------------------------


class ImportSource(models.TextChoices):
    JIRA = "jira", "Jira"
    GITHUB = "github", "GitHub"
    CSV = "csv", "Generic CSV"
    AZURE_DEVOPS = "azure_devops", "Azure DevOps"


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


# --- Live connections -------------------------------------------------------------------------


class Connection(models.Model):
    """A stream fed live by the tool its teams work in (DESIGN.md, "Data in: live connectors").

    The token is stored encrypted (`core.crypto`); `scope` says what to read, per tool:
    Azure DevOps `project` with an optional `area_path` and an optional `team` and `board`
    (whose columns are then the workflow); Jira `jql` or `filter` (a saved filter's id); GitHub
    `repository` ("owner/name"). Statuses and types are mapped through the stream's remembered
    mappings (`ImportMapping`, the file imports' too); a name with no mapping holds its item
    back (`HeldItem`) until the director maps it. `watermark` is where the next incremental
    sync starts (Azure DevOps' continuation token, or a time for Jira and GitHub); it moves
    only in the transaction that writes what was read up to it.
    """

    class Tool(models.TextChoices):
        AZURE_DEVOPS = "azure_devops", "Azure DevOps Boards"
        JIRA_CLOUD = "jira_cloud", "Jira Cloud"
        JIRA_DATA_CENTER = "jira_dc", "Jira Data Center"
        GITHUB = "github", "GitHub"

    class Status(models.TextChoices):
        NEW = "new", "Waiting for its mapping"
        ACTIVE = "active", "Syncing"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped: needs attention"

    SOURCES = {
        Tool.AZURE_DEVOPS: ImportSource.AZURE_DEVOPS,
        Tool.JIRA_CLOUD: ImportSource.JIRA,
        Tool.JIRA_DATA_CENTER: ImportSource.JIRA,
        Tool.GITHUB: ImportSource.GITHUB,
    }

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="connections")
    tool = models.CharField(max_length=16, choices=Tool.choices)
    base_url = models.CharField(
        max_length=300,
        help_text="https://dev.azure.com/<organisation>, https://<site>.atlassian.net, your Jira Data Center's "
        "address, or https://api.github.com.",
    )
    username = models.CharField(
        max_length=200, blank=True, help_text="Jira Cloud: the account's email (the token is its API token)."
    )
    token_encrypted = models.TextField(blank=True, editable=False)
    scope = models.JSONField(default=dict, blank=True)
    rate = models.FloatField(default=5.0, help_text="Requests per second at most.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.NEW)
    status_message = models.TextField(blank=True)
    watermark = models.TextField(blank=True, editable=False)
    backfilled_at = models.DateTimeField(null=True, blank=True, editable=False)
    synced_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the last sync that completed finished."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords(excluded_fields=["token_encrypted", "watermark", "synced_at"])

    class Meta:
        ordering = ["stream", "tool", "pk"]

    def __str__(self) -> str:
        return f"{self.get_tool_display()} → {self.stream_id}"

    @property
    def source(self) -> str:
        return self.SOURCES[self.tool]

    @property
    def token(self) -> str:
        """The token in clear (`core.crypto.SecretUnreadable` if the key no longer opens it)."""
        return crypto.decrypt(self.token_encrypted)

    @token.setter
    def token(self, value: str) -> None:
        self.token_encrypted = crypto.encrypt(value)


class SyncRun(models.Model):
    """One sync of a connection: what it read, wrote and cost, and how it ended."""

    class Kind(models.TextChoices):
        BACKFILL = "backfill", "Backfill"
        INCREMENTAL = "incremental", "Incremental"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        BUSY = "busy", "Rate limited: continues at the next run"
        FAILED = "failed", "Failed"
        STOPPED = "stopped", "Stopped: credentials refused"
        INTERRUPTED = "interrupted", "Interrupted: its worker died"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    read = models.PositiveIntegerField(default=0, help_text="Revisions or issues read from the tool.")
    items_new = models.PositiveIntegerField(default=0)
    items_changed = models.PositiveIntegerField(default=0)
    items_unchanged = models.PositiveIntegerField(default=0)
    items_held = models.PositiveIntegerField(default=0)
    moves_written = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    rate_limit_waits = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    waited_seconds = models.FloatField(default=0.0)
    tool_seconds = models.FloatField(default=0.0, help_text="Seconds spent waiting for the tool's answers.")
    batches = models.PositiveIntegerField(
        default=0, help_text="Transactions committed (the watermark moved each time)."
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["connection", "-started_at"], name="sync_run_connection_idx")]
        constraints = [
            # At most one run of a connection at a time, whatever door started it.
            models.UniqueConstraint(
                fields=["connection"], condition=models.Q(status="running"), name="sync_run_one_running"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} sync #{self.pk} of connection {self.connection_id} ({self.status})"

    @property
    def seconds(self) -> float | None:
        """How long it ran (so far, while it runs)."""
        return ((self.finished_at or timezone.now()) - self.started_at).total_seconds()


class HeldItem(models.Model):
    """An item a sync held back because its status or type has no mapping yet: kept out of the
    stream (a new item is not created; a known item keeps its last mapped history) and listed on
    the connection's page until the director maps the name; the next sync then takes it in."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status"
        TYPE = "type", "Type"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="held")
    external_key = models.CharField(max_length=100)
    title = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.CharField(max_length=200, help_text="The name the mapping does not know.")
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["connection", "value", "external_key"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_key"], name="held_item_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.external_key} held: {self.kind} {self.value!r} unmapped"
