"""Key results measured by the portal: the figure, read from the same selectors as the page it
comes from, over the key result's scope and window, and the daily job that records it.

A measured key result names a `Measure`, its scope (a stream, a team, a readiness criterion)
and a window (the last N weeks of complete UTC days). `reading(kr, as_of)` reads the figure as
of an instant: the flow engine (`streams.flow.report.flow_report`) for flow measures, the
delivery keys for DORA ones, `okrs.alignment` for aligned shares, the readiness lead times for
sign-offs: the very functions behind the stream page, its delivery page, the alignment page and
the readiness page, with the window those pages are linked with. So the measure and the page
it links to always agree.

`key_results_measure(today)` records each open measured key result's figure as a system
check-in dated today, only when it differs from the last one, at most one a day (a unique
constraint); the key result's current value follows. Reports are shared between key results
of the same scope and window, so the job's cost grows with the scopes measured, not with the
key results.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
from decimal import Decimal
import logging
from urllib.parse import urlencode

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError
from core.history import history_record
from streams.delivery.keys import delivery_keys
from streams.flow.engine import FlowReport, Scope, Window
from streams.flow.periods import parse_period
from streams.flow.report import flow_report
from streams.readiness.selectors import READINESS_WINDOW_DAYS, sign_off_lead_time

from .alignment import alignment_report
from .models import CheckIn, KeyResult, Measure

logger = logging.getLogger(__name__)

FLOW = {
    Measure.FLOW_VELOCITY,
    Measure.FLOW_TIME_P50,
    Measure.FLOW_TIME_P85,
    Measure.FLOW_EFFICIENCY,
    Measure.WIP,
    Measure.AGED_WIP,
    Measure.TYPE_SHARE,
}
ALIGNMENT = {Measure.ALIGNED_WIP, Measure.ALIGNED_FINISHED}
DELIVERY = {
    Measure.DEPLOYMENT_FREQUENCY,
    Measure.CHANGE_LEAD_TIME,
    Measure.CHANGE_FAILURE_RATE,
    Measure.TIME_TO_RESTORE,
}
READINESS = {Measure.CRITERION_LEAD_TIME, Measure.TEAM_SIGN_OFF_LEAD_TIME}

# Which way is better; a target on the other side of the start is refused. None: either way.
LOWER_IS_BETTER = {
    Measure.FLOW_TIME_P50,
    Measure.FLOW_TIME_P85,
    Measure.WIP,
    Measure.AGED_WIP,
    Measure.CHANGE_LEAD_TIME,
    Measure.CHANGE_FAILURE_RATE,
    Measure.TIME_TO_RESTORE,
    Measure.CRITERION_LEAD_TIME,
    Measure.TEAM_SIGN_OFF_LEAD_TIME,
}
HIGHER_IS_BETTER = {
    Measure.FLOW_VELOCITY,
    Measure.FLOW_EFFICIENCY,
    Measure.ALIGNED_WIP,
    Measure.ALIGNED_FINISHED,
    Measure.DEPLOYMENT_FREQUENCY,
}

DEFINITIONS = {
    Measure.FLOW_VELOCITY: "Items finished in the window ÷ its weeks.",
    Measure.FLOW_TIME_P50: "Median of finish − start of the items finished in the window, in days.",
    Measure.FLOW_TIME_P85: "85th percentile of finish − start of the items finished in the window, in days.",
    Measure.FLOW_EFFICIENCY: "Σ active time ÷ Σ flow time of the items finished in the window (blocked time waits).",
    Measure.WIP: "Items started, not finished, in an active or waiting state at the window's end.",
    Measure.AGED_WIP: "Items in progress at the window's end whose age is past the 85th percentile of the "
    "flow times of the items finished in the window.",
    Measure.TYPE_SHARE: "Items of the flow type finished in the window ÷ all items finished in it.",
    Measure.ALIGNED_WIP: "Items in progress now that serve a key result of the period (directly or through a "
    "parent) ÷ all items in progress.",
    Measure.ALIGNED_FINISHED: "Items finished in the period that serve one of its key results ÷ all items "
    "finished in it.",
    Measure.DEPLOYMENT_FREQUENCY: "Successful production deployments in the window ÷ its weeks.",
    Measure.CHANGE_LEAD_TIME: "Median of first commit → production deployment of the items shipped in the "
    "window, in hours.",
    Measure.CHANGE_FAILURE_RATE: "Production deployments in the window that failed or caused an incident ÷ all "
    "of them.",
    Measure.TIME_TO_RESTORE: "Median of start → resolution of the incidents resolved in the window, in hours.",
    Measure.CRITERION_LEAD_TIME: f"85th percentile of created → signed off of the criterion's checks met in the "
    f"last {READINESS_WINDOW_DAYS} days (the readiness page's window), in days.",
    Measure.TEAM_SIGN_OFF_LEAD_TIME: f"85th percentile of created → signed off of the checks the team met in the "
    f"last {READINESS_WINDOW_DAYS} days (the readiness page's window), in days.",
}


@dataclass
class Reading:
    """A measure's figure as of an instant: None when there is nothing to measure (n = 0)."""

    value: Decimal | None
    n: int
    method: str
    url: str


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(round(float(value), 2)))


def window_as_of(weeks: int, as_of: dt.datetime) -> Window:
    """The last `weeks` weeks of complete UTC days before `as_of`'s day, read as of `as_of`."""
    last = as_of.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    return Window.build(start=last - dt.timedelta(days=7 * weeks - 1), end=last, as_of=as_of)


def measure_validate(key_result: KeyResult) -> None:
    """Each measure names the scope it needs, and nothing it does not use."""
    if key_result.source != KeyResult.Source.MEASURED:
        return
    measure = key_result.measure
    if not measure:
        raise DomainError("Choose the measure the portal follows.", field="measure")
    if measure in FLOW | DELIVERY and key_result.measure_stream_id is None:
        raise DomainError("This measure is of a value stream: choose which.", field="measure_stream")
    if measure == Measure.TYPE_SHARE and not key_result.measure_flow_type:
        raise DomainError("Choose the flow type whose share is measured.", field="measure_flow_type")
    if measure == Measure.CRITERION_LEAD_TIME and key_result.measure_criterion_id is None:
        raise DomainError("Choose the readiness criterion whose sign-offs are timed.", field="measure_criterion")
    if measure == Measure.TEAM_SIGN_OFF_LEAD_TIME and key_result.measure_team_id is None:
        raise DomainError("Choose the operations team whose sign-offs are timed.", field="measure_team")
    if measure in ALIGNMENT and key_result.measure_stream_id and key_result.measure_team_id:
        raise DomainError("Measure the alignment of a stream or of a team, not both.", field="measure_team")


def direction_check(key_result: KeyResult) -> None:
    """A target on the worse side of the start is refused, naming the better direction."""
    if key_result.source != KeyResult.Source.MEASURED or key_result.start_value is None:
        return
    label = Measure(key_result.measure).label
    start, target = key_result.start_value, key_result.target_value
    if key_result.measure in LOWER_IS_BETTER and target > start:
        raise DomainError(
            f"Lower is better for {label.lower()}: set a target below the start value ({start:g}).",
            field="target_value",
        )
    if key_result.measure in HIGHER_IS_BETTER and target < start:
        raise DomainError(
            f"Higher is better for {label.lower()}: set a target above the start value ({start:g}).",
            field="target_value",
        )


class Reader:
    """Reads measures, sharing each report between key results of the same scope and window."""

    def __init__(self):
        self._reports: dict[tuple, object] = {}

    def _once(self, key: tuple, compute):
        if key not in self._reports:
            self._reports[key] = compute()
        return self._reports[key]

    def reading(self, key_result: KeyResult, as_of: dt.datetime) -> Reading:
        measure = Measure(key_result.measure)
        if measure in FLOW:
            return self._flow(key_result, measure, as_of)
        if measure in DELIVERY:
            return self._delivery(key_result, measure, as_of)
        if measure in ALIGNMENT:
            return self._alignment(key_result, measure, as_of)
        return self._readiness(key_result, measure, as_of)

    def _flow(self, key_result: KeyResult, measure: Measure, as_of: dt.datetime) -> Reading:
        stream = key_result.measure_stream
        window = window_as_of(key_result.measure_weeks, as_of)
        # One engine run per stream and window serves every flow measure: aged WIP needs the items'
        # facts, and a report with them serves the others too (the daily job reads aged WIP first).
        aged = measure == Measure.AGED_WIP
        base = ("flow", stream.pk, window.start, window.end, window.as_of)
        report: FlowReport | None = self._reports.get((*base, True)) or (
            None if aged else self._reports.get((*base, False))
        )
        if report is None:
            report = self._once(
                (*base, aged), lambda: flow_report(scope=Scope.stream(stream), window=window, with_items=aged)
            )
        n, value = report.throughput, None
        if measure == Measure.FLOW_VELOCITY:
            value = report.throughput_per_week
        elif measure in (Measure.FLOW_TIME_P50, Measure.FLOW_TIME_P85):
            n = report.flow_time.n
            value = report.flow_time.p50 if measure == Measure.FLOW_TIME_P50 else report.flow_time.p85
        elif measure == Measure.FLOW_EFFICIENCY:
            n = report.efficiency_n
            value = None if report.efficiency is None else 100 * report.efficiency
        elif measure == Measure.WIP:
            n = value = report.wip
        elif measure == Measure.AGED_WIP:
            n = report.wip
            value = sum(1 for facts in report.in_progress if facts.pace in ("85th–95th", "beyond 95th"))
        elif measure == Measure.TYPE_SHARE:
            share = report.throughput_by_type.get(key_result.measure_flow_type, 0)
            value = 100 * share / report.throughput if report.throughput else None
        last = window.end - dt.timedelta(days=1)
        url = reverse("streams:stream-detail", args=[stream.slug])
        url += "?" + urlencode({"start": f"{window.start:%Y-%m-%d}", "end": f"{last:%Y-%m-%d}"})
        method = f"Flow engine on {stream.name}, {window.describe()}."
        return Reading(_decimal(value), int(n or 0), method, url)

    def _delivery(self, key_result: KeyResult, measure: Measure, as_of: dt.datetime) -> Reading:
        stream = key_result.measure_stream
        window = window_as_of(key_result.measure_weeks, as_of)
        keys = self._once(
            ("delivery", stream.pk, window.start, window.end),
            lambda: delivery_keys([stream.pk], window.start, window.end)[stream.pk],
        )
        rate = keys.change_failure_rate
        value, n = {
            Measure.DEPLOYMENT_FREQUENCY: (keys.per_week, keys.successful),
            Measure.CHANGE_LEAD_TIME: (keys.lead_time_p50, keys.lead_time_n),
            Measure.CHANGE_FAILURE_RATE: (None if rate is None else 100 * rate, keys.deployments),
            Measure.TIME_TO_RESTORE: (keys.restore_p50, keys.restored_n),
        }[measure]
        if n == 0:
            value = None
        last = window.end - dt.timedelta(days=1)
        url = reverse("streams:delivery", args=[stream.slug])
        url += "?" + urlencode({"start": f"{window.start:%Y-%m-%d}", "end": f"{last:%Y-%m-%d}"})
        method = f"Delivery keys of {stream.name}, {window.describe()}."
        return Reading(_decimal(value), int(n), method, url)

    def _alignment(self, key_result: KeyResult, measure: Measure, as_of: dt.datetime) -> Reading:
        period = parse_period(key_result.objective.period)
        stream, team = key_result.measure_stream, key_result.measure_team
        scope = Scope.stream(stream) if stream else Scope.team(team) if team else Scope.portfolio()
        query = {"period": period.label} | ({"stream": stream.slug} if stream else {"team": team.slug} if team else {})
        report = self._once(("alignment", scope.kind, scope.id, period.label), lambda: alignment_report(scope, period))
        totals = report.totals
        if measure == Measure.ALIGNED_WIP:
            value, n = totals.wip_share, totals.wip
        else:
            value, n = totals.finished_share, totals.finished
        where = stream.name if stream else team.name if team else "the whole portfolio"
        method = (
            f"Alignment of {where} with the key results of {period.label}, "
            f"as of {as_of.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC."
        )
        url = f"{reverse('okrs:alignment')}?{urlencode(query)}"
        return Reading(_decimal(None if value is None else 100 * value), int(n), method, url)

    def _readiness(self, key_result: KeyResult, measure: Measure, as_of: dt.datetime) -> Reading:
        if measure == Measure.CRITERION_LEAD_TIME:
            criterion = key_result.measure_criterion
            met, _, p85 = sign_off_lead_time(as_of, criterion_id=criterion.pk)
            team, what = criterion.owner_team, f"“{criterion.name}”"
        else:
            team = key_result.measure_team
            met, _, p85 = sign_off_lead_time(as_of, owner_team_id=team.pk)
            what = team.name
        method = (
            f"Sign-offs of {what}, {READINESS_WINDOW_DAYS} days to "
            f"{as_of.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC (the readiness page's window)."
        )
        url = f"{reverse('readiness:queue')}?{urlencode({'team': team.slug})}"
        return Reading(_decimal(p85), met, method, url)


def reading(key_result: KeyResult, as_of: dt.datetime | None = None) -> Reading:
    """The key result's measure as of an instant (now by default)."""
    return Reader().reading(key_result, as_of or timezone.now())


# --- The daily job --------------------------------------------------------------------------------


def open_measured(today: dt.date):
    """Measured key results whose objective's period has begun and ended no earlier than yesterday."""
    labels = set()
    for year in (today.year - 1, today.year):
        for label in [str(year)] + [f"{year}-Q{q}" for q in range(1, 5)]:
            period = parse_period(label)
            if period.start <= today and period.end >= today - dt.timedelta(days=1):
                labels.add(label)
    return (
        KeyResult.objects.filter(source=KeyResult.Source.MEASURED, objective__period__in=labels)
        .select_related("objective", "measure_stream", "measure_team", "measure_criterion__owner_team")
        .order_by("measure", "measure_stream_id", "pk")
    )


def key_results_measure(today: dt.date | None = None) -> dict[str, int]:
    """Record today's reading of every open measured key result whose figure changed.

    Read as of today's first midnight (UTC), so a run at any hour of the day, or again, reads the
    same figure; each record is its own transaction, so a failure leaves the others recorded."""
    today = today or timezone.localdate()
    as_of = dt.datetime.combine(today, dt.time(), dt.UTC)
    reader = Reader()
    counts = {"measured": 0, "recorded": 0, "unchanged": 0, "nothing_to_measure": 0}
    key_results = list(open_measured(today))
    last = {}
    for kr_id, value, date in (
        CheckIn.objects.filter(key_result__in=key_results, system=True)
        .order_by("key_result_id", "date", "pk")
        .values_list("key_result_id", "value", "date")
    ):
        last[kr_id] = (value, date)
    for key_result in key_results:
        counts["measured"] += 1
        found = reader.reading(key_result, as_of)
        previous = last.get(key_result.pk)
        if found.value is None:
            counts["nothing_to_measure"] += 1
        elif previous is not None and (previous[0] == found.value or previous[1] >= today):
            counts["unchanged"] += 1
        elif system_check_in_record(key_result=key_result, reading=found, date=today):
            counts["recorded"] += 1
        else:
            counts["unchanged"] += 1
    logger.info("measured key results: %s", counts)
    return counts


def system_check_in_record(*, key_result: KeyResult, reading: Reading, date: dt.date) -> CheckIn | None:
    """The portal's reading as a check-in, and the key result's current value when it is the
    newest; None when today's reading is already there (a second run, or two at once)."""
    try:
        with transaction.atomic():
            check_in = CheckIn.objects.create(
                key_result=key_result,
                value=reading.value,
                date=date,
                system=True,
                n=reading.n,
                method=reading.method,
                source_url=reading.url,
            )
    except IntegrityError:
        return None
    newest = CheckIn.objects.filter(key_result=key_result).order_by("-date", "-pk").values_list("pk", flat=True)[:1]
    if list(newest) == [check_in.pk]:
        KeyResult.objects.filter(pk=key_result.pk).update(current_value=reading.value)
        key_result.current_value = reading.value
        history_record(key_result, user=None, reason="measured by the portal")
    return check_in


def readings_so_far(key_result: KeyResult, today: dt.date | None = None) -> list[tuple[dt.date, Reading]]:
    """The measure's readings from the period's start to today: at the period's first midnight,
    every 7 days after, and today's, each as the daily job would have read it then."""
    today = today or timezone.localdate()
    period = parse_period(key_result.objective.period)
    days = [period.start + dt.timedelta(days=7 * k) for k in range(54)]
    days = [day for day in days if day < min(today, period.end)]
    if period.start <= today < period.end:
        days.append(today)
    reader = Reader()
    return [(day, reader.reading(key_result, dt.datetime.combine(day, dt.time(), dt.UTC))) for day in days]


def readings_record(key_result: KeyResult, readings: list[tuple[dt.date, Reading]]) -> int:
    """Replace the key result's system check-ins by these readings, each recorded only where
    the figure changed (as the daily job records). Returns how many were recorded."""
    CheckIn.objects.filter(key_result=key_result, system=True).delete()
    previous, recorded = None, 0
    for day, found in readings:
        if found.value is None or found.value == previous:
            continue
        if system_check_in_record(key_result=key_result, reading=found, date=day):
            recorded += 1
            previous = found.value
    return recorded
