"""Every stream's stored days of a window read from an index alone (the portfolio sums them)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0028_item_cut_short_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="flowdayefficiency",
            index=models.Index(
                fields=["day"], include=("stream", "bin", "items", "active_days", "flow_days"), name="flow_day_eff_day"
            ),
        ),
        migrations.AddIndex(
            model_name="flowdaystate",
            index=models.Index(fields=["day"], include=("stream", "state", "days"), name="flow_day_state_day"),
        ),
    ]
