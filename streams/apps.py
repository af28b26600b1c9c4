from django.apps import AppConfig


class StreamsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "streams"

    def ready(self):
        # Registers percentile_cont on SQLite connections for the flow engine.
        from . import sql  # noqa: F401
