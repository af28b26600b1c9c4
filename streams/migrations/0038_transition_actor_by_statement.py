"""A move's actor checked with its item and states, once per statement, not once per row.

Django's key on `actor_id` was the moves' last foreign key. Deferred, it queued an event for
every move written and fired each at the COMMIT, NULL actor or not: a board's 630,000 imported
moves, none with an actor, spent 0.22 s of their COMMIT there (267-289 ms with the key, 50-73
ms without, measured one after the other on the same database).

On PostgreSQL the references check of 0035 now also gathers a statement's distinct actors, locks
them FOR KEY SHARE (as the key's check did) and refuses a missing one; deleting a user that
moves still name, or changing their id, is refused at the COMMIT, row by row and deferred, as
0032 does for items and states. The ORM sets those moves' actor to NULL before it deletes a
user (`on_delete=SET_NULL`), as before. SQLite keeps its key (`OnPostgreSQL`, from 0032).
"""

from importlib import import_module

from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion

OnPostgreSQL = import_module("streams.migrations.0032_transition_references_by_statement").OnPostgreSQL
# 0035's function, as it was: the way back, and the text the actors' check is added to.
PG_CHECK_MOVES_BEFORE = import_module("streams.migrations.0035_transition_insert_one_pass").PG_CHECK_MOVES

ACTORS_CHECK = r"""
    SELECT array_agg(DISTINCT n.actor_id) INTO actors FROM new_rows n WHERE n.actor_id IS NOT NULL;
    IF actors IS NOT NULL THEN
        SELECT count(*) INTO locked FROM (
            SELECT 1 FROM {users} u WHERE u.id = ANY(actors) FOR KEY SHARE OF u
        ) l;
        IF locked < cardinality(actors) THEN
            SELECT a.id::text INTO missing FROM unnest(actors) a(id)
            WHERE NOT EXISTS (SELECT 1 FROM {users} u WHERE u.id = a.id) LIMIT 1;
            RAISE EXCEPTION 'insert or update on table "streams_statetransition" names a missing user'
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Key (actor_id)=(%s) is not present in table "{table}".', missing);
        END IF;
    END IF;
    RETURN NULL;
END
"""


def check_moves(users_table: str, quoted: str) -> str:
    """0035's function with the actors' check before its end."""
    end, declared = "    RETURN NULL;\nEND\n", "    states bigint[];\n"
    assert PG_CHECK_MOVES_BEFORE.count(end) == 1 and PG_CHECK_MOVES_BEFORE.count(declared) == 1
    return PG_CHECK_MOVES_BEFORE.replace(declared, declared + "    actors bigint[];\n").replace(
        end, ACTORS_CHECK.lstrip("\n").format(users=quoted, table=users_table)
    )


def user_triggers(quoted: str) -> list[str]:
    return [
        f"CREATE CONSTRAINT TRIGGER streams_transition_references_user_delete AFTER DELETE ON {quoted} "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION streams_transition_targets_check('actor_id')",
        f"CREATE CONSTRAINT TRIGGER streams_transition_references_user_id AFTER UPDATE OF id ON {quoted} "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) "
        "EXECUTE FUNCTION streams_transition_targets_check('actor_id')",
    ]


def users_table(apps, schema_editor) -> tuple[str, str]:
    table = apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table
    return table, schema_editor.quote_name(table)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table, quoted = users_table(apps, schema_editor)
    schema_editor.execute(check_moves(table, quoted), params=None)  # format()'s %s, not parameters
    for statement in user_triggers(quoted):
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _table, quoted = users_table(apps, schema_editor)
    for name in ("streams_transition_references_user_delete", "streams_transition_references_user_id"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {quoted}")
    schema_editor.execute(PG_CHECK_MOVES_BEFORE, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0037_transition_history_keyed_by_id"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        OnPostgreSQL(
            migrations.AlterField(
                model_name="statetransition",
                name="actor",
                field=models.ForeignKey(
                    blank=True,
                    db_constraint=False,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="+",
                    to=settings.AUTH_USER_MODEL,
                ),
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
