"""The leaders' portfolio: every value stream in one row, with who leads it, whether its work
serves the period's outcomes, how its work flows, what waits on business operations, and
its flow health (`portal.health`).

A fixed number of queries whatever the number of streams: each column is one grouped query
over all the streams shown; filtering and sorting happen on those rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt

from django import forms
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from core.freshness import fresh_cached_by_stream
from okrs.alignment import Alignment, stream_alignment
from okrs.selectors import current_period
from streams.delivery.keys import POOLED, DeliveryKeys, delivery_keys
from streams.flow.periods import Period
from streams.flow.portfolio import PortfolioWindow, StreamFlow, stream_flows
from streams.models import LeadershipAssignment, ReadinessCheck, ValueStream, WorkflowState
from streams.selectors import connections_by_stream

from .health import Scorecard, health_scorecards

NO_DIRECTOR = "none"
SORTS = {
    "name": lambda row: row.stream.name.lower(),
    "director": lambda row: (row.director is None, row.director.person.name if row.director else ""),
    "aligned_wip": lambda row: _none_last(row.alignment.wip_share),
    "aligned_finished": lambda row: _none_last(row.alignment.finished_share),
    "velocity": lambda row: row.flow.velocity,
    "flow_time": lambda row: _none_last(row.flow.flow_time_p85),
    "efficiency": lambda row: _none_last(row.flow.efficiency),
    "wip": lambda row: row.flow.wip,
    "readiness": lambda row: row.readiness_pending,
    "deploys": lambda row: row.delivery.per_week,
    "lead_time_changes": lambda row: _none_last(row.delivery.lead_time_p50),
    "change_failure": lambda row: _none_last(row.delivery.change_failure_rate),
    "restore": lambda row: _none_last(row.delivery.restore_p50),
    "health": lambda row: _none_last(row.health.score),
}


def _none_last(value):
    return (value is None, value or 0)


class PortfolioFilterForm(forms.Form):
    industry = forms.ChoiceField(required=False)
    customer = forms.ChoiceField(
        required=False, choices=[("", "Any customer"), *ValueStream.Customer.choices], label="Customer type"
    )
    director_kind = forms.ChoiceField(
        required=False,
        label="Director",
        choices=[("", "Any director"), *LeadershipAssignment.Kind.choices, (NO_DIRECTOR, "No director")],
    )
    sort = forms.ChoiceField(required=False, choices=[(f"{d}{k}", k) for k in SORTS for d in ("", "-")])

    def __init__(self, *args, industries: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["industry"].choices = [("", "Any industry"), *((i, i) for i in industries)]


@dataclass
class PortfolioRow:
    stream: ValueStream
    director: LeadershipAssignment | None
    alignment: Alignment
    flow: StreamFlow
    readiness_pending: int
    health: Scorecard
    delivery: DeliveryKeys
    sources: list = field(default_factory=list)  # the live connections feeding it: where its data comes from


@dataclass
class Portfolio:
    rows: list[PortfolioRow]
    period: Period
    window: PortfolioWindow
    sort: str
    totals: Alignment
    delivery: DeliveryKeys  # the four keys of the streams shown, pooled


def industries() -> list[str]:
    return list(
        ValueStream.objects.exclude(industry="").order_by("industry").values_list("industry", flat=True).distinct()
    )


def _stream_columns(ids: list[int], period: Period, window: PortfolioWindow) -> dict[int, tuple]:
    """Per stream: its flow, alignment, readiness waiting and health. Each reads only what the
    stream's version covers (its items and their moves, checks and dependencies, its states,
    rollups, maps and teams; `streams.models.versions`) and the links, so it is cached per
    stream and only the streams written since are computed again."""
    flows = stream_flows(ids, window)
    aligned = stream_alignment(period, ids)
    pending = dict(
        ReadinessCheck.objects.filter(
            status=ReadinessCheck.Status.PENDING,
            item__stream_id__in=ids,
            item__started_at__isnull=False,
            item__finished_at__isnull=True,
            item__state__category__in=WorkflowState.IN_PROGRESS,
        )
        .values("item__stream_id")
        .annotate(n=Count("pk"))
        .values_list("item__stream_id", "n")
        .order_by()
    )
    health = health_scorecards(ids, alignment=aligned, flows=flows, window=window)
    return {pk: (flows[pk], aligned.get(pk, Alignment()), pending.get(pk, 0), health[pk]) for pk in ids}


def portfolio_streams(*, user, filters: dict) -> QuerySet[ValueStream]:
    """The streams the user sees that the filters keep."""
    streams = ValueStream.objects.for_user(user)
    if filters.get("industry"):
        streams = streams.filter(industry=filters["industry"])
    if filters.get("customer"):
        streams = streams.filter(customer=filters["customer"])
    kind = filters.get("director_kind")
    active_director = Q(
        leadership_assignments__role=LeadershipAssignment.Role.PRODUCT_DIRECTOR,
        leadership_assignments__end_date__isnull=True,
    )
    if kind == NO_DIRECTOR:
        streams = streams.exclude(pk__in=ValueStream.objects.filter(active_director).values("pk"))
    elif kind:
        streams = streams.filter(active_director, leadership_assignments__kind=kind)
    return streams


def portfolio(*, user, filters: dict, period: Period | None = None) -> Portfolio:
    """The rows of the streams the filters keep, sorted as asked (by name by default)."""
    period = period or current_period()
    streams = list(portfolio_streams(user=user, filters=filters).with_director().order_by("name"))
    ids = [stream.pk for stream in streams]
    window = PortfolioWindow.ending_before()
    today = timezone.now().astimezone(dt.UTC).date()
    columns = fresh_cached_by_stream(
        f"portfolio:{period.label}:{window.start:%Y-%m-%d}:{window.end:%Y-%m-%d}:{today}",
        ids,
        lambda missing: _stream_columns(missing, period, window),
    )
    delivery = delivery_keys(ids, window.start, window.end, with_pooled=True)  # cached under DELIVERY
    pooled = delivery.pop(POOLED)
    sources = connections_by_stream(ids)
    rows = []
    for stream in streams:
        flow, alignment, pending, health = columns[stream.pk]
        rows.append(
            PortfolioRow(
                stream=stream,
                director=next(iter(stream.active_directors), None),
                alignment=alignment,
                flow=flow,
                readiness_pending=pending,
                health=health,
                delivery=delivery[stream.pk],
                sources=sources.get(stream.pk, []),
            )
        )
    sort = filters.get("sort") or "name"
    rows.sort(key=SORTS[sort.lstrip("-")], reverse=sort.startswith("-"))
    return Portfolio(rows, period, window, sort, sum((row.alignment for row in rows), Alignment()), pooled)
