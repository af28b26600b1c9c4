"""Value streams, their leadership, their work, its history and its readiness to ship.

The transition history (`StateTransition`) is the source of truth for flow. The
`started_at`/`finished_at` columns of `BacklogItem` are derived from it by
`streams.backlog.services` and never written anywhere else.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from core.fields import ChoiceListField
from core.history import PortalHistoricalRecords as HistoricalRecords
from streams.flow.periods import validate_quarter
from teams.models import Discipline, Person, Team

from .querysets import BacklogItemQuerySet, ValueStreamQuerySet

PERCENT_VALIDATORS = [MinValueValidator(0), MaxValueValidator(100)]


def _percent_check(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gte": 0}) & Q(**{f"{field}__lte": 100}),
        name=name,
        violation_error_message=f"{field.replace('_', ' ').capitalize()} must be between 0 and 100.",
    )


class FlowType(models.TextChoices):
    """The four Flow Framework item types."""

    FEATURE = "feature", "Feature"
    DEFECT = "defect", "Defect"
    RISK = "risk", "Risk"
    DEBT = "debt", "Debt"


class ValueStream(models.Model):
    """A value stream, run as a micro-business with its own customers and P&L."""

    class Customer(models.TextChoices):
        EXTERNAL = "external", "External (customer-facing)"
        INTERNAL = "internal", "Internal (value-enabling)"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    class PnlPeriod(models.TextChoices):
        MONTH = "month", "Month"
        QUARTER = "quarter", "Quarter"
        YEAR = "year", "Year"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    customer = models.CharField(max_length=16, choices=Customer.choices, default=Customer.EXTERNAL)
    industry = models.CharField(max_length=80, blank=True, help_text="Industry or product family.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    pnl_period = models.CharField(
        max_length=8, choices=PnlPeriod.choices, default=PnlPeriod.QUARTER, help_text="Period of revenue and cost."
    )
    teams = models.ManyToManyField(Team, blank=True, related_name="streams", help_text="Teams that serve the stream.")
    required_disciplines = models.ManyToManyField(
        Discipline, blank=True, related_name="streams_needing", help_text="Disciplines the stream's teams must cover."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ValueStreamQuerySet.as_manager()
    history = HistoricalRecords(m2m_fields=["teams", "required_disciplines"])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(revenue__isnull=True) | Q(revenue__gte=0), name="stream_revenue_non_negative"
            ),
            models.CheckConstraint(condition=Q(cost__isnull=True) | Q(cost__gte=0), name="stream_cost_non_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("streams:stream-detail", args=[self.slug])


class TargetMix(models.Model):
    """The share of one flow item type that a stream's leaders aim for in a quarter."""

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="target_mix")
    period = models.CharField(max_length=7, validators=[validate_quarter], help_text="Quarter, e.g. 2026-Q4.")
    flow_type = models.CharField(max_length=8, choices=FlowType.choices)
    percent = models.PositiveSmallIntegerField(validators=PERCENT_VALIDATORS)
    history = HistoricalRecords()

    class Meta:
        ordering = ["stream__name", "-period", "flow_type"]
        verbose_name_plural = "target mix"
        constraints = [
            models.UniqueConstraint(fields=["stream", "period", "flow_type"], name="target_mix_unique"),
            _percent_check("percent", "target_mix_percent_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.stream} {self.period}: {self.percent}% {self.get_flow_type_display()}"


class LeadershipAssignment(models.Model):
    """A person leading a stream, with what makes the role real rather than nominal.

    At most one active (no end date) product director per stream, enforced by the database.
    """

    class Role(models.TextChoices):
        PRODUCT_DIRECTOR = "product_director", "Product director"
        VALUE_STREAM_MANAGER = "value_stream_manager", "Value stream manager"

    class Kind(models.TextChoices):
        DEDICATED = "dedicated", "Dedicated"
        DUAL_ROLE = "dual_role", "Dual-role executive"

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="leadership_assignments")
    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="leadership_assignments")
    role = models.CharField(max_length=24, choices=Role.choices, default=Role.PRODUCT_DIRECTOR)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.DEDICATED)
    time_share_percent = models.PositiveSmallIntegerField(
        default=100, validators=PERCENT_VALIDATORS, help_text="Share of the person's time given to this stream."
    )
    digital_experience_years = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=0,
        validators=[MinValueValidator(0)],
        help_text="Years of digital product experience.",
    )
    owns_pnl = models.BooleanField("owns the P&L", default=False)
    induction_completed = models.BooleanField(default=False)
    mentor = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="mentored_assignments"
    )
    strengths = models.TextField(blank=True, help_text="Noted at selection.")
    weaknesses = models.TextField(blank=True, help_text="Noted at selection.")
    start_date = models.DateField()
    review_date = models.DateField(
        null=True, blank=True, help_text="A dual-role appointment is reviewed early and replaced if it is not working."
    )
    end_date = models.DateField(null=True, blank=True, help_text="Empty while the assignment is active.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["stream__name", "role", "-start_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["stream"],
                condition=Q(role="product_director", end_date__isnull=True),
                name="one_active_director_per_stream",
                violation_error_message=(
                    "This stream already has an active product director; end that assignment first."
                ),
            ),
            _percent_check("time_share_percent", "leadership_time_share_0_100"),
            models.CheckConstraint(
                condition=Q(digital_experience_years__gte=0), name="leadership_experience_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="leadership_end_after_start",
                violation_error_message="The end date cannot be before the start date.",
            ),
            models.CheckConstraint(
                condition=~Q(mentor=F("person")),
                name="leadership_mentor_not_self",
                violation_error_message="A leader cannot be their own mentor.",
            ),
        ]
        indexes = [models.Index(fields=["person", "end_date"], name="leadership_person_idx")]

    def __str__(self) -> str:
        return f"{self.person} — {self.get_role_display()} of {self.stream}"

    @property
    def is_active(self) -> bool:
        return self.end_date is None


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

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="items")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="items")
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    flow_type = models.CharField(max_length=8, choices=FlowType.choices, default=FlowType.FEATURE)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    size = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Relative size (e.g. story points).")
    rank = models.FloatField(default=0, help_text="Lower ranks come first in the backlog.")
    state = models.ForeignKey(WorkflowState, on_delete=models.RESTRICT, related_name="items")
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
            # these columns from the index alone.
            models.Index(
                fields=["stream", "finished_at"],
                include=["id", "started_at", "flow_type", "customer_facing"],
                name="item_stream_finished_idx",
            ),
            models.Index(fields=["stream", "started_at"], name="item_stream_started_idx"),
            models.Index(fields=["team", "state"], name="item_team_state_idx"),
            models.Index(fields=["stream", "rank"], name="item_stream_rank_idx"),
            # Work in progress (started, not finished) is a small share of all items; alignment
            # and the portfolio read it per stream from this index alone.
            models.Index(
                fields=["stream", "started_at"],
                include=["id", "state", "team", "customer_facing"],
                condition=Q(started_at__isnull=False, finished_at__isnull=True),
                name="item_in_progress_idx",
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

    item = models.ForeignKey(BacklogItem, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.ForeignKey(
        WorkflowState,
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="+",
        help_text="Empty for the item's entry into the workflow.",
    )
    to_state = models.ForeignKey(WorkflowState, on_delete=models.RESTRICT, related_name="transitions_in")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=16, choices=Source.choices, help_text="Which door the change came through.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["item", "at", "pk"]
        indexes = [
            models.Index(fields=["item", "at"], name="transition_item_at_idx"),
            models.Index(fields=["to_state", "at"], name="transition_to_state_at_idx"),
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
        ]

    def __str__(self) -> str:
        return f"{self.criterion} for {self.item_id}: {self.get_status_display()}"


class ValueStreamMap(models.Model):
    """A drawn value stream map (current, target or future state) as of a date."""

    class Kind(models.TextChoices):
        CURRENT = "current", "Current state"
        TARGET = "target", "Target state"
        FUTURE = "future", "Future state"

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="maps")
    name = models.CharField(max_length=160)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.CURRENT)
    as_of = models.DateField()
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["stream__name", "kind", "-as_of"]

    def __str__(self) -> str:
        return f"{self.stream}: {self.name} ({self.get_kind_display()}, {self.as_of})"


class Waste(models.TextChoices):
    """The eight DOWNTIME wastes of lean."""

    DEFECTS = "defects", "Defects"
    OVERPRODUCTION = "overproduction", "Overproduction"
    WAITING = "waiting", "Waiting"
    NON_UTILISED_TALENT = "talent", "Non-utilised talent"
    TRANSPORTATION = "transportation", "Transportation"
    INVENTORY = "inventory", "Inventory"
    MOTION = "motion", "Motion"
    EXTRA_PROCESSING = "extra_processing", "Extra processing"


class ProcessBlock(models.Model):
    """One activity of a value stream map. Times are in hours of calendar time."""

    map = models.ForeignKey(ValueStreamMap, on_delete=models.CASCADE, related_name="blocks")
    order = models.PositiveSmallIntegerField(default=0)
    activity = models.CharField(max_length=160)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="process_blocks")
    people = models.PositiveSmallIntegerField(default=1)
    process_time_hours = models.DecimalField(max_digits=8, decimal_places=2, validators=[MinValueValidator(0)])
    lead_time_hours = models.DecimalField(max_digits=8, decimal_places=2, validators=[MinValueValidator(0)])
    queue_before = models.PositiveIntegerField(default=0, help_text="Items waiting before this activity.")
    percent_complete_accurate = models.PositiveSmallIntegerField(
        "%C&A",
        default=100,
        validators=PERCENT_VALIDATORS,
        help_text="Share of work leaving the activity that the next one can use as is.",
    )
    barriers = models.TextField(blank=True)
    wastes = ChoiceListField(choices=Waste.choices, help_text="DOWNTIME wastes seen here.")
    states = models.ManyToManyField(
        WorkflowState,
        blank=True,
        related_name="process_blocks",
        help_text="The workflow states work is in during this activity (its queue included): the "
        "measured map compares the drawn times with the time items really spent in them.",
    )
    history = HistoricalRecords(m2m_fields=["states"])

    class Meta:
        ordering = ["map", "order", "pk"]
        constraints = [
            _percent_check("percent_complete_accurate", "process_block_pca_0_100"),
            models.CheckConstraint(
                condition=Q(process_time_hours__gte=0) & Q(lead_time_hours__gte=F("process_time_hours")),
                name="process_block_times_consistent",
                violation_error_message="Process time must be at least 0 and no longer than lead time.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.activity}"


class ImprovementExperiment(models.Model):
    """A hypothesis about a change to a stream, judged later from flow data."""

    class Metric(models.TextChoices):
        FLOW_TIME = "flow_time", "Flow time"
        THROUGHPUT = "throughput", "Flow velocity (throughput)"
        EFFICIENCY = "efficiency", "Flow efficiency"
        WIP = "wip", "Flow load (WIP)"

    class Direction(models.TextChoices):
        DECREASE = "decrease", "Decrease"
        INCREASE = "increase", "Increase"

    class Verdict(models.TextChoices):
        PENDING = "pending", "Pending"
        IMPROVED = "improved", "Improved"
        NO_EVIDENCE = "no_evidence", "No evidence"
        WORSE = "worse", "Worse"

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="experiments")
    title = models.CharField(max_length=200)
    hypothesis = models.TextField(help_text="If we change X, flow time of features will drop by 20% by date D.")
    change = models.TextField(help_text="What is changed.")
    target_metric = models.CharField(max_length=12, choices=Metric.choices, default=Metric.FLOW_TIME)
    flow_type = models.CharField(
        max_length=8, choices=FlowType.choices, blank=True, help_text="Limit to one flow item type; empty for all."
    )
    expected_direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.DECREASE)
    expected_size_percent = models.PositiveSmallIntegerField(validators=PERCENT_VALIDATORS, default=20)
    start_date = models.DateField()
    review_date = models.DateField()
    baseline = models.JSONField(
        null=True, blank=True, editable=False, help_text="Computed from the weeks before start."
    )
    result = models.JSONField(null=True, blank=True, editable=False, help_text="Computed on the review date.")
    verdict = models.CharField(max_length=12, choices=Verdict.choices, default=Verdict.PENDING, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            _percent_check("expected_size_percent", "experiment_size_0_100"),
            models.CheckConstraint(
                condition=Q(review_date__gt=F("start_date")),
                name="experiment_review_after_start",
                violation_error_message="The review date must be after the start date.",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class FlowSnapshot(models.Model):
    """A stream's flow metrics for one week (Monday to Sunday, UTC), read as of the week's end.

    Written by the weekly beat job and the backfill command, one row per stream and week
    (re-running replaces the figures); trend lines read these instead of recomputing history.
    """

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="flow_snapshots")
    week_start = models.DateField(help_text="The Monday the week starts on.")
    throughput = models.PositiveIntegerField()
    wip = models.PositiveIntegerField(help_text="Items in progress at the end of the week.")
    flow_time_p50 = models.FloatField(null=True, blank=True)
    flow_time_p85 = models.FloatField(null=True, blank=True)
    efficiency = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(help_text="The whole report of the week, as the flow_metrics command prints it.")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["stream", "-week_start"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "week_start"], name="flow_snapshot_stream_week_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.stream} week of {self.week_start}"


# --- Daily rollups of flow (what the portfolio reads instead of the whole history) ---------------


class FlowDay(models.Model):
    """A stream's cumulative flow at the end of one complete UTC day, read from today's history.

    Written by `streams.flow.rollups` with the exact engine: items per workflow category and the
    flow load (WIP) at the day's end. Items removed since count nowhere, as in every report.
    """

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    backlog = models.PositiveIntegerField(default=0)
    active = models.PositiveIntegerField(default=0)
    waiting = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    wip = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream", "day"], name="flow_day_stream_day_unique")]

    def __str__(self) -> str:
        return f"{self.stream} on {self.day}"


class FlowDayEfficiency(models.Model):
    """Items of a stream that finished on a day (and are done still), by efficiency bin.

    `bin` is the tenth of flow efficiency an item fell in (0 for under 10%, 9 for 90% and
    over); empty for items with no flow time. The sums let any window add days up exactly.
    """

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    bin = models.PositiveSmallIntegerField(null=True, blank=True)
    items = models.PositiveIntegerField()
    active_days = models.FloatField()
    flow_days = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["stream", "day"], name="flow_day_eff_stream_day")]

    def __str__(self) -> str:
        return f"{self.stream} on {self.day}: {self.items} finished (bin {self.bin})"


class FlowDayState(models.Model):
    """Days the items a stream finished on a day spent in one workflow state (bottleneck)."""

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    state = models.ForeignKey(WorkflowState, on_delete=models.CASCADE, related_name="+")
    days = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["stream", "day"], name="flow_day_state_stream_day")]

    def __str__(self) -> str:
        return f"{self.stream} on {self.day}: {self.days:.2f} days in {self.state}"


class FlowDayMark(models.Model):
    """How far a stream's daily rollups can be trusted.

    Days before `valid_until` are stored and agree with the history; a change that rewrites
    the past (a backdated move, a reopen, a removal, a blocked period on finished work, a
    category change, a deletion) pulls `valid_until` back and bumps `version`, and the refresh
    job recomputes from there. A refresh only advances a mark whose version it read, so a
    change that commits while it runs is never hidden.
    """

    stream = models.OneToOneField(ValueStream, on_delete=models.CASCADE, primary_key=True, related_name="+")
    valid_until = models.DateField(null=True, blank=True, help_text="First day not stored (empty: none stored).")
    version = models.PositiveBigIntegerField(default=0)
    computed_as_of = models.DateTimeField(null=True, blank=True, help_text="The history instant last read.")

    def __str__(self) -> str:
        return f"{self.stream} rollups valid until {self.valid_until}"


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
