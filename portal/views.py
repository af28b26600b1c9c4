"""Cross-cutting pages: the portfolio (home), the item page, a stream's flow health scorecard,
and the liveness check."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core import access
from core.csv import SafeWriter
from core.freshness import fresh_cached, ids_key
from okrs.alignment import Alignment, stream_alignment
from okrs.investment import investment_report
from okrs.selectors import current_period
from okrs.views import item_links_context, scope_asked
from streams.delivery.keys import BANDS_YEAR, key_rows
from streams.experiments.selectors import experiments_latest
from streams.flow.forms import FlowWindowForm
from streams.flow.portfolio import PortfolioWindow, stream_flows
from streams.models import BacklogItem
from streams.selectors import stream_get
from teams.models import Team

from .composition import composition
from .first_steps import first_steps
from .health import health_scorecards
from .investment import METHOD as INVESTMENT_METHOD
from .item import item_for_page, item_page
from .leadership import leadership
from .portfolio import PortfolioFilterForm, industries, portfolio, portfolio_streams

# (sort key, heading, numeric, view) of the portfolio table's sortable columns, in order. The
# table has two views a leader switches between, so that every column fits a laptop's screen:
# alignment and flow, and delivery; the stream, its director and its flow health are in both.
COLUMNS = (
    ("name", "Stream", False, "both"),
    ("director", "Product director", False, "both"),
    ("aligned_wip", "Aligned WIP", True, "flow"),
    ("aligned_finished", "Aligned finished", True, "flow"),
    ("velocity", "Velocity /week", True, "flow"),
    ("flow_time", "Flow time p85, days", True, "flow"),
    ("efficiency", "Efficiency", True, "flow"),
    ("wip", "WIP", True, "flow"),
    ("readiness", "Readiness pending", True, "flow"),
    ("health", "Flow health", True, "both"),
    ("deploys", "Deploys /week", True, "delivery"),
    ("lead_time_changes", "Lead time for changes", True, "delivery"),
    ("change_failure", "Change failure", True, "delivery"),
    ("restore", "Time to restore", True, "delivery"),
)
VIEWS = (("flow", "Alignment and flow"), ("delivery", "Delivery"))
CSV_FIELDS = (
    "stream",
    "customer",
    "industry",
    "director",
    "director_kind",
    "aligned_wip_share",
    "aligned_finished_share",
    "orphan_wip",
    "velocity_per_week",
    "flow_time_p85_days",
    "flow_efficiency",
    "wip",
    "feature_share",
    "defect_share",
    "risk_share",
    "debt_share",
    "readiness_pending",
    "health_passed",
    "health_measured",
    "health_failing",
    "deployments_per_week",
    "deployment_days_per_week",
    "lead_time_for_changes_p50_hours",
    "change_failure_rate",
    "time_to_restore_p50_hours",
    "dora_levels",
)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The leaders' portfolio: every stream in one table, filterable, sortable and as CSV.

    Below the filters, the page is the same for everyone who sees the same streams: it is kept
    rendered under the data generation (`core.freshness`: any committed write computes it again,
    from each stream's cached columns) and the minute (the data sources' "synced N minutes ago")."""
    form = PortfolioFilterForm(request.GET or None, industries=industries())
    filters = form.cleaned_data if form.is_valid() else {}
    if request.GET.get("format") == "csv":
        return _portfolio_csv(portfolio(user=request.user, filters=filters))
    view = request.GET.get("view") if request.GET.get("view") in dict(VIEWS) else "flow"
    sort = filters.get("sort") or "name"
    query = request.GET.copy()
    query.pop("sort", None)
    query.pop("format", None)
    other_views = query.copy()
    other_views.pop("view", None)
    other_views["sort"] = sort
    period = current_period()
    body_context = {
        "form": form,
        "user": request.user,
        "query": query.urlencode(),
        "view": view,
        "views": VIEWS,
        "views_query": other_views.urlencode(),
        "columns": [(key, label, numeric) for key, label, numeric, shown in COLUMNS if shown in (view, "both")],
        "bands_year": BANDS_YEAR,
    }

    def body() -> str:
        result = portfolio(user=request.user, filters=filters, period=period)
        return render_to_string(
            "portal/partials/_portfolio_body.html",
            body_context
            | {
                "portfolio": result,
                "experiment_rows": experiments_latest(stream_ids=[row.stream.pk for row in result.rows]),
                "delivery_rows": key_rows(result.delivery),
            },
        )

    ids = list(portfolio_streams(user=request.user, filters=filters).values_list("pk", flat=True))
    if ids:
        now = timezone.now()
        key = (
            f"portfolio-body:{ids_key(ids)}:{period.label}:{now:%Y-%m-%dT%H:%M}:"
            f"{body_context['query']}:{body_context['views_query']}:{view}:{sort}"
        )
        content = fresh_cached(key, body)
    else:
        content = body()  # the empty state speaks to this user (filters, the admin's link)
    context = {
        "form": form,
        "query": body_context["query"],
        "sort": sort,
        "period": period,
        "first_steps": first_steps(request.user),
        "portfolio_body": content,
    }
    return render(request, "portal/home.html", context)


def _share(value) -> str:
    return "" if value is None else f"{value:.4f}"


def _hours(value) -> str:
    return "" if value is None else f"{value:.2f}"


def _delivery_cells(keys) -> list[str]:
    levels = ";".join(f"{key}={level}" for key, level in keys.bands.items() if level)
    return [
        f"{keys.per_week:.2f}",
        f"{keys.days_per_week:.2f}",
        _hours(keys.lead_time_p50),
        _share(keys.change_failure_rate),
        _hours(keys.restore_p50),
        levels,
    ]


def _portfolio_csv(result) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="portfolio-{result.period.label}.csv"'
    writer = SafeWriter(response)
    writer.writerow(CSV_FIELDS)
    for row in result.rows:
        flow, aligned = row.flow, row.alignment
        writer.writerow(
            [
                row.stream.name,
                row.stream.get_customer_display(),
                row.stream.industry,
                row.director.person.name if row.director else "",
                row.director.get_kind_display() if row.director else "",
                _share(aligned.wip_share),
                _share(aligned.finished_share),
                aligned.orphans,
                f"{flow.velocity:.2f}",
                "" if flow.flow_time_p85 is None else f"{flow.flow_time_p85:.2f}",
                _share(flow.efficiency),
                flow.wip,
                *(_share(flow.distribution[t]) for t in ("feature", "defect", "risk", "debt")),
                row.readiness_pending,
                row.health.passed,
                row.health.measured,
                ";".join(check.key for check in row.health.failing),
                *_delivery_cells(row.delivery),
            ]
        )
    return response


@require_GET
def leadership_page(request: HttpRequest) -> HttpResponse:
    """Every stream's product director and value stream manager, the gaps in that ownership,
    outcomes by director kind, and flow load per director."""
    return render(request, "portal/leadership.html", {"leadership": leadership(user=request.user)})


@require_GET
def teams_page(request: HttpRequest) -> HttpResponse:
    """Team composition, allocation, disciplines against stream needs, WIP against limits and
    cross-team dependencies."""
    team_type = request.GET.get("type", "")
    if team_type not in Team.Type.values:
        team_type = ""
    context = {
        "composition": composition(team_type=team_type, page=request.GET.get("page")),
        "types": Team.Type.choices,
        "team_type": team_type,
        "query": urlencode({"type": team_type}) if team_type else "",
    }
    return render(request, "portal/teams.html", context)


@require_GET
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An item's life: timeline, readiness checklist, dependencies, children, outcomes, changes."""
    try:
        item = item_for_page(pk)
    except BacklogItem.DoesNotExist:
        raise Http404(f"There is no backlog item #{pk}; it may have been deleted.") from None
    context = {
        "page": item_page(item),
        "may_change": access.may(request.user, access.CHANGE, item),
        "link_error": "",
        **item_links_context(request, item),
    }
    return render(request, "portal/item.html", context)


@require_GET
def stream_health(request: HttpRequest, slug: str) -> HttpResponse:
    """A stream's flow health scorecard: the nine checks with their rules, values and results.

    The stream page loads it with htmx (the fragment); without htmx it is a page of its own.
    """
    stream = stream_get(user=request.user, slug=slug)
    period, window = current_period(), PortfolioWindow.ending_before()
    flows = stream_flows([stream.pk], window)
    aligned = stream_alignment(period, [stream.pk])
    card = health_scorecards([stream.pk], alignment=aligned, flows=flows, window=window)[stream.pk]
    context = {
        "stream": stream,
        "card": card,
        "window": window,
        "period": period,
        "alignment": aligned.get(stream.pk, Alignment()),
    }
    template = "portal/partials/_health.html" if request.htmx else "portal/stream_health.html"
    return render(request, template, context)


@require_GET
def investment_page(request: HttpRequest) -> HttpResponse:
    """Investment by effort of a stream, team, director's streams or the portfolio over a window.

    The stream page, the alignment page and the portfolio load it with htmx (the fragment, after
    their own figures: it reads the history); without htmx it is a page of its own."""
    scope, subject = scope_asked(request)
    # The window form sees only its own fields: bound by the scope alone it would show no window chosen.
    window_form = FlowWindowForm(
        {key: request.GET[key] for key in ("weeks", "start", "end") if key in request.GET} or None
    )
    report = investment_report(scope, window_form.window())
    query = {
        key: request.GET[key] for key in ("stream", "team", "director", "weeks", "start", "end") if request.GET.get(key)
    }
    context = {
        "report": report,
        "flow": report.flow,
        "subject": subject,
        "window_form": window_form,
        "method": INVESTMENT_METHOD,
        "csv_url": f"{reverse('api:metrics-investment')}?{urlencode(query | {'format': 'csv'})}",
        "page_url": f"{reverse('investment')}?{urlencode(query)}",
    }
    template = "portal/partials/_investment.html" if request.htmx else "portal/investment.html"
    return render(request, template, context)


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers in front of several gunicorns."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
