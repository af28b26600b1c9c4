"""Pages of value streams."""

import csv
import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from .charts import distribution_rows, efficiency_rows, flow_chart_data
from .flow import ITEM_FIELDS, Scope, flow_report, item_row
from .forecast import forecast_how_many, forecast_when
from .forms import FlowWindowForm, ForecastForm
from .models import FlowSnapshot
from .selectors import stream_get

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
        "finished_rows": sorted(report.finished, key=lambda f: f.flow_days, reverse=True)[:TABLE_ROWS],
        "wip_rows": sorted(report.in_progress, key=lambda f: f.age_days, reverse=True)[:TABLE_ROWS],
        "table_rows": TABLE_ROWS,
        "efficiency_rows": efficiency_rows(report),
        "window_form": window_form,
        "forecast_form": forecast_form,
        "forecasts": forecasts,
    }
    template = "streams/partials/_flow.html" if request.htmx else "streams/stream_detail.html"
    return render(request, template, context)


@require_GET
def stream_flow_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """Every item's flow facts over the page's window, as CSV (the flow_metrics command's item table)."""
    stream = stream_get(user=request.user, slug=slug)
    report = flow_report(scope=Scope.stream(stream), window=FlowWindowForm(request.GET or None).window())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stream.slug}-flow-items.csv"'
    writer = csv.DictWriter(response, fieldnames=ITEM_FIELDS)
    writer.writeheader()
    for facts in report.finished + report.in_progress:
        writer.writerow(item_row(facts, for_spreadsheet=True))
    return response
