"""Value streams, their target mix of flow item types and their leadership."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from core.history import PortalHistoricalRecords as HistoricalRecords
from core.urls import fast_reverse
from streams.flow.periods import validate_quarter
from teams.models import Discipline, Person, Team

from .querysets import ValueStreamQuerySet


def stream_url(slug: str) -> str:
    """A stream page's address (pages link hundreds of streams: `core.urls.fast_reverse`)."""
    return fast_reverse("streams:stream-detail", slug)


PERCENT_VALIDATORS = [MinValueValidator(0), MaxValueValidator(100)]


def percent_check(field: str, name: str) -> models.CheckConstraint:
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
        return stream_url(self.slug)


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
            percent_check("percent", "target_mix_percent_0_100"),
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
            percent_check("time_share_percent", "leadership_time_share_0_100"),
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
