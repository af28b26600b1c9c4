"""Re-derive the start of items that never were in progress (DESIGN.md, "Start").

Such an item used to start at its first entry into done and keep that start if reopened, so
Backlog → Done → Backlog counted as work in progress for years. Now it starts at its finish
when it is done (flow time 0) and has no start otherwise. Only those items change; every
stream's stored days are recomputed (their WIP may change).
"""

from django.db import migrations

RESTART = """
    UPDATE streams_backlogitem
    SET started_at = CASE WHEN cs.category = 'done' THEN streams_backlogitem.finished_at END
    FROM streams_workflowstate cs
    WHERE cs.id = streams_backlogitem.state_id
      AND streams_backlogitem.started_at IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM streams_statetransition t
          JOIN streams_workflowstate s ON s.id = t.to_state_id
          WHERE t.item_id = streams_backlogitem.id AND s.category IN ('active', 'waiting')
      )
"""
RECOMPUTE_DAYS = "UPDATE streams_flowdaymark SET valid_until = NULL, version = version + 1"


class Migration(migrations.Migration):
    dependencies = [("streams", "0017_import_job_interrupted")]

    operations = [
        migrations.RunSQL(RESTART, migrations.RunSQL.noop),
        migrations.RunSQL(RECOMPUTE_DAYS, migrations.RunSQL.noop),
    ]
