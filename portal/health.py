"""The flow health scorecard: the nine ways to optimise flow, each computed from data with a
stated rule and threshold, for many streams at once (one grouped query per check).

A check passes, fails, or cannot be measured (no data for it yet, shown as such and left out
of the score). The score is the checks passed out of the checks measured.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
import datetime as dt

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from core.freshness import DELIVERY, LINKS, fresh_cached, ids_key
from core.sql import Dialect
from okrs.alignment import Alignment
from streams.flow.portfolio import PortfolioWindow, StreamFlow
from streams.models import BacklogItem, Dependency, ValueStream, ValueStreamMap, WorkflowState
from streams.models.querysets import in_progress_sql
from teams.models import Membership, Person

RIGHT_THINGS_MIN = 0.7  # aligned share of WIP
MAP_MAX_AGE_DAYS = 365
UNBUNDLED_MIN = 0.5  # share of finished child items delivered before their parent
SMALL_BATCH_P85_MAX_DAYS = 10.0
DEBT_SHARE_MIN = 0.10
CROSS_TEAM_DEPENDENCIES_MAX = 0.10  # per item in progress
CUSTOMER_SHARE_MIN = 0.30
DEFECT_TREND_WEEKS = 6


@dataclass
class Check:
    key: str
    label: str
    rule: str
    value: str = "—"
    passed: bool | None = None  # None: not measurable yet
    n: int = 0


@dataclass
class Scorecard:
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(1 for check in self.checks if check.passed)

    @property
    def measured(self) -> int:
        return sum(1 for check in self.checks if check.passed is not None)

    @property
    def score(self) -> float | None:
        return self.passed / self.measured if self.measured else None

    @property
    def failing(self) -> list[Check]:
        return [check for check in self.checks if check.passed is False]

    @property
    def summary(self) -> str:
        """One line naming what fails and what cannot be measured, for a table cell's title."""
        unmeasured = [check for check in self.checks if check.passed is None]
        parts = [f"{self.passed} of {self.measured} checks pass"]
        if self.failing:
            parts.append("failing: " + ", ".join(check.label for check in self.failing))
        if unmeasured:
            parts.append("not measurable yet: " + ", ".join(check.label for check in unmeasured))
        return "; ".join(parts)


def _pct(value: float) -> str:
    return f"{value:.0%}"


def health_scorecards(
    stream_ids: list[int],
    *,
    alignment: dict[int, Alignment],
    flows: dict[int, StreamFlow],
    window: PortfolioWindow,
) -> dict[int, Scorecard]:
    """The nine checks for each stream; `alignment` and `flows` are the portfolio's own figures."""
    cards = {pk: Scorecard() for pk in stream_ids}
    if not stream_ids:
        return cards
    facts = _facts(stream_ids, window)
    today = timezone.now().astimezone(dt.UTC).date()
    for pk, card in cards.items():
        aligned, flow = alignment.get(pk, Alignment()), flows[pk]
        f = defaultdict(lambda: None, {name: values.get(pk) for name, values in facts.items()})

        right = Check("right_things", "Right things", f"At least {_pct(RIGHT_THINGS_MIN)} of WIP serves a key result")
        if aligned.wip:
            right.value, right.n = _pct(aligned.wip_share), aligned.wip
            right.passed = aligned.wip_share >= RIGHT_THINGS_MIN

        pull = Check("pull_system", "Pull system", "WIP limits are set and the WIP is within them")
        limit = f["state_limit"] or f["team_limit"]
        pull.n = flow.wip
        if limit:
            pull.value, pull.passed = f"{flow.wip} / {limit}", flow.wip <= limit
        else:
            pull.value, pull.passed = "no limit", False

        vsm = Check("vsm", "Value stream mapping", f"A current-state map younger than {MAP_MAX_AGE_DAYS // 30} months")
        mapped = f["map_as_of"]
        vsm.value = mapped.isoformat() if mapped else "none"
        vsm.passed = bool(mapped) and (today - mapped).days <= MAP_MAX_AGE_DAYS

        unbundled = Check(
            "unbundled",
            "Unbundled work",
            f"At least {_pct(UNBUNDLED_MIN)} of finished child items delivered before their whole parent",
        )
        children, early = f["children_finished"] or 0, f["children_early"] or 0
        if children:
            unbundled.value, unbundled.n = _pct(early / children), children
            unbundled.passed = early / children >= UNBUNDLED_MIN

        small = Check(
            "small_batches",
            "Small batches",
            f"85th percentile flow time of stories ≤ {SMALL_BATCH_P85_MAX_DAYS:g} days",
        )
        if f["story_p85"] is not None:
            small.value, small.n = f"{f['story_p85']:.1f} d", children
            small.passed = f["story_p85"] <= SMALL_BATCH_P85_MAX_DAYS

        debt = Check(
            "tech_debt",
            "Technical debt",
            f"Debt is at least {_pct(DEBT_SHARE_MIN)} of finished work, and no more defects were raised in the "
            f"window's last {DEFECT_TREND_WEEKS} weeks than in its first {DEFECT_TREND_WEEKS}",
        )
        if flow.throughput:
            share = flow.by_type["debt"] / flow.throughput
            recent, before = f["defects_recent"] or 0, f["defects_before"] or 0
            debt.value, debt.n = f"{_pct(share)} debt; defects {before} → {recent}", flow.throughput
            debt.passed = share >= DEBT_SHARE_MIN and recent <= before

        cross = Check("cross_functional", "Cross-functional teams", "The serving teams cover every discipline needed")
        needed, covered = f["disciplines_needed"] or 0, f["disciplines_covered"] or 0
        if needed:
            cross.value, cross.n = f"{covered} of {needed}", needed
            cross.passed = covered >= needed

        autonomous = Check(
            "autonomous",
            "Autonomous teams",
            f"At most {CROSS_TEAM_DEPENDENCIES_MAX:g} cross-team dependencies per item in progress",
        )
        if flow.wip:
            per_item = (f["cross_team_dependencies"] or 0) / flow.wip
            autonomous.value, autonomous.n = f"{per_item:.2f}", flow.wip
            autonomous.passed = per_item <= CROSS_TEAM_DEPENDENCIES_MAX

        customer = Check(
            "customer_contact",
            "Customer contact",
            f"At least {_pct(CUSTOMER_SHARE_MIN)} of finished and in-progress work is customer-facing",
        )
        work = flow.throughput + flow.wip
        if work:
            share = (flow.customer_facing_finished + flow.customer_facing_wip) / work
            customer.value, customer.n = _pct(share), work
            customer.passed = share >= CUSTOMER_SHARE_MIN

        card.checks = [right, pull, vsm, unbundled, small, debt, cross, autonomous, customer]
    return cards


def _children_finished(stream_ids: list[int], window: PortfolioWindow) -> list[tuple]:
    """Per stream, the child items finished in the window, those finished before their parent
    (or with the parent unfinished), and their flow time p85: a probe of the parent per child
    (86 ms at the DESIGN.md scale). What it reads changes only with an item's dates, stream or
    existence (`core.freshness.DELIVERY`) or its parent (`LINKS`), so an ordinary move keeps it."""
    return fresh_cached(
        f"children_finished:{ids_key(stream_ids)}:{window.start.isoformat()}:{window.end.isoformat()}",
        lambda: _children_finished_read(stream_ids, window),
        generation=(DELIVERY, LINKS),
    )


def _children_finished_read(stream_ids: list[int], window: PortfolioWindow) -> list[tuple]:
    items, sql = BacklogItem._meta.db_table, Dialect(connection)
    ids = ", ".join(str(int(pk)) for pk in stream_ids)
    ws, we = sql.timestamp(window.start), sql.timestamp(window.end)
    p85 = sql.percentile(sql.days("c.finished_at", "c.started_at"), 0.85)
    with connection.cursor() as cursor:
        # Through the partial index of child items by finish.
        cursor.execute(
            f"""SELECT c.stream_id, COUNT(*),
                       SUM(CASE WHEN p.finished_at IS NULL OR p.finished_at > c.finished_at THEN 1 ELSE 0 END), {p85}
                FROM {items} c {sql.parent_join("c", "p", "p.finished_at")}
                WHERE c.stream_id IN ({ids}) AND c.parent_id IS NOT NULL
                  AND c.finished_at >= {ws} AND c.finished_at < {we}
                GROUP BY c.stream_id"""
        )
        return cursor.fetchall()


def _facts(stream_ids: list[int], window: PortfolioWindow) -> dict[str, dict[int, object]]:
    """Per stream, the raw counts the checks read: one grouped query each."""
    facts: dict[str, dict[int, object]] = defaultdict(dict)
    in_progress = WorkflowState.objects.filter(
        stream_id__in=stream_ids, category__in=WorkflowState.IN_PROGRESS, wip_limit__isnull=False
    )
    facts["state_limit"] = dict(
        in_progress.values("stream_id").annotate(n=Sum("wip_limit")).values_list("stream_id", "n").order_by()
    )
    facts["team_limit"] = dict(
        ValueStream.objects.filter(pk__in=stream_ids, teams__wip_limit__isnull=False)
        .values("pk")
        .annotate(n=Sum("teams__wip_limit"))
        .values_list("pk", "n")
        .order_by()
    )
    maps = ValueStreamMap.objects.filter(stream_id__in=stream_ids, kind=ValueStreamMap.Kind.CURRENT)
    for stream_id, as_of in maps.values_list("stream_id", "as_of").order_by("stream_id", "as_of"):
        facts["map_as_of"][stream_id] = as_of  # the newest wins
    items, sql = BacklogItem._meta.db_table, Dialect(connection)
    ids = ", ".join(str(int(pk)) for pk in stream_ids)
    ws, we = sql.timestamp(window.start), sql.timestamp(window.end)
    half = sql.timestamp(window.end - dt.timedelta(weeks=DEFECT_TREND_WEEKS))
    teams, members = ValueStream.teams.through._meta.db_table, Membership._meta.db_table
    skills, needs = Person.disciplines.through._meta.db_table, ValueStream.required_disciplines.through._meta.db_table
    with connection.cursor() as cursor:
        # Each discipline a stream needs, and whether a member of a team serving it has it.
        cursor.execute(
            f"""SELECT r.valuestream_id, COUNT(*),
                       SUM(CASE WHEN EXISTS (
                           SELECT 1 FROM {teams} t JOIN {members} m ON m.team_id = t.team_id
                           JOIN {skills} d ON d.person_id = m.person_id
                           WHERE t.valuestream_id = r.valuestream_id AND d.discipline_id = r.discipline_id
                       ) THEN 1 ELSE 0 END)
                FROM {needs} r WHERE r.valuestream_id IN ({ids}) GROUP BY r.valuestream_id"""
        )
        for stream_id, needed, covered in cursor.fetchall():
            facts["disciplines_needed"][stream_id] = int(needed)
            facts["disciplines_covered"][stream_id] = int(covered or 0)
        for stream_id, n, early, story_p85 in _children_finished(stream_ids, window):
            facts["children_finished"][stream_id] = int(n)
            facts["children_early"][stream_id] = int(early or 0)
            facts["story_p85"][stream_id] = None if story_p85 is None else float(story_p85)
        # Defects created in each half of the window (through the partial index of defects).
        cursor.execute(
            f"""SELECT i.stream_id,
                       SUM(CASE WHEN i.created_at >= {half} THEN 1 ELSE 0 END),
                       SUM(CASE WHEN i.created_at < {half} THEN 1 ELSE 0 END)
                FROM {items} i
                WHERE i.stream_id IN ({ids}) AND i.flow_type = 'defect' AND i.created_at >= {ws} AND i.created_at < {we}
                GROUP BY i.stream_id"""
        )
        for stream_id, new, old in cursor.fetchall():
            facts["defects_recent"][stream_id], facts["defects_before"][stream_id] = int(new or 0), int(old or 0)
        cursor.execute(
            f"""SELECT i.stream_id, COUNT(*) FROM {Dependency._meta.db_table} d
                JOIN {items} i ON i.id = d.item_id JOIN {items} b ON b.id = d.blocked_by_id
                JOIN {WorkflowState._meta.db_table} s ON s.id = i.state_id
                WHERE i.stream_id IN ({ids}) AND {in_progress_sql()}
                  AND i.team_id IS NOT NULL AND b.team_id IS NOT NULL AND i.team_id <> b.team_id
                GROUP BY i.stream_id"""
        )
        facts["cross_team_dependencies"] = {stream_id: int(n) for stream_id, n in cursor.fetchall()}
    return facts
