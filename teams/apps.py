from django.apps import AppConfig
from django.db.backends.signals import connection_created

from core import freshness


def _watch_writes(sender, connection, **kwargs):
    freshness.install(connection)


class TeamsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "teams"

    def ready(self):
        # Every write to domain data moves the generation that fresh caches are keyed on.
        connection_created.connect(_watch_writes, dispatch_uid="core.freshness")
