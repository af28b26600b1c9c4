"""A statement of new moves is checked and noted in one pass over the items it names.

Since 0031 and 0032 two statement-level triggers read every new move after an INSERT or COPY
of moves: `streams_statetransition_stream_insert` joined them with the items to note their
streams (0.33 s for a board's 630,000 moves), and `streams_transition_references_insert`
counted their distinct items (0.10 s), joined them with the items again to lock them (0.46 s),
then counted their distinct states twice, once to compare and once to lock (0.15 s each).

Now the references check, on an INSERT, does both: the distinct items are gathered once, locked
FOR KEY SHARE in one join that also yields their streams, and those streams are noted as the
stream trigger noted them (`streams_streamchange`, distinct, for this backend); the states are
gathered in one pass. The INSERT's own stream trigger is dropped; an UPDATE of moves keeps its
(it notes the streams of the old rows too) and its references check notes nothing. What is
refused, and how, is unchanged.
"""

from importlib import import_module

from django.db import migrations

PG_CHECK_MOVES = r"""
CREATE OR REPLACE FUNCTION streams_transition_references_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint;
    locked bigint;
    streams bigint[];
    states bigint[];
    missing text;
BEGIN
    -- The distinct items once; each locked as a foreign key check locks it (a concurrent
    -- deletion waits for this transaction), its stream read in the same join.
    WITH named AS MATERIALIZED (SELECT DISTINCT n.item_id FROM new_rows n)
    SELECT (SELECT count(*) FROM named), count(*), array_agg(DISTINCT l.stream_id) INTO wanted, locked, streams
    FROM (
        SELECT i.stream_id FROM named w JOIN streams_backlogitem i ON i.id = w.item_id FOR KEY SHARE OF i
    ) l;
    IF locked < wanted THEN
        SELECT n.item_id::text INTO missing FROM new_rows n
        WHERE NOT EXISTS (SELECT 1 FROM streams_backlogitem i WHERE i.id = n.item_id) LIMIT 1;
        RAISE EXCEPTION 'insert or update on table "streams_statetransition" names a missing item'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (item_id)=(%s) is not present in table "streams_backlogitem".', missing);
    END IF;
    IF TG_OP = 'INSERT' AND streams IS NOT NULL THEN
        -- What streams_note_stream_changes('item', 'item_id') noted for an INSERT of moves.
        INSERT INTO streams_streamchange (backend, stream_id)
        SELECT pg_backend_pid(), s FROM unnest(streams) s WHERE s IS NOT NULL;
    END IF;
    SELECT array_agg(w.id) INTO states FROM (
        SELECT n.to_state_id FROM new_rows n UNION SELECT n.from_state_id FROM new_rows n
    ) w(id) WHERE w.id IS NOT NULL;
    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM streams_workflowstate s WHERE s.id = ANY(states) FOR KEY SHARE OF s
    ) l;
    IF locked < coalesce(cardinality(states), 0) THEN
        SELECT w.id::text INTO missing FROM unnest(states) w(id)
        WHERE NOT EXISTS (SELECT 1 FROM streams_workflowstate s WHERE s.id = w.id) LIMIT 1;
        RAISE EXCEPTION 'insert or update on table "streams_statetransition" names a missing workflow state'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (state_id)=(%s) is not present in table "streams_workflowstate".', missing);
    END IF;
    RETURN NULL;
END
$$;
"""

# 0032's function, as it was, for the way back.
PG_CHECK_MOVES_BEFORE = import_module("streams.migrations.0032_transition_references_by_statement").PG_CHECK_MOVES

STREAM_INSERT_TRIGGER = (
    "CREATE TRIGGER streams_statetransition_stream_insert AFTER INSERT ON streams_statetransition "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION streams_note_stream_changes('item', 'item_id')"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(PG_CHECK_MOVES, params=None)
    schema_editor.execute("DROP TRIGGER IF EXISTS streams_statetransition_stream_insert ON streams_statetransition")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(PG_CHECK_MOVES_BEFORE, params=None)
    schema_editor.execute(STREAM_INSERT_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [("streams", "0034_item_finished_index_holds_held_back")]

    operations = [migrations.RunPython(forwards, backwards)]
