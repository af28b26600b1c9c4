"""Simulated lives of backlog items, in memory: the history the demo's metrics rest on.

Nothing here touches the database. `simulate` turns an item's fate and durations into
steps (state, time) and blocked periods, and guarantees that:

- the first step enters the workflow's entry backlog state at `created_at`;
- every later step moves to a different state, strictly later than the one before;
- every step is earlier than `now` (a life that would run past `now` is cut there, which
  is what leaves items in progress and in the backlog, as in any real board);
- blocked periods lie inside a spell in an active state, or start after the last step
  and are still open, and never overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import datetime as dt
import enum
import math
import random

from streams.models import BlockedPeriod, WorkflowState

Category = WorkflowState.Category

# Spells shorter than this would round to the same minute as their neighbours.
MIN_SPELL_DAYS = 15 / (24 * 60)


class Fate(enum.Enum):
    """What would happen to an item if time did not stop at `now`."""

    FLOW = "flow"  # refined, worked on, released
    NEVER_STARTED = "never_started"  # stays in the backlog
    REMOVED_BEFORE_START = "removed_before_start"
    REMOVED_IN_FLOW = "removed_in_flow"  # abandoned after work began
    REOPEN = "reopen"  # released, reopened (rework), released again
    SENT_BACK = "sent_back"  # started, sent back to the backlog (reprioritised), resumed weeks later


@dataclass(frozen=True)
class Workflow:
    """A stream's states, grouped the way the simulation walks them."""

    entry: WorkflowState
    refined: WorkflowState | None  # the second backlog state ("Ready"), if any
    path: tuple[WorkflowState, ...]  # the active and waiting states, in board order
    done: WorkflowState
    removed: WorkflowState
    waiting_weight: float

    @classmethod
    def from_states(cls, states: Sequence[WorkflowState], *, waiting_weight: float) -> Workflow:
        by_category: dict[str, list[WorkflowState]] = {}
        for state in sorted(states, key=lambda s: s.order):
            by_category.setdefault(state.category, []).append(state)
        backlog = by_category[Category.BACKLOG]
        return cls(
            entry=backlog[0],
            refined=backlog[1] if len(backlog) > 1 else None,
            path=tuple(s for s in sorted(states, key=lambda s: s.order) if s.category in WorkflowState.IN_PROGRESS),
            done=by_category[Category.DONE][0],
            removed=by_category[Category.REMOVED][0],
            waiting_weight=waiting_weight,
        )

    @property
    def rework_index(self) -> int:
        """The active state just before the first queue: where reviews send work back to."""
        first_wait = next(i for i, s in enumerate(self.path) if s.category == Category.WAITING)
        return max(i for i in range(first_wait) if self.path[i].category == Category.ACTIVE)

    @property
    def review_index(self) -> int:
        """The first active state after the first queue (a review or a test)."""
        first_wait = next(i for i, s in enumerate(self.path) if s.category == Category.WAITING)
        return next(i for i in range(first_wait, len(self.path)) if self.path[i].category == Category.ACTIVE)


@dataclass(frozen=True)
class Blocked:
    started_at: dt.datetime
    ended_at: dt.datetime | None  # None: still blocked
    reason: str
    note: str = ""


@dataclass
class Life:
    steps: list[tuple[WorkflowState, dt.datetime]]
    blocked: list[Blocked] = field(default_factory=list)

    @property
    def state(self) -> WorkflowState:
        return self.steps[-1][0]

    @property
    def last_at(self) -> dt.datetime:
        return self.steps[-1][1]

    def first_at(self, categories: Sequence[str]) -> dt.datetime | None:
        return next((at for state, at in self.steps if state.category in categories), None)

    def last_done_at(self) -> dt.datetime | None:
        return next((at for state, at in reversed(self.steps) if state.category == Category.DONE), None)


def lognormal_days(rng: random.Random, median: float, sigma: float = 0.85) -> float:
    """A long-tailed duration: most items are quick, a few take many times the median."""
    return rng.lognormvariate(math.log(median), sigma)


def _route(rng: random.Random, workflow: Workflow, *, rework: bool) -> list[tuple[WorkflowState, float]]:
    """The in-progress states an item passes through, each with a relative weight of time spent."""
    route = []
    for state in workflow.path:
        if state.category == Category.WAITING:
            # Some items skip a queue (a pairing review, an urgent release): real boards do.
            if rng.random() < 0.1:
                continue
            route.append((state, rng.uniform(0.2, 2.0) * workflow.waiting_weight))
        else:
            route.append((state, rng.uniform(0.6, 1.4)))
    if rework:
        # Sent back from review: the build and review states are visited a second time, briefly.
        loop = workflow.path[workflow.rework_index : workflow.review_index + 1]
        cut = next(i for i, (state, _) in enumerate(route) if state == loop[-1]) + 1
        again = [(state, weight * 0.4) for state, weight in route if state in loop]
        route = route[:cut] + again + route[cut:]
    return route


def simulate(
    rng: random.Random,
    workflow: Workflow,
    *,
    created_at: dt.datetime,
    now: dt.datetime,
    fate: Fate,
    start_delay_days: float,
    flow_days: float,
) -> Life:
    """The item's steps up to `now`, and its blocked periods; see the module docstring."""
    offsets: list[tuple[WorkflowState, float]] = [(workflow.entry, 0.0)]
    t = 0.0

    def move(state: WorkflowState, spell: float) -> None:
        nonlocal t
        t += max(spell, MIN_SPELL_DAYS)
        offsets.append((state, t))

    # Refinement happens somewhere in the backlog wait, for most items.
    refine_share = rng.uniform(0.3, 0.9) if workflow.refined and rng.random() < 0.75 else 0.0
    if refine_share:
        move(workflow.refined, start_delay_days * refine_share)
    waited = start_delay_days * (1 - refine_share)
    if fate is Fate.REMOVED_BEFORE_START:
        move(workflow.removed, waited)
    elif fate is not Fate.NEVER_STARTED:
        route = _route(rng, workflow, rework=rng.random() < 0.15)
        total = sum(weight for _, weight in route)
        spells = [flow_days * weight / total for _, weight in route]
        move(route[0][0], waited)
        if fate is Fate.SENT_BACK:
            # Work began, then something more urgent came: back to the backlog for weeks, and
            # picked up again where it stopped (still waiting there at `now` for some).
            move(workflow.refined or workflow.entry, spells[0] * rng.uniform(0.2, 0.8))
            move(route[0][0], rng.uniform(10, 60))
        if fate is Fate.REMOVED_IN_FLOW:
            stop = rng.randrange(1, len(route))
            for (state, _), spell in zip(route[1:stop], spells[: stop - 1], strict=True):
                move(state, spell)
            move(workflow.removed, spells[stop - 1])
        else:
            for (state, _), spell in zip(route[1:], spells[:-1], strict=True):
                move(state, spell)
            move(workflow.done, spells[-1])
            if fate is Fate.REOPEN:
                # Found wanting after release: back to work, through review, and out again.
                move(workflow.path[workflow.rework_index], rng.uniform(1, 15))
                for state in workflow.path[workflow.rework_index + 1 :]:
                    move(state, flow_days * rng.uniform(0.05, 0.2))
                move(workflow.done, flow_days * rng.uniform(0.05, 0.2))

    steps = []
    for state, offset in offsets:
        at = created_at + dt.timedelta(minutes=round(offset * 24 * 60))
        if at >= now:
            break
        steps.append((state, at))
    life = Life(steps=steps)
    life.blocked = _blocked_periods(rng, life, now)
    return life


# Waits on readiness come from the release gate, not from the random life of an item.
BLOCK_REASONS = tuple(r for r in BlockedPeriod.Reason.values if r != BlockedPeriod.Reason.READINESS)


def _blocked_periods(rng: random.Random, life: Life, now: dt.datetime) -> list[Blocked]:
    """About one started item in eight was blocked once; one in four of those in an active state now still is."""
    periods = []
    spells = [
        (state, start, end)
        for (state, start), (_, end) in zip(life.steps, life.steps[1:], strict=False)
        if state.category == Category.ACTIVE and end - start > dt.timedelta(hours=2)
    ]
    if spells and rng.random() < 0.125:
        _, start, end = rng.choice(spells)
        length = end - start
        first, second = sorted((rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95)))
        periods.append(Blocked(start + length * first, start + length * second, rng.choice(BLOCK_REASONS)))
    if life.state.category == Category.ACTIVE and rng.random() < 0.25:
        periods.append(
            Blocked(life.last_at + (now - life.last_at) * rng.uniform(0.1, 0.9), None, rng.choice(BLOCK_REASONS))
        )
    return periods
