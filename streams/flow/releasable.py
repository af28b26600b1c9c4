"""When can it go live? The releasable forecast of an item in progress (DESIGN.md "Forecasts").

Each of 10,000 trials (fixed seed) adds up:
- its remaining development: its open children (or the item itself when it has none), finished
  at the pace of the stream's daily throughput over the last 12 complete weeks, thinned to the
  share of the stream's work in progress the item's work holds, as a key result's forecast is
  (`streams.flow.forecast.trial_days`);
- for each readiness check still pending, a sign-off lead time drawn from its criterion's checks
  met in the readiness window (its owner team's history; the team's other criteria stand in when
  the criterion has too few, and the forecast says so). Sign-offs by different teams run side
  by side once the work is done, so a trial waits for the longest of them;
- the wait for the stream's next production deployment: a gap between its successful production
  deployments drawn in proportion to its length (a moment falls in a long gap more often), the
  wait uniform within it.
The P50 and P85 of the totals are the dates; each part's own P50 and P85 make the breakdown.
Below a minimum of history the forecast refuses, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt
import math

from django.db import connection
from django.db.models import Q
from django.utils import timezone
import numpy as np

from core.sql import Dialect
from streams.delivery.keys import PRODUCTION_ENVIRONMENTS
from streams.flow.forecast import MIN_FINISHED, SEED, TRIALS, Pace, too_little_history, trial_days, trial_quantile
from streams.flow.scenarios import (
    NONE,
    Descoped,
    Levers,
    capped,
    descoped_closure,
    finished_by_team,
    in_progress_order,
    stream_pace,
)
from streams.models import BacklogItem, Deployment, ReadinessCheck, ReadinessCriterion, WorkflowState
from streams.models.querysets import in_progress_sql
from streams.readiness.selectors import READINESS_WINDOW_DAYS, lead_time_samples
from teams.models import Team

SAMPLE_WEEKS = 12
MIN_SIGN_OFFS = 5  # met checks of a criterion (or its team) to draw lead times from
MIN_DEPLOYMENTS = 3  # successful production deployments in the sample, for a cadence


@dataclass
class Part:
    label: str
    p50: float | None  # days
    p85: float | None
    note: str = ""
    in_breakdown: bool = True  # a sign-off among several is summed up by their side-by-side part


@dataclass
class Releasable:
    item: BacklogItem
    refused: str = ""  # why there is no forecast ("" when there is one)
    p50: dt.date | None = None
    p85: dt.date | None = None
    parts: list[Part] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    remaining: int = 0
    share: float = 1.0
    sample_days: int = 0
    sample_items: int = 0

    @property
    def misses_target(self) -> bool:
        target = self.item.target_date
        return bool(target and self.p85 and self.p85 > target)

    @property
    def breakdown(self) -> str:
        """ "development 12 days, Legal review 6 days, next release 2 days" at the 50th percentile."""
        return ", ".join(
            f"{part.label} {math.ceil(part.p50)} day{'' if math.ceil(part.p50) == 1 else 's'}"
            for part in self.parts
            if part.p50 is not None and part.in_breakdown
        )


def daily_throughput(stream_id: int, midnight: dt.datetime, weeks: int = SAMPLE_WEEKS) -> list[int]:
    """Items of the stream finished on each of the `weeks` × 7 complete days before `midnight`."""
    return daily_throughputs({stream_id}, midnight, weeks)[stream_id]


def daily_throughputs(stream_ids, midnight: dt.datetime, weeks: int = SAMPLE_WEEKS) -> dict[int, list[int]]:
    """`daily_throughput` of each stream, in one query (counted per day in the database: a busy
    stream finishes thousands of items in the sample)."""
    days = 7 * weeks
    start = midnight - dt.timedelta(days=days)
    per_day = {pk: [0] * days for pk in stream_ids}
    if not per_day:
        return per_day
    sql = Dialect(connection)
    day = sql.floor(sql.days("finished_at", sql.timestamp(start)))
    ids = ", ".join(str(int(pk)) for pk in per_day)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT stream_id, {day} AS d, COUNT(*) FROM {BacklogItem._meta.db_table} "
            f"WHERE stream_id IN ({ids}) AND finished_at >= %s AND finished_at < %s GROUP BY stream_id, d",
            [start, midnight],
        )
        for stream_id, d, n in cursor.fetchall():
            per_day[stream_id][int(d)] += int(n)
    return per_day


@dataclass
class _Stream:
    """What every item of a stream shares: its throughput sample (and the pace a scenario's
    moves make of it), WIP (less what a scenario descopes), a cap's rank order, release cadence."""

    sample: list[int]
    wip: int
    deployments: int
    gaps: np.ndarray
    pace: Pace | None = None
    cap: int | None = None
    order: list[int] = field(default_factory=list)


def _streams(stream_ids: set[int], midnight: dt.datetime, levers: Levers, descoped: Descoped) -> dict[int, _Stream]:
    """Three queries per stream whatever the number of items forecast (a page's are of one stream);
    a scenario's caps and moves add one query each for all streams."""
    production = Q()
    for name in PRODUCTION_ENVIRONMENTS:
        production |= Q(environment__iexact=name)
    sample_start = midnight - dt.timedelta(weeks=SAMPLE_WEEKS)
    by_team = finished_by_team({move.team_id for move in levers.moves}, sample_start, midnight)
    orders = in_progress_order({pk for pk in stream_ids if pk in levers.wip_caps})
    result = {}
    for stream_id in stream_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM {BacklogItem._meta.db_table} i JOIN {WorkflowState._meta.db_table} s "
                f"ON s.id = i.state_id WHERE i.stream_id = %s AND {in_progress_sql()}",
                [stream_id],
            )
            wip = cursor.fetchone()[0]
        times = list(
            Deployment.objects.filter(
                production,
                stream_id=stream_id,
                status=Deployment.Status.SUCCESS,
                finished_at__gte=sample_start,
                finished_at__lt=midnight,
            )
            .order_by("finished_at")
            .values_list("finished_at", flat=True)
        )
        gaps = np.asarray([(b - a) / dt.timedelta(days=1) for a, b in zip(times, times[1:], strict=False)])
        sample = daily_throughput(stream_id, midnight)
        result[stream_id] = _Stream(
            sample,
            wip - descoped.wip_less(stream_id),
            len(times),
            gaps[gaps > 0],
            pace=stream_pace(stream_id, sample, levers.moves, by_team),
            cap=levers.wip_caps.get(stream_id),
            order=orders.get(stream_id, []),
        )
    return result


@dataclass(frozen=True)
class _SignOff:
    """A sign-off the item still needs: a pending check, or one a scenario adds."""

    label: str
    criterion_id: int | None  # None: added by a scenario, drawn from its team's sign-offs
    team_id: int
    team_name: str


def releasable_forecast(item: BacklogItem, now: dt.datetime | None = None, levers: Levers = NONE) -> Releasable:
    """The item's P50 and P85 dates of being releasable, with the breakdown, or why not."""
    return releasable_forecasts([item], now, levers)[item.pk]


def releasable_forecasts(
    items: list[BacklogItem], now: dt.datetime | None = None, levers: Levers = NONE
) -> dict[int, Releasable]:
    """The releasable forecast of each item (`state` loaded), in a fixed number of queries for
    items of one stream: children counted and checks read for all of them at once. A
    scenario's `levers` change the inputs (`streams.flow.scenarios`), never the data."""
    now = now or timezone.now()
    midnight = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), dt.UTC)
    results = {item.pk: Releasable(item=item) for item in items}
    descoped = descoped_closure(levers)
    eligible = []
    for item in items:
        if item.pk in descoped.ids:
            results[item.pk].refused = "Descoped in this scenario: it leaves the work."
        elif item.state.category not in WorkflowState.IN_PROGRESS:
            results[item.pk].refused = "It is not in progress: a releasable date is forecast for work under way."
        else:
            eligible.append(item)
    if not eligible:
        return results
    ids = [item.pk for item in eligible]
    children: dict[int, dict] = {}
    for parent_id, pk, category, finished in (
        BacklogItem.objects.filter(parent_id__in=ids)
        .exclude(state__category=WorkflowState.Category.REMOVED)
        .values_list("parent_id", "pk", "state__category", "finished_at")
    ):
        counts = children.setdefault(parent_id, {"open": 0, "started": set()})
        if finished is None and pk not in descoped.ids:
            counts["open"] += 1
            if category in WorkflowState.IN_PROGRESS:
                counts["started"].add(pk)
    pending: dict[int, list[_SignOff]] = {}
    for check in (
        ReadinessCheck.objects.filter(item_id__in=ids, status=ReadinessCheck.Status.PENDING)
        .select_related("criterion__owner_team")
        .order_by("criterion__name", "pk")
    ):
        criterion = check.criterion
        pending.setdefault(check.item_id, []).append(
            _SignOff(criterion.name, criterion.pk, criterion.owner_team_id, criterion.owner_team.name)
        )
    added_teams = dict(Team.objects.filter(pk__in={a.team_id for a in levers.added_checks}).values_list("pk", "name"))
    for added in levers.added_checks:
        for item in eligible:
            if item.flow_type == added.flow_type and added.team_id in added_teams:
                pending.setdefault(item.pk, []).append(
                    _SignOff(f"{added.name} (added)", None, added.team_id, added_teams[added.team_id])
                )
    teams = {signoff.team_id for signoffs in pending.values() for signoff in signoffs}
    team_criteria = (
        dict(ReadinessCriterion.objects.filter(owner_team_id__in=teams).values_list("pk", "owner_team_id"))
        if teams
        else {}
    )
    samples = lead_time_samples(list(team_criteria), now)
    streams = _streams({item.stream_id for item in eligible}, midnight, levers, descoped)
    for item in eligible:
        _forecast(
            results[item.pk],
            children.get(item.pk),
            pending.get(item.pk, []),
            streams[item.stream_id],
            team_criteria,
            samples,
            midnight.date(),
            descoped.ids,
        )
    return results


def _forecast(result, children, pending, stream: _Stream, team_criteria, samples, today, descoped) -> None:
    if children is None and not pending:
        result.refused = (
            "It has no children and no readiness check pending: its own finish is the stream's forecast to read."
        )
        return
    # Its open children, or the item itself when it has none (it is in progress).
    remaining, ours = (children["open"], children["started"]) if children else (1, {result.item.pk})
    started = len(ours)
    sample = stream.sample
    result.sample_days, result.sample_items, result.remaining = len(sample), sum(sample), remaining
    if remaining and sum(sample) < MIN_FINISHED:
        result.refused = too_little_history(sum(sample), len(sample))
        return
    wait = 0
    if stream.cap is not None and started:
        held = capped(stream.order, ours, stream.cap, descoped)
        result.share, wait = min(1.0, held.kept / held.wip), held.wait
        result.notes.append(
            f"With the stream's WIP capped at {stream.cap}, {held.kept} of its {started} items in progress "
            f"rank within the cap, so it gets {result.share:.0%} of the stream's throughput."
            if not wait
            else f"With the stream's WIP capped at {stream.cap}, none of its work ranks within the cap: it waits "
            f"until {wait} item{'s' if wait != 1 else ''} ahead finish, then gets one slot of {held.wip}."
        )
    elif started and stream.wip:
        result.share = min(1.0, started / stream.wip)
        result.notes.append(
            f"Its work holds {started} of the stream's {stream.wip} items in progress, so it gets "
            f"{result.share:.0%} of the stream's throughput."
        )
    elif remaining:
        result.notes.append("None of its work has started, so it gets all of the stream's throughput: an upper bound.")
    pace = stream.pace if stream.pace is not None else sample
    development = trial_days(daily_throughput=pace, items=remaining, share=result.share)
    if wait:
        development = development + trial_days(daily_throughput=pace, items=wait, seed=SEED + 2)
    total = development.copy()
    result.parts.append(Part("development", trial_quantile(development, 0.5), trial_quantile(development, 0.85)))
    rng = np.random.default_rng(SEED + 1)
    _readiness(result, pending, team_criteria, samples, rng, total)
    _next_release(result, stream, rng, total)
    p50, p85 = trial_quantile(total, 0.5), trial_quantile(total, 0.85)
    result.p50 = None if p50 is None else today + dt.timedelta(days=math.ceil(p50))
    result.p85 = None if p85 is None else today + dt.timedelta(days=math.ceil(p85))
    if result.p85 is None:
        result.notes.append("Some trials need more than three years: the 85th percentile lies beyond.")


def _readiness(
    result: Releasable, pending: list[_SignOff], team_criteria: dict, samples: dict, rng, total: np.ndarray
) -> None:
    """Add a lead time drawn from each pending sign-off's criterion (else its team's criteria)."""
    if not pending:
        return
    longest, counted = np.zeros(TRIALS), []
    for signoff in pending:
        own = samples.get(signoff.criterion_id, []) if signoff.criterion_id else []
        team = [v for pk, values in samples.items() if team_criteria[pk] == signoff.team_id for v in values]
        draws, note = own, ""
        if signoff.criterion_id is None and len(team) >= MIN_SIGN_OFFS:
            draws, note = team, f"a new criterion: {signoff.team_name}'s {len(team)} sign-offs give its lead time"
        elif signoff.criterion_id is None:
            draws = []
        elif len(own) < MIN_SIGN_OFFS and len(team) >= MIN_SIGN_OFFS:
            draws = team
            note = (
                f"too little history of its own ({len(own)} sign-offs in {READINESS_WINDOW_DAYS} days): "
                f"{signoff.team_name}'s sign-offs stand in"
            )
        if len(draws) < MIN_SIGN_OFFS:
            result.parts.append(
                Part(
                    signoff.label,
                    None,
                    None,
                    f"too little history to forecast ({len(own)} sign-offs of it, {len(team)} of its team, in "
                    f"{READINESS_WINDOW_DAYS} days): not counted",
                )
            )
            continue
        drawn = rng.choice(np.asarray(draws), size=TRIALS, replace=True)
        longest = np.maximum(longest, drawn)
        part = Part(signoff.label, trial_quantile(drawn, 0.5), trial_quantile(drawn, 0.85), note)
        result.parts.append(part)
        counted.append(part)
    total += longest
    if len(counted) > 1:
        for part in counted:
            part.in_breakdown = False
        result.parts.append(
            Part(f"{len(counted)} sign-offs side by side", trial_quantile(longest, 0.5), trial_quantile(longest, 0.85))
        )


def _next_release(result: Releasable, stream: _Stream, rng, total: np.ndarray) -> None:
    """Add the wait for the next production deployment, from the stream's cadence."""
    if stream.deployments < MIN_DEPLOYMENTS or not len(stream.gaps):
        result.parts.append(
            Part(
                "next release",
                None,
                None,
                f"no cadence to read ({stream.deployments} production deployments in {SAMPLE_WEEKS} weeks): "
                "not counted",
            )
        )
        return
    gaps = stream.gaps
    chosen = rng.choice(gaps, size=TRIALS, replace=True, p=gaps / gaps.sum())
    wait = chosen * rng.random(TRIALS)
    total += wait
    result.parts.append(Part("next release", trial_quantile(wait, 0.5), trial_quantile(wait, 0.85)))
