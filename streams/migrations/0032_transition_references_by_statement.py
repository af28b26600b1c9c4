"""A move's item and states checked once per statement, not once per row.

Django's foreign keys are checked row by row (deferred to the COMMIT): a 700,000-move import
spent 13-20 s of its COMMIT on 2 million such checks. On PostgreSQL, statement-level triggers
with transition tables now do what those three keys did, in one set-based query each:

- after an INSERT or UPDATE of moves, the items and states they name are locked FOR KEY SHARE
  (as a foreign key check locks them: a concurrent deletion waits for this transaction, then
  finds its moves) and a move naming a missing item or state is refused;
- at the COMMIT, an item or state deleted (or given another id) that moves still name is
  refused: row by row and deferred, as the keys' own triggers on that side were (deletions are
  few, and a transaction may delete a state before the moves that name it).

Both raise `foreign_key_violation` (Django's IntegrityError), as the keys did; a bad move is
refused at the end of its statement instead of at the COMMIT: every writer (the ORM, the
imports, the scale data) writes an item and its states before its moves.

SQLite's tables keep their foreign keys and indexes (`OnPostgreSQL`; the new partial index is
added there too): speed does not matter there, and a trigger on one table naming another breaks
SQLite's table rebuilds (Django rebuilds a table to alter a column), which a later migration
would meet. A later rebuild of the moves' table on SQLite builds it from the models, without
those keys; the ORM still cascades and restricts deletions itself.

Two indexes each move kept up go too: the one on `to_state` alone (`transition_to_state_item_idx`,
(to_state, at), serves every lookup by state), and the full one on `actor`, now only where an
actor is set (`transition_actor_idx`): imports and scale data set none.
"""

from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion

PG_CHECK_MOVES = r"""
CREATE OR REPLACE FUNCTION streams_transition_references_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint;
    locked bigint;
    missing text;
BEGIN
    SELECT count(*) INTO wanted FROM (SELECT DISTINCT n.item_id FROM new_rows n) w;
    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM streams_backlogitem i WHERE i.id IN (SELECT n.item_id FROM new_rows n) FOR KEY SHARE OF i
    ) l;
    IF locked < wanted THEN
        SELECT n.item_id::text INTO missing FROM new_rows n
        WHERE NOT EXISTS (SELECT 1 FROM streams_backlogitem i WHERE i.id = n.item_id) LIMIT 1;
        RAISE EXCEPTION 'insert or update on table "streams_statetransition" names a missing item'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (item_id)=(%s) is not present in table "streams_backlogitem".', missing);
    END IF;
    SELECT count(*) INTO wanted FROM (
        SELECT n.to_state_id FROM new_rows n
        UNION SELECT n.from_state_id FROM new_rows n WHERE n.from_state_id IS NOT NULL
    ) w;
    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM streams_workflowstate s
        WHERE s.id IN (SELECT n.to_state_id FROM new_rows n UNION SELECT n.from_state_id FROM new_rows n)
        FOR KEY SHARE OF s
    ) l;
    IF locked < wanted THEN
        SELECT w.id::text INTO missing FROM (
            SELECT n.to_state_id FROM new_rows n UNION SELECT n.from_state_id FROM new_rows n
        ) w(id)
        WHERE w.id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM streams_workflowstate s WHERE s.id = w.id) LIMIT 1;
        RAISE EXCEPTION 'insert or update on table "streams_statetransition" names a missing workflow state'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (state_id)=(%s) is not present in table "streams_workflowstate".', missing);
    END IF;
    RETURN NULL;
END
$$;
"""

# TG_ARGV: the columns of streams_statetransition that point at the trigger's table.
PG_CHECK_TARGETS = r"""
CREATE OR REPLACE FUNCTION streams_transition_targets_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    col text;
    missing text;
BEGIN
    FOREACH col IN ARRAY TG_ARGV LOOP
        EXECUTE format('SELECT t.%1$I::text FROM streams_statetransition t WHERE t.%1$I = $1 LIMIT 1', col)
            INTO missing USING OLD.id;
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'update or delete on table "%" leaves moves naming a missing row', TG_TABLE_NAME
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Key (id)=(%s) is still named by table "streams_statetransition".', missing);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
"""

PG_TRIGGERS = [
    "CREATE TRIGGER streams_transition_references_insert AFTER INSERT ON streams_statetransition "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION streams_transition_references_check()",
    "CREATE TRIGGER streams_transition_references_update AFTER UPDATE ON streams_statetransition "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION streams_transition_references_check()",
    # The deleting side stays row by row and deferred to the COMMIT, as the keys' own triggers
    # were: a transaction may delete a state before the moves that name it (`seed_scale --reset`
    # deletes a stream's states before its items' moves), and deletions are few.
    "CREATE CONSTRAINT TRIGGER streams_transition_references_item_delete AFTER DELETE ON streams_backlogitem "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION streams_transition_targets_check('item_id')",
    "CREATE CONSTRAINT TRIGGER streams_transition_references_item_id AFTER UPDATE OF id ON streams_backlogitem "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) "
    "EXECUTE FUNCTION streams_transition_targets_check('item_id')",
    "CREATE CONSTRAINT TRIGGER streams_transition_references_state_delete AFTER DELETE ON streams_workflowstate "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
    "EXECUTE FUNCTION streams_transition_targets_check('to_state_id', 'from_state_id')",
    "CREATE CONSTRAINT TRIGGER streams_transition_references_state_id AFTER UPDATE OF id ON streams_workflowstate "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) "
    "EXECUTE FUNCTION streams_transition_targets_check('to_state_id', 'from_state_id')",
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS streams_transition_references_insert ON streams_statetransition",
    "DROP TRIGGER IF EXISTS streams_transition_references_update ON streams_statetransition",
    "DROP TRIGGER IF EXISTS streams_transition_references_item_delete ON streams_backlogitem",
    "DROP TRIGGER IF EXISTS streams_transition_references_item_id ON streams_backlogitem",
    "DROP TRIGGER IF EXISTS streams_transition_references_state_delete ON streams_workflowstate",
    "DROP TRIGGER IF EXISTS streams_transition_references_state_id ON streams_workflowstate",
    "DROP FUNCTION IF EXISTS streams_transition_references_check()",
    "DROP FUNCTION IF EXISTS streams_transition_targets_check()",
]


class OnPostgreSQL(migrations.operations.base.Operation):
    """An operation whose schema change runs on PostgreSQL only; the model state changes everywhere."""

    reversible = True

    def __init__(self, operation):
        self.operation = operation

    def deconstruct(self):
        return self.__class__.__name__, [self.operation], {}

    def state_forwards(self, app_label, state):
        self.operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            self.operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            self.operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"{self.operation.describe()} (on PostgreSQL)"


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(PG_CHECK_MOVES, params=None)  # format()'s %s and %I, not parameters
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
        ("streams", "0031_stream_versions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        OnPostgreSQL(
            migrations.AlterField(
                model_name="statetransition",
                name="item",
                field=models.ForeignKey(
                    db_constraint=False,
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="transitions",
                    to="streams.backlogitem",
                ),
            ),
        ),
        OnPostgreSQL(
            migrations.AlterField(
                model_name="statetransition",
                name="from_state",
                field=models.ForeignKey(
                    blank=True,
                    db_constraint=False,
                    help_text="Empty for the item's entry into the workflow.",
                    null=True,
                    on_delete=django.db.models.deletion.RESTRICT,
                    related_name="+",
                    to="streams.workflowstate",
                ),
            ),
        ),
        OnPostgreSQL(
            migrations.AlterField(
                model_name="statetransition",
                name="to_state",
                field=models.ForeignKey(
                    db_constraint=False,
                    db_index=False,
                    on_delete=django.db.models.deletion.RESTRICT,
                    related_name="transitions_in",
                    to="streams.workflowstate",
                ),
            ),
        ),
        OnPostgreSQL(
            migrations.AlterField(
                model_name="statetransition",
                name="actor",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="+",
                    to=settings.AUTH_USER_MODEL,
                ),
            ),
        ),
        migrations.AddIndex(
            model_name="statetransition",
            index=models.Index(
                condition=models.Q(("actor__isnull", False)), fields=["actor"], name="transition_actor_idx"
            ),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
