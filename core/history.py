"""Change history for writes that bypass `Model.save()`.

django-simple-history records a row's version on every save and delete. A service that writes
with `QuerySet.update()` (to keep a row lock short, or to avoid overwriting a concurrent
change) sends no signal, so it calls `history_record` once the row holds its new values.
"""

from django.db import router, transaction
from django.db.models import Model
from django.db.models.deletion import Collector
from django.utils import timezone
from simple_history.models import HistoricalRecords
from simple_history.utils import get_m2m_field_name


def history_record(obj: Model, *, user=None, reason: str = "") -> None:
    """Record `obj`, as it stands in memory, as a change made by `user` (default: the request's user).

    A version also keeps the rows related through many-to-many fields, as a save would: the
    next version's change is measured against it.
    """
    manager = type(obj).history
    (record,) = manager.bulk_history_create([obj], update=True, default_user=user, default_change_reason=reason)
    for field in manager.model._history_m2m_fields:
        m2m_model = getattr(manager.model, field.name).model
        through = field.remote_field.through
        names = [f.attname for f in through._meta.fields]
        rows = through.objects.filter(**{get_m2m_field_name(field): obj}).values_list(*names)
        m2m_model.objects.bulk_create(
            m2m_model(history_id=record.pk, **dict(zip(names, row, strict=True))) for row in rows
        )


class PortalHistoricalRecords(HistoricalRecords):
    """`HistoricalRecords` that leaves deletions to `delete_with_history` while it runs.

    simple-history writes one INSERT per deleted row; deleting a stream deletes its items and
    their transitions, tens of thousands of rows, so the versions are written in batches instead."""

    def post_delete(self, instance, using=None, **kwargs):
        if getattr(HistoricalRecords.context, "deletions_recorded", False):
            return
        super().post_delete(instance, using=using, **kwargs)


DELETE_BATCH = 2000


def delete_with_history(objs, *, user=None) -> tuple[int, dict[str, int]]:
    """Delete `objs` (a queryset or a list of rows) and everything that cascades, as
    `Model.delete()` does, writing each deleted row's last version in batches of DELETE_BATCH."""
    objs = list(objs)
    if not objs:
        return 0, {}
    using = router.db_for_write(type(objs[0]), instance=objs[0])
    collector = Collector(using=using, origin=objs)
    collector.collect(objs)
    now = timezone.now()
    with transaction.atomic(using=using):
        for model, instances in collector.data.items():
            if not hasattr(model._meta, "simple_history_manager_attribute"):
                continue
            history_model = model.history.model
            fields = [f.attname for f in history_model.tracked_fields]
            history_model.objects.using(using).bulk_create(
                (
                    history_model(
                        history_type="-",
                        history_date=now,
                        history_user=user,
                        history_change_reason="",
                        **{name: getattr(obj, name) for name in fields},
                    )
                    for obj in instances
                ),
                batch_size=DELETE_BATCH,
            )
        HistoricalRecords.context.deletions_recorded = True
        try:
            return collector.delete()
        finally:
            HistoricalRecords.context.deletions_recorded = False
