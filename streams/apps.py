from django.apps import AppConfig


class StreamsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "streams"

    def ready(self):
        # sql registers percentile_cont on SQLite connections for the flow engine; signals keep
        # the daily flow rollups honest when blocked periods or items change; rules register
        # who may change what with core.access; tasks are registered in every process, so a
        # service can queue one by its name (core.queue.send) without importing them; checks
        # adds the deploy check of CREDENTIAL_KEYS.
        from core import sql  # noqa: F401

        from . import checks, rules, tasks  # noqa: F401
        from .flow import signals  # noqa: F401
