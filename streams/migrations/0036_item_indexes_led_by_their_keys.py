"""Items lose three indexes others already answer, and index their proposer only where set.

An item written kept 21 indexes. Three of them, Django's own for a foreign key, repeat the first
column of another index: `stream_id` (item_stream_rank_idx and five more lead with it),
`team_id` (item_team_state_idx) and `parent_id` (item_parent_children_idx, where set: a lookup
of children by their parent's id never asks for NULL). `proposed_by_id` is set on the few items
a business-operations team proposed; its full index kept every other item's NULL. A board
import of 132,000 new items spent 0.36 s keeping these four (measured one by one, COPY into a
table holding only that index).

On PostgreSQL only (`OnPostgreSQL`, from 0032): SQLite's table keeps its foreign keys and
indexes, as 0032 and 0033 left it, rather than being rebuilt.
"""

from importlib import import_module

from django.db import migrations, models
import django.db.models.deletion

OnPostgreSQL = import_module("streams.migrations.0032_transition_references_by_statement").OnPostgreSQL


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0035_transition_insert_one_pass"),
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
                    db_index=False,
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
                    db_index=False,
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
                name="stream",
                field=models.ForeignKey(
                    db_constraint=False,
                    db_index=False,
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
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="items",
                    to="teams.team",
                ),
            )
        ),
        OnPostgreSQL(
            migrations.AddIndex(
                model_name="backlogitem",
                index=models.Index(
                    condition=models.Q(("proposed_by__isnull", False)),
                    fields=["proposed_by"],
                    name="item_proposed_by_idx",
                ),
            )
        ),
    ]
