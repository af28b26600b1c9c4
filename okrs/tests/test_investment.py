"""Investment by key result: an item serving several key results is split between them, so
every item counts once and the shares sum to 100% with the unaligned part."""

import pytest

from okrs.investment import UNALIGNED, investment_report
from okrs.models import Objective
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from streams.flow.engine import Scope
from streams.flow.tests.test_investment import WINDOW, payments  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def test_each_item_counts_once_however_many_key_results_it_serves(payments):  # noqa: F811
    stream, _ = payments
    objective = ObjectiveFactory(title="Faster payments", level=Objective.Level.STREAM, stream=stream, period="2026-Q1")
    first = KeyResultFactory(objective=objective, title="First")
    second = KeyResultFactory(objective=objective, title="Second")
    later = KeyResultFactory(objective=ObjectiveFactory(period="2026-Q2"), title="Next quarter's")
    a, d = stream.items.get(title="A"), stream.items.get(title="D")
    first.items.add(a)
    second.items.add(a, d)
    later.items.add(stream.items.get(title="C"))  # another period's key result: C stays unaligned here
    report = investment_report(Scope.stream(stream), WINDOW)
    rows = {
        row.label: (round(row.effort_days, 3), row.items, round(row.effort_share, 4), round(row.item_share, 4))
        for row in [*report.by_key_result, report.unaligned]
    }
    assert rows == {
        "First": (2.0, 0.5, 0.1667, 0.125),  # half of A's 4 days
        "Second": (4.0, 1.5, 0.3333, 0.375),  # the other half of A, and D's 2 days
        UNALIGNED: (6.0, 2.0, 0.5, 0.5),  # B and C
    }
    assert sum(row.effort_share for row in [*report.by_key_result, report.unaligned]) == pytest.approx(1)
    (faster,) = report.by_objective
    assert (faster.label, round(faster.effort_share, 4), round(faster.item_share, 4)) == ("Faster payments", 0.5, 0.5)
    assert report.period.label == "2026-Q1"
