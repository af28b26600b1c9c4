"""`manage.py rotate_credentials`: re-encrypt every stored token under the first of CREDENTIAL_KEYS.

Rotation: put the new key first in CREDENTIAL_KEYS (keep the old one after it), restart, run
this, then drop the old key. A token no configured key opens is named, left as it is, and
makes the command exit with status 1 (enter it again on its connection's page).
"""

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.crypto import rotate
from streams.models import Connection


class Command(BaseCommand):
    help = "Re-encrypt stored connector tokens under the first of CREDENTIAL_KEYS."

    def handle(self, *args, **options):
        rotated, unreadable = 0, []
        with transaction.atomic():
            for connection in Connection.objects.select_for_update().exclude(token_encrypted="").order_by("pk"):
                try:
                    token = rotate(connection.token_encrypted)
                except InvalidToken:
                    unreadable.append(connection.pk)
                    continue
                Connection.objects.filter(pk=connection.pk).update(token_encrypted=token)
                rotated += 1
        self.stdout.write(f"{rotated} token(s) re-encrypted.")
        if unreadable:
            ids = ", ".join(map(str, unreadable))
            raise CommandError(f"No configured key opens the token of connection(s) {ids}: enter them again.")
