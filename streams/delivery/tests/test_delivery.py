"""The four keys of delivery performance (`streams.delivery.keys`) on hand-built histories."""

import datetime as dt

from django.utils import timezone
import pytest

from streams.delivery.keys import BANDS_YEAR, band, delivery_keys, pooled_delivery_keys
from streams.models import Deployment, DeploymentItem, Incident
from streams.tests.factories import BacklogItemFactory, ValueStreamFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
START, END = NOW - dt.timedelta(days=28), NOW  # four weeks
H = dt.timedelta(hours=1)


def deploy(stream, finished_hours_ago, *, status="success", environment="production", items=(), started_before=H):
    finished = NOW - finished_hours_ago * H
    deployment = Deployment.objects.create(
        stream=stream,
        service="checkout",
        environment=environment,
        status=status,
        started_at=finished - started_before,
        finished_at=None if status == "in_progress" else finished,
    )
    for item, first_commit_hours_before in items:
        DeploymentItem.objects.create(
            deployment=deployment,
            item=item,
            first_commit_at=None if first_commit_hours_before is None else finished - first_commit_hours_before * H,
        )
    return deployment


def incident(stream, opened_hours_ago, restored_after_hours=None, caused_by=None):
    opened = NOW - opened_hours_ago * H
    return Incident.objects.create(
        stream=stream,
        title="Payments down",
        opened_at=opened,
        resolved_at=None if restored_after_hours is None else opened + restored_after_hours * H,
        caused_by=caused_by,
    )


def keys_of(stream):
    return delivery_keys([stream.pk], START, END)[stream.pk]


def test_no_deployments_and_no_incidents_give_no_figures_and_no_levels():
    keys = keys_of(ValueStreamFactory(workflow=False))
    assert (keys.deployments, keys.per_week, keys.days_per_week) == (0, 0.0, 0.0)
    assert keys.change_failure_rate is None and keys.lead_time_p50 is None and keys.restore_p50 is None
    assert keys.bands == dict.fromkeys(["deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore"])


def test_several_deployments_on_one_day_count_as_deployments_but_as_one_day():
    stream = ValueStreamFactory(workflow=False)
    midday = (NOW - dt.timedelta(days=3)).replace(hour=12, minute=0, second=0)
    hours_ago = (NOW - midday) / H
    for offset in (0, 1, 2):
        deploy(stream, hours_ago - offset)
    deploy(stream, 24 * 10)  # another day
    keys = keys_of(stream)
    assert (keys.successful, keys.deployment_days) == (4, 2)
    assert keys.per_week == pytest.approx(1.0) and keys.days_per_week == pytest.approx(0.5)
    assert keys.bands["deployment_frequency"] == "high"


def test_failed_deployments_without_incidents_are_change_failures_and_not_deployment_frequency():
    stream = ValueStreamFactory(workflow=False)
    for hours in (10, 20, 30):
        deploy(stream, hours)
    deploy(stream, 40, status="failure")
    keys = keys_of(stream)
    assert (keys.deployments, keys.successful, keys.failed_changes) == (4, 3, 1)
    assert keys.change_failure_rate == pytest.approx(0.25)
    assert keys.bands["change_failure_rate"] == "low"


def test_an_incident_attributed_to_a_deployment_makes_it_a_change_failure_once():
    stream = ValueStreamFactory(workflow=False)
    bad = deploy(stream, 50)
    for hours in range(1, 20):
        deploy(stream, hours)
    incident(stream, 49, 2, caused_by=bad)
    incident(stream, 30, 1, caused_by=bad)  # a second incident from the same change
    keys = keys_of(stream)
    assert (keys.deployments, keys.failed_changes) == (20, 1)
    assert keys.change_failure_rate == pytest.approx(0.05) and keys.bands["change_failure_rate"] == "elite"


def test_incidents_without_a_cause_count_for_restoring_service_only():
    stream = ValueStreamFactory(workflow=False)
    deploy(stream, 100)
    incident(stream, 60, 2)
    incident(stream, 50, 4)
    incident(stream, 40, 30)
    incident(stream, 5)  # still open
    incident(stream, 24 * 60, 24 * 20)  # resolved 40 days ago, before the window
    keys = keys_of(stream)
    assert keys.change_failure_rate == 0
    assert (keys.restored_n, keys.open_incidents) == (3, 1)
    assert keys.restore_p50 == pytest.approx(4) and keys.bands["time_to_restore"] == "high"


def test_lead_time_runs_from_the_first_commit_or_else_the_start_to_the_first_production_deployment():
    stream = ValueStreamFactory()
    started = BacklogItemFactory(stream=stream, started_at=NOW - 60 * H)
    committed = BacklogItemFactory(stream=stream, started_at=NOW - 500 * H)
    unstarted = BacklogItemFactory(stream=stream, started_at=None)
    deploy(stream, 12, items=[(started, None), (committed, 10), (unstarted, None)])
    deploy(stream, 2, items=[(started, None)])  # shipped again: the first shipment counts
    deploy(stream, 1, environment="staging", items=[(unstarted, 1)])  # not production
    keys = keys_of(stream)
    assert keys.lead_time_n == 2
    assert keys.lead_time_p50 == pytest.approx((48 + 10) / 2)
    assert keys.lead_time_p85 == pytest.approx(10 + 0.85 * (48 - 10))
    assert keys.bands["lead_time"] == "high"  # a median of 29 hours: a day or more, under a week


def test_deployments_in_progress_or_to_other_environments_count_nowhere():
    stream = ValueStreamFactory(workflow=False)
    deploy(stream, 3, status="in_progress")
    deploy(stream, 4, environment="staging")
    deploy(stream, 5, environment="PROD")
    deploy(stream, 24 * 40)  # before the window
    keys = keys_of(stream)
    assert (keys.deployments, keys.successful) == (1, 1)


@pytest.mark.parametrize(
    ("key", "value", "level"),
    [
        ("deployment_frequency", 7.0, "elite"),
        ("deployment_frequency", 6.9, "high"),
        ("deployment_frequency", 1.0, "high"),
        ("deployment_frequency", 0.5, "medium"),
        ("deployment_frequency", 0.2, "low"),
        ("lead_time", 23.9, "elite"),
        ("lead_time", 24.0, "high"),
        ("lead_time", 24 * 7 + 1, "medium"),
        ("lead_time", 24 * 31, "low"),
        ("change_failure_rate", 0.05, "elite"),
        ("change_failure_rate", 0.10, "high"),
        ("change_failure_rate", 0.15, "medium"),
        ("change_failure_rate", 0.16, "low"),
        ("time_to_restore", 0.5, "elite"),
        ("time_to_restore", 1.0, "high"),
        ("time_to_restore", 30, "medium"),
        ("time_to_restore", 24 * 8, "low"),
        ("time_to_restore", None, None),
    ],
)
def test_the_bands_of_the_stated_year(key, value, level):
    assert BANDS_YEAR == 2023
    assert band(key, value) == level


def test_the_query_count_does_not_grow_with_streams(django_assert_num_queries):
    streams = [ValueStreamFactory() for _ in range(12)]
    for n, stream in enumerate(streams):
        bad = deploy(stream, n + 1, items=[(BacklogItemFactory(stream=stream, started_at=NOW - 30 * H), None)])
        incident(stream, n + 0.5, 1, caused_by=bad)
    with django_assert_num_queries(3):
        one = delivery_keys([streams[0].pk], START, END)
    with django_assert_num_queries(3):
        every = delivery_keys([s.pk for s in streams], START, END)
    assert one[streams[0].pk].deployments == 1 and all(k.failed_changes == 1 for k in every.values())


def test_a_portfolio_pools_its_streams_medians_over_all_items_and_incidents(django_assert_num_queries):
    fast, slow, quiet = (ValueStreamFactory() for _ in range(3))
    for hours in (2, 4):  # fast: lead times 2 h and 4 h
        deploy(fast, 5, items=[(BacklogItemFactory(stream=fast, started_at=None), hours)])
    deploy(slow, 5, items=[(BacklogItemFactory(stream=slow, started_at=None), 100)])
    deploy(slow, 6, status="failure")
    incident(fast, 30, 1)
    incident(slow, 30, 3)
    incident(slow, 20, 5)
    with django_assert_num_queries(3):
        pooled = pooled_delivery_keys([fast.pk, slow.pk, quiet.pk], START, END)
    # The median of the three items (2, 4, 100 h), not the mean of the streams' medians (3, 100).
    assert pooled.lead_time_n == 3 and pooled.lead_time_p50 == pytest.approx(4)
    assert (pooled.deployments, pooled.successful, pooled.failed_changes) == (4, 3, 1)
    assert pooled.restore_p50 == pytest.approx(3) and pooled.restored_n == 3
    assert pooled.bands["change_failure_rate"] == "low"  # 25%
    empty = pooled_delivery_keys([quiet.pk], START, END)
    assert empty.deployments == 0 and empty.lead_time_p50 is None and empty.bands["lead_time"] is None
    assert pooled_delivery_keys([], START, END).deployments == 0
