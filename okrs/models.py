"""Objectives, key results, check-ins, and the link from key results to work."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from core.history import PortalHistoricalRecords as HistoricalRecords
from streams.flow.periods import validate_period
from streams.models import BacklogItem, FlowType, ReadinessCriterion, ValueStream
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


class Measure(models.TextChoices):
    """Figures the portal computes that a key result may follow (`okrs.measures` says how)."""

    FLOW_VELOCITY = "flow_velocity", "Flow velocity (items finished per week)"
    FLOW_TIME_P50 = "flow_time_p50", "Flow time, median (days)"
    FLOW_TIME_P85 = "flow_time_p85", "Flow time, 85th percentile (days)"
    FLOW_EFFICIENCY = "flow_efficiency", "Flow efficiency (%)"
    WIP = "wip", "Work in progress (items)"
    AGED_WIP = "aged_wip", "Aged work in progress (items older than the 85th percentile flow time)"
    TYPE_SHARE = "type_share", "Share of a flow type among finished items (%)"
    ALIGNED_WIP = "aligned_wip", "Aligned share of work in progress (%)"
    ALIGNED_FINISHED = "aligned_finished", "Aligned share of finished work (%)"
    DEPLOYMENT_FREQUENCY = "deployment_frequency", "Deployment frequency (per week)"
    CHANGE_LEAD_TIME = "change_lead_time", "Lead time for changes, median (hours)"
    CHANGE_FAILURE_RATE = "change_failure_rate", "Change failure rate (%)"
    TIME_TO_RESTORE = "time_to_restore", "Time to restore service, median (hours)"
    CRITERION_LEAD_TIME = "criterion_lead_time", "Readiness criterion's sign-off lead time, 85th percentile (days)"
    TEAM_SIGN_OFF_LEAD_TIME = "team_sign_off_lead_time", "Operations team's sign-off lead time, 85th percentile (days)"


class KeyResult(models.Model):
    """A measurable result of an objective; progress = (current − start) ÷ (target − start).

    Its current value comes from people's check-ins (`source` typed), or from a figure the portal
    computes (`source` measured: `measure` over its scope and window, recorded daily as a system
    check-in by `okrs.measures`; people's check-ins then carry only confidence and a note)."""

    class Kind(models.TextChoices):
        OUTCOME = "outcome", "Outcome"
        OUTPUT = "output", "Output"

    class Source(models.TextChoices):
        TYPED = "typed", "Typed in check-ins"
        MEASURED = "measured", "Measured by the portal"

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
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.TYPED)
    measure = models.CharField(max_length=30, choices=Measure.choices, blank=True)
    measure_stream = models.ForeignKey(
        ValueStream,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="measured_key_results",
        help_text="The value stream measured (flow and delivery measures; alignment: empty for the whole portfolio).",
    )
    measure_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="measured_key_results",
        help_text="The team measured (alignment), or the operations team whose sign-offs are timed.",
    )
    measure_flow_type = models.CharField(
        max_length=16, choices=FlowType.choices, blank=True, help_text="For the share of a flow type."
    )
    measure_criterion = models.ForeignKey(
        ReadinessCriterion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="measured_key_results",
        help_text="For a readiness criterion's sign-off lead time.",
    )
    measure_weeks = models.PositiveSmallIntegerField(
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(52)],
        help_text="The window measured: the last N weeks of complete days.",
    )
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
            models.CheckConstraint(
                condition=Q(source="typed", measure="") | Q(source="measured") & ~Q(measure=""),
                name="key_result_measured_names_its_measure",
                violation_error_message="A key result measured by the portal names its measure; a typed one has none.",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def progress(self) -> Decimal:
        """Share of the way from start to target, as a fraction; over-achievement is kept (> 1)."""
        return (self.current_value - self.start_value) / (self.target_value - self.start_value)


class CheckIn(models.Model):
    """A dated reading of a key result's value with the owner's confidence (0–1).

    A system check-in (`system`) is the portal's reading of a measured key result: no author and
    no confidence, but its n, method and the page it comes from; one a day at most."""

    key_result = models.ForeignKey(KeyResult, on_delete=models.CASCADE, related_name="check_ins")
    value = models.DecimalField(max_digits=14, decimal_places=2)
    confidence = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="0 (no chance) to 1 (certain).",
    )
    note = models.TextField(blank=True)
    date = models.DateField()
    system = models.BooleanField(default=False, help_text="Recorded by the portal from a measure.")
    n = models.PositiveIntegerField(null=True, blank=True, help_text="How many items (or events) the figure rests on.")
    method = models.TextField(blank=True, help_text="What was measured, over which scope and window.")
    source_url = models.CharField(max_length=500, blank=True, help_text="The page the figure comes from.")
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
            models.CheckConstraint(
                condition=Q(system=True) | Q(confidence__isnull=False),
                name="check_in_person_gives_confidence",
                violation_error_message="A person's check-in gives a confidence between 0 and 1.",
            ),
            models.UniqueConstraint(
                fields=["key_result", "date"], condition=Q(system=True), name="check_in_one_system_reading_a_day"
            ),
        ]
        indexes = [models.Index(fields=["key_result", "date"], name="check_in_kr_date_idx")]

    def __str__(self) -> str:
        return f"{self.key_result}: {self.value} on {self.date}"
