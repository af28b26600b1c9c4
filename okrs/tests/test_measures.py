"""Key results measured by the portal: each measure equals the figure of the page it links to,
on the same scope and window; the daily job records a reading only when the figure changed
and never twice a day; the measure's direction is kept; people still give confidence."""

import datetime as dt
from decimal import Decimal

from django.test import Client
from django.urls import reverse
from django.utils import timezone
import pytest

from core.errors import DomainError
from okrs.measures import FLOW, key_results_measure, reading, readings_so_far
from okrs.models import CheckIn, KeyResult, Measure, Objective
from okrs.selectors import objective_tree, period_from
from okrs.services import check_in_record, key_result_link, key_result_save
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from streams.delivery.records import deployment_record
from streams.models import ReadinessCheck
from streams.readiness.selectors import criterion_lead_times, readiness_by_owner_team
from streams.tests.factories import (
    LeadershipAssignmentFactory,
    ReadinessCheckFactory,
    ReadinessCriterionFactory,
    ValueStreamFactory,
)
from streams.tests.flow_history import bulk_items
from teams.models import Team
from teams.tests.factories import PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
MIDNIGHT = dt.datetime.combine(NOW.astimezone(dt.UTC).date(), dt.time(), dt.UTC)
PERIOD = period_from(None)


def ago(days: float) -> dt.datetime:
    return MIDNIGHT - dt.timedelta(days=days)


@pytest.fixture
def claims():
    """A stream whose last four weeks are known: 8 features and 2 defects finished (flow times
    2 to 11 days, a day active then waiting), 3 items in progress, one of them far older."""
    stream = ValueStreamFactory(name="Claims", slug="claims")
    finished = [
        (ago(20 + k), [("In progress", ago(14 + k)), ("Waiting for review", ago(13 + k)), ("Done", ago(3 + k - k % 2))])
        for k in range(8)
    ]
    bulk_items(stream, finished)
    bulk_items(stream, [(ago(9), [("In progress", ago(8)), ("Done", ago(6))])] * 2, flow_type="defect")
    bulk_items(
        stream,
        [
            (ago(90), [("In progress", ago(80))]),
            (ago(5), [("In progress", ago(4))]),
            (ago(3), [("In progress", ago(2))]),
        ],
    )
    return stream


def measured(stream, measure, **fields):
    objective = ObjectiveFactory(level=Objective.Level.STREAM, stream=stream, period=PERIOD.label)
    defaults = {"measure_stream": stream, "measure_weeks": 4, "start_value": Decimal("0"), "target_value": Decimal("1")}
    return KeyResultFactory.build(
        objective=objective, source=KeyResult.Source.MEASURED, measure=measure, **(defaults | fields)
    )


def page_figure(client, url, measure, flow_type="feature"):
    """The figure as the stream page shows it, read from the page's own context."""
    report = client.get(url).context["report"]
    return {
        Measure.FLOW_VELOCITY: report.throughput_per_week,
        Measure.FLOW_TIME_P50: report.flow_time.p50,
        Measure.FLOW_TIME_P85: report.flow_time.p85,
        Measure.FLOW_EFFICIENCY: None if report.efficiency is None else 100 * report.efficiency,
        Measure.WIP: report.wip,
        Measure.AGED_WIP: sum(1 for f in report.in_progress if f.pace in ("85th–95th", "beyond 95th")),
        Measure.TYPE_SHARE: 100 * report.throughput_by_type.get(flow_type, 0) / report.throughput,
    }[measure]


@pytest.mark.parametrize("measure", sorted(FLOW))
def test_each_flow_measure_equals_the_stream_pages_figure_on_its_window(claims, admin_user, measure):
    key_result = measured(claims, measure, measure_flow_type="feature")
    found = reading(key_result, MIDNIGHT)
    client = Client()
    client.force_login(admin_user)
    expected = page_figure(client, found.url, measure)
    assert found.value == Decimal(str(round(float(expected), 2)))
    assert found.n > 0 and "Flow engine on Claims" in found.method
    assert f"start={(MIDNIGHT - dt.timedelta(days=28)):%Y-%m-%d}" in found.url


def test_the_known_figures_of_the_claims_history(claims):
    """The hand-counted figures (so the comparison above cannot pass by both sides being empty)."""
    figures = {measure: reading(measured(claims, measure, measure_flow_type="defect"), MIDNIGHT) for measure in FLOW}
    assert figures[Measure.FLOW_VELOCITY].value == Decimal("2.5")  # 10 finished in 4 weeks
    assert figures[Measure.WIP].value == 3
    assert figures[Measure.AGED_WIP].value == 1  # started 80 days ago; flow times are at most 11 days
    assert figures[Measure.TYPE_SHARE].value == 20  # 2 of 10 finished are defects


def test_delivery_measures_equal_the_delivery_pages_keys(claims, admin_user):
    for k in range(6):
        at = ago(3 + 2 * k)
        deployment_record(
            data={
                "stream": claims,
                "service": "claims-api",
                "environment": "production",
                "started_at": at,
                "finished_at": at + dt.timedelta(minutes=10),
                "status": "failure" if k == 0 else "success",
                "external_id": f"d{k}",
            },
            source="test",
        )
    client = Client()
    client.force_login(admin_user)
    frequency = reading(measured(claims, Measure.DEPLOYMENT_FREQUENCY), MIDNIGHT)
    failures = reading(measured(claims, Measure.CHANGE_FAILURE_RATE), MIDNIGHT)
    keys = client.get(frequency.url).context["delivery"]
    assert frequency.value == Decimal(str(round(keys.per_week, 2))) == Decimal("1.25")  # 5 good in 4 weeks
    assert failures.value == Decimal(str(round(100 * keys.change_failure_rate, 2))) == Decimal("16.67")


def test_alignment_measures_equal_the_alignment_pages_shares(claims, admin_user):
    key_result = measured(claims, Measure.ALIGNED_WIP)
    key_result.save()
    serving = claims.items.filter(finished_at__isnull=True, started_at__isnull=False).order_by("pk").first()
    key_result_link(key_result=key_result, item=serving, actor=admin_user)
    found = reading(key_result)
    client = Client()
    client.force_login(admin_user)
    totals = client.get(found.url).context["report"].totals
    assert found.value == Decimal(str(round(100 * totals.wip_share, 2))) == Decimal("33.33")  # 1 of 3
    assert found.n == 3


def test_readiness_measures_equal_the_readiness_pages_lead_times(claims):
    operations = TeamFactory(name="Legal", type=Team.Type.BUSINESS_OPERATIONS)
    criterion = ReadinessCriterionFactory(name="Terms approved", owner_team=operations)
    for days, item in zip((2, 4, 10), claims.items.order_by("pk"), strict=False):
        check = ReadinessCheckFactory(criterion=criterion, item=item)
        ReadinessCheck.objects.filter(pk=check.pk).update(status="met", created_at=ago(days + 5), signed_off_at=ago(5))
    by_criterion = reading(measured(claims, Measure.CRITERION_LEAD_TIME, measure_criterion=criterion), NOW)
    by_team = reading(measured(claims, Measure.TEAM_SIGN_OFF_LEAD_TIME, measure_team=operations), NOW)
    (row,) = criterion_lead_times(operations, now=NOW)
    team_row = next(r for r in readiness_by_owner_team(now=NOW) if r.team == operations)
    assert by_criterion.value == Decimal(str(round(row.p85, 2))) == Decimal("8.2")  # 2, 4, 10 days: 4 + 0.7 × 6
    assert by_team.value == Decimal(str(round(team_row.lead_p85, 2)))
    assert by_criterion.n == by_team.n == 3 and "team=" in by_team.url


def test_the_daily_job_records_only_when_the_figure_changes_and_once_a_day(claims):
    key_result = measured(claims, Measure.WIP)
    key_result.save()
    yesterday, today = MIDNIGHT.date() - dt.timedelta(days=1), MIDNIGHT.date()
    assert key_results_measure(yesterday)["recorded"] == 1
    assert key_results_measure(today)["recorded"] == 0  # WIP was 3 at both midnights: unchanged
    bulk_items(claims, [(ago(1), [("In progress", MIDNIGHT - dt.timedelta(hours=3))])])  # started yesterday
    tomorrow = today + dt.timedelta(days=1)
    first = key_results_measure(tomorrow)
    again = key_results_measure(tomorrow)
    assert (first["recorded"], again["recorded"]) == (1, 0)
    readings = list(CheckIn.objects.filter(key_result=key_result, system=True).order_by("date"))
    assert [(r.date, r.value, r.n) for r in readings] == [(yesterday, 3, 3), (tomorrow, 4, 4)]
    key_result.refresh_from_db()
    assert key_result.current_value == 4
    assert readings[-1].source_url.startswith("/streams/claims/?start=")


def test_saving_a_measured_key_result_reads_its_start_and_its_trend_so_far(claims, admin_user):
    key_result = measured(claims, Measure.FLOW_TIME_P85, target_value=Decimal("5"))
    key_result.start_value = Decimal("99")  # ignored: the measure says
    key_result_save(key_result=key_result)
    readings = [(day, found.value) for day, found in readings_so_far(key_result) if found.value is not None]
    # Nothing finished in the 4 weeks before the quarter began: the start is the first reading since.
    assert reading(key_result, dt.datetime.combine(PERIOD.start, dt.time(), dt.UTC)).value is None
    assert key_result.start_value == readings[0][1] and key_result.current_value == readings[-1][1]
    assert key_result.current_value == reading(key_result, MIDNIGHT).value
    trend = objective_tree(user=admin_user, period=PERIOD)[0].key_results[0].trend
    changes = [pair for k, pair in enumerate(readings) if k == 0 or pair[1] != readings[k - 1][1]]
    assert trend == changes  # recorded where the figure changed, as the daily job records


def test_a_target_on_the_measures_worse_side_is_refused(claims):
    key_result = measured(claims, Measure.FLOW_TIME_P85, target_value=Decimal("500"))
    with pytest.raises(DomainError) as refused:
        key_result_save(key_result=key_result)
    assert refused.value.field == "target_value" and "Lower is better for flow time" in refused.value.message
    assert not KeyResult.objects.filter(pk=key_result.pk).exists() or key_result.pk is None


def test_lower_is_better_progress_runs_from_start_down_to_target():
    key_result = KeyResult(start_value=Decimal("20"), target_value=Decimal("10"), current_value=Decimal("15"))
    assert key_result.progress == Decimal("0.5")


def test_a_measure_that_needs_a_scope_says_which(claims):
    key_result = measured(claims, Measure.TYPE_SHARE)
    with pytest.raises(DomainError) as refused:
        key_result_save(key_result=key_result)
    assert refused.value.field == "measure_flow_type"


def test_a_persons_check_in_on_a_measured_key_result_keeps_the_measured_value(claims):
    key_result = measured(claims, Measure.WIP, target_value=Decimal("0"))
    key_result_save(key_result=key_result)
    owner = UserFactory()
    check_in = check_in_record(key_result=key_result, value=Decimal("0"), confidence=Decimal("0.4"), author=owner)
    key_result.refresh_from_db()
    assert check_in.value == key_result.current_value == 3  # the typed value is not the measure's
    row = objective_tree(user=owner, period=PERIOD)[0].key_results[0]
    assert row.confidence == 0.4 and not row.stale


def test_system_readings_do_not_make_a_key_result_fresh(claims, admin_user):
    key_result = measured(claims, Measure.WIP, target_value=Decimal("0"))
    key_result_save(key_result=key_result)
    row = objective_tree(user=admin_user, period=PERIOD)[0].key_results[0]
    assert row.trend and row.last_check_in is None and row.stale  # nobody has looked at it yet


def test_the_admin_keeps_the_measures_rules(claims, admin_client):
    """Every door: the admin refuses what the pages refuse, and reads the start as they do."""
    objective = ObjectiveFactory(level=Objective.Level.STREAM, stream=claims, period=PERIOD.label)
    form = {
        "objective": objective.pk,
        "title": "Faster claims",
        "kind": "outcome",
        "source": "measured",
        "measure": Measure.FLOW_TIME_P85,
        "measure_stream": claims.pk,
        "measure_weeks": 4,
        "unit": "days",
        "start_value": "0",
        "target_value": "500",
        "current_value": "0",
        "weight": "1",
        "order": "0",
        "check_ins-TOTAL_FORMS": "0",
        "check_ins-INITIAL_FORMS": "0",
    }
    refused = admin_client.post("/admin/okrs/keyresult/add/", form)
    assert refused.status_code == 200 and "Lower is better for flow time" in refused.content.decode()
    assert not KeyResult.objects.exists()
    saved = admin_client.post("/admin/okrs/keyresult/add/", form | {"target_value": "5"})
    assert saved.status_code == 302
    key_result = KeyResult.objects.get()
    assert key_result.start_value == next(f.value for _, f in readings_so_far(key_result) if f.value is not None)
    assert key_result.check_ins.filter(system=True).exists()


def test_a_director_sets_a_key_result_on_their_streams_flow_time_and_it_updates_itself(
    claims, django_assert_max_num_queries
):
    """The issue's "done when": set on the key result's form, no number typed; then the daily job."""
    director = UserFactory(username="dana", roles=["product director"])
    LeadershipAssignmentFactory(person=PersonFactory(name="Dana Director", user=director), stream=claims)
    objective = ObjectiveFactory(
        title="Faster claims", level=Objective.Level.STREAM, stream=claims, period=PERIOD.label
    )
    client = Client()
    client.force_login(director)
    form = {
        "title": "Claims settle sooner",
        "kind": "outcome",
        "source": "measured",
        "measure": Measure.FLOW_TIME_P85,
        "measure_stream": claims.pk,
        "measure_weeks": "4",
        "unit": "days",
        "target_value": "3",
        "weight": "1",
        "order": "0",
    }
    response = client.post(reverse("okrs:key-result-create", args=[objective.pk]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    key_result = KeyResult.objects.get(title="Claims settle sooner")
    assert key_result.current_value == reading(key_result, MIDNIGHT).value
    page = client.get(reverse("okrs:key-result-detail", args=[key_result.pk])).content.decode()
    assert "Measured by the portal" in page and "Open the page it comes from" in page
    # The OKR page reads measured key results in the queries it always made.
    with django_assert_max_num_queries(40) as few:
        client.get(reverse("okrs:objective-list"))
    for order in range(4):
        extra = measured(claims, Measure.WIP, target_value=Decimal("0"), order=order + 1)
        extra.objective = objective
        key_result_save(key_result=extra)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("okrs:objective-list"))
