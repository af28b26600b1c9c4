"""In a real browser: a director connects a stream to Azure DevOps (a local server that answers
as its REST API does), tests the connection, confirms the suggested mapping, and sees the
backfill's outcome and the stream's freshness."""

import datetime as dt

from django.contrib.auth.models import Group
import pytest

from core import access
from portal.tests.browser import log_in
from streams.integrations.tests.test_azure_sync import board_history
from streams.integrations.tests.tool_servers import AzureDevOpsServer, GitHubServer, JiraServer
from streams.models import BacklogItem, Connection
from streams.tests.factories import ValueStreamFactory
from teams.tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_director_connects_azure_devops_maps_it_and_sees_the_backfill(live_server, page, screenshot):
    Group.objects.get_or_create(name=access.VIEWER)
    stream = ValueStreamFactory(name="Payments", slug="payments", workflow=False)
    UserFactory(username="ada", is_staff=True, is_superuser=True)
    with AzureDevOpsServer() as ado:
        board_history(ado)
        log_in(page, live_server, "ada")
        page.goto(f"{live_server.url}/streams/payments/")
        assert "imported from files" in page.get_by_test_id("freshness").inner_text()
        page.get_by_test_id("freshness").get_by_role("link", name="Connections").click()

        form = page.get_by_test_id("connect-form")
        form.get_by_label("Address").fill(ado.base_url)
        form.get_by_label("Token", exact=True).fill(ado.token)
        form.get_by_label("Project", exact=True).fill(ado.project)
        screenshot("connection-new")
        form.get_by_role("button", name="Connect").click()
        page.get_by_role("button", name="Test connection").click()
        assert "Connected: 3 work items in scope." in page.get_by_role("status").inner_text()

        page.get_by_role("link", name="Map statuses and types").click()
        mapping = page.get_by_test_id("mapping-form")
        assert mapping.get_by_label("Category of Resolved").input_value() == "waiting"
        assert mapping.get_by_label("Category of Closed").input_value() == "done"
        assert mapping.get_by_label("Bug").input_value() == "defect"
        mapping.get_by_label("State for Active").fill("In progress")
        screenshot("connection-mapping")
        mapping.get_by_role("button", name="Save the mapping and sync").click()

        runs = page.get_by_test_id("sync-runs")
        runs.wait_for()
        assert "Backfill" in runs.inner_text() and "Succeeded" in runs.inner_text()
        health = page.get_by_test_id("sync-health").inner_text()
        assert "complete since" in health and "Syncing" in health
        screenshot("connection-health")
    connection = Connection.objects.get(stream=stream)
    assert connection.synced_at > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    item = BacklogItem.objects.get(stream=stream, external_key="1")
    assert (item.state.name, item.state.category, item.started_at is not None) == ("Closed", "done", True)
    page.goto(f"{live_server.url}/streams/payments/")
    assert "from Azure DevOps Boards" in page.get_by_test_id("freshness").inner_text()


@pytest.mark.parametrize("tool", ["jira_cloud", "github"])
def test_a_director_connects_jira_or_github_on_the_page(live_server, page, screenshot, tool):
    Group.objects.get_or_create(name=access.VIEWER)
    stream = ValueStreamFactory(name="Payments", slug="payments", workflow=False)
    UserFactory(username="ada", is_staff=True, is_superuser=True)
    server = JiraServer() if tool == "jira_cloud" else GitHubServer()
    with server:
        at = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)
        if tool == "jira_cloud":
            server.create("PAY-1", at, summary="Pay by link")
            server.move("PAY-1", at + dt.timedelta(days=1), "In Progress")
        else:
            server.create(1, at, title="Pay by link")
            server.event(1, at + dt.timedelta(days=1), "closed")
        log_in(page, live_server, "ada")
        page.goto(f"{live_server.url}/streams/payments/connections/")
        form = page.get_by_test_id("connect-form")
        form.get_by_label("Tool").select_option(tool)
        form.get_by_label("Address").fill(server.base_url)
        form.get_by_label("Token", exact=True).fill(server.token)
        if tool == "jira_cloud":
            form.get_by_label("Account email").fill(server.email)
            form.get_by_label("JQL").fill("project = PAY")
        else:
            form.get_by_label("Repository").fill(server.repository)
        form.get_by_role("button", name="Connect").click()
        page.get_by_role("button", name="Test connection").click()
        assert "Connected:" in page.get_by_role("status").inner_text()
        page.get_by_role("link", name="Map statuses and types").click()
        page.get_by_test_id("mapping-form").get_by_role("button", name="Save the mapping and sync").click()
        runs = page.get_by_test_id("sync-runs")
        runs.wait_for()
        assert "Succeeded" in runs.inner_text()
        screenshot(f"connection-{tool}")
    assert BacklogItem.objects.filter(stream=stream).count() == 1
