"""What every admin screen of the portal shares: permissions from `core.access` and the site's name.

Django's admin asks the `has_*_permission` methods before it shows a list, a form or a
button; routing them through `access.may` keeps the admin, the pages and the API on one rule.
"""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from simple_history.admin import SimpleHistoryAdmin

from core import access
from core.history import delete_with_history

# The site is configured here because every app's admin module imports this one.
admin.site.site_header = "Product Operating Model Portal admin"
admin.site.site_title = "Portal admin"
admin.site.index_title = "Data entry"


class AccessMixin:
    """Answer the admin's permission questions with `core.access.may`.

    For a ModelAdmin, `obj` is the row (or None for "some row of this model"). An inline
    receives its parent instead, so it asks about its own model: Django already requires the
    right to change the parent before any inline is editable, and `PortalModelAdmin` checks
    each saved inline row on its own.
    """

    def _may(self, request, action: str, obj=None) -> bool:
        target = self.model if obj is None or isinstance(self, InlineModelAdmin) else obj
        return access.may(request.user, action, target)

    def has_module_permission(self, request) -> bool:
        return self._may(request, access.VIEW)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._may(request, access.VIEW, obj)

    # ModelAdmin calls it without `obj`; InlineModelAdmin passes the parent.
    def has_add_permission(self, request, obj=None) -> bool:
        return self._may(request, access.ADD, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may(request, access.CHANGE, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may(request, access.DELETE, obj)


def require(request, action: str, obj) -> None:
    """Refuse with 403 unless the user may perform `action` on `obj` as it is about to be saved."""
    if not access.may(request.user, action, obj):
        raise PermissionDenied


ESTIMATE_ABOVE = 100_000


class EstimatedCountPaginator(Paginator):
    """Pages of an admin list that count an unfiltered big table from PostgreSQL's estimate.

    Counting 3 million transitions exactly takes about 0.3 s on every list view; the planner's
    row estimate (`pg_class.reltuples`, kept by autovacuum and ANALYZE) costs nothing. Only
    when the list is unfiltered and the table holds over ESTIMATE_ABOVE rows; a filtered list
    or a small table is counted exactly. The page count may be off by the estimate's error.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if connection.vendor == "postgresql" and getattr(queryset, "query", None) and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [connection.ops.quote_name(queryset.model._meta.db_table)],
                )
                row = cursor.fetchone()
            if row and row[0] > ESTIMATE_ABOVE:
                return int(row[0])
        return super().count


class RowCheckedAdmin(AccessMixin, admin.ModelAdmin):
    """A ModelAdmin whose saves are checked row by row.

    Model-level "add" or "change" lets a director open the form, but the form lets them pick
    any stream; the row is checked again with the values it is saved with.
    """

    list_per_page = 50
    # A filtered list would otherwise count the whole table too, a scan on the large ones.
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def save_model(self, request, obj, form, change):
        require(request, access.CHANGE if change else access.ADD, obj)
        super().save_model(request, obj, form, change)

    def get_deleted_objects(self, objs, request):
        """Let history that only services write (read-only admins) go with the row it belongs to.

        Such rows can never be deleted on their own, but they must not block deleting their
        item or stream: the permission to delete the parent decides.
        """
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        read_only = {
            str(model._meta.verbose_name)
            for model, model_admin in self.admin_site._registry.items()
            if isinstance(model_admin, ReadOnlyMixin)
        }
        return deleted, counts, perms_needed - read_only, protected

    def save_formset(self, request, form, formset, change):
        deleted = set(formset.deleted_forms)
        for row in formset.forms:
            if row in deleted:
                if row.instance.pk:
                    require(request, access.DELETE, row.instance)
            elif row.has_changed():
                # A new row learns its parent only when saved; the check needs it now.
                setattr(row.instance, formset.fk.name, formset.instance)
                require(request, access.CHANGE if row.instance.pk else access.ADD, row.instance)
        super().save_formset(request, form, formset, change)


class PortalModelAdmin(RowCheckedAdmin, SimpleHistoryAdmin):
    """The admin of a domain model: row-checked saves, and its change history (who, when, what)
    behind each row's "History" button. Reverting to an old version is off (settings)."""

    # django-simple-history's list puts one `style` attribute on its paginator: allow style
    # attributes (not style elements, and never scripts) on that page alone.
    def delete_model(self, request, obj):
        delete_with_history([obj], user=request.user)

    def delete_queryset(self, request, queryset):
        delete_with_history(queryset, user=request.user)

    @method_decorator(csp_update({"style-src-attr": [UNSAFE_INLINE]}))
    def history_view(self, request, object_id, extra_context=None):
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """An old version is shown, never saved: SIMPLE_HISTORY_REVERT_DISABLED only hides the
        button, and django-simple-history's view saves a POSTed form straight through the
        model, past the services (a transition re-saved, a state without its history)."""
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class PortalTabularInline(AccessMixin, admin.TabularInline):
    extra = 0


class PortalStackedInline(AccessMixin, admin.StackedInline):
    extra = 0


class ReadOnlyMixin:
    """An admin or inline that only shows rows, for a history that only a service writes."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
