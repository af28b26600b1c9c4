"""Webhooks: signed deliveries apply live changes through the services; anything else writes nothing."""

import datetime as dt
import hashlib
import hmac
import io
import json

import pytest

from streams.integrations.jobs import toolchain_import
from streams.integrations.tests.test_toolchain import github, jira
from streams.models import BacklogItem, Deployment, ReadinessCheck, StateTransition
from streams.tests.factories import ReadinessCriterionFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cret-shared-with-the-tool"
UTC = dt.UTC


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.JIRA_WEBHOOK_SECRET = SECRET
    settings.GITHUB_WEBHOOK_SECRET = SECRET


@pytest.fixture
def imported():
    toolchain_import(source="jira", stream_slug="payments", file=io.BytesIO(json.dumps(jira()).encode()))
    toolchain_import(source="github", stream_slug="shop", file=io.BytesIO(json.dumps(github()).encode()))


def sign(body: bytes, secret=SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(client, path, payload, *, header, signature=None, **headers):
    body = json.dumps(payload).encode()
    if signature is None:
        signature = sign(body)
    if signature:
        headers[header] = signature
    return client.post(path, body, content_type="application/json", headers=headers)


def jira_hook(client, payload, **kwargs):
    return deliver(client, "/hooks/jira/", payload, header="X-Hub-Signature", **kwargs)


def github_hook(client, payload, event="issues", **kwargs):
    return deliver(
        client, "/hooks/github/", payload, header="X-Hub-Signature-256", **{"X-GitHub-Event": event}, **kwargs
    )


AT = dt.datetime(2026, 7, 1, 12, 30, tzinfo=UTC)


def status_change(key="PAY-4", to="In Review", at=AT):
    return {
        "timestamp": int(at.timestamp() * 1000),
        "webhookEvent": "jira:issue_updated",
        "issue": {"key": key, "fields": {"summary": None}},
        "changelog": {"items": [{"field": "status", "fromString": "In Progress", "toString": to}]},
    }


def test_a_signed_status_change_is_applied_when_it_happened_and_once(client, imported):
    response = jira_hook(client, status_change())
    assert response.status_code == 200, response.content
    item = BacklogItem.objects.select_related("state").get(external_key="PAY-4")
    assert item.state.name == "In Review"
    last = item.transitions.order_by("-at").first()
    assert (last.at, last.source) == (AT, "webhook")  # the tool's time, not the delivery's
    again = jira_hook(client, status_change())  # tools retry deliveries
    assert again.status_code == 200 and "already in In Review" in again.json()["detail"]
    assert item.transitions.filter(source="webhook").count() == 1


@pytest.mark.parametrize(
    "signature", ["", "sha256=" + "0" * 64, "sha1=abc", sign(b"another body"), sign(b"x", secret="wrong")]
)
def test_a_bad_or_missing_signature_is_refused_and_nothing_is_written(client, imported, signature):
    before = StateTransition.objects.count()
    response = jira_hook(client, status_change(), signature=signature)
    assert response.status_code == 403 and response.json()["code"] == "bad_signature"
    gh = github_hook(client, {"action": "closed", "issue": {"number": 3}}, signature=signature)
    assert gh.status_code == 403
    assert StateTransition.objects.count() == before


def test_without_a_configured_secret_every_delivery_is_refused(client, imported, settings):
    settings.JIRA_WEBHOOK_SECRET = ""
    response = jira_hook(client, status_change(), signature=sign(json.dumps(status_change()).encode(), secret=""))
    assert response.status_code == 403 and "no secret" in response.json()["detail"]
    assert not StateTransition.objects.filter(source="webhook").exists()


def test_an_issue_deleted_in_jira_ends_in_the_streams_removed_state(client, imported):
    payload = {"timestamp": int(AT.timestamp() * 1000), "webhookEvent": "jira:issue_deleted", "issue": {"key": "PAY-4"}}
    response = jira_hook(client, payload)
    assert response.status_code == 200, response.content
    item = BacklogItem.objects.select_related("state").get(external_key="PAY-4")
    assert item.state.category == "removed" and item.transitions.order_by("-at").first().at == AT
    unknown = jira_hook(client, {**payload, "issue": {"key": "PAY-999"}})
    assert unknown.status_code == 200 and "not known here" in unknown.json()["detail"]


def test_a_new_issue_of_an_imported_project_lands_in_its_stream(client, imported):
    payload = {
        "timestamp": int(AT.timestamp() * 1000),
        "webhookEvent": "jira:issue_created",
        "issue": {
            "key": "PAY-99",
            "fields": {
                "summary": "Apple Pay",
                "status": {"name": "To Do"},
                "issuetype": {"name": "Bug"},
                "created": "2026-07-01T12:00:00.000+0000",
                "labels": [],
                "parent": {"key": "PAY-1"},
            },
        },
    }
    assert jira_hook(client, payload).status_code == 200
    item = BacklogItem.objects.get(external_key="PAY-99")
    assert (item.stream.slug, item.flow_type, item.parent.external_key) == ("payments", "defect", "PAY-1")
    assert item.transitions.get().source == "webhook"
    payload["issue"]["key"] = "OTHER-1"
    untracked = jira_hook(client, payload)
    assert untracked.status_code == 202 and not BacklogItem.objects.filter(external_key="OTHER-1").exists()


def test_an_unmapped_status_and_unreadable_bodies_are_clear_errors(client, imported):
    response = jira_hook(client, status_change(to="Parked"))
    assert response.status_code == 422 and "'Parked' has no workflow state in Payments" in response.json()["detail"]
    body = b"not json"
    bad = client.post("/hooks/jira/", body, content_type="application/json", headers={"X-Hub-Signature": sign(body)})
    assert bad.status_code == 400
    assert client.get("/hooks/jira/").status_code == 405
    assert not StateTransition.objects.filter(source="webhook").exists()


def test_the_release_gate_holds_for_webhooks_too(client, imported):
    ReadinessCriterionFactory(name="Support trained", flow_types=["feature"])
    item = BacklogItem.objects.get(external_key="PAY-4")
    from streams.readiness.services import item_readiness_checks_sync

    item_readiness_checks_sync(item=item)
    assert ReadinessCheck.objects.filter(item=item, status="pending").exists()
    response = jira_hook(client, status_change(to="Done"))
    assert response.status_code == 409 and "Support trained" in response.json()["detail"]
    assert BacklogItem.objects.get(pk=item.pk).state.name == "In Progress"


def test_github_closes_and_reopens_issues(client, imported):
    closed = {
        "action": "closed",
        "issue": {
            "number": 3,
            "repository_url": "https://api.github.com/repos/acme/shop",
            "state": "closed",
            "state_reason": "completed",
            "closed_at": "2026-07-02T10:00:00Z",
        },
    }
    assert github_hook(client, closed).status_code == 200
    item = BacklogItem.objects.get(external_key="acme/shop#3")
    assert item.state.name == "Closed" and item.finished_at == dt.datetime(2026, 7, 2, 10, tzinfo=UTC)
    reopened = {**closed, "action": "reopened", "issue": {**closed["issue"], "updated_at": "2026-07-03T09:00:00Z"}}
    assert github_hook(client, reopened).status_code == 200
    item.refresh_from_db()
    assert item.state.name == "Open" and item.finished_at is None
    assert github_hook(client, {"zen": "Keep it simple."}, event="ping").json()["detail"] == "pong"
    assert github_hook(client, {"action": "opened"}, event="push").status_code == 202


# --- GitHub deployments -------------------------------------------------------------------------

DEPLOYED_AT = dt.datetime(2026, 7, 2, 10, 0, tzinfo=UTC)


def gh_deployment(deployment_id=9001, *, payload=None, environment="production"):
    return {
        "id": deployment_id,
        "sha": "4f9c1e2ab7d03c5e9f1a",
        "ref": "v2.3.0",
        "environment": environment,
        "created_at": DEPLOYED_AT.isoformat().replace("+00:00", "Z"),
        "payload": payload if payload is not None else {},
    }


def deployment_event(deployment_id=9001, **kwargs):
    return {
        "action": "created",
        "deployment": gh_deployment(deployment_id, **kwargs),
        "repository": {"full_name": "acme/shop"},
    }


def status_event(state, minutes_after=15, **kwargs):
    at = (DEPLOYED_AT + dt.timedelta(minutes=minutes_after)).isoformat().replace("+00:00", "Z")
    return deployment_event(**kwargs) | {"deployment_status": {"state": state, "created_at": at, "updated_at": at}}


def test_github_deployments_are_recorded_then_finished_by_their_status(client, imported):
    assert github_hook(client, deployment_event(), event="deployment").status_code == 200
    record = Deployment.objects.get()
    assert (record.stream.slug, record.service, record.environment, record.version) == (
        "shop",
        "shop",
        "production",
        "v2.3.0",
    )
    assert (record.status, record.finished_at, record.source, record.external_id) == (
        "in_progress",
        None,
        "github",
        "9001",
    )
    answer = github_hook(client, status_event("success"), event="deployment_status")
    assert answer.status_code == 200 and "updated: Succeeded" in answer.json()["detail"]
    record.refresh_from_db()
    assert record.status == "success" and record.finished_at == DEPLOYED_AT + dt.timedelta(minutes=15)
    versions = record.history.count()
    # Retried and late deliveries change nothing: not the same outcome again, not "running" again,
    # not an older outcome.
    assert github_hook(client, status_event("success"), event="deployment_status").status_code == 200
    assert github_hook(client, deployment_event(), event="deployment").status_code == 200
    assert github_hook(client, status_event("in_progress", 5), event="deployment_status").status_code == 200
    assert github_hook(client, status_event("failure", 10), event="deployment_status").status_code == 200
    record.refresh_from_db()
    assert record.status == "success" and record.history.count() == versions
    # A later failure (a re-run that broke) is the outcome that stands.
    assert github_hook(client, status_event("error", 40), event="deployment_status").status_code == 200
    record.refresh_from_db()
    assert record.status == "failure" and record.finished_at == DEPLOYED_AT + dt.timedelta(minutes=40)


def test_a_status_that_arrives_first_records_the_whole_deployment(client, imported):
    assert github_hook(client, status_event("failure"), event="deployment_status").status_code == 200
    assert github_hook(client, deployment_event(), event="deployment").status_code == 200
    record = Deployment.objects.get()
    assert record.status == "failure" and record.finished_at == DEPLOYED_AT + dt.timedelta(minutes=15)


def test_the_deployment_payload_names_the_stream_and_the_items_shipped(client, imported):
    shipped = BacklogItem.objects.filter(stream__slug="shop").order_by("pk")[:2]
    keys = [item.external_key for item in shipped]
    event = deployment_event(payload={"stream": "payments", "items": keys, "service": "web"})
    answer = github_hook(client, event, event="deployment")
    assert answer.status_code == 422 and "Payments has no item" in answer.json()["detail"]
    assert not Deployment.objects.exists()
    answer = github_hook(client, deployment_event(payload={"stream": "shop", "items": keys}), event="deployment")
    assert answer.status_code == 200
    assert sorted(Deployment.objects.get().items.values_list("external_key", flat=True)) == sorted(keys)
    unknown = github_hook(client, deployment_event(9002, payload='{"stream": "nope"}'), event="deployment")
    assert unknown.status_code == 422 and "'nope'" in unknown.json()["detail"]


def test_untracked_repositories_inactive_statuses_and_bad_signatures_write_nothing(client, imported):
    stranger = deployment_event() | {"repository": {"full_name": "acme/elsewhere"}}
    answer = github_hook(client, stranger, event="deployment")
    assert answer.status_code == 202 and "not linked to a value stream" in answer.json()["detail"]
    assert github_hook(client, status_event("inactive"), event="deployment_status").status_code == 202
    assert github_hook(client, status_event("exploded"), event="deployment_status").status_code == 400
    assert github_hook(client, {"deployment": {"id": "x"}}, event="deployment").status_code == 400
    forged = github_hook(client, deployment_event(), event="deployment", signature="sha256=" + "0" * 64)
    assert forged.status_code == 403
    assert not Deployment.objects.exists()
