"""Objectives, key results, check-ins, and the link from key results to work."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from core.history import PortalHistoricalRecords as HistoricalRecords
from streams.flow.periods import validate_period
from streams.models import BacklogItem, ValueStream
from teams.models import Person, Team


class Objective(models.Model):
    """An objective at company, value-stream or team level, in a period, in the alignment tree."""

    class Level(models.TextChoices):
        COMPANY = "company", "Company"
        STREAM = "stream", "Value stream"
        TEAM = "team", "Team"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    level = models.CharField(max_length=8, choices=Level.choices)
    owner = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="objectives")
    period = models.CharField(max_length=7, validators=[validate_period], help_text="Quarter (2026-Q4) or year (2026).")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The objective this one contributes to.",
    )
    stream = models.ForeignKey(ValueStream, null=True, blank=True, on_delete=models.CASCADE, related_name="objectives")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="objectives")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["period", "level", "title"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(level="company", stream__isnull=True, team__isnull=True)
                    | Q(level="stream", stream__isnull=False, team__isnull=True)
                    | Q(level="team", team__isnull=False)
                ),
                name="objective_level_matches_scope",
                violation_error_message=(
                    "A company objective has no stream or team; a value-stream objective names its stream "
                    "and no team; a team objective names its team."
                ),
            ),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="objective_not_own_parent"),
        ]
        indexes = [models.Index(fields=["period", "level"], name="objective_period_level_idx")]

    def __str__(self) -> str:
        return f"{self.title} ({self.period})"


class KeyResult(models.Model):
    """A measurable result of an objective; progress = (current − start) ÷ (target − start)."""

    class Kind(models.TextChoices):
        OUTCOME = "outcome", "Outcome"
        OUTPUT = "output", "Output"

    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="key_results")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="key_results",
        help_text="Who checks in on it; empty: the objective's owner.",
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.OUTCOME)
    unit = models.CharField(max_length=30, blank=True, help_text="%, €, NPS points, days, ...")
    start_value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    target_value = models.DecimalField(max_digits=14, decimal_places=2)
    current_value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    weight = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(0)],
        help_text="Weight in the objective's progress.",
    )
    order = models.PositiveSmallIntegerField(default=0)
    items = models.ManyToManyField(
        BacklogItem,
        blank=True,
        related_name="key_results",
        help_text="Work that serves this key result; a child item counts through its parent.",
    )
    history = HistoricalRecords(m2m_fields=["items"])

    class Meta:
        ordering = ["objective", "order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(target_value=F("start_value")),
                name="key_result_target_differs_from_start",
                violation_error_message="The target must differ from the start value, or progress cannot be measured.",
            ),
            models.CheckConstraint(condition=Q(weight__gte=0), name="key_result_weight_non_negative"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def progress(self) -> Decimal:
        """Share of the way from start to target, as a fraction; over-achievement is kept (> 1)."""
        return (self.current_value - self.start_value) / (self.target_value - self.start_value)


class CheckIn(models.Model):
    """A dated reading of a key result's value with the owner's confidence (0–1)."""

    key_result = models.ForeignKey(KeyResult, on_delete=models.CASCADE, related_name="check_ins")
    value = models.DecimalField(max_digits=14, decimal_places=2)
    confidence = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="0 (no chance) to 1 (certain).",
    )
    note = models.TextField(blank=True)
    date = models.DateField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["key_result", "-date", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="check_in_confidence_0_1",
                violation_error_message="Confidence must be between 0 and 1.",
            ),
        ]
        indexes = [models.Index(fields=["key_result", "date"], name="check_in_kr_date_idx")]

    def __str__(self) -> str:
        return f"{self.key_result}: {self.value} on {self.date}"
