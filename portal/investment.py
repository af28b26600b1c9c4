"""Investment by effort as pages, the API and CSV show it: one row shape for every table
(flow type, team, stream, objective, key result, unaligned), from `okrs.investment`."""

from __future__ import annotations

from okrs.investment import InvestmentReport
from streams.flow.investment import Share

ROW_FIELDS = (
    "dimension",
    "key",
    "label",
    "effort_days",
    "effort_share",
    "items",
    "item_share",
    "target_share",
    "gap_points",
    "fte",
)

METHOD = (
    "Effort is active time from the history (no timesheets): each item's time in active states inside the window, "
    "less the time flagged blocked. Shares are of the scope's effort, beside the share by item count (items with "
    "active time in the window). An item serving several key results is split equally between them; every item "
    "counts once. A team's full-time equivalents on the scope are its members' allocations × the share of the "
    "team's effort (in every stream) spent here."
)


def _round(value, digits=4):
    return None if value is None else round(value, digits)


def share_row(dimension: str, share: Share) -> dict:
    return {
        "dimension": dimension,
        "key": share.key,
        "label": share.label,
        "effort_days": _round(share.effort_days),
        "effort_share": _round(share.effort_share),
        "items": _round(share.items),
        "item_share": _round(share.item_share),
        "target_share": _round(share.target),
        "gap_points": _round(share.gap, 1),
        "fte": _round(share.fte, 2),
    }


def investment_rows(report: InvestmentReport) -> list[dict]:
    """Every table of the report as rows of one shape, in the order the page shows them."""
    flow = report.flow
    rows = [share_row("flow_type", share) for share in flow.by_type]
    rows += [share_row("key_result", share) for share in report.by_key_result]
    if report.unaligned is not None:
        rows.append(share_row("key_result", report.unaligned))
    rows += [share_row("objective", share) for share in report.by_objective]
    rows += [share_row("team", share) for share in flow.by_team]
    rows += [share_row("stream", share) for share in flow.by_stream]
    return rows


def investment_dict(report: InvestmentReport) -> dict:
    flow = report.flow
    return {
        "scope": {"kind": flow.scope.kind, "id": flow.scope.id, "label": flow.scope.label},
        "window": {"start": flow.window.start.isoformat(), "end": flow.window.end.isoformat()},
        "period": report.period.label,
        "method": METHOD,
        "effort_days": _round(flow.effort_days),
        "items": flow.items,
        "target_period": flow.target_period,
        "gaps": flow.gaps,
        "rows": investment_rows(report),
    }
