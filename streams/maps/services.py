"""Value stream maps: the drawn map's totals, current against future, and the map the data shows.

Drawn times are hours of calendar time, as people state them in a mapping workshop:
- total lead time = Σ lead time of the blocks; total process time = Σ process time;
- activity ratio = total process time ÷ total lead time;
- rolled %C&A = the product of the blocks' %C&A: the share of work that passes the whole
  stream without being corrected, re-worked or sent back.

The measured map reads the transition history over a window (`streams.flow.engine.state_times`):
for each workflow state, the median and 85th percentile of the time finished items spent in it.
A process block linked to states is compared with the time items spent in those states (summed
per item, then the median): a block whose drawn lead time is off by a factor of two or more is
where belief and data disagree; the largest disagreements are highlighted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
import math

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Prefetch

from core.errors import DomainError
from streams.flow.engine import Scope, StateTimes, Window, state_times
from streams.models import ProcessBlock, ValueStream, ValueStreamMap, WorkflowState

HOURS_PER_DAY = 24
DISAGREE_FACTOR = 2  # measured and drawn lead times further apart than this are flagged
HIGHLIGHT = 3  # the largest disagreements shown first and highlighted
UNMAPPED_SHARE = 0.10  # a state holding this share of flow time but on no block is flagged


# --- Drawn maps -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapTotals:
    blocks: int
    lead_hours: Decimal
    process_hours: Decimal
    people: int
    queue: int
    rolled_pca: float | None  # percent; None for a map without blocks

    @property
    def activity_ratio(self) -> float | None:
        """Percent of the lead time that is process time; None when the lead time is zero."""
        return float(100 * self.process_hours / self.lead_hours) if self.lead_hours else None

    @property
    def lead_days(self) -> float:
        return float(self.lead_hours) / HOURS_PER_DAY

    @property
    def process_days(self) -> float:
        return float(self.process_hours) / HOURS_PER_DAY


def map_totals(blocks: list[ProcessBlock]) -> MapTotals:
    rolled = None
    if blocks:
        rolled = 100 * math.prod(b.percent_complete_accurate / 100 for b in blocks)
    return MapTotals(
        blocks=len(blocks),
        lead_hours=sum((b.lead_time_hours for b in blocks), Decimal(0)),
        process_hours=sum((b.process_time_hours for b in blocks), Decimal(0)),
        people=sum(b.people for b in blocks),
        queue=sum(b.queue_before for b in blocks),
        rolled_pca=rolled,
    )


@dataclass(frozen=True)
class TotalsChange:
    """Future minus current, for the side-by-side comparison."""

    current: MapTotals
    future: MapTotals

    def _percent(self, now, then) -> float | None:
        return None if not now or then is None else float(100 * (Decimal(then) - Decimal(now)) / Decimal(now))

    @property
    def rows(self) -> list[dict]:
        c, f = self.current, self.future

        def row(label, now, then, unit, better):
            delta = None if now is None or then is None else float(then) - float(now)
            return {
                "label": label,
                "current": now,
                "future": then,
                "unit": unit,
                "delta": delta,
                "percent": self._percent(now, then),
                "better": None if not delta else (delta < 0) == (better == "lower"),
            }

        return [
            row("Total lead time", c.lead_days, f.lead_days, "days", "lower"),
            row("Total process time", c.process_days, f.process_days, "days", "lower"),
            row("Activity ratio", c.activity_ratio, f.activity_ratio, "%", "higher"),
            row("Rolled %C&A", c.rolled_pca, f.rolled_pca, "%", "higher"),
            row("Activities", c.blocks, f.blocks, "", "lower"),
            row("People", c.people, f.people, "", "lower"),
            row("Items queued", c.queue, f.queue, "", "lower"),
        ]


@dataclass(frozen=True)
class BlockChange:
    activity: str
    current: ProcessBlock | None
    future: ProcessBlock | None

    @property
    def status(self) -> str:
        if self.current is None:
            return "added"
        if self.future is None:
            return "removed"
        return "kept"

    @property
    def lead_delta_hours(self) -> Decimal | None:
        if self.current is None or self.future is None:
            return None
        return self.future.lead_time_hours - self.current.lead_time_hours


def map_compare(current: list[ProcessBlock], future: list[ProcessBlock]) -> list[BlockChange]:
    """Activities of both maps matched by name (case and spaces ignored), in the future map's
    order, with the current map's dropped activities after them."""

    def key(block):
        return " ".join(block.activity.lower().split())

    remaining = {key(b): b for b in current}
    changes = []
    for block in future:
        changes.append(BlockChange(block.activity, remaining.pop(key(block), None), block))
    changes += [BlockChange(b.activity, b, None) for b in current if key(b) in remaining]
    return changes


# --- Editing maps (the pages call these) ------------------------------------------------------


def block_queryset():
    return ProcessBlock.objects.select_related("team").prefetch_related(
        Prefetch("states", queryset=WorkflowState.objects.only("pk", "name", "category", "order"))
    )


def map_save(*, stream: ValueStream, vsm: ValueStreamMap) -> ValueStreamMap:
    """Create a map of `stream`, or save a change to one of its maps, after checking its rules."""
    if vsm.pk is not None and vsm.stream_id != stream.pk:
        raise DomainError("A map belongs to its value stream; it cannot move to another.", field="stream")
    vsm.stream = stream
    try:
        vsm.full_clean()
    except ValidationError as error:
        raise DomainError.from_validation(error) from error
    vsm.save()
    return vsm


def map_delete(*, vsm: ValueStreamMap) -> None:
    """Delete a map with its process blocks (one transaction)."""
    with transaction.atomic():
        vsm.delete()


def map_blocks(vsm: ValueStreamMap) -> list[ProcessBlock]:
    return list(block_queryset().filter(map=vsm).order_by("order", "pk"))


def block_save(*, vsm: ValueStreamMap, block: ProcessBlock, states: list[WorkflowState] | None) -> ProcessBlock:
    """Create or change a block: a new one goes last. Its states must be the map's stream's."""
    if states and any(s.stream_id != vsm.stream_id for s in states):
        raise DomainError("Choose workflow states of this map's value stream.", field="states")
    with transaction.atomic():
        block.map = vsm
        if block.pk is None:
            last = ProcessBlock.objects.filter(map=vsm).aggregate(last=Max("order"))["last"]
            block.order = (last or 0) + 1
        block.full_clean()
        block.save()
        if states is not None:
            block.states.set(states)
    return block


def block_move(*, block: ProcessBlock, direction: str) -> None:
    """Swap a block with its neighbour ("up" or "down"); orders are renumbered 1..n first, so
    ties left by earlier edits cannot block a move. The map's blocks are locked meanwhile."""
    if direction not in ("up", "down"):
        raise DomainError("Move a block up or down.", field="direction")
    with transaction.atomic():
        blocks = list(ProcessBlock.objects.select_for_update().filter(map_id=block.map_id).order_by("order", "pk"))
        index = next(i for i, b in enumerate(blocks) if b.pk == block.pk)
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(blocks):
            blocks[index], blocks[other] = blocks[other], blocks[index]
        _renumber(blocks)


def block_delete(*, block: ProcessBlock) -> None:
    with transaction.atomic():
        map_id = block.map_id
        block.delete()
        blocks = list(ProcessBlock.objects.select_for_update().filter(map_id=map_id).order_by("order", "pk"))
        _renumber(blocks)


def _renumber(blocks: list[ProcessBlock]) -> None:
    """Store the blocks' orders as 1..n in the list's order."""
    for order, b in enumerate(blocks, start=1):
        b.order = order
    ProcessBlock.objects.bulk_update(blocks, ["order"])


# --- The measured map -------------------------------------------------------------------------


@dataclass
class MeasuredState:
    state: WorkflowState
    n: int = 0
    p50: float | None = None
    p85: float | None = None
    share: float | None = None  # of the finished items' flow time
    blocked_days: float = 0.0
    on_map: bool = False

    @property
    def unmapped_warning(self) -> bool:
        return not self.on_map and self.share is not None and self.share >= UNMAPPED_SHARE


@dataclass
class BlockComparison:
    block: ProcessBlock
    n: int = 0
    lead_p50: float | None = None  # days
    lead_p85: float | None = None
    active_p50: float | None = None
    highlighted: bool = False

    @property
    def drawn_lead_days(self) -> float:
        return float(self.block.lead_time_hours) / HOURS_PER_DAY

    @property
    def drawn_process_days(self) -> float:
        return float(self.block.process_time_hours) / HOURS_PER_DAY

    @property
    def ratio(self) -> float | None:
        """Measured median ÷ drawn lead time; None when either is missing or zero."""
        if not self.lead_p50 or not self.drawn_lead_days:
            return None
        return self.lead_p50 / self.drawn_lead_days

    @property
    def disagreement(self) -> float:
        """How far apart, as |log2 ratio|: 1 is a factor of two either way."""
        return abs(math.log2(self.ratio)) if self.ratio else 0.0

    @property
    def disagrees(self) -> bool:
        return self.disagreement >= math.log2(DISAGREE_FACTOR)

    @property
    def verdict(self) -> str:
        if not self.block.states.all():
            return "Not linked to workflow states"
        if not self.n:
            return "No finished item passed through its states"
        if self.ratio is None:
            return "Drawn lead time is zero"
        if not self.disagrees:
            return "Data agrees"
        return (
            f"Data says {self.ratio:.1f}× the drawn time"
            if self.ratio > 1
            else (f"Data says {1 / self.ratio:.1f}× shorter than drawn")
        )


@dataclass
class MeasuredMap:
    window: Window
    items: int
    flow_days: float
    states: list[MeasuredState] = field(default_factory=list)
    blocks: list[BlockComparison] = field(default_factory=list)

    @property
    def highlighted(self) -> list[BlockComparison]:
        return [b for b in self.blocks if b.highlighted]


def measured_map(*, stream: ValueStream, window: Window, blocks: list[ProcessBlock] | None = None) -> MeasuredMap:
    """The map the data shows for the stream over the window, compared with drawn `blocks`."""
    blocks = blocks or []
    groups = {b.pk: [s.pk for s in b.states.all()] for b in blocks}
    times: StateTimes = state_times(scope=Scope.stream(stream), window=window, groups=groups)
    on_map = {state_id for ids in groups.values() for state_id in ids}
    states = []
    for state in stream.states.all().order_by("order", "pk"):
        if state.category in (WorkflowState.Category.DONE, WorkflowState.Category.REMOVED):
            continue  # flow ends on entering done; removed items count nowhere
        measured = MeasuredState(state=state, on_map=state.pk in on_map)
        if t := times.states.get(state.pk):
            measured.n, measured.p50, measured.p85, measured.blocked_days = t.n, t.p50, t.p85, t.blocked
            measured.share = t.total / times.flow_days if times.flow_days else None
        states.append(measured)
    comparisons = []
    for block in blocks:
        comparison = BlockComparison(block=block)
        if g := times.groups.get(block.pk):
            comparison.n, comparison.lead_p50, comparison.lead_p85, comparison.active_p50 = (
                g.n,
                g.p50,
                g.p85,
                g.active_p50,
            )
        comparisons.append(comparison)
    for comparison in sorted((c for c in comparisons if c.disagrees), key=lambda c: -c.disagreement)[:HIGHLIGHT]:
        comparison.highlighted = True
    return MeasuredMap(window=window, items=times.items, flow_days=times.flow_days, states=states, blocks=comparisons)
