from django.db import models


class DeferredIndex(models.Model):
    """An index or foreign key that a fill of empty tables dropped, with the statement that
    makes it again (`portal.bulkfill.fill.indexes_deferred`). A row exists only between the
    drop and the rebuild: one left over means a fill was killed, and `restore_indexes` (run by
    `migrate` and by the next `seed_scale`) finishes its work."""

    class Kind(models.TextChoices):
        INDEX = "index", "index"
        FOREIGN_KEY = "foreign key", "foreign key"

    table = models.CharField(max_length=63)
    name = models.CharField(max_length=63, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    definition = models.TextField(help_text="The statement that makes it again.")
    dropped_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} on {self.table}"
