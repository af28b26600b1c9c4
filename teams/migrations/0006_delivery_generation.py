"""Row 3 of the data generation: the writes that can change the delivery keys (core.freshness.DELIVERY)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("teams", "0005_link_generation"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="datageneration",
            name="datageneration_two_rows",
        ),
        migrations.AddConstraint(
            model_name="datageneration",
            constraint=models.CheckConstraint(
                condition=models.Q(("id__in", [1, 2, 3])), name="datageneration_three_rows"
            ),
        ),
    ]
