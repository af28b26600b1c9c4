"""Workflow states, backlog items, their transition history, blocked periods and dependencies.

The transition history (`StateTransition`) is the source of truth for flow. The
`started_at`/`finished_at` columns of `BacklogItem` are derived from it by
`streams.backlog.services` and never written anywhere else."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from core.history import PortalHistoricalRecords as HistoricalRecords
from teams.models import Team

from .querysets import BacklogItemQuerySet
from .streams import FlowType, ValueStream


class WorkflowState(models.Model):
    """A column of a stream's workflow. Its category, never its name, drives every metric.

    A state that items or history refer to cannot be deleted on its own (RESTRICT), only
    together with its stream."""

    class Category(models.TextChoices):
        BACKLOG = "backlog", "Backlog"
        ACTIVE = "active", "Active"
        WAITING = "waiting", "Waiting"
        DONE = "done", "Done"
        REMOVED = "removed", "Removed"

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="states")
    name = models.CharField(max_length=60)
    category = models.CharField(max_length=8, choices=Category.choices)
    order = models.PositiveSmallIntegerField(default=0)
    wip_limit = models.PositiveIntegerField(null=True, blank=True)

    IN_PROGRESS = (Category.ACTIVE, Category.WAITING)
    history = HistoricalRecords()

    class Meta:
        ordering = ["stream", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["stream", "name"], name="workflow_state_name_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_category_display()})"


class BacklogItem(models.Model):
    """A unit of work in a stream's backlog.

    `state` is the latest transition's target; `started_at`/`finished_at` follow the DESIGN
    definitions and are kept consistent with the history by `streams.backlog.services` alone.
    """

    # On PostgreSQL the references are checked by triggers, once per statement (migration 0033).
    # No index of their own for stream, team and parent: the indexes that lead with them
    # (item_stream_rank_idx and the others on stream, item_team_state_idx, item_parent_children_idx)
    # answer every lookup by them, and each index more is kept up on every write (a board's
    # 132,000 new items spent 0.27 s on these three).
    stream = models.ForeignKey(
        ValueStream, on_delete=models.CASCADE, related_name="items", db_constraint=False, db_index=False
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="items",
        db_constraint=False,
        db_index=False,
    )
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    flow_type = models.CharField(max_length=8, choices=FlowType.choices, default=FlowType.FEATURE)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        db_constraint=False,
        db_index=False,
    )
    size = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Relative size (e.g. story points).")
    rank = models.FloatField(default=0, help_text="Lower ranks come first in the backlog.")
    state = models.ForeignKey(WorkflowState, on_delete=models.RESTRICT, related_name="items", db_constraint=False)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    source = models.CharField(max_length=16, blank=True, help_text="Where the item was imported from.")
    external_key = models.CharField(max_length=100, blank=True, help_text="The item's key in its source tool.")
    target_date = models.DateField(null=True, blank=True)
    customer_facing = models.BooleanField(default=False)
    proposed_by = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="proposals",
        help_text="The business-operations team that proposed this improvement into the backlog.",
        db_constraint=False,
        db_index=False,  # item_proposed_by_idx: only the few items proposed
    )
    updated_at = models.DateTimeField(auto_now=True)
    source_updated_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the newest event applied from the source tool happened; an older event overwrites nothing.",
    )
    history_cut_short = models.BooleanField(
        default=False,
        db_default=False,  # rows written in bulk (imports, the scale seed) leave it out
        editable=False,
        help_text="The export held only the latest part of the item's history: its start is unknown, so a "
        "finished item has no flow time (DESIGN.md, Data quality).",
    )
    held_back = models.BooleanField(
        default=False,
        db_default=False,  # rows written in bulk leave it out
        editable=False,
        help_text="A live sync met a status or type of this item that the mapping does not know: the item is "
        "kept out of every flow figure until the name is mapped (DESIGN.md, Data in: live connectors).",
    )

    objects = BacklogItemQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["stream", "rank", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_key"],
                condition=~Q(external_key=""),
                name="item_source_external_key_unique",
                violation_error_message="An item with this source and external key already exists.",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(started_at__lte=F("finished_at")),
                name="item_started_before_finished",
            ),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="item_not_own_parent"),
        ]
        indexes = [
            models.Index(fields=["stream", "state"], name="item_stream_state_idx"),
            # Covering: the portfolio's and the flow engine's passes over finished items read
            # these columns from the index alone (held_back too: the engine's count of the items
            # done before a window, once per stream and day in the nightly rollups, read every
            # one of them from the table without it).
            models.Index(
                fields=["stream", "finished_at"],
                include=["id", "started_at", "flow_type", "customer_facing", "held_back"],
                name="item_stream_finished_idx",
            ),
            models.Index(fields=["stream", "started_at"], name="item_stream_started_idx"),
            models.Index(fields=["team", "state"], name="item_team_state_idx"),
            models.Index(fields=["stream", "rank"], name="item_stream_rank_idx"),
            # Work in progress (started, not finished) is a small share of all items; alignment
            # and the portfolio read it per stream from this index alone (held_back included: the
            # WIP rule reads it, and without it every row was read from the table too).
            models.Index(
                fields=["stream", "started_at"],
                include=["id", "state", "team", "customer_facing", "held_back"],
                condition=Q(started_at__isnull=False, finished_at__isnull=True),
                name="item_wip_idx",
            ),
            # The items of a stream whose history an export cut short (few, named on the
            # stream page's data-quality panel).
            models.Index(
                fields=["stream", "external_key"],
                include=["finished_at"],
                condition=Q(history_cut_short=True),
                name="item_cut_short_idx",
            ),
            # Items finished in a period across every stream (alignment, key results' linked
            # work): a range of this index instead of reading the whole table.
            models.Index(
                fields=["finished_at"],
                include=["id", "stream"],
                condition=Q(finished_at__isnull=False),
                name="item_finished_idx",
            ),
            # The flow health scorecard: finished child items (story size, unbundling) and
            # defect arrivals, per stream, without reading the other items.
            models.Index(
                fields=["stream", "finished_at"],
                include=["parent", "started_at"],
                condition=Q(parent__isnull=False),
                name="item_child_finished_idx",
            ),
            models.Index(
                fields=["stream", "created_at"], condition=Q(flow_type="defect"), name="item_defect_created_idx"
            ),
            # Index-only walks of the item tree: the alignment walk's step down to the children
            # (35,000 probes at the DESIGN.md scale) and the probe of a child's parent's finish.
            models.Index(
                fields=["parent"], include=["id"], condition=Q(parent__isnull=False), name="item_parent_children_idx"
            ),
            models.Index(fields=["id"], include=["finished_at"], name="item_id_finished_idx"),
            # Few items are proposed by a business-operations team; a full index kept every other
            # item's NULL.
            models.Index(fields=["proposed_by"], condition=Q(proposed_by__isnull=False), name="item_proposed_by_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("item-detail", args=[self.pk])

    @property
    def key(self) -> str:
        return self.external_key or f"#{self.pk}"


class StateTransition(models.Model):
    """One move of an item into a workflow state; the history that flow is measured from."""

    class Source(models.TextChoices):
        ADMIN = "admin", "Admin"
        PAGE = "page", "Page"
        API = "api", "API"
        IMPORT = "import", "Import"
        WEBHOOK = "webhook", "Webhook"
        SEED = "seed", "Demo or scale data"

    # The item, the states and the actor are checked once per statement on PostgreSQL, not per
    # row: the per-row foreign key checks of a 700,000-move import took 13-20 s of its COMMIT.
    # Triggers (migrations 0032 and 0038, `streams_transition_references`) refuse a move that
    # names a missing item, state or user and the deletion of one that moves still name, and
    # lock what they check as a foreign key does. SQLite's tables keep their foreign keys (0032 changes the
    # database on PostgreSQL only; a later rebuild of the table there would build it without).
    # Indexed by transition_item_history_idx (item first): no index of its own to keep up.
    item = models.ForeignKey(
        BacklogItem, on_delete=models.CASCADE, related_name="transitions", db_index=False, db_constraint=False
    )
    from_state = models.ForeignKey(
        WorkflowState,
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="+",
        db_constraint=False,
        help_text="Empty for the item's entry into the workflow.",
    )
    # Indexed by transition_to_state_item_idx (state first).
    to_state = models.ForeignKey(
        WorkflowState, on_delete=models.RESTRICT, related_name="transitions_in", db_index=False, db_constraint=False
    )
    at = models.DateTimeField()
    # Indexed only where set (transition_actor_idx): imports and scale data name no actor, and
    # a full index kept all their NULLs in one ever-growing run of equal keys. Checked by the
    # same triggers as the item (0038): Django's deferred key fired once per move at the COMMIT,
    # NULL or not (0.22 s of a 630,000-move import's).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    source = models.CharField(max_length=16, choices=Source.choices, help_text="Which door the change came through.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["item", "at", "pk"]
        indexes = [
            # A person's moves, for SET NULL when they are deleted.
            models.Index(fields=["actor"], condition=models.Q(actor__isnull=False), name="transition_actor_idx"),
            # An item's history in order, read from the index alone (the engine's stays, the
            # data-quality panel's backward moves); it serves lookups by item too. The id is a
            # key, not an included column: moves at one instant keep their order (at, id), and
            # the engine's windows over them need no sort of their own (0.15 s of a board's
            # 630,000 moves).
            models.Index(
                fields=["item", "at", "id"], include=["to_state", "from_state"], name="transition_item_history_idx"
            ),
            # A stream's moves by its states (with the item: which of its items have a history).
            models.Index(fields=["to_state", "at"], include=["item"], name="transition_to_state_item_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.from_state or '∅'} → {self.to_state} at {self.at:%Y-%m-%d %H:%M}"


class BlockedPeriod(models.Model):
    """A span during which an item was flagged blocked; open while `ended_at` is empty."""

    class Reason(models.TextChoices):
        DEPENDENCY = "dependency", "Waiting on a dependency"
        APPROVAL = "approval", "Waiting on an approval"
        CAPACITY = "capacity", "Waiting on capacity"
        READINESS = "readiness", "Waiting on business-operations readiness"
        OTHER = "other", "Other"

    item = models.ForeignKey(BacklogItem, on_delete=models.CASCADE, related_name="blocked_periods")
    reason = models.CharField(max_length=12, choices=Reason.choices, default=Reason.OTHER)
    note = models.TextField(blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["item", "started_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="blocked_period_end_after_start",
                violation_error_message="A blocked period cannot end before it starts.",
            ),
        ]
        indexes = [models.Index(fields=["item", "started_at"], name="blocked_item_started_idx")]

    def __str__(self) -> str:
        return f"{self.item_id} blocked ({self.get_reason_display()}) from {self.started_at:%Y-%m-%d}"


class Dependency(models.Model):
    """`item` cannot progress until `blocked_by` is done; may cross teams and streams."""

    item = models.ForeignKey(BacklogItem, on_delete=models.CASCADE, related_name="dependencies")
    blocked_by = models.ForeignKey(BacklogItem, on_delete=models.CASCADE, related_name="dependents")
    created_at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "dependencies"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["item", "blocked_by"], name="dependency_unique"),
            models.CheckConstraint(
                condition=~Q(item=F("blocked_by")),
                name="dependency_not_self",
                violation_error_message="An item cannot depend on itself.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} blocked by {self.blocked_by_id}"
