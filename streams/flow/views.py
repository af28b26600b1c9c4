"""The value stream page: every flow chart over a chosen window, forecasts, and its CSV downloads."""

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.csv import SafeDictWriter, SafeWriter
from streams.delivery.views import delivery_context
from streams.experiments.selectors import experiments_latest
from streams.flow.charts import distribution_rows, efficiency_rows, flow_chart_data
from streams.flow.engine import CATEGORIES, ITEM_FIELDS, Scope, item_row, report_items
from streams.flow.forecast import MIN_FINISHED, forecast_how_many, forecast_when
from streams.flow.forms import FlowWindowForm, ForecastForm
from streams.flow.quality import with_data_quality
from streams.flow.report import flow_report, stream_page_report
from streams.flow.tables import stream_tables
from streams.maps.services import map_blocks, map_totals
from streams.models import (
    FlowSnapshot,
    ValueStreamMap,
)
from streams.selectors import connections_by_stream, stream_get

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
    report = stream_page_report(scope=Scope.stream(stream), window=window_form.window(), shown=TABLE_ROWS)
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
    # Longest first; those without a flow time (history cut short) last.
    finished_rows = sorted(report.finished, key=lambda f: (f.flow_days is not None, f.flow_days or 0), reverse=True)[
        :TABLE_ROWS
    ]
    wip_rows = sorted(report.in_progress, key=lambda f: f.age_days, reverse=True)[:TABLE_ROWS]
    cfd_rows = [
        {
            "day": day["day"],
            "counts": [day["states"][state["name"]] for state in report.cfd_states],
            "categories": [day[c] for c in ("backlog", "active", "waiting", "done")],
        }
        for day in report.daily
    ]
    returned_rows = [
        {"facts": facts, "days_there": (report.window.as_of - facts.returned_since) / dt.timedelta(days=1)}
        for facts in report.returned_items[:TABLE_ROWS]
    ]
    context = {
        "stream": stream,
        "snapshots": snapshots,
        "director": next(iter(stream.active_directors), None),
        "report": report,
        "forecast_sample_items": sum(report.forecast_sample),
        "forecast_minimum": MIN_FINISHED,
        "chart_data": flow_chart_data(report, snapshots),
        "distribution_rows": distribution_rows(report),
        "returned_rows": returned_rows,
        "tables": stream_tables(
            report, cfd_rows=cfd_rows, finished_rows=finished_rows, wip_rows=wip_rows, returned_rows=returned_rows
        ),
        "table_rows": TABLE_ROWS,
        "efficiency_rows": efficiency_rows(report),
        "quality": with_data_quality(report).data_quality,
        "window_form": window_form,
        "forecast_form": forecast_form,
        "forecasts": forecasts,
        **delivery_context(stream, report.window),
    }
    if not request.htmx:
        context |= _maps_and_experiments(stream)
        context["connections"] = connections_by_stream([stream.pk]).get(stream.pk, [])
    template = "streams/partials/_flow.html" if request.htmx else "streams/stream_detail.html"
    return render(request, template, context)


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
