"""A stream's moves by its states, with the item: the data-quality panel finds its items with no
history from this index alone."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0026_flow_day_moves"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="statetransition",
            index=models.Index(fields=["to_state", "at"], include=("item",), name="transition_to_state_item_idx"),
        ),
        migrations.RemoveIndex(
            model_name="statetransition",
            name="transition_to_state_at_idx",
        ),
    ]
