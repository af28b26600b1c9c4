"""/api/v1/metrics/: the same numbers as `manage.py flow_metrics` and the pages, on the hand-worked
history of streams/tests/flow_history.py, and clear 4xx answers for bad parameters."""

import csv
import datetime as dt
import io
import json

from django.core.management import call_command
from django.utils import timezone
import pytest
from rest_framework.test import APIClient

from okrs.alignment import alignment_report
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from streams.backlog.services import item_change_state, item_create
from streams.flow.engine import Scope, Window
from streams.flow.forecast import forecast_how_many, forecast_when
from streams.flow.periods import parse_period
from streams.flow.report import flow_report
from streams.models import WorkflowState
from streams.readiness.services import readiness_check_decide
from streams.tests.factories import LeadershipAssignmentFactory, ReadinessCriterionFactory, ValueStreamFactory
from streams.tests.flow_history import build_history
from teams.models import Team
from teams.tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

WINDOW = {"start": "2026-03-02", "end": "2026-03-15", "as_of": "2026-03-16T00:00:00+00:00"}


@pytest.fixture
def api():
    client = APIClient()
    client.force_authenticate(UserFactory(username="reporter"))
    return client


@pytest.fixture
def stream():
    return build_history()


def command_json(*args) -> dict:
    out = io.StringIO()
    call_command("flow_metrics", *args, stdout=out)
    return json.loads(out.getvalue())


def test_flow_metrics_equal_the_command_for_a_stream(api, stream):
    response = api.get("/api/v1/metrics/flow/", {"stream": stream.slug, **WINDOW})
    assert response.status_code == 200
    data = response.json()
    expected = command_json(
        "--stream", stream.slug, "--from", WINDOW["start"], "--to", WINDOW["end"], "--as-of", WINDOW["as_of"]
    )
    expected.pop("items")
    assert data == expected
    # and the hand-worked figures behind both (streams/flow/tests/test_flow.py)
    assert data["throughput"]["n"] == 6 and data["flow_time_days"]["p85"] == 6.25 and data["wip"]["n"] == 2


def test_flow_metrics_for_a_team_a_director_and_the_portfolio_equal_the_engine(api, stream):
    team = stream.teams.get()
    window = Window.build(
        start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 15), as_of=dt.datetime(2026, 3, 16, tzinfo=dt.UTC)
    )
    director = LeadershipAssignmentFactory(stream=stream).person
    cases = (
        ({"team": team.slug}, Scope.team(team)),
        ({"director": str(director.pk)}, Scope.director(director)),
        ({}, Scope.portfolio()),
    )
    for params, scope in cases:
        data = api.get("/api/v1/metrics/flow/", {**params, **WINDOW}).json()
        report = flow_report(scope=scope, window=window, with_items=False)
        assert data["throughput"]["n"] == report.throughput
        assert data["wip"]["n"] == report.wip
        assert data["flow_time_days"]["p50"] == round(report.flow_time.p50, 4)
        assert data["scope"]["kind"] == scope.kind


def test_per_item_flow_facts_equal_the_command_in_json_and_csv(api, stream):
    expected = command_json(
        "--stream", stream.slug, "--from", WINDOW["start"], "--to", WINDOW["end"], "--as-of", WINDOW["as_of"]
    )["items"]
    data = api.get("/api/v1/metrics/flow/items/", {"stream": stream.slug, **WINDOW}).json()
    assert data["count"] == len(expected) == len(data["items"])
    assert [{k: v for k, v in row.items() if k != "item_id"} for row in data["items"]] == expected
    response = api.get("/api/v1/metrics/flow/items/", {"stream": stream.slug, "format": "csv", **WINDOW})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_key = {row["key"]: row for row in rows}
    assert set(by_key) == {row["key"] for row in expected}
    assert by_key["G"]["blocked_days"] == "3.0" and by_key["B"]["reopens"] == "1"


def test_per_item_facts_need_a_scope(api, stream):
    response = api.get("/api/v1/metrics/flow/items/", WINDOW)
    assert response.status_code == 400 and "stream" in response.json()["errors"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"stream": "nowhere"}, None),
        ({"stream": "x", "team": "y"}, "team"),
        ({"director": "abc"}, "director"),
        ({"start": "2026-02-30"}, "start"),
        ({"end": "2999-01-01"}, "end"),
        ({"weeks": "5"}, "weeks"),
        ({"as_of": "2026-03-16T00:00:00"}, "as_of"),
        ({"as_of": "2999-01-01T00:00:00Z"}, "as_of"),
        ({"start": "2026-03-10", "end": "2026-03-01"}, "start"),
    ],
)
def test_bad_window_or_scope_is_a_4xx_naming_the_parameter(api, stream, params, field):
    response = api.get("/api/v1/metrics/flow/", params)
    if field is None:
        assert response.status_code == 404
    else:
        assert response.status_code == 400, response.json()
        assert field in response.json()["errors"]


def test_flow_metrics_as_csv_are_field_value_rows(api, stream):
    response = api.get("/api/v1/metrics/flow/", {"stream": stream.slug, "format": "csv", **WINDOW})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = dict(csv.reader(io.StringIO(response.content.decode())))
    assert rows["throughput.n"] == "6" and rows["wip.n"] == "2"


def test_alignment_equals_the_alignment_report(api):
    stream = ValueStreamFactory(slug="payments")
    objective = ObjectiveFactory(level="stream", stream=stream, period="2026-Q4")
    key_result = KeyResultFactory(objective=objective)
    aligned = item_create(stream_id=stream.pk, title="Aligned", flow_type="feature")
    item_create(stream_id=stream.pk, title="Orphan", flow_type="feature")
    key_result.items.add(aligned)
    for item in stream.items.all():
        item_change_state(item=item, to_state=WorkflowState.objects.get(stream=stream, name="In progress"))
    report = alignment_report(Scope.stream(stream), parse_period("2026-Q4"))
    data = api.get("/api/v1/metrics/alignment/", {"stream": "payments", "period": "2026-Q4"}).json()
    assert data["wip"] == report.totals.wip == 2
    assert data["wip_aligned"] == report.totals.wip_aligned == 1
    assert data["wip_share"] == 0.5
    assert [o["title"] for o in data["orphans"]] == ["Orphan"]
    bad = api.get("/api/v1/metrics/alignment/", {"period": "Q4"})
    assert bad.status_code == 400 and "2026-Q4" in bad.json()["errors"]["period"][0]


def test_readiness_equals_the_readiness_page_figures(api):
    support = TeamFactory(name="Support", slug="support", type=Team.Type.BUSINESS_OPERATIONS)
    ReadinessCriterionFactory(name="Support trained", owner_team=support)
    stream = ValueStreamFactory()
    created = timezone.now() - dt.timedelta(days=4)
    items = [item_create(stream_id=stream.pk, title=f"I{n}", flow_type="feature", created_at=created) for n in range(3)]
    check = items[0].readiness_checks.get()
    type(check).objects.filter(pk=check.pk).update(created_at=created)
    readiness_check_decide(check=check, status="met", actor=UserFactory(is_superuser=True))
    data = api.get("/api/v1/metrics/readiness/", {"team": "support"}).json()
    [row] = data["teams"]
    assert row["team"] == "support" and row["pending"] == 2 and row["met"] == 1
    assert 3.9 < row["lead_time_p50_days"] < 4.1
    assert data["criteria"][0]["name"] == "Support trained" and data["criteria"][0]["met"] == 1


def test_forecasts_equal_the_stream_pages(api, stream):
    by_date = (timezone.now() + dt.timedelta(days=14)).date()
    response = api.get("/api/v1/metrics/forecast/", {"stream": stream.slug, "by_date": by_date.isoformat(), "items": 5})
    assert response.status_code == 200
    data = response.json()
    report = flow_report(scope=Scope.stream(stream), with_items=False)
    today = timezone.now().astimezone(dt.UTC).date()
    how_many = forecast_how_many(daily_throughput=report.forecast_sample, days=(by_date - today).days)
    when = forecast_when(daily_throughput=report.forecast_sample, items=5, start=today + dt.timedelta(days=1))
    assert [data["how_many"][k] for k in ("p50", "p85", "p95")] == how_many.ordered
    assert [data["when"][k] for k in ("p50", "p85", "p95")] == [
        None if v is None else v.isoformat() for v in when.ordered
    ]
    assert data["sample_items"] == sum(report.forecast_sample) and data["minimum_items"] == 5
    assert data["how_many"]["refused"] == how_many.refused
    assert api.get("/api/v1/metrics/forecast/", {"stream": stream.slug}).status_code == 400
    past = api.get("/api/v1/metrics/forecast/", {"stream": stream.slug, "by_date": "2020-01-01"})
    assert past.status_code == 400 and "by_date" in past.json()["errors"]


def test_returned_work_is_counted_apart_from_wip_in_the_api(api, stream):
    from streams.tests.flow_history import d, make

    make(stream, "R", "feature", [("In progress", d(1)), ("Backlog", d(3))])
    data = api.get("/api/v1/metrics/flow/", {"stream": stream.slug, **WINDOW}).json()
    assert (data["wip"]["n"], data["wip"]["returned"]) == (2, 1)
    items = api.get("/api/v1/metrics/flow/items/", {"stream": stream.slug, **WINDOW}).json()["items"]
    r = next(row for row in items if row["key"] == "R")
    assert r["returned_days"] == 11 and r["returned_since"] == d(3).isoformat() and r["age_days"] == 13
