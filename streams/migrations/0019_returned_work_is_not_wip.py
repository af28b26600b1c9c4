"""Work returned to the backlog is not WIP (DESIGN.md, "Flow load").

A started item sitting in a backlog state again used to count as work in progress at every
day's end; now only stays in active or waiting states do. The stored days hold the old WIP:
every stream's days are recomputed by the next refresh. Weekly snapshots keep the WIP they
were written with until `manage.py flow_snapshots --weeks N` writes them again.
"""

from django.db import migrations

RECOMPUTE_DAYS = "UPDATE streams_flowdaymark SET valid_until = NULL, version = version + 1"


class Migration(migrations.Migration):
    dependencies = [("streams", "0018_start_rule_never_in_progress")]

    operations = [migrations.RunSQL(RECOMPUTE_DAYS, migrations.RunSQL.noop)]
