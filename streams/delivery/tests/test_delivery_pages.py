"""The delivery panel on the stream page and the delivery timeline: hand-built records, the
figures and levels they must show, definitions on the page, and flat query counts."""

import datetime as dt

from django.db import reset_queries
from django.urls import reverse
import pytest

from streams.backlog.services import item_change_state, item_create
from streams.models import Deployment, DeploymentItem, Incident
from streams.tests.factories import ValueStreamFactory, state

pytestmark = pytest.mark.django_db

# The window: 14 whole days in the past, so "now" never cuts it short.
START, END = dt.date(2026, 3, 2), dt.date(2026, 3, 15)
WINDOW = {"start": START.isoformat(), "end": END.isoformat()}
T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def at(day: int, hour: int = 12) -> dt.datetime:
    return T0 + dt.timedelta(days=day - 2, hours=hour)


@pytest.fixture
def stream():
    payments = ValueStreamFactory(name="Payments", slug="payments")
    refunds = item_create(
        stream_id=payments.pk,
        title="Refunds",
        flow_type="feature",
        external_key="PAY-1",
        created_at=at(2, 8),
        via="import",
    )
    item_change_state(item=refunds, to_state=state(payments, "In progress"), at=at(2, 9))
    item_change_state(item=refunds, to_state=state(payments, "Done"), at=at(3, 9))
    ok = Deployment.objects.create(stream=payments, service="api", started_at=at(3, 9), finished_at=at(3, 10))
    DeploymentItem.objects.create(deployment=ok, item=refunds, first_commit_at=at(3, 4))  # lead time 6 h
    Deployment.objects.create(stream=payments, service="api", started_at=at(4), finished_at=at(4) + H)
    broken = Deployment.objects.create(
        stream=payments, service="api", status="failure", started_at=at(5), finished_at=at(5) + H
    )
    Deployment.objects.create(
        stream=payments, service="api", environment="staging", started_at=at(6), finished_at=at(6) + H
    )
    Incident.objects.create(
        stream=payments, title="Card payments failing", severity="sev1", opened_at=at(5, 14),
        resolved_at=at(5, 16), caused_by=broken,
    )  # fmt: skip
    Incident.objects.create(stream=payments, title="Slow receipts", severity="sev3", opened_at=at(10))
    return payments


def test_the_stream_page_shows_the_four_keys_with_levels_and_definitions(viewer_client, stream):
    response = viewer_client.get(reverse("streams:stream-detail", args=[stream.slug]), WINDOW)
    assert response.status_code == 200
    keys = response.context["delivery"]
    # 2 successful of 3 production deployments over 2 weeks; the staging one counts nowhere.
    assert (keys.deployments, keys.successful, keys.deployment_days) == (3, 2, 2)
    assert keys.per_week == 1.0 and keys.change_failure_rate == pytest.approx(1 / 3)
    assert (keys.lead_time_p50, keys.restore_p50, keys.open_incidents) == (6.0, 2.0, 1)
    assert keys.bands == {
        "deployment_frequency": "high",
        "lead_time": "elite",
        "change_failure_rate": "low",
        "time_to_restore": "high",
    }
    html = response.content.decode()
    panel = html.split('id="delivery"')[1].split("</section>")[0]
    assert "1.0 / week" in panel and "2 successful on 2 days" in panel
    assert "6.0 h" in panel and "n = 1 items" in panel
    assert "33%" in panel and "1 of 3 production deployments" in panel
    assert "2.0 h" in panel and "1 resolved · 1 open" in panel
    assert "2023 Accelerate State of DevOps Report" in panel
    assert "first successful production deployment that shipped it" in panel
    assert reverse("streams:delivery", args=[stream.slug]) in panel


def test_the_panel_follows_the_window_in_the_htmx_fragment(viewer_client, stream):
    response = viewer_client.get(
        reverse("streams:stream-detail", args=[stream.slug]),
        {"start": "2026-03-09", "end": "2026-03-15"},
        HTTP_HX_REQUEST="true",
    )
    keys = response.context["delivery"]
    assert keys.deployments == 0 and keys.bands["deployment_frequency"] is None
    assert "no production deployment recorded" in response.content.decode()


def test_the_timeline_puts_items_deployments_and_incidents_on_one_axis(viewer_client, stream):
    response = viewer_client.get(reverse("streams:delivery", args=[stream.slug]), WINDOW)
    assert response.status_code == 200
    timeline = response.context["timeline"]
    assert len(timeline.days) == 14
    by_day = {day.day.day: day for day in timeline.days}
    assert (by_day[3].finished, by_day[3].succeeded) == (1, 1)
    assert (by_day[5].failed, by_day[6].elsewhere) == (1, 1)
    assert timeline.deployments_total == 4 and timeline.incidents_total == 2
    html = response.content.decode()
    svg = html.split('data-testid="timeline"')[1].split("</svg>")[0]
    assert "Tue 2026-03-03: 1 items finished; production deployments 1 succeeded, 0 failed" in svg
    assert "SEV1: Card payments failing: opened 2026-03-05 14:00 UTC, restored in 2.0 h; caused by deployment" in svg
    assert "SEV3: Slow receipts" in svg and "still open" in svg and "url(#open-hatch)" in svg
    assert "Failed" in html.split('data-testid="deployments"')[1]
    assert "How the four keys are measured" in html


def test_a_bad_window_is_explained_and_the_default_shown(viewer_client, stream):
    response = viewer_client.get(reverse("streams:delivery", args=[stream.slug]), {"start": "2026-03-20", "end": END})
    assert response.status_code == 200
    assert "Showing the default window instead." in response.content.decode()
    assert len(response.context["timeline"].days) == 84


def test_the_timeline_and_the_stream_page_cost_the_same_queries_whatever_the_volume(
    viewer_client, stream, django_assert_num_queries, django_assert_max_num_queries
):
    pages = [reverse("streams:delivery", args=[stream.slug]), reverse("streams:stream-detail", args=[stream.slug])]
    counts = []
    for page in pages:
        reset_queries()
        with django_assert_max_num_queries(80) as captured:
            viewer_client.get(page, WINDOW)
        counts.append(len(captured.captured_queries))
    for n in range(20):
        deployment = Deployment.objects.create(
            stream=stream, service=f"svc-{n}", status="failure" if n % 4 == 0 else "success",
            started_at=at(2 + n % 12), finished_at=at(2 + n % 12) + H,
        )  # fmt: skip
        item = item_create(stream_id=stream.pk, title=f"Change {n}", flow_type="feature", created_at=at(2))
        DeploymentItem.objects.create(deployment=deployment, item=item, first_commit_at=at(2))
        Incident.objects.create(stream=stream, title=f"Blip {n}", opened_at=at(3 + n % 10), caused_by=deployment)
    for page, count in zip(pages, counts, strict=True):
        reset_queries()
        with django_assert_num_queries(count):
            assert viewer_client.get(page, WINDOW).status_code == 200
