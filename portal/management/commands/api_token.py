"""`manage.py api_token USERNAME --name NAME`: create an API token and print its key (once).

For setting up a reporting tool or CI from a shell; users create their own at /api/tokens/.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from portal.tokens import token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print its key; the key is stored only as a digest."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What will use the token.")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is called {username!r}.")
        try:
            _, key = token_create(user=user, name=name)
        except DomainError as error:
            raise CommandError(error.message) from error
        self.stdout.write(key)
