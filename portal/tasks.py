"""Celery finds the portal's tasks here (autodiscovery looks for `<app>.tasks`)."""

from portal.notifications.tasks import deliver_notifications, notify_daily, notify_events  # noqa: F401
