"""Investment by objective and key result: the effort of a scope's work over a window
(`streams.flow.investment`) split by the key results of the period it serves.

An item serves the key results it is linked to and those of its ancestors (as alignment
reads it). An item serving several key results has its effort and its count split equally
between them, so every item counts once and the shares sum to 100% with the unaligned part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt

from streams.flow.engine import Scope, Window
from streams.flow.investment import Investment, Share, investment, shares
from streams.flow.periods import Period, period_containing

from .alignment import key_results_in_force_sql
from .models import KeyResult
from .selectors import linked_items_cte

UNALIGNED = "Not serving a key result"


@dataclass
class InvestmentReport:
    """Everything the investment panel shows for a scope and window."""

    period: Period
    flow: Investment
    by_key_result: list[Share] = field(default_factory=list)
    by_objective: list[Share] = field(default_factory=list)
    unaligned: Share | None = None


def investment_report(scope: Scope, window: Window, period: Period | None = None) -> InvestmentReport:
    """The scope's investment over the window by flow type, team and stream, and by the key
    results and objectives of the period (the quarter the window ends in by default)."""
    period = period or period_containing((window.end - dt.timedelta(microseconds=1)).date())
    in_force, labels = key_results_in_force_sql(period)

    def by_key_result(table: str, cursor) -> dict[int, tuple[float, float]]:
        cursor.execute(
            linked_items_cte(f"k.keyresult_id IN ({in_force})")
            + f""",
            served AS (
                SELECT l.kr, l.item, COUNT(*) OVER (PARTITION BY l.item) AS n
                FROM linked l JOIN {table} e ON e.item_id = l.item
            )
            SELECT s.kr, SUM(e.active / s.n), SUM(1.0 / s.n)
            FROM served s JOIN {table} e ON e.item_id = s.item
            GROUP BY s.kr
            """,
            labels,
        )
        return {kr: (float(active), float(items)) for kr, active, items in cursor.fetchall()}

    flow = investment(scope, window, also=by_key_result)
    per_kr = flow.extra
    key_results = KeyResult.objects.select_related("objective").in_bulk(list(per_kr))
    rows = [
        Share(pk, key_results[pk].title, active, items) for pk, (active, items) in per_kr.items() if pk in key_results
    ]
    unaligned = Share(
        None,
        UNALIGNED,
        max(0.0, flow.effort_days - sum(r.effort_days for r in rows)),
        max(0.0, flow.items - sum(r.items for r in rows)),
    )
    shares([*rows, unaligned])
    by_objective: dict[int, Share] = {}
    for row in rows:
        objective = key_results[row.key].objective
        total = by_objective.setdefault(objective.pk, Share(objective.pk, objective.title))
        total.effort_days += row.effort_days
        total.items += row.items
    objectives = list(by_objective.values())
    shares([*objectives, Share(None, UNALIGNED, unaligned.effort_days, unaligned.items)])
    return InvestmentReport(
        period=period,
        flow=flow,
        by_key_result=sorted(rows, key=lambda r: -r.effort_days),
        by_objective=sorted(objectives, key=lambda r: -r.effort_days),
        unaligned=unaligned,
    )
