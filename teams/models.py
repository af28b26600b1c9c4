"""People, teams and who works in which team."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from core.history import PortalHistoricalRecords as HistoricalRecords


class Discipline(models.Model):
    """A craft a person brings and a stream may need (product, design, engineering, ...)."""

    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """Someone in the organisation; optionally linked to the login they use."""

    name = models.CharField(max_length=120)
    email = models.EmailField(unique=True)
    title = models.CharField(max_length=120, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="person"
    )
    disciplines = models.ManyToManyField(Discipline, blank=True, related_name="people")
    history = HistoricalRecords(m2m_fields=["disciplines"])

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "people"
        indexes = [models.Index(fields=["name"], name="person_name_idx")]

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    """A team of people, typed after Team Topologies plus business operations."""

    class Type(models.TextChoices):
        STREAM_ALIGNED = "stream_aligned", "Stream-aligned"
        PLATFORM = "platform", "Platform"
        ENABLING = "enabling", "Enabling"
        COMPLICATED_SUBSYSTEM = "complicated_subsystem", "Complicated-subsystem"
        BUSINESS_OPERATIONS = "business_operations", "Business operations / shared services"

    class WorkMode(models.TextChoices):
        PROBABILISTIC = "probabilistic", "Probabilistic"
        DETERMINISTIC = "deterministic", "Deterministic"
        MIXED = "mixed", "Mixed"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    type = models.CharField(max_length=32, choices=Type.choices, default=Type.STREAM_ALIGNED)
    work_mode = models.CharField(max_length=16, choices=WorkMode.choices, default=WorkMode.PROBABILISTIC)
    wip_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most items the team should have in progress at once; empty for none."
    )
    description = models.TextField(blank=True)
    members = models.ManyToManyField(Person, through="Membership", related_name="teams")
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(wip_limit__isnull=True) | Q(wip_limit__gte=0), name="team_wip_limit_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:teams_team_change", args=[self.pk])


class Membership(models.Model):
    """A person's place in a team and the share of their time it takes."""

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        PRODUCT_OWNER = "product_owner", "Product owner"
        TEAM_LEAD = "team_lead", "Team lead"
        AGILE_COACH = "agile_coach", "Agile coach"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=24, choices=Role.choices, default=Role.MEMBER)
    allocation_percent = models.PositiveSmallIntegerField(
        default=100,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Share of the person's time given to this team, 0–100.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["team__name", "person__name"]
        constraints = [
            models.UniqueConstraint(fields=["person", "team"], name="membership_person_team_unique"),
            models.CheckConstraint(
                condition=Q(allocation_percent__gte=0) & Q(allocation_percent__lte=100),
                name="membership_allocation_0_100",
                violation_error_message="Allocation must be between 0 and 100 percent.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} in {self.team} ({self.allocation_percent}%)"


class DataGeneration(models.Model):
    """How many committed writes the domain data has seen (`core.freshness`): row 1 counts every
    write, row 2 those that can change which items serve which key results, row 3 those that can
    change the delivery keys, row 4 those to the objectives and the names they show.

    Cached results are keyed on `epoch` and `value`; the epoch is random per row, so keys stay
    unique if the row is ever re-created."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)
    epoch = models.CharField(max_length=32)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id__in=[1, 2, 3, 4]), name="datageneration_four_rows")]

    def __str__(self) -> str:
        return f"data generation {self.value} ({self.epoch})"
