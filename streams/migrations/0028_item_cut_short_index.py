"""The few items of a stream whose history an export cut short, from a partial index (the
data-quality panel counts and names them)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0027_transition_state_item_index"),
        ("teams", "0006_delivery_generation"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="backlogitem",
            index=models.Index(
                condition=models.Q(("history_cut_short", True)),
                fields=["stream", "external_key"],
                include=("finished_at",),
                name="item_cut_short_idx",
            ),
        ),
    ]
