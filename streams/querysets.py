"""Chainable filters for streams and items; `for_user` is the one visibility rule."""

from django.db import models
from django.db.models import Prefetch


class ValueStreamQuerySet(models.QuerySet):
    def for_user(self, user):
        """Streams the user may see. Every logged-in user reads every stream; object scoping
        for writes lives in `teams.access`."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self

    def with_director(self):
        """Prefetch the active product director (at most one, by constraint) as `active_directors`."""
        from .models import LeadershipAssignment

        directors = LeadershipAssignment.objects.filter(
            role=LeadershipAssignment.Role.PRODUCT_DIRECTOR, end_date__isnull=True
        ).select_related("person")
        return self.prefetch_related(Prefetch("leadership_assignments", queryset=directors, to_attr="active_directors"))


class BacklogItemQuerySet(models.QuerySet):
    def for_user(self, user):
        """Items the user may see: every item for a logged-in user, as for streams."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self
