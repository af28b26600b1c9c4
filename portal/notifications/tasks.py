"""The notification jobs (scheduled in settings.CELERY_BEAT_SCHEDULE). Each is idempotent:
what it records is keyed by its thing and period, and deliveries are claimed before sending."""

import logging

from celery import shared_task
from django.utils import timezone

from portal.notifications import producers
from portal.notifications.digest import leader_digests
from portal.notifications.services import deliver_due

logger = logging.getLogger(__name__)


@shared_task(name="portal.deliver_notifications")
def deliver_notifications() -> dict:
    return deliver_due()


@shared_task(name="portal.notify_events")
def notify_events() -> dict:
    now = timezone.now()
    told = {"experiment_verdict": producers.experiment_verdicts(now), "sync_problem": producers.sync_problems(now)}
    return told | {"delivered": deliver_due()}


@shared_task(name="portal.notify_daily")
def notify_daily() -> dict:
    today = timezone.localdate()
    told = {
        "checkins": producers.checkins(today),
        "readiness_digest": producers.readiness_digests(today),
        "aging": producers.aging(today),
        "leader_digest": leader_digests(today),
    }
    logger.info("daily notifications: %s", told)
    return told | {"delivered": deliver_due()}
