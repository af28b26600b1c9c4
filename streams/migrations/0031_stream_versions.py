"""Per-stream versions (`streams.models.versions`): the tables and, on PostgreSQL, the
statement-level triggers that note which streams each write touches (every door, COPY
included). SQLite has no transition tables: there `core.freshness` falls back on the global
generation for every stream."""

from django.db import migrations, models

# (table, how its rows name a stream, columns): "stream" columns hold the stream's id, "item"
# columns an item's, "team" columns a team's (the streams it serves), "person" a person's
# (the streams their teams serve). An item's row names its own stream and those of the items
# that wait on it and of its children: their streams' figures read it (a cross-team dependency
# reads the blocker's team; a child finished early reads its parent's finish).
WATCHED = [
    ("streams_backlogitem", "backlog", ["stream_id"]),
    ("streams_workflowstate", "stream", ["stream_id"]),
    ("streams_flowday", "stream", ["stream_id"]),
    ("streams_flowdayefficiency", "stream", ["stream_id"]),
    ("streams_flowdaystate", "stream", ["stream_id"]),
    ("streams_flowdaymark", "stream", ["stream_id"]),
    ("streams_flowsnapshot", "stream", ["stream_id"]),
    ("streams_valuestreammap", "stream", ["stream_id"]),
    ("streams_valuestream_teams", "stream", ["valuestream_id"]),
    ("streams_valuestream_required_disciplines", "stream", ["valuestream_id"]),
    ("streams_statetransition", "item", ["item_id"]),
    ("streams_readinesscheck", "item", ["item_id"]),
    ("streams_blockedperiod", "item", ["item_id"]),
    ("streams_dependency", "item", ["item_id", "blocked_by_id"]),
    ("teams_team", "team", ["id"]),
    ("teams_membership", "team", ["team_id"]),
    ("teams_person_disciplines", "person", ["person_id"]),
]

FUNCTION = r"""
CREATE OR REPLACE FUNCTION streams_note_stream_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    written text;
    rows text;  -- the rows once each (an update's old and new rows have the same ids)
    parts text[] := '{}';
    col text;
BEGIN
    written := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT * FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT * FROM old_rows'
        ELSE 'SELECT * FROM new_rows UNION ALL SELECT * FROM old_rows' END;
    rows := CASE TG_OP WHEN 'DELETE' THEN 'old_rows' ELSE 'new_rows' END;
    FOREACH col IN ARRAY TG_ARGV[1:] LOOP
        parts := parts || CASE TG_ARGV[0]
            WHEN 'stream' THEN format('SELECT w.%I FROM (%s) w', col, written)
            -- New items have no children or dependents yet: only their own streams.
            WHEN 'backlog' THEN CASE WHEN TG_OP = 'INSERT' THEN format('SELECT w.%I FROM (%s) w', col, written)
            ELSE format(
                'SELECT w.%I FROM (%s) w
                 UNION SELECT i.stream_id FROM streams_dependency d JOIN streams_backlogitem i ON i.id = d.item_id
                 WHERE d.blocked_by_id IN (SELECT w.id FROM %I w)
                 UNION SELECT c.stream_id FROM streams_backlogitem c WHERE c.parent_id IN (SELECT w.id FROM %I w)',
                col, written, rows, rows) END
            WHEN 'item' THEN format(
                'SELECT i.stream_id FROM streams_backlogitem i WHERE i.id IN (SELECT w.%I FROM (%s) w)', col, written)
            WHEN 'team' THEN format(
                'SELECT s.valuestream_id FROM streams_valuestream_teams s WHERE s.team_id IN (SELECT w.%I FROM (%s) w)',
                col, written)
            ELSE format(
                'SELECT s.valuestream_id FROM streams_valuestream_teams s
                 JOIN teams_membership m ON m.team_id = s.team_id
                 WHERE m.person_id IN (SELECT w.%I FROM (%s) w)', col, written)
        END;
    END LOOP;
    EXECUTE format(
        'INSERT INTO streams_streamchange (backend, stream_id) SELECT DISTINCT pg_backend_pid(), c.stream
         FROM (%s) c(stream) WHERE c.stream IS NOT NULL', array_to_string(parts, ' UNION '));
    RETURN NULL;
END
$$;
"""

EVENTS = [
    ("insert", "INSERT", "NEW TABLE AS new_rows"),
    ("update", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("delete", "DELETE", "OLD TABLE AS old_rows"),
]


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE streams_streamchange SET UNLOGGED")
    schema_editor.execute(FUNCTION, params=None)  # its %I and %s are format()'s, not parameters
    for table, kind, columns in WATCHED:
        arguments = ", ".join(f"'{value}'" for value in [kind, *columns])
        for name, event, referencing in EVENTS:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_stream_{name} AFTER {event} ON {table} REFERENCING {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION streams_note_stream_changes({arguments})"
            )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _, _ in WATCHED:
        for name, _, _ in EVENTS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_stream_{name} ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS streams_note_stream_changes()")


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0030_readiness_met_recent_index"),
        ("teams", "0006_delivery_generation"),
    ]

    operations = [
        migrations.CreateModel(
            name="StreamChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("backend", models.IntegerField(db_index=True)),
                ("stream_id", models.IntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="StreamVersion",
            fields=[
                ("stream_id", models.IntegerField(primary_key=True, serialize=False)),
                ("value", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
