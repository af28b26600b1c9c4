"""Who an identity provider says a user is: its issuer and subject, so a renamed email or name
at the provider still finds the same portal user."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Identity(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identities")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255, help_text="The provider's `sub` claim: stable for the person.")
    created_at = models.DateTimeField(default=timezone.now)
    last_login_at = models.DateTimeField(null=True, blank=True)
    groups = models.JSONField(default=list, blank=True, help_text="The groups the provider sent at the last login.")

    class Meta:
        verbose_name_plural = "identities"
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="identity_issuer_subject_unique")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
