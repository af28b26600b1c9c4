"""Value stream maps with their process blocks, and improvement experiments."""

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from core.fields import ChoiceListField
from core.history import PortalHistoricalRecords as HistoricalRecords
from teams.models import Team

from .backlog import WorkflowState
from .streams import PERCENT_VALIDATORS, FlowType, ValueStream, percent_check


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
            percent_check("percent_complete_accurate", "process_block_pca_0_100"),
            models.CheckConstraint(
                condition=Q(process_time_hours__gte=0) & Q(lead_time_hours__gte=F("process_time_hours")),
                name="process_block_times_consistent",
                violation_error_message="Process time must be at least 0 and no longer than lead time.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.activity}"

    @property
    def waste_labels(self) -> list[str]:
        """The wastes as people read them ("Extra processing", not "extra_processing")."""
        labels = dict(Waste.choices)
        return [labels.get(waste, waste) for waste in self.wastes or []]


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
            percent_check("expected_size_percent", "experiment_size_0_100"),
            models.CheckConstraint(
                condition=Q(review_date__gt=F("start_date")),
                name="experiment_review_after_start",
                violation_error_message="The review date must be after the start date.",
            ),
        ]

    def __str__(self) -> str:
        return self.title
