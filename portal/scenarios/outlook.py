"""A scenario's figures beside today's, for a stream or a key result, as one JSON-able dict (the
page shows it, a saved scenario keeps it).

Both columns come from the same functions (`releasable_forecasts`, `key_result_forecast`, the
stream's forecast of its work in progress) with and without the levers, so a scenario with no
lever changed shows today's figures twice.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
import math

from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
import numpy as np

from okrs.models import KeyResult
from okrs.selectors import key_result_forecast
from streams.flow.forecast import MIN_FINISHED, Pace, too_little_history, trial_days, trial_quantile
from streams.flow.periods import parse_period
from streams.flow.releasable import SAMPLE_WEEKS, daily_throughput, releasable_forecasts
from streams.flow.scenarios import (
    LITTLE_CAVEATS,
    Descoped,
    Levers,
    Little,
    capped,
    descoped_closure,
    finished_by_team,
    in_progress_order,
    measured_average_flow_time,
    stream_pace,
)
from streams.models import BacklogItem, ReadinessCheck, ValueStream, WorkflowState

ITEM_ROWS = 15  # items whose releasable dates a scenario shows, by backlog rank


@dataclass
class Subject:
    stream: ValueStream | None = None
    key_result: KeyResult | None = None

    @property
    def label(self) -> str:
        return self.stream.name if self.stream else f"“{self.key_result.title}”"

    @property
    def url(self) -> str:
        if self.stream:
            return reverse("streams:stream-detail", args=[self.stream.slug])
        return reverse("okrs:key-result-detail", args=[self.key_result.pk])

    @property
    def query(self) -> dict:
        return {"stream": self.stream.slug} if self.stream else {"key_result": self.key_result.pk}


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _days(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else round(value, 2)


def item_candidates(subject: Subject) -> list[BacklogItem]:
    """The items a scenario shows and may descope: for a stream, its items in progress that have
    children or pending readiness checks; for a key result, the items linked to it not finished.
    First ITEM_ROWS by backlog rank."""
    pending = ReadinessCheck.objects.filter(item=OuterRef("pk"), status=ReadinessCheck.Status.PENDING)
    if subject.stream:
        items = (
            BacklogItem.objects.in_progress()
            .filter(stream=subject.stream)
            .filter(Q(Exists(BacklogItem.objects.filter(parent=OuterRef("pk")))) | Q(Exists(pending)))
        )
    else:
        items = subject.key_result.items.filter(finished_at__isnull=True).exclude(
            state__category=WorkflowState.Category.REMOVED
        )
    return list(items.select_related("state", "stream").order_by("rank", "pk")[:ITEM_ROWS])


def _releasable_rows(items: list[BacklogItem], levers: Levers, now: dt.datetime) -> list[dict]:
    today, scenario = releasable_forecasts(items, now), releasable_forecasts(items, now, levers)

    def column(forecast) -> dict:
        return {
            "p50": _date(forecast.p50),
            "p85": _date(forecast.p85),
            "breakdown": forecast.breakdown,
            "refused": forecast.refused,
            "misses_target": forecast.misses_target,
            "notes": forecast.notes,
        }

    return [
        {
            "id": item.pk,
            "key": item.key,
            "title": item.title,
            "target_date": _date(item.target_date),
            "today": column(today[item.pk]),
            "scenario": column(scenario[item.pk]),
        }
        for item in items
    ]


@dataclass
class _StreamNow:
    """A stream's inputs, read once for every figure of the outlook: today's throughput sample
    and WIP, and the scenario's pace and WIP (less the descoped work, before any cap)."""

    stream: ValueStream
    midnight: dt.datetime
    sample: list[int]
    wip: int
    pace: Pace
    scenario_wip: int


def _stream_now(stream: ValueStream, levers: Levers, descoped: Descoped, by_team: dict, midnight) -> _StreamNow:
    sample = daily_throughput(stream.pk, midnight)
    wip = BacklogItem.objects.in_progress().filter(stream=stream).count()
    pace = stream_pace(stream.pk, sample, levers.moves, by_team)
    return _StreamNow(stream, midnight, sample, wip, pace, wip - descoped.wip_less(stream.pk))


def _wip_finished(now: _StreamNow) -> dict:
    """When the stream's work in progress today is all finished, at its whole throughput."""
    sample = now.sample

    def column(left: int, pace) -> dict:
        if left and sum(sample) < MIN_FINISHED:
            return {"items": left, "refused": too_little_history(sum(sample), len(sample))}
        needed = trial_days(daily_throughput=pace, items=left)
        return {"items": left, **_dates(needed, now.midnight.date())}

    return {
        "label": f"{now.stream.name}'s work in progress today, all finished",
        "today": column(now.wip, sample),
        "scenario": column(now.scenario_wip, now.pace),
        "sample_days": len(sample),
        "sample_items": sum(sample),
    }


def _dates(needed: np.ndarray, today: dt.date) -> dict:
    result = {}
    for name, q in (("p50", 0.5), ("p85", 0.85)):
        value = trial_quantile(needed, q)
        result[name] = None if value is None else (today + dt.timedelta(days=math.ceil(value))).isoformat()
    result["done_now"] = bool(np.all(needed == 0))
    return result


def _little(now: _StreamNow, levers: Levers, descoped: Descoped) -> dict:
    """Little's law for the stream: WIP, throughput a day and the average flow time they imply,
    today and under the levers, beside the measured average."""
    stream, sample = now.stream, now.sample
    scenario_wip = now.scenario_wip
    if stream.pk in levers.wip_caps:
        order = in_progress_order({stream.pk})[stream.pk]
        scenario_wip = capped(order, set(), levers.wip_caps[stream.pk], descoped.ids).wip
    measured = measured_average_flow_time(stream.pk, now.midnight - dt.timedelta(weeks=SAMPLE_WEEKS), now.midnight)
    today = Little(now.wip, sum(sample) / len(sample), measured)
    then = Little(scenario_wip, now.pace.items / len(sample), None)

    def column(little: Little) -> dict:
        return {"wip": little.wip, "throughput": round(little.throughput, 3), "flow_time": _days(little.flow_time)}

    return {
        "stream": stream.name,
        "today": column(today),
        "scenario": column(then),
        "measured_flow_time": _days(measured),
    }


def outlook(subject: Subject, levers: Levers, described: list[str], now: dt.datetime | None = None) -> dict:
    """Today's figures and the scenario's, side by side, with the assumptions in words."""
    now = now or timezone.now()
    midnight = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), dt.UTC)
    descoped = descoped_closure(levers)
    by_team = finished_by_team(
        {move.team_id for move in levers.moves}, midnight - dt.timedelta(weeks=SAMPLE_WEEKS), midnight
    )
    streams_now: dict[int, _StreamNow] = {}

    def stream_now(stream: ValueStream) -> _StreamNow:
        if stream.pk not in streams_now:
            streams_now[stream.pk] = _stream_now(stream, levers, descoped, by_team, midnight)
        return streams_now[stream.pk]

    items = item_candidates(subject)
    result = {
        "as_of": now.astimezone(dt.UTC).date().isoformat(),
        "subject": {"label": subject.label, "url": subject.url},
        "levers": described,
        "items": _releasable_rows(items, levers, now),
        "assumptions": [],
    }
    streams: list[ValueStream]
    if subject.stream:
        streams = [subject.stream]
        result["headline"] = _wip_finished(stream_now(subject.stream))
        result["assumptions"].append(
            "A WIP cap does not finish today's work in progress sooner at the same throughput (Little's law): it "
            "finishes each item sooner, which the items' dates and the average flow time show."
        )
    else:
        key_result = subject.key_result
        period = parse_period(key_result.objective.period)
        today, scenario = key_result_forecast(key_result, period), key_result_forecast(key_result, period, levers)

        def column(forecast) -> dict:
            return {
                "chance": None if forecast.chance is None else round(forecast.chance, 4),
                "p50": _date(forecast.p50),
                "p85": _date(forecast.p85),
                "remaining": forecast.remaining,
                "share": round(forecast.share, 4),
                "refused": forecast.refused,
                "notes": [forecast.share_note, *forecast.notes],
                "done_now": bool(forecast.linked and not forecast.remaining),
            }

        result["key_result"] = {
            "period_end": period.last_day.isoformat(),
            "today": column(today),
            "scenario": column(scenario),
            "sample_days": today.sample_days,
            "sample_items": today.sample_items,
        }
        streams = list(ValueStream.objects.filter(pk__in=set(today.stream_ids) | set(levers.wip_caps)))
        result["assumptions"].append(
            "The chance counts the linked work finished in the tracker: a readiness criterion added delays its "
            "release (the items' dates), not its finish."
        )
    result["little"] = [
        _little(stream_now(stream), levers, descoped) for stream in streams if stream.pk in levers.wip_caps
    ]
    if levers.wip_caps:
        result["assumptions"].append(LITTLE_CAVEATS)
        result["assumptions"].append(
            "Under a cap the items in progress are kept by backlog rank: those ranked beyond the cap stop until a slot "
            "frees, and their work waits for the items ahead."
        )
    if levers.moves:
        result["assumptions"].append(
            "A team's capacity is split between its streams as its finished items were over the last "
            f"{SAMPLE_WEEKS} weeks; moving part of it scales only that team's pace there. No other team's pace "
            "changes, and a team new to a stream brings the pace it had where it comes from, with no ramp-up."
        )
    if levers.added_checks:
        result["assumptions"].append(
            "An added readiness criterion takes its lead time from its owner team's sign-offs of the last weeks, run "
            "side by side with the item's other sign-offs."
        )
    if levers.descoped:
        result["assumptions"].append(
            "Descoped items leave the work with their children; their started items leave the stream's WIP, "
            "so what remains gets a larger share of the throughput."
        )
    if not levers.empty:
        result["assumptions"].append("Nothing in the portal changes: the scenario re-runs the forecast on copies.")
    return result
