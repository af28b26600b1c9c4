"""Who really owns each value stream: the leaders of every stream, the gaps in that ownership,
and the outcomes of streams by the kind of director they have, as evidence for leaders.

A fixed number of queries whatever the number of streams: the active assignments in one
query, the flow and alignment of all streams in the portfolio's grouped queries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
import datetime as dt
from statistics import median

from django.utils import timezone

from okrs.alignment import Alignment, stream_alignment
from okrs.selectors import current_period
from streams.flow.periods import Period
from streams.flow.portfolio import PortfolioWindow, StreamFlow, stream_flows_fresh
from streams.models import LeadershipAssignment, ValueStream
from teams.models import Person

Role, Kind = LeadershipAssignment.Role, LeadershipAssignment.Kind
DUAL_ROLE_MIN_SHARE = 50  # percent of their time a dual-role director must give the stream
NO_DIRECTOR = "none"


@dataclass
class StreamLeadership:
    stream: ValueStream
    director: LeadershipAssignment | None
    manager: LeadershipAssignment | None
    flow: StreamFlow
    alignment: Alignment
    gaps: list[str] = field(default_factory=list)


@dataclass
class KindOutcome:
    """The streams led by one kind of director, their flow and alignment side by side."""

    kind: str
    label: str
    streams: int = 0
    velocity_median: float | None = None
    flow_time_p85_median: float | None = None
    efficiency_median: float | None = None
    alignment: Alignment = field(default_factory=Alignment)


@dataclass
class DirectorLoad:
    person: Person
    streams: list[ValueStream]
    time_share: int  # percent, summed over the streams they direct
    wip: int
    throughput: int

    @property
    def overloaded(self) -> bool:
        return self.time_share > 100


@dataclass
class Leadership:
    rows: list[StreamLeadership]
    outcomes: list[KindOutcome]
    loads: list[DirectorLoad]
    period: Period
    window: PortfolioWindow
    today: dt.date

    @property
    def gaps(self) -> list[tuple[ValueStream, str]]:
        return [(row.stream, gap) for row in self.rows for gap in row.gaps]


def _gaps(director: LeadershipAssignment | None, today: dt.date, overloaded: set[int]) -> list[str]:
    if director is None:
        return ["No product director"]
    gaps = []
    if director.kind == Kind.DUAL_ROLE and director.time_share_percent < DUAL_ROLE_MIN_SHARE:
        gaps.append(
            f"Dual-role director gives {director.time_share_percent}% of their time (under {DUAL_ROLE_MIN_SHARE}%)"
        )
    if director.mentor_id is None:
        gaps.append("Director has no mentor")
    if director.review_date and director.review_date < today:
        gaps.append(f"Director's review overdue since {director.review_date:%Y-%m-%d}")
    if director.person_id in overloaded:
        gaps.append(f"{director.person.name} directs more streams than their time allows")
    return gaps


def _median(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return median(known) if known else None


def leadership(*, user, period: Period | None = None) -> Leadership:
    period, today = period or current_period(), timezone.now().date()
    streams = list(ValueStream.objects.for_user(user).order_by("name"))
    ids = [stream.pk for stream in streams]
    active = (
        LeadershipAssignment.objects.filter(stream_id__in=ids, end_date__isnull=True)
        .select_related("person", "mentor")
        .order_by("stream__name", "role", "-start_date")
    )
    directors, managers = {}, {}
    directed: dict[int, list[LeadershipAssignment]] = defaultdict(list)
    for assignment in active:
        if assignment.role == Role.PRODUCT_DIRECTOR:
            directors[assignment.stream_id] = assignment
            directed[assignment.person_id].append(assignment)
        else:
            managers.setdefault(assignment.stream_id, assignment)
    overloaded = {pk for pk, rows in directed.items() if sum(a.time_share_percent for a in rows) > 100}
    window = PortfolioWindow.ending_before()
    flows = stream_flows_fresh(ids, window)
    aligned = stream_alignment(period, ids)
    rows = [
        StreamLeadership(
            stream=stream,
            director=directors.get(stream.pk),
            manager=managers.get(stream.pk),
            flow=flows[stream.pk],
            alignment=aligned.get(stream.pk, Alignment()),
            gaps=_gaps(directors.get(stream.pk), today, overloaded),
        )
        for stream in streams
    ]
    by_stream = {stream.pk: stream for stream in streams}
    loads = sorted(
        (
            DirectorLoad(
                person=assignments[0].person,
                streams=[by_stream[a.stream_id] for a in assignments],
                time_share=sum(a.time_share_percent for a in assignments),
                wip=sum(flows[a.stream_id].wip for a in assignments),
                throughput=sum(flows[a.stream_id].throughput for a in assignments),
            )
            for assignments in directed.values()
        ),
        key=lambda load: (-load.wip, load.person.name),
    )
    return Leadership(rows, _outcomes(rows), loads, period, window, today)


def _outcomes(rows: list[StreamLeadership]) -> list[KindOutcome]:
    groups = {kind: [] for kind in (*Kind.values, NO_DIRECTOR)}
    for row in rows:
        groups[row.director.kind if row.director else NO_DIRECTOR].append(row)
    labels = dict(Kind.choices) | {NO_DIRECTOR: "No director"}
    return [
        KindOutcome(
            kind=kind,
            label=labels[kind],
            streams=len(members),
            velocity_median=_median([row.flow.velocity for row in members]),
            flow_time_p85_median=_median([row.flow.flow_time_p85 for row in members]),
            efficiency_median=_median([row.flow.efficiency for row in members]),
            alignment=sum((row.alignment for row in members), Alignment()),
        )
        for kind, members in groups.items()
    ]
