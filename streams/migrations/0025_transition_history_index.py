"""An item's history read from one covering index (item, at) + (id, to_state, from_state); the
foreign key's own index on item alone goes (the new one serves it)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0024_flow_day_states"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="statetransition",
            name="transition_item_at_idx",
        ),
        migrations.AlterField(
            model_name="statetransition",
            name="item",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="transitions",
                to="streams.backlogitem",
            ),
        ),
        migrations.AddIndex(
            model_name="statetransition",
            index=models.Index(
                fields=["item", "at"], include=("id", "to_state", "from_state"), name="transition_item_history_idx"
            ),
        ),
    ]
