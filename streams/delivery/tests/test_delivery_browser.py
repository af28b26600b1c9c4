"""In a real browser: a stream's delivery panel, the delivery timeline and the portfolio's
delivery columns, from records a pipeline posted through the API."""

import datetime as dt

from django.utils import timezone
import pytest
from rest_framework.test import APIClient

from streams.backlog.services import item_change_state, item_create
from streams.models import Deployment, Incident
from streams.tests.factories import ValueStreamFactory, state
from teams.tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def delivered_stream():
    """Three weeks of releases: most succeed, one fails and causes an incident, one is still open."""
    stream = ValueStreamFactory(name="Retail Payments", slug="retail-payments")
    now = timezone.now()
    pipeline = APIClient()
    pipeline.force_authenticate(UserFactory(username="ci", is_superuser=True, is_staff=True))
    for n in range(12):
        finished = now - dt.timedelta(days=20 - n * 1.6)
        item = item_create(
            stream_id=stream.pk,
            title=f"Change {n}",
            flow_type="feature",
            external_key=f"PAY-{n}",
            via="import",
            created_at=finished - dt.timedelta(days=6),
        )
        item_change_state(item=item, to_state=state(stream, "In progress"), at=finished - dt.timedelta(days=3))
        item_change_state(item=item, to_state=state(stream, "Done"), at=finished - dt.timedelta(hours=2))
        response = pipeline.post(
            "/api/v1/deployments/",
            {
                "stream": stream.slug,
                "service": "payments-api",
                "started_at": (finished - dt.timedelta(minutes=9)).isoformat(),
                "finished_at": finished.isoformat(),
                "status": "failure" if n == 7 else "success",
                "version": f"3.{n}.0",
                "external_id": f"run-{n}",
                "items": [{"item": f"PAY-{n}", "first_commit_at": (finished - dt.timedelta(hours=20)).isoformat()}],
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
    failed = Deployment.objects.get(external_id="run-7")
    Incident.objects.create(
        stream=stream,
        title="Card payments failing",
        severity="sev1",
        opened_at=failed.finished_at + dt.timedelta(minutes=10),
        resolved_at=failed.finished_at + dt.timedelta(hours=2),
        caused_by=failed,
    )
    Incident.objects.create(stream=stream, title="Slow receipts", severity="sev3", opened_at=now - dt.timedelta(days=1))
    return stream


def log_in(page, live_server):
    user = UserFactory(username="lea")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")


def test_a_leader_reads_delivery_on_the_portfolio_the_stream_page_and_the_timeline(live_server, page, screenshot):
    delivered_stream()
    log_in(page, live_server)

    page.get_by_test_id("view-delivery").click()  # the portfolio's delivery columns
    page.wait_for_url(f"{live_server.url}/?**view=delivery")
    row = page.locator("tr[data-stream='retail-payments']")
    deploys = row.locator("td[data-key='deploys']")
    assert deploys.locator("a").inner_text() == "0.9"  # 11 successful over the 12-week window
    assert row.locator("td[data-key='change_failure'] a").inner_text() == "8%"  # 1 of 12: failed, and its incident
    screenshot("portfolio-delivery-columns")

    page.get_by_role("link", name="Retail Payments").first.click()
    panel = page.locator("#delivery")
    panel.wait_for()
    tiles = panel.locator("[data-key]")
    assert tiles.count() == 4
    assert "elite" in panel.locator("[data-key='lead_time']").inner_text()  # 20 h from first commit
    assert "1 resolved · 1 open" in panel.locator("[data-key='time_to_restore']").inner_text()
    panel.get_by_text("How the four keys are measured").click()
    assert panel.get_by_text("2023 Accelerate State of DevOps Report").is_visible()
    screenshot("stream-page-delivery-panel")

    panel.get_by_role("link", name="Open the delivery timeline").click()
    page.wait_for_selector("svg.timeline")
    marks = page.locator("svg.timeline rect title")
    assert marks.count() >= 84 + 2  # a column per day of the window, and the two incidents
    assert page.locator("svg.timeline title", has_text="SEV1: Card payments failing").count() == 1
    deployments = page.locator("table[data-testid='deployments'] tbody tr")
    assert deployments.count() == 12 and "Failed" in page.locator("table[data-testid='deployments']").inner_text()
    page.get_by_label("Last").select_option("4")
    page.get_by_role("button", name="Update").click()
    page.wait_for_url("**weeks=4**")
    assert page.locator("svg.timeline").get_attribute("viewBox").startswith("0 0 960")
    assert "28 days" in page.locator(".window-line").inner_text()
    screenshot("delivery-timeline")
