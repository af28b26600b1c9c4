"""Chainable filters for streams and items; `for_user` is the one visibility rule."""

from django.db import models
from django.db.models import Prefetch


class ValueStreamQuerySet(models.QuerySet):
    def for_user(self, user):
        """Streams the user may see. Every logged-in user reads every stream; object scoping
        for writes lives in `core.access`."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self

    def with_director(self):
        """Prefetch the active product director (at most one, by constraint) as `active_directors`."""
        # The model through the relation: this module is imported by the models it serves.
        LeadershipAssignment = self.model._meta.get_field("leadership_assignments").related_model
        directors = LeadershipAssignment.objects.filter(
            role=LeadershipAssignment.Role.PRODUCT_DIRECTOR, end_date__isnull=True
        ).select_related("person")
        return self.prefetch_related(Prefetch("leadership_assignments", queryset=directors, to_attr="active_directors"))


def in_progress_sql(item: str = "i", state: str = "s") -> str:
    """The SQL condition of work in progress (DESIGN.md, "Flow load"), on an item alias joined
    to its current state: started, not finished, in an `active` or `waiting` state, and not held
    back by a live sync for an unmapped name. The first two terms follow from the third; they let
    the partial index of started, unfinished items serve the query."""
    return (
        f"{item}.started_at IS NOT NULL AND {item}.finished_at IS NULL AND {state}.category IN ('active', 'waiting') "
        f"AND NOT {item}.held_back"
    )


def returned_sql(item: str = "i", state: str = "s") -> str:
    """The SQL condition of work returned to the backlog: started, unfinished, in a `backlog`
    state again (sent back, or reopened into the backlog). Not WIP, and not aging."""
    return (
        f"{item}.started_at IS NOT NULL AND {item}.finished_at IS NULL AND {state}.category = 'backlog' "
        f"AND NOT {item}.held_back"
    )


class BacklogItemQuerySet(models.QuerySet):
    def for_user(self, user):
        """Items the user may see: every item for a logged-in user, as for streams."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self

    def in_progress(self):
        """Work in progress, as `in_progress_sql` says."""
        return self.filter(
            started_at__isnull=False,
            finished_at__isnull=True,
            state__category__in=("active", "waiting"),
            held_back=False,
        )

    def returned(self):
        """Work returned to the backlog, as `returned_sql` says."""
        return self.filter(
            started_at__isnull=False, finished_at__isnull=True, state__category="backlog", held_back=False
        )
