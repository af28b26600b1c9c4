"""Value stream map totals on hand-computed cases, current against future, and the measured map."""

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import DomainError
from streams.flow.engine import Window
from streams.maps.services import (
    TotalsChange,
    block_delete,
    block_move,
    block_save,
    map_blocks,
    map_compare,
    map_totals,
    measured_map,
)
from streams.models import ProcessBlock, ValueStreamMap
from streams.tests.factories import ValueStreamFactory, state
from streams.tests.flow_history import bulk_items


def block(activity, process, lead, pca, people=1, queue=0):
    return ProcessBlock(
        activity=activity,
        process_time_hours=Decimal(process),
        lead_time_hours=Decimal(lead),
        percent_complete_accurate=pca,
        people=people,
        queue_before=queue,
    )


def test_totals_of_a_hand_computed_map():
    totals = map_totals(
        [block("Intake", 2, 10, 80, 2, 5), block("Build", 1, 30, 50, 3, 12), block("Release", 3, 20, 100, 1, 0)]
    )
    assert totals.lead_hours == 60 and totals.process_hours == 6
    assert totals.activity_ratio == pytest.approx(10.0)
    assert totals.rolled_pca == pytest.approx(40.0)  # 0.8 x 0.5 x 1.0
    assert (totals.people, totals.queue, totals.blocks) == (6, 17, 3)
    assert totals.lead_days == pytest.approx(2.5)


def test_rolled_pca_compounds_and_an_empty_map_has_no_ratio():
    totals = map_totals([block("A", 1, 1, 90), block("B", 1, 1, 90), block("C", 1, 1, 90)])
    assert totals.rolled_pca == pytest.approx(72.9)
    empty = map_totals([])
    assert empty.rolled_pca is None and empty.activity_ratio is None and empty.lead_hours == 0
    assert map_totals([block("Wait", 0, 0, 100)]).activity_ratio is None


def test_current_and_future_are_matched_by_activity_with_differences():
    current = [block("Intake", 2, 10, 80), block("Fraud  triage", 1, 48, 50), block("Re-keying", 1, 4, 90)]
    future = [block("Intake", 1, 4, 95), block("Fraud triage", 1, 8, 90), block("Self-service upload", 0, 1, 100)]
    changes = map_compare(current, future)
    assert [(c.activity, c.status) for c in changes] == [
        ("Intake", "kept"),
        ("Fraud triage", "kept"),
        ("Self-service upload", "added"),
        ("Re-keying", "removed"),
    ]
    assert changes[1].lead_delta_hours == -40
    rows = {r["label"]: r for r in TotalsChange(map_totals(current), map_totals(future)).rows}
    assert rows["Total lead time"]["delta"] == pytest.approx((13 - 62) / 24)
    assert rows["Total lead time"]["better"] is True
    assert rows["Rolled %C&A"]["current"] == pytest.approx(36.0)
    assert rows["Rolled %C&A"]["future"] == pytest.approx(85.5)
    assert rows["Rolled %C&A"]["better"] is True


T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
WINDOW = Window.build(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 15), as_of=T0 + dt.timedelta(days=14))


def d(days):
    return T0 + dt.timedelta(days=days)


@pytest.mark.django_db
def test_the_measured_map_of_a_constructed_history(django_assert_max_num_queries):
    stream = ValueStreamFactory()
    bulk_items(
        stream,
        [
            (d(0), [("In progress", d(1)), ("Waiting for review", d(3)), ("Review", d(4)), ("Done", d(6))]),
            (d(0), [("In progress", d(1)), ("Done", d(2))]),
            (d(0), [("In progress", d(2)), ("Waiting for review", d(3)), ("Review", d(7)), ("Done", d(8))]),
            (d(0), [("In progress", d(5))]),  # not finished: in no figure
            (d(0), [("In progress", d(1)), ("Removed", d(3))]),  # removed: in no figure
        ],
    )
    vsm = ValueStreamMap.objects.create(stream=stream, name="Now", kind="current", as_of=dt.date(2026, 3, 1))
    build = block_save(vsm=vsm, block=block("Build", 6, 24, 90), states=[state(stream, "In progress")])
    review = block_save(
        vsm=vsm, block=block("Review", 2, 12, 80), states=[state(stream, "Waiting for review"), state(stream, "Review")]
    )
    block_save(vsm=vsm, block=block("Deploy", 1, 2, 100), states=[])
    blocks = map_blocks(vsm)

    with django_assert_max_num_queries(20):
        measured = measured_map(stream=stream, window=WINDOW, blocks=blocks)

    assert measured.items == 3 and measured.flow_days == pytest.approx(12)
    by_name = {m.state.name: m for m in measured.states}
    assert "Removed" not in by_name and "Done" not in by_name  # flow ends on entering done
    in_progress, waiting, rev = by_name["In progress"], by_name["Waiting for review"], by_name["Review"]
    assert (in_progress.n, in_progress.p50, in_progress.p85) == (3, pytest.approx(1), pytest.approx(1.7))
    assert (waiting.n, waiting.p50, waiting.p85) == (2, pytest.approx(2.5), pytest.approx(3.55))
    assert (rev.n, rev.p50, rev.p85) == (2, pytest.approx(1.5), pytest.approx(1.85))
    assert in_progress.share == pytest.approx(4 / 12) and waiting.share == pytest.approx(5 / 12)
    assert by_name["Backlog"].n == 0 and not by_name["Backlog"].on_map
    assert in_progress.on_map and waiting.on_map

    compared = {c.block.pk: c for c in measured.blocks}
    assert compared[build.pk].lead_p50 == pytest.approx(1) and not compared[build.pk].disagrees
    assert compared[build.pk].verdict == "Data agrees"
    # Review: A spent 1 + 2 days, C 4 + 1 days; the median of 3 and 5 is 4 days against 12 hours drawn.
    assert compared[review.pk].lead_p50 == pytest.approx(4)
    assert compared[review.pk].active_p50 == pytest.approx(1.5)
    assert compared[review.pk].ratio == pytest.approx(8)
    assert compared[review.pk].highlighted
    assert compared[review.pk].verdict == "Data says 8.0× the drawn time"
    assert [c.block.activity for c in measured.highlighted] == ["Review"]
    deploy = measured.blocks[2]
    assert deploy.n == 0 and deploy.verdict == "Not linked to workflow states"


@pytest.mark.django_db
def test_a_state_with_much_flow_time_on_no_block_is_flagged():
    stream = ValueStreamFactory()
    bulk_items(stream, [(d(0), [("In progress", d(1)), ("Waiting for review", d(2)), ("Done", d(6))])])
    vsm = ValueStreamMap.objects.create(stream=stream, name="Now", kind="current", as_of=dt.date(2026, 3, 1))
    block_save(vsm=vsm, block=block("Build", 6, 24, 90), states=[state(stream, "In progress")])
    measured = measured_map(stream=stream, window=WINDOW, blocks=map_blocks(vsm))
    by_name = {m.state.name: m for m in measured.states}
    assert by_name["Waiting for review"].unmapped_warning  # 4 of 5 days, on no block
    assert not by_name["In progress"].unmapped_warning


@pytest.mark.django_db
def test_blocks_are_added_last_reordered_and_renumbered_on_delete():
    stream = ValueStreamFactory()
    other = ValueStreamFactory()
    vsm = ValueStreamMap.objects.create(stream=stream, name="Now", kind="current", as_of=dt.date(2026, 3, 1))
    a, b, c = (block_save(vsm=vsm, block=block(name, 1, 2, 100), states=None) for name in "ABC")
    assert [x.order for x in (a, b, c)] == [1, 2, 3]
    block_move(block=c, direction="up")
    assert [x.activity for x in map_blocks(vsm)] == ["A", "C", "B"]
    block_move(block=a, direction="up")  # already first: stays
    assert [x.activity for x in map_blocks(vsm)] == ["A", "C", "B"]
    block_delete(block=a)
    assert [(x.activity, x.order) for x in map_blocks(vsm)] == [("C", 1), ("B", 2)]
    with pytest.raises(DomainError, match="this map's value stream"):
        block_save(vsm=vsm, block=block("D", 1, 2, 100), states=[state(other, "Done")])
    assert not ProcessBlock.objects.filter(activity="D").exists()
    with pytest.raises(Exception, match="no longer than lead time"):
        block_save(vsm=vsm, block=block("E", 5, 2, 100), states=None)


@pytest.mark.django_db
def test_maps_are_created_changed_and_deleted_through_their_service():
    from streams.maps.services import map_delete, map_save

    stream, other = ValueStreamFactory(), ValueStreamFactory()
    vsm = map_save(stream=stream, vsm=ValueStreamMap(name="Today", kind="current", as_of=dt.date(2026, 3, 1)))
    assert vsm.pk and vsm.stream == stream
    block_save(vsm=vsm, block=block("Build", 2, 5, 80), states=None)
    with pytest.raises(DomainError, match="cannot move to another"):
        map_save(stream=other, vsm=vsm)
    with pytest.raises(DomainError):
        map_save(stream=stream, vsm=ValueStreamMap(name="", kind="current", as_of=dt.date(2026, 3, 1)))
    map_delete(vsm=vsm)
    assert not ValueStreamMap.objects.exists() and not ProcessBlock.objects.exists()
