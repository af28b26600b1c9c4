"""Data quality beside the flow figures: bulk moves, items without history, backward moves and
reopens, on a hand-built history (PostgreSQL here; SQLite in test_flow_sqlite's run)."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
import pytest

from streams.flow.engine import Scope
from streams.flow.quality import BULK_SIZE, stream_data_quality
from streams.flow.report import flow_report
from streams.flow.rollups import rollups_refresh, stored_moves
from streams.models import BacklogItem, StateTransition, WorkflowState
from streams.tests.factories import ValueStreamFactory, state
from streams.tests.flow_history import WINDOW, d, make
from streams.tests.plans import queries_with_per_row_subplans

pytestmark = pytest.mark.django_db


@pytest.fixture
def board():
    """12 items closed in one minute on d10 after 9 days each (a clean-up), 3 worked items of
    1, 2 and 3 days, one item sent back (a backward move) and one reopened."""
    stream = ValueStreamFactory(name="Board")
    clean_up = d(10) + dt.timedelta(seconds=20)
    for n in range(12):
        make(stream, f"OLD-{n}", "feature", [("In progress", d(1)), ("Done", clean_up + dt.timedelta(seconds=n))])
    for n, days in enumerate((1, 2, 3)):
        make(stream, f"NEW-{n}", "feature", [("In progress", d(2)), ("Done", d(2 + days))])
    make(stream, "BACK", "feature", [("In progress", d(2)), ("Backlog", d(3))])
    make(stream, "AGAIN", "defect", [("In progress", d(2)), ("Done", d(3)), ("In progress", d(4)), ("Done", d(6))])
    return stream


def test_bulk_moves_are_measured_beside_the_figures_not_removed_from_them(board):
    quality = stream_data_quality(stream_id=board.pk, window=WINDOW)
    assert (quality.throughput, quality.bulk_items, quality.bulk_minutes) == (16, 12, 1)
    assert quality.bulk_share == pytest.approx(12 / 16)
    # The clean-up's items took 9 days (and 20 s and a little); the rest 1, 2, 3 and 4 days.
    assert quality.bulk_median == pytest.approx(9.0, abs=0.001)
    assert quality.rest_median == pytest.approx(2.5)
    assert quality.without_bulk.n == 4 and quality.without_bulk.p85 == pytest.approx(3.55)
    report = flow_report(scope=Scope.stream(board), window=WINDOW)
    assert quality.with_bulk.n == report.flow_time.n == 16  # the headline keeps every item
    assert quality.with_bulk.p85 == pytest.approx(report.flow_time.p85)


def test_nine_in_a_minute_is_not_a_bulk_move():
    stream = ValueStreamFactory()
    for n in range(BULK_SIZE - 1):
        make(stream, f"I-{n}", "feature", [("In progress", d(1)), ("Done", d(5) + dt.timedelta(seconds=n))])
    assert stream_data_quality(stream_id=stream.pk, window=WINDOW).bulk_items == 0


def test_backward_moves_reopens_and_items_without_history_are_counted(board):
    BacklogItem.objects.create(
        stream=board, title="No history", flow_type="feature", state=board.states.first(), created_at=d(0)
    )
    quality = stream_data_quality(stream_id=board.pk, window=WINDOW)
    assert (quality.backward_moves, quality.reopens, quality.no_history) == (1, 1, 1)
    assert not quality.clean


def test_backward_moves_and_reopens_from_the_stored_days_equal_the_history(board):
    """The moves the daily rollups store per pair of states give the history's counts, judged
    against the workflow as it is (a reordered workflow included), until a move dated in the
    window pulls the stored days back."""
    history = stream_data_quality(stream_id=board.pk, window=WINDOW)
    assert stored_moves(stream_id=board.pk, window=WINDOW) is None  # never refreshed
    rollups_refresh(as_of=WINDOW.as_of)
    assert sum(stored_moves(stream_id=board.pk, window=WINDOW).values()) > 0
    stored = stream_data_quality(stream_id=board.pk, window=WINDOW)
    assert (stored.backward_moves, stored.reopens) == (history.backward_moves, history.reopens) == (1, 1)
    # Review before In progress: moves from In progress into Review count as backward now.
    review, in_progress = state(board, "Review"), state(board, "In progress")
    WorkflowState.objects.filter(pk=review.pk).update(order=in_progress.order - 1)
    make(board, "LATE", "feature", [("In progress", d(5)), ("Review", d(6))])  # dated in the window
    assert stored_moves(stream_id=board.pk, window=WINDOW) is None  # the stored days were pulled back
    history = stream_data_quality(stream_id=board.pk, window=WINDOW)
    rollups_refresh(as_of=WINDOW.as_of)
    stored = stream_data_quality(stream_id=board.pk, window=WINDOW)
    assert (stored.backward_moves, stored.reopens) == (history.backward_moves, history.reopens) == (2, 1)


def test_the_stream_page_and_the_api_show_the_data_quality(board, admin_client, django_assert_max_num_queries):
    html = admin_client.get(f"/streams/{board.slug}/?start=2026-03-02&end=2026-03-15").content.decode()
    assert 'data-testid="data-quality"' in html and "12 of 16" in html
    data = admin_client.get(
        "/api/v1/metrics/flow/", {"stream": board.slug, "start": "2026-03-02", "end": "2026-03-15"}
    ).json()
    assert data["data_quality"]["bulk_items"] == 12 and data["data_quality"]["backward_moves"] == 1
    assert admin_client.get("/api/v1/metrics/flow/").json().get("data_quality") is None  # per stream only


def test_no_data_quality_query_runs_a_subquery_per_item_however_many_moves_a_stream_has():
    """Items without history were counted with NOT IN over the stream's moves: once those moves no
    longer fit work_mem as a hash, PostgreSQL ran the subquery again for every item, and the
    board of 132,000 items and 630,000 moves (flow_metrics) counted for more than ten minutes.
    Here the same plan is provoked with fewer moves and the smallest work_mem."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans")
    stream = ValueStreamFactory(name="Big board")
    backlog, working, done = (state(stream, name) for name in ("Backlog", "In progress", "Done"))
    items = BacklogItem.objects.bulk_create(
        BacklogItem(
            stream=stream,
            title=f"Item {n}",
            flow_type="feature",
            state=done,
            created_at=d(0),
            started_at=d(1),
            finished_at=d(2),
        )
        for n in range(1500)
    )
    StateTransition.objects.bulk_create(
        StateTransition(item=item, from_state=before, to_state=after, at=d(day), source=StateTransition.Source.SEED)
        for item in items
        for day, before, after in ((0, None, backlog), (1, backlog, working), (2, working, done))
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE streams_backlogitem, streams_statetransition, streams_workflowstate")
        cursor.execute("SET LOCAL work_mem = '64kB'")
        with CaptureQueriesContext(connection) as queries:
            quality = stream_data_quality(stream_id=stream.pk, window=WINDOW)
        assert quality.no_history == 0 and quality.throughput == 1500
        assert queries_with_per_row_subplans(queries.captured_queries) == {}
