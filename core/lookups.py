"""`any_of`: a filter on a long list of values that stays one parameter.

`filter(pk__in=ids)` with 100,000 ids writes 100,000 placeholders, which Django and psycopg
then resolve and split one by one (seconds, before PostgreSQL sees the query). On PostgreSQL
`any_of("pk", ids)` is `id = ANY(%s)` with the ids as one array; elsewhere it is `IN`.
"""

from collections.abc import Iterable

from django.db.models import F, Lookup
from django.db.models.lookups import In


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        return list(self.rhs)

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql":
            return compiler.compile(In(self.lhs, self.rhs))
        lhs, params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection) for value in self.rhs if value is not None]
        return f"{lhs} = ANY(%s)", (*params, values)


def any_of(field: str, values: Iterable) -> AnyOf:
    """A filter condition: the field's value is one of `values` (e.g. `items.filter(any_of("pk", ids))`)."""
    return AnyOf(F(field), list(values))
