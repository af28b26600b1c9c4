from django.apps import AppConfig
from django.db.models.signals import pre_migrate


class PortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"

    def ready(self):
        # Notifications listen to the domain's signals (a release-gate refusal); the tasks are
        # registered in every process so a service can queue one by name.
        from portal import tasks  # noqa: F401
        from portal.bulkfill.indexes import restore_before_migrating
        from portal.notifications import receivers  # noqa: F401
        from portal.scenarios import rules  # noqa: F401

        pre_migrate.connect(restore_before_migrating, sender=self)
