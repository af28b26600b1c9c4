from django.apps import AppConfig


class StreamsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "streams"

    def ready(self):
        # sql registers percentile_cont on SQLite connections for the flow engine; signals keep
        # the daily flow rollups honest when blocked periods or items change.
        from . import signals, sql  # noqa: F401
