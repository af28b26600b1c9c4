"""Pages of value streams and of business-operations readiness."""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core import access
from core.csv import SafeDictWriter, SafeWriter
from core.errors import DomainError
from streams.backlog.filters import ITEM_VIEWS, BacklogPageFilter
from streams.backlog.services import item_change_state, item_create
from streams.delivery.keys import BANDS_YEAR, delivery_keys, delivery_timeline, key_rows
from streams.flow.charts import distribution_rows, efficiency_rows, flow_chart_data
from streams.flow.engine import CATEGORIES, ITEM_FIELDS, Scope, flow_report, item_row, report_items
from streams.flow.forecast import forecast_how_many, forecast_when
from streams.flow.quality import with_data_quality
from streams.maps.services import map_blocks, map_totals
from streams.readiness.services import criterion_save, may_sign_off, readiness_check_decide
from teams.models import Team

from .forms import (
    FlowWindowForm,
    ForecastForm,
    ProposalForm,
    ReadinessCriterionForm,
    SignOffForm,
)
from .models import (
    BacklogItem,
    FlowSnapshot,
    ReadinessCheck,
    ReadinessCriterion,
    ValueStream,
    ValueStreamMap,
    WorkflowState,
)
from .rules import scope_of
from .selectors import (
    READINESS_WINDOW_DAYS,
    OwnerTeamReadiness,
    backlog_item,
    backlog_items,
    criterion_lead_times,
    experiments_latest,
    readiness_by_owner_team,
    readiness_queue,
    stream_get,
)

TREND_WEEKS = 26


TABLE_ROWS = 100  # item tables on the page show the longest; the CSV download has every item


@require_GET
def stream_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The value stream page: every flow chart over a chosen window, and forecasts.

    An htmx request (the window or forecast form changing) gets only the flow fragment.
    """
    stream = stream_get(user=request.user, slug=slug)
    window_form = FlowWindowForm(request.GET or None)
    forecast_form = ForecastForm(request.GET or None)
    report = flow_report(scope=Scope.stream(stream), window=window_form.window())
    today = timezone.now().astimezone(dt.UTC).date()
    forecasts = {}
    if forecast_form.is_bound and forecast_form.is_valid():
        by_date, items = forecast_form.cleaned_data.get("by_date"), forecast_form.cleaned_data.get("items")
        if by_date:
            forecasts["how_many"] = (
                by_date,
                forecast_how_many(daily_throughput=report.forecast_sample, days=(by_date - today).days),
            )
        if items:
            forecasts["when"] = (
                items,
                forecast_when(daily_throughput=report.forecast_sample, items=items, start=today + dt.timedelta(days=1)),
            )
    # Trend lines come from the weekly snapshots (one query), oldest first.
    snapshots = list(FlowSnapshot.objects.filter(stream=stream).order_by("-week_start")[:TREND_WEEKS])[::-1]
    context = {
        "stream": stream,
        "snapshots": snapshots,
        "director": next(iter(stream.active_directors), None),
        "report": report,
        "chart_data": flow_chart_data(report, snapshots),
        "distribution_rows": distribution_rows(report),
        # Longest first; those without a flow time (history cut short) last.
        "finished_rows": sorted(
            report.finished, key=lambda f: (f.flow_days is not None, f.flow_days or 0), reverse=True
        )[:TABLE_ROWS],
        "wip_rows": sorted(report.in_progress, key=lambda f: f.age_days, reverse=True)[:TABLE_ROWS],
        "cfd_rows": [
            {
                "day": day["day"],
                "counts": [day["states"][state["name"]] for state in report.cfd_states],
                "categories": [day[c] for c in ("backlog", "active", "waiting", "done")],
            }
            for day in report.daily
        ],
        "returned_rows": [
            {"facts": facts, "days_there": (report.window.as_of - facts.returned_since) / dt.timedelta(days=1)}
            for facts in report.returned_items[:TABLE_ROWS]
        ],
        "table_rows": TABLE_ROWS,
        "efficiency_rows": efficiency_rows(report),
        "quality": with_data_quality(report).data_quality,
        "window_form": window_form,
        "forecast_form": forecast_form,
        "forecasts": forecasts,
        **_delivery(stream, report.window),
    }
    if not request.htmx:
        context |= _maps_and_experiments(stream)
    template = "streams/partials/_flow.html" if request.htmx else "streams/stream_detail.html"
    return render(request, template, context)


def _delivery(stream, window) -> dict:
    """The four keys of delivery performance over the flow window (three queries)."""
    keys = delivery_keys([stream.pk], window.start, window.end)[stream.pk]
    return {"delivery": keys, "delivery_rows": key_rows(keys), "bands_year": BANDS_YEAR}


@require_GET
def stream_delivery(request: HttpRequest, slug: str) -> HttpResponse:
    """The delivery timeline: deployments, incidents and finished items on one time axis, with
    the four keys over the same window."""
    stream = stream_get(user=request.user, slug=slug)
    window_form = FlowWindowForm(request.GET or None)
    window = window_form.window()
    context = {
        "stream": stream,
        "window": window,
        "window_form": window_form,
        "timeline": delivery_timeline(stream, window.start, window.end),
        **_delivery(stream, window),
    }
    return render(request, "streams/delivery.html", context)


def _maps_and_experiments(stream) -> dict:
    """The stream page's summary of its latest current-state map and its experiments."""
    latest = (
        ValueStreamMap.objects.filter(stream=stream, kind=ValueStreamMap.Kind.CURRENT).order_by("-as_of", "-pk").first()
    )
    return {
        "current_map": latest,
        "current_map_totals": map_totals(map_blocks(latest)) if latest else None,
        "experiment_rows": experiments_latest(stream_ids=[stream.pk], limit=None),
    }


@require_GET
def stream_flow_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """Every item's flow facts over the page's window, as CSV (the flow_metrics command's item table)."""
    stream = stream_get(user=request.user, slug=slug)
    report = flow_report(scope=Scope.stream(stream), window=FlowWindowForm(request.GET or None).window())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stream.slug}-flow-items.csv"'
    writer = SafeDictWriter(response, fieldnames=ITEM_FIELDS)
    writer.writeheader()
    for facts in report_items(report):
        writer.writerow(item_row(facts))
    return response


@require_GET
def stream_cfd_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """Cumulative flow over the page's window as CSV: a row per day, a column per workflow
    state in the workflow's order, then the categories and the WIP."""
    stream = stream_get(user=request.user, slug=slug)
    report = flow_report(
        scope=Scope.stream(stream), window=FlowWindowForm(request.GET or None).window(), with_items=False
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stream.slug}-cumulative-flow.csv"'
    states = [state["name"] for state in report.cfd_states]
    writer = SafeWriter(response)
    writer.writerow(["day", *states, *CATEGORIES, "wip"])
    for day in report.daily:
        counts = [day["states"][name] for name in states]
        writer.writerow([day["day"].isoformat(), *counts, *(day[c] for c in CATEGORIES), day["wip"]])
    return response


# --- Operations readiness ------------------------------------------------------------------------

QUEUE_PAGE_SIZE = 50


def _owner_team(request, teams: list[OwnerTeamReadiness]) -> OwnerTeamReadiness | None:
    """The team asked for (`?team=slug`), else the user's own, else the one with most pending."""
    slug = request.GET.get("team")
    if slug:
        for row in teams:
            if row.team.slug == slug:
                return row
        raise Http404("No business-operations team with that name owns readiness criteria.")
    mine = scope_of(request.user).team_ids
    return next((row for row in teams if row.team.pk in mine), None) or max(
        teams, key=lambda row: row.pending, default=None
    )


def _may_propose(user, team: Team) -> bool:
    return user.is_superuser or team.pk in scope_of(user).team_ids


@require_http_methods(["GET", "POST"])
def readiness(request: HttpRequest) -> HttpResponse:
    """Each business-operations team's pending checks across all streams, with sign-off, the
    lead time of its sign-offs, and improvement ideas it proposes into streams' backlogs."""
    teams = readiness_by_owner_team()
    selected = _owner_team(request, teams)
    proposal = None
    if selected is not None and _may_propose(request.user, selected.team):
        proposal = ProposalForm(request.POST or None, prefix="propose")
        if request.method == "POST" and proposal.is_valid():
            data = proposal.cleaned_data
            try:
                item = item_create(
                    stream_id=data["stream"].pk,
                    title=data["title"],
                    description=data["description"],
                    flow_type=data["flow_type"],
                    customer_facing=data["customer_facing"],
                    proposed_by=selected.team,
                    actor=request.user,
                )
            except DomainError as error:
                proposal.add_error(error.field if error.field in proposal.fields else None, error.message)
            else:
                messages.success(
                    request,
                    f"{item.key} “{item.title}” is in {data['stream'].name}'s backlog, marked as proposed by "
                    f"{selected.team.name}; its product owners see it there.",
                )
                return redirect(f"{reverse('readiness:queue')}?team={selected.team.slug}")
    elif request.method == "POST":
        raise PermissionDenied("Only members of the team may propose improvements in its name.")
    queue = None
    if selected is not None:
        queue = Paginator(readiness_queue(selected.team), QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "teams": teams,
        "selected": selected,
        "queue": queue,
        "rows": [_queue_row(request.user, check) for check in queue] if queue else [],
        "lead_times": criterion_lead_times(selected.team) if selected else [],
        "proposal": proposal,
        "window_days": READINESS_WINDOW_DAYS,
        "now": timezone.now(),
    }
    status = 422 if proposal is not None and proposal.errors else 200
    return render(request, "streams/readiness.html", context, status=status)


def _queue_row(user, check: ReadinessCheck, form: SignOffForm | None = None, error: str = "") -> dict:
    may = may_sign_off(user, check)
    return {"check": check, "may_sign_off": may, "form": form or (SignOffForm() if may else None), "error": error}


@require_http_methods(["POST"])
def readiness_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Sign off one check (htmx: the row comes back decided, or with the reason it was refused)."""
    check = get_object_or_404(
        ReadinessCheck.objects.select_related("criterion__owner_team", "item__stream", "item__state"), pk=pk
    )
    form = SignOffForm(request.POST, prefix=f"check-{check.pk}")
    error = ""
    if form.is_valid():
        try:
            readiness_check_decide(
                check=check, status=form.cleaned_data["status"], reason=form.cleaned_data["reason"], actor=request.user
            )
        except DomainError as refused:
            if refused.code == "permission_denied":
                raise PermissionDenied(refused.message) from refused
            error = refused.message
            if refused.field in form.fields:
                form.add_error(refused.field, refused.message)
    else:
        error = "; ".join(message for messages_ in form.errors.values() for message in messages_)
    if request.htmx:
        row = _queue_row(request.user, check, form=form if error else None, error=error)
        return render(
            request,
            "streams/partials/_readiness_row.html",
            {"row": row, "now": timezone.now()},
            status=422 if error else 200,
        )
    if error:
        messages.error(request, f"{check.criterion.name} for {check.item.key}: {error}")
    else:
        messages.success(request, f"{check.criterion.name} for {check.item.key}: {check.get_status_display().lower()}.")
    return redirect(f"{reverse('readiness:queue')}?team={check.criterion.owner_team.slug}")


# --- Backlog ---------------------------------------------------------------------------------------

BACKLOG_PAGE_SIZE = 100


@require_GET
def backlog_home(request: HttpRequest) -> HttpResponse:
    """The backlog of the stream asked for (`?stream=slug`), else of the first stream the user
    leads or serves, else of the first stream."""
    scope = scope_of(request.user)
    streams = ValueStream.objects.for_user(request.user).order_by("name")
    stream = (
        streams.filter(slug=request.GET.get("stream", "")).first()
        or streams.filter(pk__in=scope.led_stream_ids | scope.served_stream_ids).first()
        or streams.first()
    )
    if stream is None:
        return render(request, "streams/backlog.html", {"stream": None})
    return redirect("streams:backlog-stream", slug=stream.slug)


def _backlog_row(user, item: BacklogItem, error: str = "") -> dict:
    checks = list(item.readiness_checks.all())
    pending = [check for check in checks if check.status == ReadinessCheck.Status.PENDING]
    return {
        "item": item,
        "may_move": access.may(user, access.CHANGE_STATE, item),
        "checks": checks,
        "pending": pending,
        "error": error,
    }


@require_GET
def backlog(request: HttpRequest, slug: str) -> HttpResponse:
    """A stream's backlog for its product owners: filter, search, move items between states
    in place, with the release gate's refusal shown on the item's row."""
    stream = stream_get(user=request.user, slug=slug)
    data = request.GET.copy()
    if data.get("view") not in ITEM_VIEWS:
        data["view"] = "open"
    filters = BacklogPageFilter(data, queryset=backlog_items(stream))
    form = filters.form
    items = filters.qs
    page = Paginator(items, BACKLOG_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "stream": stream,
        "streams": ValueStream.objects.for_user(request.user).order_by("name").only("name", "slug"),
        "form": form,
        "page": page,
        "rows": [_backlog_row(request.user, item) for item in page],
        "states": list(stream.states.order_by("order", "pk")),
        "query": query.urlencode(),
        "proposals": BacklogItem.objects.filter(
            stream=stream, proposed_by__isnull=False, state__category=WorkflowState.Category.BACKLOG
        ).count(),
    }
    return render(request, "streams/backlog.html", context)


@require_http_methods(["POST"])
def item_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move an item to another state of its stream (htmx: the row comes back, with the
    refusal inline when the release gate or a workflow rule says no)."""
    item = get_object_or_404(BacklogItem.objects.select_related("stream"), pk=pk)
    if not access.may(request.user, access.CHANGE_STATE, item):
        raise PermissionDenied("Only the product owners of this stream's teams, or its director, may move its items.")
    raw = request.POST.get("state", "")
    to_state = WorkflowState.objects.filter(stream_id=item.stream_id, pk=raw).first() if raw.isdigit() else None
    error = ""
    if to_state is None:
        error = "Choose one of this value stream's states to move the item to."
    else:
        try:
            item_change_state(item=item, to_state=to_state, actor=request.user, via="page")
        except DomainError as refused:
            error = refused.message
    if request.htmx:
        fresh = backlog_item(item.pk)
        context = {
            "row": _backlog_row(request.user, fresh, error=error),
            "states": list(item.stream.states.order_by("order", "pk")),
        }
        return render(request, "streams/partials/_backlog_row.html", context, status=422 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{item.key} moved to {to_state.name}.")
    return redirect("streams:backlog-stream", slug=item.stream.slug)


# --- Readiness criteria ----------------------------------------------------------------------------


@require_GET
def criteria(request: HttpRequest) -> HttpResponse:
    """Every readiness criterion by owner team: what it applies to, and who may change it."""
    rows = ReadinessCriterion.objects.select_related("owner_team").prefetch_related(
        Prefetch("streams", queryset=ValueStream.objects.only("pk", "name", "slug").order_by("name"))
    )
    context = {
        "criteria": [(criterion, access.may(request.user, access.CHANGE, criterion)) for criterion in rows],
        "may_add": access.may(request.user, access.ADD, ReadinessCriterion),
    }
    return render(request, "streams/criteria.html", context)


@require_http_methods(["GET", "POST"])
def criterion_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create or change a criterion; the checks of open work follow it."""
    criterion = get_object_or_404(ReadinessCriterion, pk=pk) if pk else ReadinessCriterion()
    if pk and not access.may(request.user, access.CHANGE, criterion):
        raise PermissionDenied("Only operations members of the owning team may change this criterion.")
    if not pk and not access.may(request.user, access.ADD, ReadinessCriterion):
        raise PermissionDenied("Only operations members of a business-operations team may add readiness criteria.")
    form = ReadinessCriterionForm(request.POST or None, instance=criterion, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            created, dropped = criterion_save(
                criterion=form.save(commit=False), streams=form.cleaned_data["streams"], actor=request.user
            )
        except DomainError as error:
            if error.code == "permission_denied":
                raise PermissionDenied(error.message) from error
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request,
                f"“{criterion.name}” saved: {created} open item{'s' if created != 1 else ''} now "
                f"need{'s' if created == 1 else ''} its sign-off; {dropped} pending check"
                f"{'s' if dropped != 1 else ''} no longer apply.",
            )
            return redirect("readiness:criteria")
    status = 422 if form.errors else 200
    return render(request, "streams/criterion_form.html", {"form": form, "criterion": criterion}, status=status)
