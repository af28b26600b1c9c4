from django.apps import AppConfig


class OkrsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "okrs"

    def ready(self):
        # Who may change objectives, key results and check-ins, registered with core.access.
        from . import rules  # noqa: F401
