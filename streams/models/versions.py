"""Per-stream versions for the caches of `core.freshness`.

After an ordinary change (a move in one stream) the leaders' pages need new figures for that
stream only. PostgreSQL statement-level triggers (migration streams 0031) note the stream of
every row written to the tables a stream's figures read (items, their history, readiness
checks, dependencies, workflow states, the daily rollups and snapshots, maps, the teams serving
it), whichever door wrote it: the ORM, raw SQL, a bulk update or COPY. The notes wait in
`StreamChange` under the writing connection's backend; once its transaction commits,
`core.freshness` moves those streams' `StreamVersion` on and deletes the notes. A rolled-back
transaction's notes roll back with it.
"""

from django.db import models


class StreamVersion(models.Model):
    """How many committed transactions have written to a stream's data. A new row starts at a
    random value, so keys stay unique if the table is ever emptied (a restore, a test flush)."""

    stream_id = models.IntegerField(primary_key=True)  # no foreign key: a deleted stream's version is harmless
    value = models.BigIntegerField()

    def __str__(self) -> str:
        return f"stream {self.stream_id} at version {self.value}"


class StreamChange(models.Model):
    """A stream written to by a transaction of backend `backend` (PostgreSQL's process id of
    the connection), not yet counted in its version. Unlogged (a crash empties it; the caches
    then expire within `core.freshness.FRESH_CACHE_SECONDS`)."""

    backend = models.IntegerField(db_index=True)
    stream_id = models.IntegerField()

    def __str__(self) -> str:
        return f"stream {self.stream_id} changed by backend {self.backend}"
