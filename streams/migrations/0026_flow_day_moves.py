"""Stored days carry their moves per pair of states (the data-quality panel's backward moves and
reopens). Days stored before this have none: every stream's mark stops trusting them, so the
refresh job recomputes them (until then the panel counts the moves from the history)."""

from django.db import migrations, models
from django.db.models import F


def distrust_stored_days(apps, schema_editor):
    apps.get_model("streams", "FlowDayMark").objects.update(valid_until=None, version=F("version") + 1)


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0025_transition_history_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="flowday",
            name="moves",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(distrust_stored_days, migrations.RunPython.noop),
    ]
