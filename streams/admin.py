"""Admin data entry for value streams, their leadership, workflow, backlog, readiness and maps.

Backlog items are created and moved only through `streams.backlog.services`, so the admin records the
same history, derives the same dates and holds the same release gate as every other caller.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect

from core import access
from core.admin import (
    PortalModelAdmin,
    PortalStackedInline,
    PortalTabularInline,
    ReadOnlyMixin,
    RowCheckedAdmin,
    require,
)
from core.errors import DomainError
from streams.backlog import services
from streams.integrations.connectors.services import connection_clean, connection_create, connection_update
from streams.readiness import services as readiness

from .models import (
    BacklogItem,
    BlockedPeriod,
    Connection,
    Dependency,
    Deployment,
    DeploymentItem,
    FlowSnapshot,
    FlowType,
    HeldItem,
    ImprovementExperiment,
    Incident,
    LeadershipAssignment,
    ProcessBlock,
    ReadinessCheck,
    ReadinessCriterion,
    StateTransition,
    SyncRun,
    TargetMix,
    ValueStream,
    ValueStreamMap,
    Waste,
    WorkflowState,
)


def _choice_list_display(obj, field_name: str) -> str:
    # ChoiceListField holds a list, which Django's display_for_field cannot label.
    return obj._meta.get_field(field_name).get_choices_display(getattr(obj, field_name))


class ChoiceListFilter(admin.SimpleListFilter):
    """Filter on one code of a ChoiceListField; the field's exact value is a whole list."""

    field_name = ""
    options: list[tuple[str, str]] = []

    def lookups(self, request, model_admin):
        return self.options

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{f"{self.field_name}__contains": self.value()})
        return queryset


class FlowTypesFilter(ChoiceListFilter):
    title = "flow type"
    parameter_name = "flow_type"
    field_name = "flow_types"
    options = FlowType.choices


class WasteFilter(ChoiceListFilter):
    title = "waste"
    parameter_name = "waste"
    field_name = "wastes"
    options = Waste.choices


class OpenFilter(admin.SimpleListFilter):
    """Rows still running (no end date) or ended; `end_field` names the end column."""

    title = "open"
    parameter_name = "open"
    end_field = ""

    def lookups(self, request, model_admin):
        return [("yes", "Open"), ("no", "Ended")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(**{f"{self.end_field}__isnull": self.value() == "yes"})
        return queryset


class ActiveAssignmentFilter(OpenFilter):
    title = "active"
    parameter_name = "active"
    end_field = "end_date"


class OpenBlockFilter(OpenFilter):
    end_field = "ended_at"


# --- Value streams and their leadership --------------------------------------------------------


class WorkflowStateInline(PortalTabularInline):
    model = WorkflowState
    fields = ["order", "name", "category", "wip_limit"]


class TargetMixInline(PortalTabularInline):
    model = TargetMix
    fields = ["period", "flow_type", "percent"]


class LeadershipAssignmentInline(PortalTabularInline):
    model = LeadershipAssignment
    fields = ["person", "role", "kind", "time_share_percent", "owns_pnl", "start_date", "review_date", "end_date"]
    autocomplete_fields = ["person"]


@admin.register(ValueStream)
class ValueStreamAdmin(PortalModelAdmin):
    list_display = ["name", "customer", "status", "industry", "revenue", "cost", "pnl_period"]
    list_filter = ["status", "customer", "pnl_period"]
    search_fields = ["name", "slug", "industry"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["teams", "required_disciplines"]
    inlines = [WorkflowStateInline, TargetMixInline, LeadershipAssignmentInline]

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is WorkflowState and any("category" in row.changed_data for row in formset.forms):
            services.workflow_state_category_changed(stream_id=form.instance.pk)


@admin.register(TargetMix)
class TargetMixAdmin(PortalModelAdmin):
    list_display = ["stream", "period", "flow_type", "percent"]
    list_filter = ["period", "flow_type", "stream"]
    search_fields = ["stream__name", "period"]
    list_select_related = ["stream"]
    autocomplete_fields = ["stream"]


@admin.register(LeadershipAssignment)
class LeadershipAssignmentAdmin(PortalModelAdmin):
    list_display = [
        "person",
        "stream",
        "role",
        "kind",
        "time_share_percent",
        "owns_pnl",
        "induction_completed",
        "start_date",
        "review_date",
        "is_active",
    ]
    list_filter = [ActiveAssignmentFilter, "role", "kind", "owns_pnl", "induction_completed"]
    search_fields = ["person__name", "stream__name"]
    list_select_related = ["person", "stream"]
    autocomplete_fields = ["person", "stream", "mentor"]

    @admin.display(boolean=True, description="active", ordering="end_date")
    def is_active(self, assignment: LeadershipAssignment) -> bool:
        return assignment.is_active


@admin.register(WorkflowState)
class WorkflowStateAdmin(PortalModelAdmin):
    list_display = ["name", "stream", "category", "order", "wip_limit"]
    list_filter = ["category", "stream"]
    search_fields = ["name", "stream__name"]
    list_select_related = ["stream"]
    autocomplete_fields = ["stream"]
    ordering = ["stream__name", "order", "pk"]

    def get_readonly_fields(self, request, obj=None):
        # Items and history point at the state; it cannot move to another stream.
        return ["stream"] if obj else []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "category" in form.changed_data:
            services.workflow_state_category_changed(stream_id=obj.stream_id)


# --- Readiness ---------------------------------------------------------------------------------


def _decide(request, check: ReadinessCheck) -> bool:
    """Record the status and reason the form set on `check` through the readiness service (who
    and when are stamped there, and a wait on readiness ends). The instance is updated to what
    was stored; False (with the reason shown) when refused."""
    require(request, access.SIGN_OFF, check)
    status, reason = check.status, check.reason
    try:
        readiness.readiness_check_decide(check=check, status=status, reason=reason, actor=request.user)
    except DomainError as error:
        messages.error(request, f"{check.criterion}: {error}")
        check.refresh_from_db()
        return False
    return True


class ReadinessCheckForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        # The database refuses this too, but only a form error can point at the reason field.
        if cleaned.get("status") == ReadinessCheck.Status.WAIVED and not cleaned.get("reason", "").strip():
            self.add_error("reason", "A waived check needs a reason.")
        return cleaned


@admin.register(ReadinessCriterion)
class ReadinessCriterionAdmin(PortalModelAdmin):
    list_display = ["name", "owner_team", "all_streams", "flow_types_display", "active"]
    list_filter = ["active", "all_streams", FlowTypesFilter]
    search_fields = ["name", "owner_team__name"]
    list_select_related = ["owner_team"]
    autocomplete_fields = ["owner_team", "streams"]

    @admin.display(description="flow types")
    def flow_types_display(self, criterion: ReadinessCriterion) -> str:
        return _choice_list_display(criterion, "flow_types")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # the streams are saved here
        created, dropped = readiness.criterion_checks_sync(criterion=form.instance)
        messages.info(request, f"Open work: {created} pending check(s) added, {dropped} dropped.")


@admin.register(ReadinessCheck)
class ReadinessCheckAdmin(PortalModelAdmin):
    form = ReadinessCheckForm
    list_display = ["item", "criterion", "status", "signed_off_by", "signed_off_at"]
    list_filter = ["status", "criterion"]
    search_fields = ["item__title", "item__external_key", "criterion__name"]
    list_select_related = ["item", "criterion", "signed_off_by"]
    autocomplete_fields = ["item", "criterion"]
    fields = ["item", "criterion", "status", "reason", "signed_off_by", "signed_off_at"]

    def get_readonly_fields(self, request, obj=None):
        # A check belongs to one item and criterion for life; the sign-off is stamped on save.
        return ["item", "criterion", "signed_off_by", "signed_off_at"] if obj else ["signed_off_by", "signed_off_at"]

    def save_model(self, request, obj, form, change):
        if change and {"status", "reason"} & set(form.changed_data):
            _decide(request, obj)
            return
        decision = (obj.status, obj.reason)
        obj.status, obj.reason = ReadinessCheck.Status.PENDING, ""
        super().save_model(request, obj, form, change)
        if decision[0] != ReadinessCheck.Status.PENDING:
            obj.status, obj.reason = decision
            _decide(request, obj)


# --- Backlog items -----------------------------------------------------------------------------


class ReadinessCheckInline(PortalTabularInline):
    model = ReadinessCheck
    form = ReadinessCheckForm
    fields = ["criterion", "status", "reason", "signed_off_by", "signed_off_at"]
    readonly_fields = ["criterion", "signed_off_by", "signed_off_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("criterion", "signed_off_by")

    # Checks are created by the services when an item is created or retyped, never by hand.
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class BlockedPeriodInline(PortalTabularInline):
    model = BlockedPeriod
    fields = ["reason", "note", "started_at", "ended_at"]


class StateTransitionInline(ReadOnlyMixin, PortalTabularInline):
    model = StateTransition
    fields = ["at", "from_state", "to_state", "actor", "source"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("from_state", "to_state", "actor")


class _DryRunDone(Exception):
    """Unwinds the savepoint of a dry run that succeeded."""


class _CreateRefused(Exception):
    """Carries a refusal out of the admin's transaction, which it rolls back, to the add view."""


def _item_create_from_form(cleaned: dict, *, actor) -> BacklogItem:
    fields = dict(cleaned)
    stream = fields.pop("stream")
    return services.item_create(stream_id=stream.pk, actor=actor, via="admin", **fields)


class BacklogItemForm(forms.ModelForm):
    """The item form: on add it dry-runs `item_create`, on change it validates the state change.

    `refusal` keeps a service's refusal so the admin can also show it at the top of the page.
    """

    refusal: DomainError | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "state" not in self.fields:  # a view-only form has no editable fields
            return
        state = self.fields["state"]
        if self.instance.pk:
            state.queryset = WorkflowState.objects.filter(stream_id=self.instance.stream_id)
            return
        # The stream is not chosen yet, so every state is offered, named with its stream.
        state.required = False
        state.help_text = "Empty for the stream's first backlog state."
        state.queryset = WorkflowState.objects.select_related("stream").order_by("stream__name", "order", "pk")
        state.label_from_instance = lambda s: f"{s.stream.name}: {s.name} ({s.get_category_display()})"
        self.fields["created_at"].required = False
        self.fields["created_at"].help_text = "Empty for now."

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            if self.instance.pk:
                self._dry_run_change(cleaned)
            else:
                self._dry_run_create(cleaned)
        except DomainError as error:
            self.refusal = error
            self.add_error(
                error.field if error.field in self.fields else None, ValidationError(str(error), code=error.code)
            )
        except ValidationError as error:  # from the service's full_clean, keyed by field
            for field, errors in error.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned

    def item_changes(self) -> dict:
        """The item's own fields this form changed, for `item_update` (the state has its service)."""
        return {name: self.cleaned_data[name] for name in self.changed_data if name in services.EDITABLE_FIELDS}

    def _dry_run_change(self, cleaned: dict) -> None:
        """Run `item_update` (and check the state change after it) and roll both back, so the
        service's refusals (a parent elsewhere or below, a type change the release gate holds)
        are form errors on their field before anything is saved."""
        try:
            with transaction.atomic():
                item = BacklogItem.objects.get(pk=self.instance.pk)
                if changes := self.item_changes():
                    item = services.item_update(item=item, **changes)
                if "state" in self.changed_data:
                    services.item_state_change_validate(item=item, to_state=cleaned["state"])
                raise _DryRunDone
        except _DryRunDone:
            pass

    @staticmethod
    def _dry_run_create(cleaned: dict) -> None:
        """Run `item_create` and roll it back, so its refusals become form errors before saving.

        The service decides what an item needs (states, release gate); asking it beats copying
        its rules here, and the savepoint leaves nothing behind.
        """
        try:
            with transaction.atomic():
                _item_create_from_form(cleaned, actor=None)
                raise _DryRunDone
        except _DryRunDone:
            pass


@admin.register(BacklogItem)
class BacklogItemAdmin(PortalModelAdmin):
    form = BacklogItemForm
    list_display = [
        "key",
        "title",
        "stream",
        "team",
        "flow_type",
        "state",
        "rank",
        "created_at",
        "started_at",
        "finished_at",
    ]
    list_display_links = ["key", "title"]
    list_filter = ["flow_type", "state__category", "customer_facing", "stream"]
    search_fields = ["title", "external_key"]
    list_select_related = ["stream", "team", "state"]
    # By stream id, not name (the model's order): the (stream, rank) index serves the first
    # page instead of sorting all 500,000 items by a joined name (about 0.3 s).
    ordering = ["stream_id", "rank", "pk"]
    autocomplete_fields = ["stream", "team", "parent"]
    inlines = [ReadinessCheckInline, BlockedPeriodInline, StateTransitionInline]

    _EDITABLE = [
        "stream",
        "team",
        "title",
        "description",
        "flow_type",
        "parent",
        "size",
        "rank",
        "state",
        "target_date",
        "customer_facing",
    ]
    # The dates come from the history, and source and key tie the item to its import.
    _SHOWN_ON_CHANGE = ["created_at", "started_at", "finished_at", "source", "external_key", "updated_at"]

    def get_fields(self, request, obj=None):
        if obj:
            return [*self._EDITABLE, *self._SHOWN_ON_CHANGE]
        return [*self._EDITABLE, "created_at"]  # a tool's source and key come from its import only

    def get_readonly_fields(self, request, obj=None):
        # Moving an item to another stream would leave its history in the old stream's states.
        return ["stream", *self._SHOWN_ON_CHANGE] if obj else []

    def get_inlines(self, request, obj):
        # Checks and history exist only once the service has created the item.
        return self.inlines if obj else []

    @admin.display(ordering="pk")
    def key(self, item: BacklogItem) -> str:
        return item.key

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        refusal = getattr(context["adminform"].form, "refusal", None)
        if refusal is not None:
            messages.error(request, str(refusal))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except _CreateRefused as refused:
            messages.error(request, str(refused.__cause__))
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        require(request, access.CHANGE if change else access.ADD, obj)
        if not change:
            self._create(request, obj, form)
            return
        state_changed = "state" in form.changed_data
        if state_changed:
            require(request, access.CHANGE_STATE, obj)
        # Through the services, as every door: only what the form changed is written (a
        # concurrent state change is never overwritten with this page's copy), with the
        # service's rules and bookkeeping (parents, the gate on a type change, checks, days).
        if changes := form.item_changes():
            try:
                services.item_update(item=obj, actor=request.user, **changes)
            except DomainError as error:
                # The form's dry run passed, but the data changed since.
                messages.error(request, str(error))
                obj.refresh_from_db()
                return
        if state_changed:
            try:
                services.item_change_state(item=obj, to_state=obj.state, actor=request.user, via="admin")
            except DomainError as error:
                # The form validated the change, but another writer got there first.
                messages.error(request, str(error))
                obj.refresh_from_db(fields=["state"])

    def _create(self, request, obj: BacklogItem, form) -> None:
        try:
            item = _item_create_from_form(form.cleaned_data, actor=request.user)
        except DomainError as error:
            # The dry run passed, but the data changed since; the add view reports it.
            raise _CreateRefused from error
        # The admin goes on with the instance its form built; make it the row the service wrote.
        obj.pk = item.pk
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        if formset.model is ReadinessCheck:
            for row in formset.forms:
                if {"status", "reason"} & set(row.changed_data):
                    _decide(request, row.instance)  # the formset then saves what the service stored
        super().save_formset(request, form, formset, change)


@admin.register(StateTransition)
class StateTransitionAdmin(ReadOnlyMixin, PortalModelAdmin):
    """The history is written by `streams.backlog.services` alone; here it is only read."""

    list_display = ["item", "from_state", "to_state", "at", "actor", "source"]
    list_filter = ["source", "to_state__category"]
    search_fields = ["item__title", "item__external_key"]
    list_select_related = ["item", "from_state", "to_state", "actor"]
    # Newest recorded first: the primary key's index serves it on millions of rows.
    ordering = ["-pk"]


@admin.register(BlockedPeriod)
class BlockedPeriodAdmin(PortalModelAdmin):
    list_display = ["item", "reason", "started_at", "ended_at"]
    list_filter = [OpenBlockFilter, "reason"]
    search_fields = ["item__title", "item__external_key", "note"]
    list_select_related = ["item"]
    autocomplete_fields = ["item"]

    def get_readonly_fields(self, request, obj=None):
        # A block belongs to one item's history for life.
        return ["item"] if obj else []


@admin.register(Dependency)
class DependencyAdmin(PortalModelAdmin):
    list_display = ["item", "blocked_by", "created_at", "note"]
    list_filter = ["item__stream"]
    search_fields = ["item__title", "blocked_by__title", "note"]
    list_select_related = ["item", "blocked_by"]
    autocomplete_fields = ["item", "blocked_by"]


# --- Value stream maps and experiments ---------------------------------------------------------


class ProcessBlockInline(PortalStackedInline):
    model = ProcessBlock
    fields = [
        ("order", "activity", "team", "people"),
        ("process_time_hours", "lead_time_hours", "queue_before", "percent_complete_accurate"),
        "wastes",
        "states",
        "barriers",
    ]
    autocomplete_fields = ["team"]
    filter_horizontal = ["states"]


@admin.register(ValueStreamMap)
class ValueStreamMapAdmin(PortalModelAdmin):
    list_display = ["name", "stream", "kind", "as_of"]
    list_filter = ["kind", "stream"]
    search_fields = ["name", "stream__name"]
    list_select_related = ["stream"]
    autocomplete_fields = ["stream"]
    inlines = [ProcessBlockInline]


@admin.register(ProcessBlock)
class ProcessBlockAdmin(PortalModelAdmin):
    list_display = [
        "activity",
        "map",
        "order",
        "team",
        "people",
        "process_time_hours",
        "lead_time_hours",
        "percent_complete_accurate",
        "wastes_display",
    ]
    list_filter = [WasteFilter, "map__stream"]
    search_fields = ["activity", "map__name", "map__stream__name"]
    list_select_related = ["map__stream", "team"]
    autocomplete_fields = ["map", "team"]

    @admin.display(description="wastes")
    def wastes_display(self, block: ProcessBlock) -> str:
        return _choice_list_display(block, "wastes")


@admin.register(ImprovementExperiment)
class ImprovementExperimentAdmin(PortalModelAdmin):
    list_display = [
        "title",
        "stream",
        "target_metric",
        "flow_type",
        "expected_direction",
        "expected_size_percent",
        "start_date",
        "review_date",
        "verdict",
    ]
    list_filter = ["verdict", "target_metric", "stream"]
    search_fields = ["title", "hypothesis", "stream__name"]
    list_select_related = ["stream"]
    autocomplete_fields = ["stream"]
    # Computed from flow data by the verdict job, never typed in.
    readonly_fields = ["baseline", "result", "verdict", "decided_at"]


@admin.register(FlowSnapshot)
class FlowSnapshotAdmin(ReadOnlyMixin, RowCheckedAdmin):
    """Weekly snapshots are computed by the beat job (or `manage.py flow_snapshots`), never typed in."""

    list_display = ["stream", "week_start", "throughput", "wip", "flow_time_p50", "flow_time_p85", "efficiency"]
    list_filter = ["stream"]
    search_fields = ["stream__name"]
    list_select_related = ["stream"]
    date_hierarchy = "week_start"


class DeploymentItemInline(PortalTabularInline):
    model = DeploymentItem
    fields = ["item", "first_commit_at"]
    autocomplete_fields = ["item"]
    extra = 0


@admin.register(Deployment)
class DeploymentAdmin(PortalModelAdmin):
    list_display = ["service", "version", "stream", "environment", "status", "started_at", "finished_at", "source"]
    list_filter = ["status", "environment", "source", "stream"]
    search_fields = ["service", "version", "external_id", "stream__name"]
    list_select_related = ["stream"]
    autocomplete_fields = ["stream"]
    date_hierarchy = "started_at"
    inlines = [DeploymentItemInline]


@admin.register(DeploymentItem)
class DeploymentItemAdmin(PortalModelAdmin):
    list_display = ["item", "deployment", "first_commit_at"]
    search_fields = ["item__title", "deployment__service", "deployment__version"]
    list_select_related = ["item", "deployment"]
    autocomplete_fields = ["item", "deployment"]


@admin.register(Incident)
class IncidentAdmin(PortalModelAdmin):
    list_display = ["title", "stream", "severity", "opened_at", "resolved_at", "caused_by", "source"]
    list_filter = ["severity", "source", "stream"]
    search_fields = ["title", "external_id", "stream__name"]
    list_select_related = ["stream", "caused_by"]
    autocomplete_fields = ["stream", "caused_by", "items"]
    date_hierarchy = "opened_at"


class ConnectionForm(forms.ModelForm):
    token = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted; never shown again. Leave empty to keep the stored token.",
    )

    class Meta:
        model = Connection
        fields = ["stream", "tool", "base_url", "username", "token", "scope", "rate", "status"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:  # a field is missing or wrong already: that is what the form says first
            return cleaned
        editable = ("stream", "tool", "base_url", "username", "scope", "rate", "status")
        candidate = Connection(**{name: cleaned[name] for name in editable if name in cleaned})
        if "stream" not in cleaned:  # a change form: the row's own stream
            candidate.stream_id = self.instance.stream_id
        candidate.token_encrypted = self.instance.token_encrypted
        if cleaned.get("token"):
            candidate.token = cleaned["token"]
        try:
            connection_clean(candidate)  # the service's own check, so the form shows its words
        except ValidationError as error:
            for name, messages_ in error.message_dict.items():
                self.add_error(name if name in self.fields else None, messages_)
        return cleaned


class SyncRunInline(ReadOnlyMixin, PortalTabularInline):
    model = SyncRun
    fields = ["kind", "status", "started_at", "finished_at", "read", "items_new", "items_changed", "requests", "error"]
    readonly_fields = fields
    ordering = ["-started_at"]
    max_num = 0


class HeldItemInline(ReadOnlyMixin, PortalTabularInline):
    model = HeldItem
    fields = ["external_key", "title", "kind", "value", "since"]
    readonly_fields = fields
    max_num = 0


@admin.register(Connection)
class ConnectionAdmin(PortalModelAdmin):
    """Connections are written through `streams.integrations.connectors.services`, as on the page:
    the same address and scope checks, the token encrypted."""

    form = ConnectionForm
    list_display = ["stream", "tool", "base_url", "status", "synced_at"]
    list_filter = ["tool", "status"]
    list_select_related = ["stream"]
    readonly_fields = ["synced_at", "backfilled_at", "status_message"]
    inlines = [HeldItemInline, SyncRunInline]

    def save_model(self, request, obj, form, change):
        require(request, access.CHANGE if change else access.ADD, obj)
        token = form.cleaned_data.get("token", "")
        if change:
            fields = {name: form.cleaned_data[name] for name in form.changed_data if name != "token"}
            connection_update(connection=Connection.objects.get(pk=obj.pk), token=token, **fields)
            return
        saved = connection_create(
            stream=obj.stream,
            tool=obj.tool,
            base_url=obj.base_url,
            token=token,
            scope=obj.scope,
            username=obj.username,
            rate=obj.rate,
            actor=request.user,
        )
        obj.pk = saved.pk
        obj.refresh_from_db()
