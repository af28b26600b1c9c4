"""System checks of the streams app (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def credential_keys_check(app_configs, **kwargs):
    """Connector tokens are encrypted under CREDENTIAL_KEYS; derived from SECRET_KEY when unset,
    they would become unreadable the day SECRET_KEY is rotated."""
    if settings.CREDENTIAL_KEYS:
        return []
    return [
        Warning(
            "CREDENTIAL_KEYS is not set: stored connector tokens are encrypted under a key derived from SECRET_KEY, "
            "and rotating SECRET_KEY would make them unreadable.",
            hint='Set CREDENTIAL_KEYS to a Fernet key: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"',
            id="streams.W001",
        )
    ]
