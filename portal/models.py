"""Models of the project package: API tokens (the only data that belongs to no domain app)."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_BYTES = 32
PREFIX_LENGTH = 8


def hash_key(key: str) -> str:
    """Tokens are stored as SHA-256 digests: a leaked database leaks no usable key."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A key a user created for a script or reporting tool; revoked, never deleted (audit)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, help_text="What uses it, e.g. “weekly flow report”.")
    prefix = models.CharField(max_length=PREFIX_LENGTH, help_text="The key's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


from portal.bulkfill.models import DeferredIndex  # noqa: E402,F401
from portal.identity.models import Identity  # noqa: E402,F401
from portal.notifications.models import (  # noqa: E402,F401 (the app's models live with their sub-domain)
    ChatChannel,
    Delivery,
    Notification,
    NotificationPreference,
    PortfolioDigest,
)
from portal.scenarios.models import Scenario  # noqa: E402,F401
