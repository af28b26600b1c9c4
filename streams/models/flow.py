"""Stored flow figures: weekly snapshots and the daily rollups the portfolio reads."""

from django.db import models

from .backlog import WorkflowState
from .streams import ValueStream


class FlowSnapshot(models.Model):
    """A stream's flow metrics for one week (Monday to Sunday, UTC), read as of the week's end.

    Written by the weekly beat job and the backfill command, one row per stream and week
    (re-running replaces the figures); trend lines read these instead of recomputing history.
    """

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="flow_snapshots")
    week_start = models.DateField(help_text="The Monday the week starts on.")
    throughput = models.PositiveIntegerField()
    wip = models.PositiveIntegerField(help_text="Items in progress at the end of the week.")
    flow_time_p50 = models.FloatField(null=True, blank=True)
    flow_time_p85 = models.FloatField(null=True, blank=True)
    efficiency = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(help_text="The whole report of the week, as the flow_metrics command prints it.")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["stream", "-week_start"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "week_start"], name="flow_snapshot_stream_week_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.stream} week of {self.week_start}"


# --- Daily rollups of flow (what the portfolio reads instead of the whole history) ---------------


class FlowDay(models.Model):
    """A stream's cumulative flow at the end of one complete UTC day, read from today's history.

    Written by `streams.flow.rollups` with the exact engine: items per workflow category and the
    flow load (WIP) at the day's end. Items removed since count nowhere, as in every report.
    """

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    backlog = models.PositiveIntegerField(default=0)
    active = models.PositiveIntegerField(default=0)
    waiting = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    wip = models.PositiveIntegerField(default=0)
    # Items in each workflow state at the day's end, by state id (states with none left out):
    # the stream page's cumulative flow per state.
    states = models.JSONField(default=dict, blank=True)
    # Moves dated that day by the stream's items, per "from-to" pair of state ids (first
    # entries, which have no state they come from, left out): the data-quality panel's
    # backward moves and reopens, judged against the workflow as it is when read.
    moves = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream", "day"], name="flow_day_stream_day_unique")]

    def __str__(self) -> str:
        return f"{self.stream} on {self.day}"


class FlowDayEfficiency(models.Model):
    """Items of a stream that finished on a day (and are done still), by efficiency bin.

    `bin` is the tenth of flow efficiency an item fell in (0 for under 10%, 9 for 90% and
    over); empty for items with no flow time. The sums let any window add days up exactly.
    """

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    bin = models.PositiveSmallIntegerField(null=True, blank=True)
    items = models.PositiveIntegerField()
    active_days = models.FloatField()
    flow_days = models.FloatField()

    class Meta:
        indexes = [
            models.Index(fields=["stream", "day"], name="flow_day_eff_stream_day"),
            # Every stream's days of a window, summed from the index alone (the portfolio).
            models.Index(
                fields=["day"], include=["stream", "bin", "items", "active_days", "flow_days"], name="flow_day_eff_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stream} on {self.day}: {self.items} finished (bin {self.bin})"


class FlowDayState(models.Model):
    """Days the items a stream finished on a day spent in one workflow state (bottleneck)."""

    stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    state = models.ForeignKey(WorkflowState, on_delete=models.CASCADE, related_name="+")
    days = models.FloatField()

    class Meta:
        indexes = [
            models.Index(fields=["stream", "day"], name="flow_day_state_stream_day"),
            models.Index(fields=["day"], include=["stream", "state", "days"], name="flow_day_state_day"),
        ]

    def __str__(self) -> str:
        return f"{self.stream} on {self.day}: {self.days:.2f} days in {self.state}"


class FlowDayMark(models.Model):
    """How far a stream's daily rollups can be trusted.

    Days before `valid_until` are stored and agree with the history; a change that rewrites
    the past (a backdated move, a reopen, a removal, a blocked period on finished work, a
    category change, a deletion) pulls `valid_until` back and bumps `version`, and the refresh
    job recomputes from there. A refresh only advances a mark whose version it read, so a
    change that commits while it runs is never hidden.
    """

    stream = models.OneToOneField(ValueStream, on_delete=models.CASCADE, primary_key=True, related_name="+")
    valid_until = models.DateField(null=True, blank=True, help_text="First day not stored (empty: none stored).")
    version = models.PositiveBigIntegerField(default=0)
    computed_as_of = models.DateTimeField(null=True, blank=True, help_text="The history instant last read.")

    def __str__(self) -> str:
        return f"{self.stream} rollups valid until {self.valid_until}"
