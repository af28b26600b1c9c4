"""An item's stream, state, teams and parent checked once per statement, not once per row.

As migration 0032 did for moves: Django's foreign keys are checked row by row at the COMMIT,
which took 1.5 s of server CPU for a board import of 132,000 items (five keys, 660,000 queued
trigger events). On PostgreSQL, statement-level triggers with transition tables now do what the
five keys did, in one set-based query per referenced table:

- after an INSERT, the distinct streams, states, teams and parents the new rows name are locked
  FOR KEY SHARE (as a foreign key check locks them: a concurrent deletion waits for this
  transaction, then finds the items) and a row naming a missing one is refused; after an
  UPDATE, the same for the rows whose reference changed (a key left as it was is not checked
  again, nor its row locked, as with the foreign keys);
- at the COMMIT, a stream, state, team or item deleted (or given another id) that items still
  name is refused: row by row and deferred, as the keys' own triggers on that side were (a
  transaction may delete a stream before its items), with static queries (plans kept per
  session: a stream's deletion runs it for each of its items).

Both raise `foreign_key_violation` (Django's IntegrityError), as the keys did; a bad item is
refused at the end of its statement instead of at the COMMIT: every writer writes a stream, its
states and a parent before the items naming them, or in the same statement (an import's COPY).

SQLite's table keeps its foreign keys (`OnPostgreSQL`, from 0032), for the reasons 0032 gives.
"""

from importlib import import_module

from django.db import migrations, models
import django.db.models.deletion

OnPostgreSQL = import_module("streams.migrations.0032_transition_references_by_statement").OnPostgreSQL

# TG_ARGV: (column of streams_backlogitem, referenced table) pairs, flattened.
PG_CHECK_ITEMS = r"""
CREATE OR REPLACE FUNCTION streams_item_references_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    i int := 0;
    col text;
    tab text;
    refs bigint[];
    locked bigint;
    missing text;
BEGIN
    WHILE i < TG_NARGS LOOP
        col := TG_ARGV[i];
        tab := TG_ARGV[i + 1];
        i := i + 2;
        IF TG_OP = 'INSERT' THEN
            EXECUTE format('SELECT array_agg(DISTINCT n.%1$I) FROM new_rows n WHERE n.%1$I IS NOT NULL', col)
                INTO refs;
        ELSE
            EXECUTE format(
                'SELECT array_agg(DISTINCT n.%1$I) FROM new_rows n LEFT JOIN old_rows o ON o.id = n.id '
                'WHERE n.%1$I IS NOT NULL AND (o.id IS NULL OR o.%1$I IS DISTINCT FROM n.%1$I)', col
            ) INTO refs;
        END IF;
        CONTINUE WHEN refs IS NULL;
        EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %I r WHERE r.id = ANY($1) FOR KEY SHARE OF r) l', tab)
            INTO locked USING refs;
        IF locked < cardinality(refs) THEN
            EXECUTE format('SELECT m::text FROM unnest($1) m WHERE NOT EXISTS (SELECT 1 FROM %I r WHERE r.id = m) LIMIT 1', tab)
                INTO missing USING refs;
            RAISE EXCEPTION 'insert or update on table "streams_backlogitem" names a missing row of "%"', tab
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Key (%s)=(%s) is not present in table "%s".', col, missing, tab);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
"""

PG_CHECK_TARGETS = r"""
CREATE OR REPLACE FUNCTION streams_item_targets_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    col text;
    missing text;
BEGIN
    IF TG_TABLE_NAME = 'streams_valuestream' THEN
        col := 'stream_id';
        SELECT t.id::text INTO missing FROM streams_backlogitem t WHERE t.stream_id = OLD.id LIMIT 1;
    ELSIF TG_TABLE_NAME = 'streams_workflowstate' THEN
        col := 'state_id';
        SELECT t.id::text INTO missing FROM streams_backlogitem t WHERE t.state_id = OLD.id LIMIT 1;
    ELSIF TG_TABLE_NAME = 'streams_backlogitem' THEN
        col := 'parent_id';
        SELECT t.id::text INTO missing FROM streams_backlogitem t WHERE t.parent_id = OLD.id LIMIT 1;
    ELSE
        col := 'team_id';
        SELECT t.id::text INTO missing FROM streams_backlogitem t WHERE t.team_id = OLD.id LIMIT 1;
        IF missing IS NULL THEN
            col := 'proposed_by_id';
            SELECT t.id::text INTO missing FROM streams_backlogitem t WHERE t.proposed_by_id = OLD.id LIMIT 1;
        END IF;
    END IF;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'update or delete on table "%" leaves items naming a missing row', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (id)=(%s) is still named by item %s (%s).', OLD.id, missing, col);
    END IF;
    RETURN NULL;
END
$$;
"""

REFERENCES = (
    "'stream_id', 'streams_valuestream', 'state_id', 'streams_workflowstate', 'team_id', 'teams_team', "
    "'proposed_by_id', 'teams_team', 'parent_id', 'streams_backlogitem'"
)
TARGETS = ["streams_valuestream", "streams_workflowstate", "teams_team", "streams_backlogitem"]
PG_TRIGGERS = [
    "CREATE TRIGGER streams_item_references_insert AFTER INSERT ON streams_backlogitem "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    f"EXECUTE FUNCTION streams_item_references_check({REFERENCES})",
    "CREATE TRIGGER streams_item_references_update AFTER UPDATE ON streams_backlogitem "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    f"EXECUTE FUNCTION streams_item_references_check({REFERENCES})",
    # The deleting side stays row by row and deferred to the COMMIT, as the keys' own triggers were.
    *(
        f"CREATE CONSTRAINT TRIGGER streams_item_references_{table}_delete AFTER DELETE ON {table} "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION streams_item_targets_check()"
        for table in TARGETS
    ),
    *(
        f"CREATE CONSTRAINT TRIGGER streams_item_references_{table}_id AFTER UPDATE OF id ON {table} "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) "
        "EXECUTE FUNCTION streams_item_targets_check()"
        for table in TARGETS
    ),
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS streams_item_references_insert ON streams_backlogitem",
    "DROP TRIGGER IF EXISTS streams_item_references_update ON streams_backlogitem",
    *(f"DROP TRIGGER IF EXISTS streams_item_references_{table}_delete ON {table}" for table in TARGETS),
    *(f"DROP TRIGGER IF EXISTS streams_item_references_{table}_id ON {table}" for table in TARGETS),
    "DROP FUNCTION IF EXISTS streams_item_references_check()",
    "DROP FUNCTION IF EXISTS streams_item_targets_check()",
]


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(PG_CHECK_ITEMS, params=None)  # format()'s %s and %I, not parameters
    schema_editor.execute(PG_CHECK_TARGETS, params=None)
    for statement in PG_TRIGGERS:
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in PG_DROP:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0032_transition_references_by_statement"),
        ("teams", "0007_datageneration_okrs_row"),
    ]

    operations = [
        OnPostgreSQL(
            migrations.AlterField(
                model_name="backlogitem",
                name="parent",
                field=models.ForeignKey(
                    blank=True,
                    db_constraint=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="children",
                    to="streams.backlogitem",
                ),
            )
        ),
        OnPostgreSQL(
            migrations.AlterField(
                model_name="backlogitem",
                name="proposed_by",
                field=models.ForeignKey(
                    blank=True,
                    db_constraint=False,
                    help_text="The business-operations team that proposed this improvement into the backlog.",
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="proposals",
                    to="teams.team",
                ),
            )
        ),
        OnPostgreSQL(
            migrations.AlterField(
                model_name="backlogitem",
                name="state",
                field=models.ForeignKey(
                    db_constraint=False,
                    on_delete=django.db.models.deletion.RESTRICT,
                    related_name="items",
                    to="streams.workflowstate",
                ),
            )
        ),
        OnPostgreSQL(
            migrations.AlterField(
                model_name="backlogitem",
                name="stream",
                field=models.ForeignKey(
                    db_constraint=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="items",
                    to="streams.valuestream",
                ),
            )
        ),
        OnPostgreSQL(
            migrations.AlterField(
                model_name="backlogitem",
                name="team",
                field=models.ForeignKey(
                    blank=True,
                    db_constraint=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="items",
                    to="teams.team",
                ),
            )
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
