"""Stored days carry the items per workflow state (the stream page's cumulative flow per state).

Days stored before this have none: every stream's mark stops trusting them, so the refresh job
recomputes them (until then reports read the history, as for a stream never refreshed)."""

from django.db import migrations, models
from django.db.models import F


def distrust_stored_days(apps, schema_editor):
    apps.get_model("streams", "FlowDayMark").objects.update(valid_until=None, version=F("version") + 1)


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0023_covering_indexes_for_wip_and_finished"),
    ]

    operations = [
        migrations.AddField(
            model_name="flowday",
            name="states",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(distrust_stored_days, migrations.RunPython.noop),
    ]
