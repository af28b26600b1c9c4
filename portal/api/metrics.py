"""Metrics endpoints: the numbers of the pages and of `manage.py flow_metrics`, as JSON or CSV.

Each endpoint reads its query string with the page's own form (the window of the stream page,
the period of the alignment page, the forecast questions), then calls the same function the
page calls: the API cannot drift from the pages.
"""

import datetime as dt
import re

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.csv import csv_response
from core.api.fields import AwareDateTimeField
from core.api.viewsets import FORMAT_PARAMETER
from core.csv import Echo, SafeDictWriter
from core.dates import EARLIEST
from okrs.alignment import alignment_report
from okrs.investment import investment_report
from okrs.selectors import current_period
from portal.investment import ROW_FIELDS as INVESTMENT_FIELDS
from portal.investment import investment_dict, investment_rows
from streams.delivery.keys import BAND_DESCRIPTIONS, BANDS_YEAR, KEY_TEXTS, delivery_keys, pooled_delivery_keys
from streams.flow.engine import ITEM_FIELDS, Scope, item_row, report_dict, report_items
from streams.flow.forecast import CONFIDENCES, MIN_FINISHED, forecast_how_many, forecast_when
from streams.flow.forms import FlowWindowForm, ForecastForm
from streams.flow.periods import parse_period
from streams.flow.quality import with_data_quality
from streams.flow.report import flow_report
from streams.models import ValueStream
from streams.readiness.selectors import criterion_lead_times, readiness_by_owner_team
from streams.selectors import data_sources
from teams.models import Person, Team

SCOPE_PARAMETERS = [
    OpenApiParameter("stream", OpenApiTypes.STR, description="A value stream's slug."),
    OpenApiParameter("team", OpenApiTypes.STR, description="A team's slug."),
    OpenApiParameter("director", OpenApiTypes.INT, description="A product director's person id (their streams)."),
]
WINDOW_PARAMETERS = [
    OpenApiParameter("weeks", OpenApiTypes.INT, enum=[4, 8, 12, 26, 52], description="The last N weeks (default 12)."),
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day of the window (UTC); overrides weeks."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day of the window (default today)."),
    OpenApiParameter(
        "as_of", OpenApiTypes.DATETIME, description="Read the history up to this instant (ISO 8601 with UTC offset)."
    ),
]
ANY_OBJECT = OpenApiTypes.OBJECT


def _raise_form_errors(form) -> None:
    raise ValidationError({name: [str(m) for m in messages] for name, messages in form.errors.items()})


def scope_from(params) -> Scope:
    """The scope the query names: ?stream=slug, ?team=slug or ?director=person id; else the portfolio."""
    given = [name for name in ("stream", "team", "director") if params.get(name)]
    if len(given) > 1:
        raise ValidationError({given[1]: [f"Choose one of stream, team or director, not {' and '.join(given)}."]})
    if slug := params.get("stream"):
        return Scope.stream(get_object_or_404(ValueStream, slug=slug))
    if slug := params.get("team"):
        return Scope.team(get_object_or_404(Team, slug=slug))
    if person_id := params.get("director"):
        if not re.fullmatch(r"[0-9]{1,18}", person_id):
            raise ValidationError({"director": [f"{person_id!r} is not a person id (a whole number)."]})
        return Scope.director(get_object_or_404(Person, pk=int(person_id)))
    return Scope.portfolio()


def window_from(params):
    """The window, read exactly as the stream page reads it, plus `as_of` for the command's figures."""
    form = FlowWindowForm(params)
    if not form.is_valid():
        _raise_form_errors(form)
    as_of = None
    if params.get("as_of"):
        field = AwareDateTimeField()
        try:
            as_of = field.run_validation(params["as_of"])
        except ValidationError as error:
            raise ValidationError({"as_of": error.detail}) from error
        if as_of > timezone.now():
            raise ValidationError({"as_of": ["The history cannot be read in the future."]})
        if as_of.date() < EARLIEST:
            raise ValidationError({"as_of": [f"Choose an instant from {EARLIEST} on."]})
    try:
        return form.window(as_of=as_of)
    except ValueError as error:
        raise ValidationError({"start": [str(error)]}) from error


class FlowMetricsView(APIView):
    @extend_schema(
        operation_id="metrics_flow",
        parameters=SCOPE_PARAMETERS + WINDOW_PARAMETERS + [FORMAT_PARAMETER],
        responses={200: ANY_OBJECT},
        description=(
            "The five flow metrics and the rest of DESIGN.md's definitions (throughput, flow time, lead time, "
            "efficiency, WIP, distribution against the target mix, bottleneck, Little's law, daily series) for a "
            "stream, team, director or the whole portfolio: the figures of the stream page and of "
            "`manage.py flow_metrics`. Per-item facts are at /api/v1/metrics/flow/items/. `data_sources` lists the "
            "live connections feeding the scope, with when each last synced (empty: the data was imported from files)."
        ),
    )
    def get(self, request):
        scope = scope_from(request.query_params)
        report = flow_report(scope=scope, window=window_from(request.query_params), with_items=False)
        data = report_dict(with_data_quality(report))
        data.pop("items")
        # How fresh the history is: the live connections feeding the scope (none: imported from files).
        data["data_sources"] = data_sources(scope.stream_ids_query())
        return Response(data)


class FlowItemsView(APIView):
    @extend_schema(
        operation_id="metrics_flow_items",
        parameters=SCOPE_PARAMETERS + WINDOW_PARAMETERS + [FORMAT_PARAMETER],
        responses={200: ANY_OBJECT},
        description=(
            "Per-item flow facts of a stream, team or director's streams: the items finished in the window, those "
            "in progress at its end and those returned to the backlog (started, unfinished, in a backlog state: "
            "`returned_since` says since when), with start, finish, flow, lead and active/waiting/blocked/returned "
            "days, reopens and the pace of aging work. The portfolio has too many for one answer: ask per stream."
        ),
    )
    def get(self, request):
        scope = scope_from(request.query_params)
        if scope.kind == "portfolio":
            raise ValidationError({"stream": ["Choose a stream, a team or a director: per-item facts are per scope."]})
        report = flow_report(scope=scope, window=window_from(request.query_params))
        facts = report_items(report)
        if getattr(request.accepted_renderer, "format", None) == "csv":
            rows = [{"item_id": f.item_id, **item_row(f)} for f in facts]
            return csv_response(_csv_lines(rows), "flow-items")
        return Response(
            {
                "scope": {"kind": scope.kind, "id": scope.id, "label": scope.label},
                "window": _window(report),
                "count": len(facts),
                "items": [{"item_id": f.item_id, **item_row(f)} for f in facts],
            }
        )


def _window(report) -> dict:
    window = report.window
    return {
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "as_of": window.as_of.isoformat(),
        "days": window.days,
    }


def _csv_lines(rows: list[dict]):
    writer = SafeDictWriter(Echo(), fieldnames=("item_id", *ITEM_FIELDS), lineterminator="\n")
    yield writer.writeheader()
    for row in rows:
        yield writer.writerow(row)


def _share(value):
    return None if value is None else round(value, 4)


class AlignmentView(APIView):
    @extend_schema(
        operation_id="metrics_alignment",
        parameters=SCOPE_PARAMETERS
        + [OpenApiParameter("period", OpenApiTypes.STR, description="2026-Q4 or 2026 (default: this quarter).")],
        responses={200: ANY_OBJECT},
        description=(
            "Aligned share of WIP and of finished work, orphan work (oldest 50 by name), unsupported key results and "
            "team objectives without a parent: the alignment page's figures."
        ),
    )
    def get(self, request):
        scope = scope_from(request.query_params)
        label = request.query_params.get("period")
        try:
            period = parse_period(label) if label else current_period()
        except Exception as error:  # django ValidationError with the accepted forms
            raise ValidationError({"period": list(getattr(error, "messages", [str(error)]))}) from error
        report = alignment_report(scope, period)
        totals = report.totals
        return Response(
            {
                "scope": {"kind": scope.kind, "id": scope.id, "label": scope.label},
                "period": period.label,
                "method": "Items finished in the period and in progress now that serve a key result of the period "
                "(directly or through a parent); each item counts once; removed work counts nowhere.",
                "wip": totals.wip,
                "wip_aligned": totals.wip_aligned,
                "wip_share": _share(totals.wip_share),
                "finished": totals.finished,
                "finished_aligned": totals.finished_aligned,
                "finished_share": _share(totals.finished_share),
                "by_stream": [
                    {
                        "stream": stream_id,
                        "wip": row.wip,
                        "wip_aligned": row.wip_aligned,
                        "wip_share": _share(row.wip_share),
                        "finished": row.finished,
                        "finished_aligned": row.finished_aligned,
                        "finished_share": _share(row.finished_share),
                    }
                    for stream_id, row in sorted(report.by_stream.items())
                ],
                "orphans": [{**orphan.__dict__, "age_days": round(orphan.age_days, 4)} for orphan in report.orphans],
                "unsupported_key_results": [{"id": kr.pk, "title": kr.title} for kr in report.unsupported],
                "unparented_team_objectives": [{"id": o.pk, "title": o.title} for o in report.unparented],
            }
        )


class ReadinessMetricsView(APIView):
    @extend_schema(
        operation_id="metrics_readiness",
        parameters=[
            OpenApiParameter("team", OpenApiTypes.STR, description="An owner team's slug: adds lead time by criterion.")
        ],
        responses={200: ANY_OBJECT},
        description=(
            "Each business-operations team's pending readiness checks across streams (overdue: on items past their "
            "target date), and the lead time from check created to met over the last 90 days (p50, p85): the "
            "figures of /readiness/."
        ),
    )
    def get(self, request):
        now = timezone.now()
        teams = [
            {
                "team": row.team.slug,
                "team_name": row.team.name,
                "pending": row.pending,
                "overdue": row.overdue,
                "oldest_days": _share(row.oldest_days),
                "met": row.met,
                "lead_time_p50_days": _share(row.lead_p50),
                "lead_time_p85_days": _share(row.lead_p85),
            }
            for row in readiness_by_owner_team(now)
        ]
        body = {"as_of": now.isoformat(), "teams": teams}
        if slug := request.query_params.get("team"):
            team = get_object_or_404(Team, slug=slug)
            body["criteria"] = [
                {
                    "criterion": row.criterion.pk,
                    "name": row.criterion.name,
                    "met": row.met,
                    "lead_time_p50_days": _share(row.p50),
                    "lead_time_p85_days": _share(row.p85),
                }
                for row in criterion_lead_times(team, now)
            ]
        return Response(body)


class ForecastView(APIView):
    @extend_schema(
        operation_id="metrics_forecast",
        parameters=SCOPE_PARAMETERS
        + WINDOW_PARAMETERS
        + [
            OpenApiParameter("by_date", OpenApiTypes.DATE, description="How many items will be finished by this date?"),
            OpenApiParameter("items", OpenApiTypes.INT, description="When will this many items be finished?"),
        ],
        responses={
            200: inline_serializer(
                "Forecast",
                {
                    "sample_days": serializers.IntegerField(),
                    "sample_items": serializers.IntegerField(help_text="Items finished in the sampled days."),
                    "minimum_items": serializers.IntegerField(
                        help_text="Below this many items finished in the sample, no forecast is made."
                    ),
                    "trials": serializers.IntegerField(),
                    "how_many": serializers.DictField(required=False),
                    "when": serializers.DictField(required=False),
                },
            )
        },
        description=(
            "Monte Carlo forecasts (10,000 trials, fixed seed) from the daily throughput of the window's complete "
            "days, as on the stream page: how many items by a date, and when N items will be done, at 50/85/95%. "
            "Below `minimum_items` items finished in the sample each question's levels are null and its `refused` "
            "says why."
        ),
    )
    def get(self, request):
        scope = scope_from(request.query_params)
        form = ForecastForm(request.query_params)
        if not form.is_valid():
            _raise_form_errors(form)
        by_date, items = form.cleaned_data.get("by_date"), form.cleaned_data.get("items")
        if not by_date and not items:
            raise ValidationError({"by_date": ["Ask a question: by_date (how many by then) or items (when)."]})
        report = flow_report(scope=scope, window=window_from(request.query_params), with_items=False)
        sample = report.forecast_sample
        today = timezone.now().astimezone(dt.UTC).date()
        body = {
            "sample_days": len(sample),
            "sample_items": sum(sample),
            "minimum_items": MIN_FINISHED,
            "trials": 10_000,
        }
        if by_date:
            forecast = forecast_how_many(daily_throughput=sample, days=(by_date - today).days)
            body["how_many"] = {"by_date": by_date.isoformat(), **_levels(forecast), **_why(forecast)}
        if items:
            forecast = forecast_when(daily_throughput=sample, items=items, start=today + dt.timedelta(days=1))
            body["when"] = {"items": items, **_levels(forecast), **_why(forecast)}
        return Response(body)


def _why(forecast) -> dict:
    return {"note": forecast.note, "refused": forecast.refused or None}


def _levels(forecast) -> dict:
    out = {}
    for confidence in CONFIDENCES:
        value = forecast.values[confidence]
        out[f"p{round(confidence * 100)}"] = value.isoformat() if isinstance(value, dt.date) else value
    return out


def delivery_dict(keys) -> dict:
    """The four keys of `streams.delivery.keys.DeliveryKeys` as JSON: hours for durations, levels by key."""
    return {
        "deployments": keys.deployments,
        "successful": keys.successful,
        "deployment_days": keys.deployment_days,
        "deployments_per_week": round(keys.per_week, 4),
        "deployment_days_per_week": round(keys.days_per_week, 4),
        "failed_changes": keys.failed_changes,
        "change_failure_rate": None if keys.change_failure_rate is None else round(keys.change_failure_rate, 4),
        "lead_time_n": keys.lead_time_n,
        "lead_time_p50_hours": _rounded(keys.lead_time_p50),
        "lead_time_p85_hours": _rounded(keys.lead_time_p85),
        "restored_n": keys.restored_n,
        "time_to_restore_p50_hours": _rounded(keys.restore_p50),
        "open_incidents": keys.open_incidents,
        "levels": keys.bands,
    }


def _rounded(value):
    return None if value is None else round(value, 2)


class InvestmentView(APIView):
    @extend_schema(
        operation_id="metrics_investment",
        parameters=SCOPE_PARAMETERS + WINDOW_PARAMETERS[:3] + [FORMAT_PARAMETER],
        responses={200: ANY_OBJECT},
        description=(
            "Investment by effort over the window: the share of active time (from the history, no timesheets) by "
            "flow type (beside the share by item count and, for a stream, its target mix with the gaps named), by key "
            "result and objective of the quarter the window ends in (an item serving several is split equally; "
            "`Not serving a key result` is the rest), by team (with full-time equivalents) and by stream. The "
            "investment panel's figures; `?format=csv` gives its rows."
        ),
    )
    def get(self, request):
        params = request.query_params
        report = investment_report(scope_from(params), window_from(params))
        if getattr(request.accepted_renderer, "format", None) == "csv":
            return csv_response(_rows_csv(investment_rows(report), INVESTMENT_FIELDS), "investment")
        return Response(investment_dict(report))


def _rows_csv(rows: list[dict], fields):
    writer = SafeDictWriter(Echo(), fieldnames=fields, lineterminator="\n")
    yield writer.writeheader()
    for row in rows:
        yield writer.writerow(row)


class DeliveryMetricsView(APIView):
    @extend_schema(
        operation_id="metrics_delivery",
        parameters=[SCOPE_PARAMETERS[0], *WINDOW_PARAMETERS[:3], FORMAT_PARAMETER],
        responses={200: ANY_OBJECT},
        description=(
            "The four keys of delivery performance (DORA) over the window, with the level of each from the "
            "performance clusters of the year in `bands_year`: for one stream (`stream`), else for every stream and "
            "for all of them pooled (medians over all their items and incidents). The definitions are in the "
            "answer; the figures are the stream page's and the portfolio's."
        ),
    )
    def get(self, request):
        params = request.query_params
        window = window_from(params)
        slug = params.get("stream")
        data = {
            "window": {
                "start": window.start,
                "end": window.end,
                "days": round((window.end - window.start).total_seconds() / 86400, 2),
            },
            "bands_year": BANDS_YEAR,
            "definitions": {key: text for key, (_label, text) in KEY_TEXTS.items()},
            "levels": BAND_DESCRIPTIONS,
        }
        if slug:
            stream = get_object_or_404(ValueStream, slug=slug)
            data["stream"] = {
                "slug": stream.slug,
                **delivery_dict(delivery_keys([stream.pk], window.start, window.end)[stream.pk]),
            }
            return Response(data)
        streams = list(ValueStream.objects.order_by("name").values_list("pk", "slug"))
        ids = [pk for pk, _ in streams]
        keys = delivery_keys(ids, window.start, window.end)
        data["portfolio"] = delivery_dict(pooled_delivery_keys(ids, window.start, window.end))
        data["streams"] = [{"slug": slug, **delivery_dict(keys[pk])} for pk, slug in streams]
        return Response(data)
