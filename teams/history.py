"""Change history for writes that bypass `Model.save()`.

django-simple-history records a row's version on every save and delete. A service that writes
with `QuerySet.update()` (to keep a row lock short, or to avoid overwriting a concurrent
change) sends no signal, so it calls `history_record` once the row holds its new values.
"""

from django.db.models import Model
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
