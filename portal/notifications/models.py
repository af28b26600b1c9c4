"""Notifications: what the portal says to whom, recorded before it is said.

- `Notification`: one message to one person (kind, subject, its lines with links, the figures'
  n and window), unique per (recipient, kind, key): the key names what it is about and its
  period ("kr:12:2026-W49"), so a job that runs twice records it once.
- `Delivery`: one send of a notification through one channel (an email to its recipient, a
  post to a Slack or Teams channel). Unique per (channel, address, kind, key): ten members of a
  team who chose their team's Slack channel make one post, not ten. Claimed before it is sent
  and marked after, so a retried or duplicated job sends nothing twice; a failed send waits
  and is tried again with backoff, its error kept.
- `ChatChannel`: a Slack or Microsoft Teams incoming webhook of a team or a stream, its URL
  encrypted at rest (`core.crypto`), with the kinds it is for.
- `NotificationPreference`: a person's channel for a kind (email, their team's or stream's
  chat channel, only in the portal, or off) and the frequency of digests.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core import crypto
from core.history import PortalHistoricalRecords as HistoricalRecords
from streams.models import ValueStream
from teams.models import Person, Team


class Kind(models.TextChoices):
    CHECKIN_DUE = "checkin_due", "Key result check-in due"
    CHECKIN_STALE = "checkin_stale", "Key result check-in stale"
    READINESS_DIGEST = "readiness_digest", "Readiness checks waiting on your team"
    AGING = "aging", "Work aging past the stream's 85th percentile"
    GATE_REFUSED = "gate_refused", "Release gate refused a move"
    EXPERIMENT_VERDICT = "experiment_verdict", "Experiment verdict"
    SYNC_PROBLEM = "sync_problem", "Sync or import failed, or waits for a mapping"
    LEADER_DIGEST = "leader_digest", "Weekly portfolio digest"


# Kinds that gather many things into one message per period: their frequency is a preference.
DIGESTS = {Kind.READINESS_DIGEST, Kind.AGING, Kind.LEADER_DIGEST}
# When the other kinds come.
CADENCE = {
    Kind.CHECKIN_DUE: "weekly, while a check-in is due",
    Kind.CHECKIN_STALE: "weekly, while stale",
    Kind.GATE_REFUSED: "as it happens, once a day per item",
    Kind.EXPERIMENT_VERDICT: "as it happens",
    Kind.SYNC_PROBLEM: "as it happens; a mapping awaited, weekly",
}


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    CHAT = "chat", "Slack or Teams channel"
    PORTAL = "portal", "Only in the portal"
    OFF = "off", "Off"


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class Notification(models.Model):
    recipient = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    key = models.CharField(max_length=120, help_text="What it is about and its period; unique per recipient and kind.")
    subject = models.CharField(max_length=200)
    lines = models.JSONField(default=list, help_text='[{"text": ..., "url": ...}]: one line a thing, each linked.')
    figures = models.CharField(max_length=300, blank=True, help_text="The figures' n and window.")
    url = models.CharField(max_length=300, help_text="The page that explains it (a path of the portal).")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "kind", "key"], name="notification_once"),
        ]
        indexes = [
            models.Index(fields=["recipient", "read_at", "-created_at"], name="notification_inbox_idx"),
        ]

    def __str__(self) -> str:
        return self.subject


class ChatChannel(models.Model):
    class Service(models.TextChoices):
        SLACK = "slack", "Slack"
        TEAMS = "teams", "Microsoft Teams"

    name = models.CharField(max_length=120, help_text="How people know it, e.g. #payments-team.")
    service = models.CharField(max_length=8, choices=Service.choices)
    url_encrypted = models.TextField(editable=False)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="chat_channels")
    stream = models.ForeignKey(
        ValueStream, null=True, blank=True, on_delete=models.CASCADE, related_name="chat_channels"
    )
    kinds = models.JSONField(default=list, blank=True, help_text="The kinds posted here; empty for all.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords(excluded_fields=["url_encrypted"])

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=False, stream__isnull=True) | Q(team__isnull=True, stream__isnull=False),
                name="chat_channel_of_team_or_stream",
                violation_error_message="A chat channel belongs to one team or one stream.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_service_display()})"

    @property
    def url(self) -> str:
        return crypto.decrypt(self.url_encrypted)

    @url.setter
    def url(self, value: str) -> None:
        self.url_encrypted = crypto.encrypt(value)

    def takes(self, kind: str) -> bool:
        return self.active and (not self.kinds or kind in self.kinds)


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=ChatChannel.Service.choices + [("email", "Email")])
    address = models.CharField(max_length=254, help_text="The email address, or chat:<channel id>.")
    chat = models.ForeignKey(ChatChannel, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    key = models.CharField(max_length=120)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["channel", "address", "kind", "key"], name="delivery_once"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.address}: {self.get_status_display()}"


class NotificationPreference(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="notification_preferences")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.DAILY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["person", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["person", "kind"], name="notification_preference_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.person}: {self.get_kind_display()} by {self.get_channel_display()}"


class PortfolioDigest(models.Model):
    """The portfolio's figures per stream as a leaders' digest read them, one row a week, so the
    next digest can say what changed."""

    week_start = models.DateField(unique=True, help_text="The Monday of the week.")
    figures = models.JSONField(help_text="Per stream slug: name, health, aligned share, delivery levels, gaps.")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-week_start"]

    def __str__(self) -> str:
        return f"Portfolio digest of the week of {self.week_start}"
