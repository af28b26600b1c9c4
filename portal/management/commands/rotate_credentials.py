"""`manage.py rotate_credentials`: re-encrypt every stored secret (connector tokens, chat
channels' webhook addresses) under the first of CREDENTIAL_KEYS.

Rotation: put the new key first in CREDENTIAL_KEYS (keep the old one after it), restart, run
this, then drop the old key. A secret no configured key opens is named, left as it is, and
makes the command exit with status 1 (enter it again on its connection's page, or its chat
channel in the admin).
"""

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.crypto import rotate
from portal.notifications.models import ChatChannel
from streams.models import Connection

# (model, the encrypted field, how the output names a row)
SECRETS = ((Connection, "token_encrypted", "connection"), (ChatChannel, "url_encrypted", "chat channel"))


class Command(BaseCommand):
    help = "Re-encrypt stored connector tokens and chat webhook addresses under the first of CREDENTIAL_KEYS."

    def handle(self, *args, **options):
        rotated, unreadable = 0, []
        with transaction.atomic():
            for model, field, label in SECRETS:
                rows = model.objects.select_for_update().exclude(**{field: ""}).order_by("pk")
                for pk, secret in rows.values_list("pk", field):
                    try:
                        model.objects.filter(pk=pk).update(**{field: rotate(secret)})
                    except InvalidToken:
                        unreadable.append(f"{label} {pk}")
                        continue
                    rotated += 1
        self.stdout.write(f"{rotated} secret(s) re-encrypted.")
        if unreadable:
            raise CommandError(f"No configured key opens the secret of {', '.join(unreadable)}: enter them again.")
