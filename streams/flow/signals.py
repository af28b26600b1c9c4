"""Receivers that keep the daily flow rollups honest (`streams.flow.rollups`).

They decide nothing: they report that stored days may no longer match the history. Blocked
periods and item deletions are written by the admin (and, later, the API) through the ORM,
so signals catch every door; bulk writers (imports, seeds) call `rollups_invalidate` or
refresh the rollups themselves.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from streams.flow.rollups import rollups_invalidate, utc_day
from streams.models import BacklogItem, BlockedPeriod


@receiver([post_save, post_delete], sender=BlockedPeriod)
def blocked_period_changed(sender, instance: BlockedPeriod, **kwargs) -> None:
    """Blocked time changes the efficiency of finished work; work in progress is read live."""
    finished_at, stream_id = BacklogItem.objects.filter(pk=instance.item_id).values_list(
        "finished_at", "stream_id"
    ).first() or (None, None)
    if finished_at is not None:
        rollups_invalidate(stream_id=stream_id, since=utc_day(finished_at))


@receiver(post_delete, sender=BacklogItem)
def item_deleted(sender, instance: BacklogItem, **kwargs) -> None:
    """A deleted item leaves every day of its life: recompute the stream's days."""
    rollups_invalidate(stream_id=instance.stream_id, since=None, create_mark=False)
