"""The flow engine against hand-computed expectations on a small, deliberately awkward history.

Day d means T0 + d days (T0 = 2026-03-02 00:00 UTC). The window is the 14 days from T0;
the history is read as of T0 + 14 days. Items:

  A feature  back and forth: In progress d1, Waiting d3, In progress d4, Review d6, Done d8
  B defect   reopened: In progress d1, Done d3, In progress d5, Done d7
  C feature  removed: In progress d1, Removed d4                      -> counts nowhere
  D risk     skipped a state: Review d2, Done d5
  E debt     straight from backlog to done: Done d4                   -> flow time 0
  F feature  never started
  G feature  blocked while active: In progress d1, Done d6; blocked d2–d4 and d3–d5 (merged d2–d5)
  H defect   same day: created d0 09:00, In progress d3 10:00, Done d3 16:00 -> 0.25 days
  I feature  offsets: created 09:00+02:00 on d0, In progress 23:00-05:00 on d2 (d3 04:00 UTC), WIP
  J debt     In progress d10, Waiting d12, WIP

Every expected number below is worked out by hand in the comments.
"""

import datetime as dt

import pytest

from streams.flow.engine import Scope, Window, report_dict
from streams.flow.report import flow_report
from streams.tests.factories import ValueStreamFactory
from streams.tests.flow_history import T0, WINDOW, build_history, d, make
from teams.tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    return build_history()


@pytest.fixture
def report(history):
    return flow_report(scope=Scope.stream(history), window=WINDOW)


def by_key(items):
    return {facts.key: facts for facts in items}


def test_finished_items_and_their_flow_and_lead_times(report):
    finished = by_key(report.finished)
    assert sorted(finished) == ["A", "B", "D", "E", "G", "H"]  # C removed, F never started, I and J in progress
    assert {key: round(f.flow_days, 4) for key, f in finished.items()} == {
        "A": 7,
        "B": 6,
        "D": 3,
        "E": 0,
        "G": 5,
        "H": 0.25,
    }
    assert {key: round(f.lead_days, 4) for key, f in finished.items()} == {
        "A": 8,
        "B": 7,
        "D": 5,
        "E": 4,
        "G": 6,
        "H": round(3 + 7 / 24, 4),
    }
    assert finished["B"].reopens == 1 and finished["A"].reopens == 0
    assert finished["E"].start == finished["E"].finish == d(4)


def test_flow_time_percentiles_interpolate_between_closest_ranks(report):
    # Sorted flow times [0, 0.25, 3, 5, 6, 7]: p50 at rank 2.5 -> 3 + .5*2 = 4; p85 at 4.25 ->
    # 6 + .25*1 = 6.25; p95 at 4.75 -> 6.75; mean 21.25 / 6.
    flow = report.flow_time
    assert flow.n == 6
    assert (round(flow.mean, 4), round(flow.p50, 4), round(flow.p85, 4), round(flow.p95, 4)) == (
        round(21.25 / 6, 4),
        4.0,
        6.25,
        6.75,
    )


def test_throughput_by_type_and_by_week(report):
    assert report.throughput == 6
    assert report.throughput_by_type == {"feature": 2, "defect": 2, "risk": 1, "debt": 1}
    week0, week1 = report.weekly_throughput
    assert (week0["week_start"], week1["week_start"]) == (dt.date(2026, 3, 2), dt.date(2026, 3, 9))
    # H d3.7, E d4, D d5, G d6 in the first week; B d7 and A d8 in the second.
    assert {k: week0[k] for k in ("feature", "defect", "risk", "debt")} == {
        "feature": 1,
        "defect": 1,
        "risk": 1,
        "debt": 1,
    }
    assert {k: week1[k] for k in ("feature", "defect", "risk", "debt")} == {
        "feature": 1,
        "defect": 1,
        "risk": 0,
        "debt": 0,
    }
    assert sum(report.daily_throughput) == 6 and len(report.daily_throughput) == 14
    assert report.daily_throughput[3] == 1 and report.daily_throughput[4] == 1  # H on d3, E on d4


def test_active_waiting_and_blocked_time_per_item(report):
    facts = by_key(report.finished + report.in_progress)
    # A: active [1,3) + [4,6) + Review [6,8) = 6, waiting [3,4) = 1.
    assert (round(facts["A"].active_days, 4), round(facts["A"].waiting_days, 4)) == (6, 1)
    # B: active [1,3) + [5,7) = 4; its two days back in Done count in flow time only.
    assert (round(facts["B"].active_days, 4), round(facts["B"].waiting_days, 4)) == (4, 0)
    # G: in progress [1,6) with blocks d2–d4 and d3–d5 merged into 3 days, counted once, as waiting.
    g = facts["G"]
    assert (round(g.active_days, 4), round(g.waiting_days, 4), round(g.blocked_days, 4)) == (2, 3, 3)
    # J, in progress: active [10,12), waiting [12,14).
    assert (round(facts["J"].active_days, 4), round(facts["J"].waiting_days, 4)) == (2, 2)


def test_flow_efficiency_is_active_over_flow_time(report):
    # Σ active = 6 + 4 + 3 + 0 + 2 + 0.25 = 15.25 over Σ flow 21.25.
    assert report.efficiency_measurable
    assert round(report.efficiency, 4) == round(15.25 / 21.25, 4)
    assert report.efficiency_needs_check  # above 50%: is every queue mapped to a waiting state?
    assert report.efficiency_n == 6
    assert sum(report.efficiency_histogram) == 5  # E's flow time is 0: no efficiency of its own...
    assert report.efficiency_zero == 1  # ...so it has a bucket of its own: the histogram's n is the figure's
    assert report_dict(report)["efficiency"]["zero_flow_time"] == 1


def test_wip_at_as_of_with_age_and_pace(report):
    wip = by_key(report.in_progress)
    assert sorted(wip) == ["I", "J"] and report.wip == 2
    assert report.wip_by_type == {"feature": 1, "defect": 0, "risk": 0, "debt": 1}
    # I started 2026-03-04 23:00-05:00 = 03-05 04:00 UTC; as of 03-16 00:00 that is 10 d 20 h.
    assert round(wip["I"].age_days, 4) == round(10 + 20 / 24, 4)
    assert wip["I"].pace == "beyond 95th" and wip["J"].pace == "within 50th"  # 4 days = p50
    assert report.wip_limit == 5  # no state limits: the serving team's


def test_daily_wip_and_cumulative_flow(report):
    # WIP at each day-end k = T0 + k days (worked out per item in the module docstring's terms).
    assert [day["wip"] for day in report.daily] == [3, 4, 3, 4, 4, 3, 2, 1, 1, 2, 2, 2, 2, 2]
    assert report.mean_wip == 35 / 14
    done = [day["done"] for day in report.daily]
    assert done[2] == 1 and done[3] == 3 and done[-1] == 6  # B; B, E, H; all six
    assert report.daily[0]["day"] == dt.date(2026, 3, 2) and report.daily[-1]["day"] == dt.date(2026, 3, 15)
    assert all(day["backlog"] >= 1 for day in report.daily)  # F never leaves it


def test_littles_law_gap_is_flagged(report):
    # Predicted WIP = 6/14 per day × 21.25/6 days = 1.518; measured 2.5: 65% above.
    assert round(report.littles_predicted_wip, 4) == round(6 / 14 * 21.25 / 6, 4)
    assert round(report.littles_gap, 3) == round((2.5 - 21.25 / 14) / (21.25 / 14), 3)
    assert report.littles_warning


def test_bottleneck_is_the_state_holding_most_flow_time(report):
    shares = {row["state"]: round(row["share"], 4) for row in report.bottleneck}
    # In progress 4 + 4 + 5 + 0.25 = 13.25; Review 2 + 3 = 5; Done 2 (B between its finishes);
    # Waiting for review 1. Total 21.25 = Σ flow time.
    assert report.bottleneck[0]["state"] == "In progress"
    assert shares == {
        "In progress": round(13.25 / 21.25, 4),
        "Review": round(5 / 21.25, 4),
        "Done": round(2 / 21.25, 4),
        "Waiting for review": round(1 / 21.25, 4),
    }


def test_history_read_as_of_an_earlier_instant(history):
    """As of d4.5, B is finished (its reopen comes at d5), D is still in review and C removed."""
    window = Window.build(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 6), as_of=d(4.5))
    report = flow_report(scope=Scope.stream(history), window=window)
    assert window.end == d(4.5)
    assert {f.key: round(f.flow_days, 4) for f in report.finished} == {"B": 2, "E": 0, "H": 0.25}
    assert sorted(f.key for f in report.in_progress) == ["A", "D", "G", "I"]
    assert report.daily[-1]["wip"] == 4


def test_a_stream_without_a_waiting_state_has_no_measurable_efficiency():
    stream = ValueStreamFactory(workflow=[("To do", "backlog"), ("Doing", "active"), ("Done", "done")])
    make(stream, "X", "feature", [("Doing", d(1)), ("Done", d(3))])
    report = flow_report(scope=Scope.stream(stream), window=WINDOW)
    assert report.throughput == 1
    assert not report.efficiency_measurable and report.efficiency is None
    assert report.efficiency_excluded_streams == [stream.name]


def test_team_director_and_portfolio_scopes(history):
    other = ValueStreamFactory(name="Lending")
    make(other, "L", "feature", [("In progress", d(1)), ("Done", d(2))])
    team = history.teams.get()
    assert flow_report(scope=Scope.team(team), window=WINDOW).throughput == 1  # only A is the team's
    from streams.tests.factories import LeadershipAssignmentFactory

    director = PersonFactory()
    LeadershipAssignmentFactory(person=director, stream=other)
    assert flow_report(scope=Scope.director(director), window=WINDOW).throughput == 1
    portfolio = flow_report(scope=Scope.portfolio(), window=WINDOW, with_items=False)
    assert portfolio.throughput == 7 and portfolio.wip == 2 and portfolio.finished == []


def test_items_done_before_the_window_sit_in_the_done_band(history):
    window = Window.build(start=dt.date(2026, 3, 12), end=dt.date(2026, 3, 15), as_of=T0 + dt.timedelta(days=14))
    report = flow_report(scope=Scope.stream(history), window=window)
    assert report.throughput == 0
    assert all(day["done"] == 6 for day in report.daily)


def test_the_query_count_does_not_grow_with_items(history, django_assert_max_num_queries):
    with django_assert_max_num_queries(40) as few:
        flow_report(scope=Scope.stream(history), window=WINDOW)
    for n in range(20):
        make(history, f"extra-{n}", "feature", [("In progress", d(1)), ("Done", d(2 + n % 5))])
    with django_assert_max_num_queries(len(few.captured_queries)):
        flow_report(scope=Scope.stream(history), window=WINDOW)


def test_a_stay_starting_exactly_at_the_windows_end_counts_on_its_last_day(history):
    """Window 03-02..03-04 ends at d3 00:00, when A starts waiting and B finishes."""
    window = Window.build(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 4), as_of=T0 + dt.timedelta(days=14))
    last = flow_report(scope=Scope.stream(history), window=window).daily[-1]
    # WIP at d3: A (waiting), D (review), G (in progress); B is done; I starts at 04:00.
    assert (last["waiting"], last["done"], last["wip"]) == (1, 1, 3)


def test_an_item_done_for_a_moment_then_back_in_the_backlog_never_started_and_is_not_wip(history):
    """Backlog → Done → Backlog without ever being in progress: what was never in progress has
    no start, so it is neither WIP nor aging (it used to start at its first finish)."""
    from streams.models import BacklogItem

    make(history, "N", "defect", [("Done", d(2)), ("Backlog", d(5))])
    report = flow_report(scope=Scope.stream(history), window=WINDOW)
    assert "N" not in by_key(report.in_progress) and "N" not in by_key(report.finished)
    assert report.wip == flow_report(scope=Scope.stream(history), window=WINDOW, with_items=False).wip
    assert report.daily[-1]["wip"] == report.wip
    stored = BacklogItem.objects.get(external_key="N")
    assert (stored.started_at, stored.finished_at) == (None, None)  # the service agrees


def test_done_without_a_start_reopened_and_done_again_has_flow_time_zero(history):
    """Done without passing through active or waiting, reopened into the backlog, done again:
    it starts at that (last) finish, so its flow time is 0, not the two months between."""
    from streams.models import BacklogItem

    make(history, "O", "feature", [("Done", d(1)), ("Backlog", d(2)), ("Done", d(9))])
    o = by_key(flow_report(scope=Scope.stream(history), window=WINDOW).finished)["O"]
    assert o.start == o.finish == d(9) and o.flow_days == 0 and o.reopens == 1
    stored = BacklogItem.objects.get(external_key="O")
    assert stored.started_at == stored.finished_at == d(9)


def test_skipping_the_first_active_state_and_entering_it_later_starts_at_the_first_progress(history):
    make(history, "P", "feature", [("Review", d(2)), ("In progress", d(4)), ("Done", d(6))])
    p = by_key(flow_report(scope=Scope.stream(history), window=WINDOW).finished)["P"]
    assert p.start == d(2) and p.flow_days == 4


def test_only_an_active_or_waiting_state_is_the_bottleneck_and_returned_time_is_said_beside_it():
    """X went back to the backlog for 9 of its 11 days of flow; Z sat in Done between its two
    finishes. Neither a backlog nor a done state is where work waits to be done: the
    bottleneck is In progress, and the backlog's larger share is reported beside it."""
    stream = ValueStreamFactory(name="Returns")
    make(stream, "X", "feature", [("In progress", d(1)), ("Backlog", d(2)), ("In progress", d(11)), ("Done", d(12))])
    make(stream, "Y", "feature", [("In progress", d(1)), ("Waiting for review", d(2)), ("Done", d(4))])
    make(stream, "Z", "defect", [("In progress", d(1)), ("Done", d(2)), ("In progress", d(3)), ("Done", d(4))])
    for report in (
        flow_report(scope=Scope.stream(stream), window=WINDOW),
        flow_report(scope=Scope.portfolio(), window=WINDOW),
    ):
        # Flow time: X 11, Y 3, Z 3 = 17. In progress 2 + 1 + 2 = 5; Backlog 9; Waiting 2; Done 1.
        assert report.bottleneck[0]["state"] == "Backlog"  # the table keeps every state, largest first
        chosen = report.bottleneck_state
        assert (chosen["state"], chosen["category"], round(chosen["share"], 4)) == (
            "In progress",
            "active",
            round(5 / 17, 4),
        )
        assert round(report.returned_share, 4) == round(9 / 17, 4)
    data = report_dict(flow_report(scope=Scope.stream(stream), window=WINDOW))
    assert data["bottleneck_state"] == "In progress" and data["returned_share"] == round(9 / 17, 4)


def test_the_stream_page_marks_the_bottleneck_and_says_when_returned_time_is_larger(client, admin_user):
    from django.urls import reverse
    from django.utils import timezone

    stream = ValueStreamFactory(name="Returns", slug="returns")
    now = timezone.now()
    ago = lambda days: now - dt.timedelta(days=days)  # noqa: E731
    make(
        stream,
        "X",
        "feature",
        [("In progress", ago(12)), ("Backlog", ago(11)), ("In progress", ago(2)), ("Done", ago(1))],
        created=ago(13),
    )
    client.force_login(admin_user)
    html = client.get(reverse("streams:stream-detail", args=["returns"])).content.decode()
    assert 'data-testid="returned-share"' in html and "more than the bottleneck" in html
    row = html[html.index("bottleneck-title") :]
    highlighted = row[row.index('class="highlight"') :][:120]
    assert "In progress" in highlighted


@pytest.mark.parametrize("offset", range(7))
def test_weeks_are_iso_weeks_whatever_day_the_window_starts(history, offset):
    """Weekly series are Monday-to-Sunday weeks labelled by their Monday; the weeks the window
    cuts are marked partial, and every finish lands in its calendar week."""
    first, last = dt.date(2026, 3, 2) + dt.timedelta(days=offset), dt.date(2026, 3, 15)
    window = Window.build(start=first, end=last, as_of=T0 + dt.timedelta(days=14))
    report = flow_report(scope=Scope.stream(history), window=window)
    weeks = report.weekly_throughput
    assert all(week["week_start"].weekday() == 0 for week in weeks)
    assert weeks[0]["week_start"] == first - dt.timedelta(days=first.weekday())
    assert weeks[-1]["week_start"] == dt.date(2026, 3, 9)
    assert [week["partial"] for week in weeks] == [offset > 0] + [False] * (len(weeks) - 1)
    assert sum(week[t] for week in weeks for t in ("feature", "defect", "risk", "debt")) == report.throughput
    for facts in report.finished:  # each finish is counted in the week of its day
        monday = facts.finish.date() - dt.timedelta(days=facts.finish.date().weekday())
        assert any(week["week_start"] == monday and week[facts.flow_type] for week in weeks)
    assert report_dict(report)["throughput"]["weekly"][0]["partial"] == (offset > 0)


def test_work_sent_back_to_the_backlog_is_returned_not_wip_and_its_backlog_time_is_returned_time(history):
    """R was sent back on d3 and sits in the backlog at as_of (d14); T was finished on d3 and
    reopened into the backlog on d6. Neither is WIP nor aging; both are returned to the backlog,
    with the day they got there, and their backlog time since the start is returned time."""
    before = flow_report(scope=Scope.stream(history), window=WINDOW)
    make(history, "R", "feature", [("In progress", d(1)), ("Backlog", d(3))])
    make(history, "T", "defect", [("In progress", d(1)), ("Done", d(3)), ("Backlog", d(6))])
    report = flow_report(scope=Scope.stream(history), window=WINDOW)
    assert report.wip == before.wip == 2 and sorted(by_key(report.in_progress)) == ["I", "J"]
    assert report.returned == 2 and report_dict(report)["wip"]["returned"] == 2
    returned = by_key(report.returned_items)
    assert [f.key for f in report.returned_items] == ["R", "T"]  # longest returned first
    assert (returned["R"].returned_since, returned["T"].returned_since) == (d(3), d(6))
    assert returned["R"].returned_days == 11 and returned["T"].returned_days == 8  # d3–d14, d6–d14
    assert returned["R"].age_days == 13 and returned["R"].pace is None  # the clock runs, but it is not aging
    # Day-ends: R counts on days 1 and 2 (active d1–d3), T on 1 and 2 (active until its finish).
    added = [a["wip"] - b["wip"] for a, b in zip(report.daily, before.daily, strict=True)]
    assert added == [2, 2] + [0] * 12
    rows = {row["key"]: row for row in report_dict(report)["items"]}
    assert rows["R"]["returned_days"] == 11 and rows["R"]["returned_since"] == d(3).isoformat()
    assert rows["A"]["returned_days"] == 0 and rows["A"]["returned_since"] is None
    assert flow_report(scope=Scope.stream(history), window=WINDOW, with_items=False).returned == 2


def test_moved_back_before_the_first_active_state_keeps_its_first_start_and_counts_returned_time(history):
    """S started d1, went back to the backlog d2, came back d5 and finished d8: its start is
    the first (d1), its flow time 7 days of which 3 returned; while in the backlog it was not WIP."""
    make(history, "S", "feature", [("In progress", d(1)), ("Backlog", d(2)), ("In progress", d(5)), ("Done", d(8))])
    report = flow_report(scope=Scope.stream(history), window=WINDOW)
    s = by_key(report.finished)["S"]
    assert (s.start, s.flow_days, s.active_days, s.returned_days, s.returned_since) == (d(1), 7, 4, 3, None)
    as_of_d4 = flow_report(
        scope=Scope.stream(history), window=Window.build(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 5), as_of=d(4))
    )
    assert "S" not in by_key(as_of_d4.in_progress) and by_key(as_of_d4.returned_items)["S"].returned_since == d(2)


def test_returned_items_stay_out_of_every_wip_count(history):
    """The portfolio, alignment, team composition and the key result's linked work count
    the same WIP as the engine: the returned item is in none of them."""
    from okrs.alignment import stream_alignment
    from okrs.selectors import current_period
    from portal.composition import composition
    from streams.flow.portfolio import PortfolioWindow, stream_flows
    from streams.models import BacklogItem

    team = history.teams.get()
    make(history, "R", "feature", [("In progress", d(1)), ("Backlog", d(3))], team=team)
    make(history, "W", "feature", [("In progress", d(1))], team=team)
    assert BacklogItem.objects.in_progress().filter(stream=history).count() == 3  # I, J, W
    assert list(BacklogItem.objects.returned().values_list("external_key", flat=True)) == ["R"]
    flows = stream_flows([history.pk], PortfolioWindow.ending_before())
    assert flows[history.pk].wip == 3
    assert stream_alignment(current_period(), [history.pk])[history.pk].wip == 3
    assert next(row for row in composition().teams if row.team == team).wip == 1  # W; A finished, R returned


def test_cumulative_flow_per_workflow_state_in_the_workflows_order(report):
    """Day 1 (d1): A, B and G in progress (C is removed now: it counts nowhere), six items in the
    backlog. Last day: F in the backlog, I in progress, J waiting for review, six done."""
    assert [s["name"] for s in report.cfd_states] == [
        "Backlog",
        "Ready",
        "In progress",
        "Waiting for review",
        "Review",
        "Done",
    ]  # Removed is left out
    assert report.daily[0]["states"] == {
        "Backlog": 6,
        "Ready": 0,
        "In progress": 3,
        "Waiting for review": 0,
        "Review": 0,
        "Done": 0,
    }
    assert report.daily[-1]["states"] == {
        "Backlog": 1,
        "Ready": 0,
        "In progress": 1,
        "Waiting for review": 1,
        "Review": 0,
        "Done": 6,
    }
    category = {s["name"]: s["category"] for s in report.cfd_states}
    for day in report.daily:  # the categories add the states up
        for c in ("backlog", "active", "waiting", "done"):
            assert day[c] == sum(n for name, n in day["states"].items() if category[name] == c)
    data = report_dict(report)
    assert data["cumulative_flow_states"][2] == {"name": "In progress", "category": "active"}
    assert data["daily"][-1]["states"]["Done"] == 6


def test_items_done_before_the_window_sit_in_their_done_state(history):
    from streams.tests.factories import state

    released = state(history, "Done")
    window = Window.build(start=dt.date(2026, 3, 12), end=dt.date(2026, 3, 15), as_of=T0 + dt.timedelta(days=14))
    report = flow_report(scope=Scope.stream(history), window=window)
    assert all(day["states"][released.name] == 6 for day in report.daily)
    portfolio = flow_report(scope=Scope.portfolio(), window=window, use_rollups=False)
    assert portfolio.cfd_states == [] and "states" not in portfolio.daily[0]  # workflows differ across streams


def test_with_several_done_states_each_keeps_the_items_done_before_the_window():
    stream = ValueStreamFactory(
        name="Two dones",
        workflow=[
            ("Backlog", "backlog"),
            ("Doing", "active"),
            ("Queue", "waiting"),
            ("Done", "done"),
            ("Live", "done"),
        ],
    )
    make(stream, "X", "feature", [("Doing", d(1)), ("Done", d(2))])
    make(stream, "Y", "feature", [("Doing", d(1)), ("Done", d(2)), ("Live", d(3))])
    make(stream, "Z", "feature", [("Doing", d(1)), ("Live", d(9))])
    window = Window.build(start=dt.date(2026, 3, 7), end=dt.date(2026, 3, 15), as_of=T0 + dt.timedelta(days=14))
    daily = flow_report(scope=Scope.stream(stream), window=window).daily
    assert daily[0]["states"] == {"Backlog": 0, "Doing": 1, "Queue": 0, "Done": 1, "Live": 1}
    assert daily[-1]["states"] == {"Backlog": 0, "Doing": 0, "Queue": 0, "Done": 1, "Live": 2}
    assert daily[-1]["done"] == 3
