"""Secrets stored encrypted at rest (connector tokens, channel webhook URLs).

Fernet (AES-128-CBC with HMAC-SHA256, from the `cryptography` package) under keys from the
environment: `CREDENTIAL_KEYS` lists Fernet keys, the first encrypts and every one decrypts,
so a key is rotated by putting the new one first and running `manage.py rotate_credentials`.
Unset, one key is derived from `SECRET_KEY` (HKDF-SHA256): fine for a first run, but then
changing `SECRET_KEY` makes the stored secrets unreadable, so `check --deploy` warns.
"""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys opens (the key changed or was lost)."""


def _derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"portal-credentials", info=b"fernet")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        return MultiFernet([Fernet(_derived_key(secret_key))])
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "CREDENTIAL_KEYS must list Fernet keys (32 url-safe base64-encoded bytes each), separated by commas; "
            'make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        ) from error


def _current() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIAL_KEYS), settings.SECRET_KEY)


def encrypt(plain: str) -> str:
    """The text encrypted under the first key ("" stays "": nothing to hide)."""
    return _current().encrypt(plain.encode()).decode() if plain else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable(
            "the stored secret cannot be read with the configured CREDENTIAL_KEYS (was the key changed?); "
            "enter it again"
        ) from error


def rotate(token: str) -> str:
    """The token re-encrypted under the first key (unchanged if empty)."""
    return _current().rotate(token.encode()).decode() if token else ""
