"""The connection pages through Django's test client: who sees and changes what, and the words
a director reads when something is wrong."""

import datetime as dt

from django.utils.html import strip_tags
import pytest

from streams.integrations.tests.tool_servers import GitHubServer, JiraServer
from streams.models import BacklogItem, Connection, ImportMapping
from streams.tests.factories import ValueStreamFactory
from teams.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def jira():
    with JiraServer() as server:
        server.create("PAY-1", dt.datetime(2026, 10, 5, tzinfo=dt.UTC))
        yield server


def test_a_jira_cloud_connection_is_made_tested_and_mapped_on_the_pages(admin_client, jira):
    stream = ValueStreamFactory(slug="payments", workflow=False)
    answer = admin_client.post(
        "/streams/payments/connections/",
        {
            "tool": "jira_cloud",
            "base_url": jira.base_url,
            "username": jira.email,
            "token": jira.token,
            "jql": "project = PAY",
            "rate": "10",
        },
    )
    connection = Connection.objects.get(stream=stream)
    assert answer.status_code == 302 and answer["Location"].endswith(f"/connections/{connection.pk}/")
    assert connection.scope == {"jql": "project = PAY"} and connection.token == jira.token
    assert jira.token not in admin_client.get(answer["Location"]).content.decode()  # never shown again
    answer = admin_client.post(f"/streams/payments/connections/{connection.pk}/test/", follow=True)
    assert "Connected: about 1 issues in scope." in answer.content.decode()
    page = admin_client.get(f"/streams/payments/connections/{connection.pk}/mapping/")
    form = page.context["mapping_form"]
    assert form["status_0_category"].initial == "backlog"  # To Do, from Jira's status category
    data = {name: field.initial if field.initial is not None else "" for name, field in form.fields.items()}
    answer = admin_client.post(f"/streams/payments/connections/{connection.pk}/mapping/", data, follow=True)
    assert "Mapping saved" in answer.content.decode()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE and connection.synced_at is not None  # eager in tests
    assert ImportMapping.objects.filter(stream=stream, source="jira", kind="status", value="In Review").exists()


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"base_url": "ftp://jira.example.com"}, "base_url", "must start with https://"),
        ({"username": ""}, "username", "email of the account"),
        ({"jql": "project = PAY ORDER BY rank"}, "jql", "leave ORDER BY out"),
        ({"jql": "", "filter": "abc"}, "jql", "not a saved filter"),
        ({"token": ""}, "token", "This field is required"),
    ],
)
def test_a_connection_that_cannot_work_is_refused_with_the_reason_and_nothing_saved(admin_client, change, field, words):
    ValueStreamFactory(slug="payments", workflow=False)
    data = {
        "tool": "jira_cloud",
        "base_url": "https://acme.atlassian.net",
        "username": "a@acme.com",
        "token": "t",
        "jql": "project = PAY",
        "rate": "5",
        **change,
    }
    answer = admin_client.post("/streams/payments/connections/", data)
    assert answer.status_code == 422
    assert words in str(answer.context["form"].errors.get(field, "")) + str(answer.context["form"].non_field_errors())
    assert not Connection.objects.exists()


def test_a_viewer_reads_the_sync_health_but_not_the_form(client):
    stream = ValueStreamFactory(slug="payments", workflow=False)
    Connection.objects.create(stream=stream, tool="jira_cloud", base_url="https://acme.atlassian.net")
    client.force_login(UserFactory())
    page = client.get("/streams/payments/connections/")
    assert page.status_code == 200 and page.context["form"] is None
    assert "Jira Cloud" in page.content.decode()
    assert client.post("/streams/payments/connections/", {"tool": "jira_cloud"}).status_code == 403


def test_every_figure_says_where_its_data_comes_from_and_how_fresh_it_is(admin_client):
    stream = ValueStreamFactory(slug="payments", name="Payments")
    synced = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
    Connection.objects.create(
        stream=stream, tool="azure_devops", base_url="https://dev.azure.com/c", status="active", synced_at=synced
    )
    ValueStreamFactory(slug="lending", name="Lending")
    for page in ("/", "/streams/payments/"):
        text = " ".join(strip_tags(admin_client.get(page).content.decode()).split())
        assert "synced 4 minutes ago from Azure DevOps Boards" in text, page
    assert "imported from files" in admin_client.get("/streams/lending/").content.decode()
    sources = admin_client.get("/api/v1/metrics/flow/", {"stream": "payments"}).json()["data_sources"]
    assert sources == [
        {
            "stream": "payments",
            "tool": "azure_devops",
            "status": "active",
            "synced_at": synced.isoformat().replace("+00:00", "Z"),
        }
    ]
    assert admin_client.get("/api/v1/metrics/flow/", {"stream": "lending"}).json()["data_sources"] == []


def test_a_github_repository_is_connected_and_mapped_on_the_pages(admin_client):
    with GitHubServer() as github:
        github.create(1, dt.datetime(2026, 10, 5, tzinfo=dt.UTC), title="Checkout retries")
        stream = ValueStreamFactory(slug="shop", workflow=False)
        answer = admin_client.post(
            "/streams/shop/connections/",
            {
                "tool": "github",
                "base_url": github.base_url,
                "token": github.token,
                "repository": github.repository,
                "rate": "10",
            },
        )
        connection = Connection.objects.get(stream=stream)
        assert answer.status_code == 302 and connection.scope == {"repository": "acme/shop"}
        answer = admin_client.post(f"/streams/shop/connections/{connection.pk}/test/", follow=True)
        assert "Connected: 1 issues in acme/shop." in answer.content.decode()
        form = admin_client.get(f"/streams/shop/connections/{connection.pk}/mapping/").context["mapping_form"]
        data = {name: field.initial if field.initial is not None else "" for name, field in form.fields.items()}
        admin_client.post(f"/streams/shop/connections/{connection.pk}/mapping/", data)
    item = BacklogItem.objects.get(stream=stream, external_key="acme/shop#1")
    assert (item.title, item.state.category) == ("Checkout retries", "backlog")
