"""What the stream page's charts draw, derived from a FlowReport without further queries.

One JSON document per page (rendered with `json_script`) feeds static/js/flow-charts.js;
the same values fill each chart's accessible data table.
"""

from __future__ import annotations

import datetime as dt

from streams.flow.engine import FLOW_TYPES, FlowReport
from streams.models import FlowType

TYPE_LABELS = dict(FlowType.choices)
CATEGORY_LABELS = {"backlog": "Backlog", "active": "Active", "waiting": "Waiting", "done": "Done"}


def _days_since(report: FlowReport, when: dt.datetime) -> float:
    return round((when - report.window.start) / dt.timedelta(days=1), 3)


def flow_chart_data(report: FlowReport, snapshots=()) -> dict:
    """Series for every chart of the stream page; `snapshots` (oldest first) feed the trend."""
    flow = report.flow_time
    percentiles = {"p50": flow.p50, "p85": flow.p85, "p95": flow.p95}
    ages = sorted(report.in_progress, key=lambda facts: facts.age_days or 0, reverse=True)
    return {
        "window": report.window.describe(),
        "days": [day["day"].isoformat() for day in report.daily],
        "cfd": {
            category: [day[category] for day in report.daily] for category in ("done", "waiting", "active", "backlog")
        },
        "categoryLabels": CATEGORY_LABELS,
        # Per workflow state, in the workflow's order (the chart stacks them from done down).
        "cfdStates": [
            {
                "name": state["name"],
                "category": state["category"],
                "data": [day["states"][state["name"]] for day in report.daily],
            }
            for state in report.cfd_states
        ],
        "typeLabels": TYPE_LABELS,
        "scatter": [
            {
                "x": _days_since(report, facts.finish),
                "y": round(facts.flow_days, 2),
                "key": facts.key,
                "type": facts.flow_type,
            }
            for facts in report.finished
            if facts.flow_days is not None  # a history cut short has no flow time
        ],
        "percentiles": {name: (round(value, 2) if value is not None else None) for name, value in percentiles.items()},
        "weeks": [
            f"{week['week_start'].isoformat()}{' (partial)' if week['partial'] else ''}"
            for week in report.weekly_throughput
        ],
        "throughput": {t: [week[t] for week in report.weekly_throughput] for t in FLOW_TYPES},
        "aging": [{"key": facts.key, "age": round(facts.age_days, 2), "category": facts.category} for facts in ages],
        "distribution": {
            "types": FLOW_TYPES,
            "finished": [round(100 * report.distribution_finished[t], 1) for t in FLOW_TYPES],
            "wip": [round(100 * report.distribution_wip[t], 1) for t in FLOW_TYPES],
            "target": [report.target_mix.get(t) for t in FLOW_TYPES] if report.target_mix else None,
        },
        "efficiency": [report.efficiency_zero, *report.efficiency_histogram],
        "efficiencyLabels": [row["label"] for row in efficiency_rows(report)],
        "load": [day["wip"] for day in report.daily],
        "trend": {
            "weeks": [snapshot.week_start.isoformat() for snapshot in snapshots],
            "throughput": [snapshot.throughput for snapshot in snapshots],
            "p85": [
                round(snapshot.flow_time_p85, 2) if snapshot.flow_time_p85 is not None else None
                for snapshot in snapshots
            ],
            "wip": [snapshot.wip for snapshot in snapshots],
        },
        "wipLimit": report.wip_limit,
    }


def distribution_rows(report: FlowReport) -> list[dict]:
    """Per type: % of finished, % of WIP, target % (None when no target is set)."""
    return [
        {
            "label": TYPE_LABELS[t],
            "finished": 100 * report.distribution_finished[t],
            "wip": 100 * report.distribution_wip[t],
            "target": report.target_mix.get(t),
        }
        for t in FLOW_TYPES
    ]


def efficiency_rows(report: FlowReport) -> list[dict]:
    """The efficiency histogram as labelled bins: items with no flow time first (their efficiency
    is undefined, and leaving them out would make the histogram's n smaller than the figure's),
    then 0–10%, ..., 90–100%."""
    return [{"label": "no flow time", "count": report.efficiency_zero}] + [
        {"label": f"{10 * b}–{10 * (b + 1)}%", "count": count} for b, count in enumerate(report.efficiency_histogram)
    ]
