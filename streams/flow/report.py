"""The one door to flow figures: the daily rollups when they can answer exactly, else the
engine over the history. Neither of those two modules imports the other; this one picks."""

from __future__ import annotations

from django.db import connection, transaction

from core.sql import Dialect
from streams.flow.engine import ROLLUP_SCOPES, FlowReport, HistoryEngine, Scope, Window
from streams.flow.rollups import rollup_report


def flow_report(
    *, scope: Scope, window: Window | None = None, with_items: bool = True, use_rollups: bool = True
) -> FlowReport:
    """Every flow metric of DESIGN.md for the scope over the window, with per-item facts of
    the items finished in it and in progress at its end (`with_items=False` skips those rows
    when only the aggregates are wanted, as for the whole portfolio).

    Runs a fixed number of queries whatever the volume: the history is read once into
    temporary tables that the aggregate queries share, then dropped. Aggregates of many
    streams (portfolio, director) are summed from the daily rollups when those are fresh
    (`streams.flow.rollups`; `use_rollups=False` always reads the history): the same numbers.
    """
    window = window or Window.build()
    if use_rollups and not with_items and scope.kind in ROLLUP_SCOPES:
        report = rollup_report(scope=scope, window=window)
        if report is not None:
            return report
    with transaction.atomic(), connection.cursor() as cursor:
        engine = HistoryEngine(cursor, Dialect(connection), scope, window, with_items=with_items)
        report = engine.run()
        # On failure the transaction's rollback drops the tables (and the error stays visible).
        engine.drop()
        return report
