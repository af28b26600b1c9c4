"""Webhook deliveries a hostile or broken sender tried (issue 23): signed bodies of every wrong
shape get a JSON 400 naming what is wrong, oversized ones a JSON 413, and replayed or stale
deliveries change nothing the portal already holds from a newer event. The REST API's JSON
bodies get the same bounds."""

import datetime as dt
import io
import json
import threading

from django.db import connection
from django.test import Client
from django.utils import timezone
import pytest

from portal.tokens import token_create
from streams.backlog.services import item_update
from streams.integrations.jobs import toolchain_import
from streams.integrations.tests.test_hooks import AT, SECRET, github_hook, jira_hook, sign, status_change
from streams.integrations.tests.test_toolchain import github, jira
from streams.models import BacklogItem, Deployment, StateTransition, ValueStream, WebhookDelivery, WorkflowState

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MB = 1024 * 1024
JIRA_ID = "X-Atlassian-Webhook-Identifier"
GITHUB_ID = "X-GitHub-Delivery"
HOOKS = {
    "jira": ("/hooks/jira/", "X-Hub-Signature", {}),
    "github": ("/hooks/github/", "X-Hub-Signature-256", {"X-GitHub-Event": "issues"}),
}


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.JIRA_WEBHOOK_SECRET = SECRET
    settings.GITHUB_WEBHOOK_SECRET = SECRET


@pytest.fixture
def imported():
    """Payments holds Jira's PAY-1..13, Shop GitHub's acme/shop#1..13 (as in test_hooks)."""
    toolchain_import(source="jira", stream_slug="payments", file=io.BytesIO(json.dumps(jira()).encode()))
    toolchain_import(source="github", stream_slug="shop", file=io.BytesIO(json.dumps(github()).encode()))


def deliver_raw(client, hook: str, body: bytes, **extra):
    """A signed delivery of exactly these bytes (which need not be JSON)."""
    path, header, headers = HOOKS[hook]
    return client.post(path, body, content_type="application/json", headers={header: sign(body), **headers}, **extra)


def assert_json_refusal(response, status: int, code: str, *words: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json", response.content[:500]
    body = response.json()
    assert body["code"] == code, body
    for word in words:
        assert word in body["detail"], body
    return body


def ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def jira_new_issue(**fields) -> dict:
    return {
        "timestamp": ms(AT),
        "webhookEvent": "jira:issue_created",
        "issue": {
            "key": "PAY-99",
            "fields": {
                "summary": "Apple Pay",
                "status": {"name": "To Do"},
                "issuetype": {"name": "Story"},
                "created": "2026-07-01T12:00:00.000+0000",
                "labels": [],
            }
            | fields,
        },
    }


def title_change(title: str, at: dt.datetime, key: str = "PAY-4") -> dict:
    return {
        "timestamp": ms(at),
        "webhookEvent": "jira:issue_updated",
        "issue": {"key": key, "fields": {"summary": title}},
        "changelog": {"items": [{"field": "summary", "fromString": "", "toString": title}]},
    }


def github_issue(number=3, action="edited", **fields) -> dict:
    issue = {
        "number": number,
        "repository_url": "https://api.github.com/repos/acme/shop",
        "title": "Address form",
        "created_at": "2026-07-01T11:00:00Z",
        "updated_at": "2026-07-01T11:00:00Z",
    }
    return {"action": action, "issue": issue | fields}


def nothing_written():
    return (
        StateTransition.objects.filter(source="webhook").count(),
        BacklogItem.objects.filter(external_key__in=["PAY-99", "acme/shop#99"]).count(),
        Deployment.objects.count(),
    )


# --- Finding 6: malformed signed bodies ---------------------------------------------------------


@pytest.mark.parametrize("hook", ["jira", "github"])
def test_deeply_nested_signed_body_is_a_json_400(client, imported, hook):
    response = deliver_raw(client, hook, b"[" * 200_000)
    assert_json_refusal(response, 400, "invalid", "nested")
    closed = b'{"a": ' * 100_000 + b"1" + b"}" * 100_000  # well formed, only too deep
    assert_json_refusal(deliver_raw(client, hook, closed), 400, "invalid", "nested")


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_a_bare_nan_or_infinite_timestamp_is_a_json_400(client, imported, constant):
    body = json.dumps(status_change()).encode().replace(str(ms(AT)).encode(), constant)
    assert constant in body
    assert_json_refusal(deliver_raw(client, "jira", body), 400, "invalid")
    assert BacklogItem.objects.get(external_key="PAY-4").state.name == "In Progress"


@pytest.mark.parametrize(
    "timestamp",
    [1e300, -1e300, 10**30, 0, ms(dt.datetime(1999, 12, 31, 23, 59, tzinfo=UTC)), True, "soon", None, [1]],
)
def test_a_jira_timestamp_out_of_range_or_of_the_wrong_type_is_a_json_400_naming_it(client, imported, timestamp):
    payload = status_change() | {"timestamp": timestamp}
    assert_json_refusal(jira_hook(client, payload), 400, "invalid", "timestamp")
    assert not StateTransition.objects.filter(source="webhook").exists()


def test_a_jira_timestamp_years_in_the_future_is_a_json_400_naming_it(client, imported):
    payload = status_change(at=dt.datetime(2999, 1, 1, tzinfo=UTC))
    assert_json_refusal(jira_hook(client, payload), 400, "invalid", "timestamp", "future")


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (jira_new_issue(status="Done"), "issue.fields.status"),
        (jira_new_issue(status={"name": 7}), "issue.fields.status.name"),
        (jira_new_issue(issuetype="Bug"), "issue.fields.issuetype"),
        (jira_new_issue(labels="bug"), "issue.fields.labels"),
        (jira_new_issue(labels=[{"name": "bug"}]), "issue.fields.labels[0]"),
        (jira_new_issue(parent="PAY-1"), "issue.fields.parent"),
        (jira_new_issue(parent={"key": ["PAY-1"]}), "issue.fields.parent.key"),
        (jira_new_issue(summary={"text": "Apple Pay"}), "issue.fields.summary"),
        (jira_new_issue(created=1_000), "issue.fields.created"),
        (jira_new_issue(created="1999-12-31T23:00:00.000+0000"), "issue.fields.created"),
        (jira_new_issue(created="0001-01-01T00:00:00+00:00"), "issue.fields.created"),
        (jira_new_issue(created="0001-01-01T00:00:00+14:00"), "issue.fields.created"),
        (jira_new_issue(created="9999-12-31T23:59:59-05:00"), "issue.fields.created"),
        (jira_new_issue(created="2026-07-01"), "issue.fields.created"),
        (jira_new_issue(summary="Apple\x00Pay"), "issue.fields.summary"),
        (jira_new_issue(summary="Apple \ud800 Pay"), "issue.fields.summary"),
        (jira_new_issue() | {"issue": {"key": "PAY-99", "fields": ["summary"]}}, "issue.fields"),
        (jira_new_issue() | {"issue": "PAY-99"}, "issue"),
        (jira_new_issue() | {"issue": {"key": "PAY-" + "9" * 120, "fields": {}}}, "issue.key"),
        (jira_new_issue() | {"issue": {"key": 99, "fields": {}}}, "issue.key"),
        (jira_new_issue() | {"webhookEvent": ["jira:issue_created"]}, "webhookEvent"),
        (status_change() | {"changelog": [{"field": "status", "toString": "Done"}]}, "changelog"),
        (status_change() | {"changelog": {"items": {"field": "status"}}}, "changelog.items"),
        (status_change() | {"changelog": {"items": ["status"]}}, "changelog.items[0]"),
        (status_change() | {"changelog": {"items": [{"field": "status", "toString": 5}]}}, "items[0].toString"),
        (status_change() | {"changelog": {"items": [{"field": "status", "toString": None}]}}, "toString"),
        (status_change() | {"changelog": {"items": [{"field": ["status"], "toString": "Done"}]}}, "field"),
        (status_change() | {"issue": {"key": "PAY-4", "fields": {"summary": 5}}}, "issue.fields.summary"),
    ],
)
def test_malformed_shapes_in_a_signed_jira_delivery_are_json_400s_naming_the_path(client, imported, payload, path):
    before = nothing_written()
    assert_json_refusal(jira_hook(client, payload), 400, "invalid", path)
    assert nothing_written() == before
    assert BacklogItem.objects.get(external_key="PAY-4").title == "Tokenise card details with the vault provider"


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"action": "opened", "issue": "acme/shop#99"}, "issue"),
        (github_issue(99, "opened", type="Bug"), "issue.type"),
        (github_issue(99, "opened", type={"name": 1}), "issue.type.name"),
        (github_issue(99, "opened", labels=5), "issue.labels"),
        (github_issue(99, "opened", labels=[7]), "issue.labels[0]"),
        (github_issue(99, "opened", labels=[{"name": ["bug"]}]), "issue.labels[0].name"),
        (github_issue(99, "opened", created_at=1e300), "issue.created_at"),
        (github_issue(99, "opened", created_at=1_700_000_000), "issue.created_at"),
        (github_issue(99, "opened", created_at="1970-01-01T00:00:00Z"), "issue.created_at"),
        (github_issue(99, "opened", title=["Bug"]), "issue.title"),
        (github_issue(99, "opened", repository_url=None) | {"repository": "acme/shop"}, "repository"),
        (github_issue(99, "opened", repository_url=5), "issue.repository_url"),
        (github_issue(3, "edited", title=5, updated_at="2026-07-01T12:00:00Z"), "issue.title"),
        (github_issue(3, "edited", updated_at=None), "issue.updated_at"),
        (github_issue(3, "closed", closed_at="1999-01-01T00:00:00Z"), "issue.closed_at"),
        (github_issue(3, "closed", closed_at="2026-07-02T10:00:00Z", state_reason=["not_planned"]), "state_reason"),
        (github_issue(3, "reopened", updated_at={"at": 1}), "issue.updated_at"),
        (github_issue(3, ["closed"]), "action"),
    ],
)
def test_malformed_shapes_in_a_signed_github_issue_delivery_are_json_400s_naming_the_path(
    client, imported, payload, path
):
    before = nothing_written()
    assert_json_refusal(github_hook(client, payload), 400, "invalid", path)
    assert nothing_written() == before
    assert BacklogItem.objects.get(external_key="acme/shop#3").title == "Guest checkout: validate the address form"


def deployment(**fields) -> dict:
    body = {
        "id": 9001,
        "sha": "4f9c1e2ab7d03c5e9f1a",
        "ref": "v2.3.0",
        "environment": "production",
        "created_at": "2026-07-02T10:00:00Z",
        "payload": {},
    }
    return {"action": "created", "deployment": body | fields, "repository": {"full_name": "acme/shop"}}


def finished(state="success", **report) -> dict:
    return deployment() | {"deployment_status": {"state": state, "created_at": "2026-07-02T10:15:00Z"} | report}


@pytest.mark.parametrize(
    ("event", "payload", "path"),
    [
        ("deployment_status", finished(["success"]), "deployment_status.state"),
        ("deployment_status", finished({"state": "success"}), "deployment_status.state"),
        ("deployment_status", finished(created_at=1e300), "deployment_status.created_at"),
        ("deployment_status", deployment() | {"deployment_status": "success"}, "deployment_status"),
        ("deployment", deployment(created_at=1e300), "deployment.created_at"),
        ("deployment", deployment(created_at="1999-12-31T00:00:00Z"), "deployment.created_at"),
        ("deployment", deployment(id=True), "deployment.id"),
        ("deployment", deployment(environment={"name": "prod"}), "deployment.environment"),
        ("deployment", deployment(sha=12345), "deployment.sha"),
        ("deployment", deployment(ref=["main"]), "deployment.ref"),
        ("deployment", deployment(payload='{"a": ' * 100_000 + "1" + "}" * 100_000), "deployment.payload"),
        ("deployment", deployment(payload='{"stream": NaN}'), "deployment.payload"),
        ("deployment", deployment(payload=[1]), "deployment.payload"),
        ("deployment", deployment(payload={"stream": ["shop"]}), "deployment.payload.stream"),
        ("deployment", deployment(payload={"service": {"name": "web"}}), "deployment.payload.service"),
        ("deployment", deployment(payload={"items": "acme/shop#3"}), "deployment.payload.items"),
        ("deployment", deployment(payload={"items": [3]}), "deployment.payload.items[0]"),
        ("deployment", deployment() | {"repository": "acme/shop"}, "repository"),
        ("deployment", deployment() | {"repository": {"full_name": 7}}, "repository.full_name"),
        ("deployment", deployment() | {"deployment": [9001]}, "deployment"),
    ],
)
def test_malformed_shapes_in_a_signed_github_deployment_delivery_are_json_400s_naming_the_path(
    client, imported, event, payload, path
):
    assert_json_refusal(github_hook(client, payload, event=event), 400, "invalid", path)
    assert not Deployment.objects.exists()


def test_the_documented_shapes_still_apply_after_the_checks(client, imported):
    """Nulls where the tools send them (no parent, no type, no labels) are not malformed."""
    payload = jira_new_issue(parent=None, issuetype=None, labels=None, summary=None)
    response = jira_hook(client, payload)
    assert response.status_code == 200, response.json()
    assert BacklogItem.objects.get(external_key="PAY-99").title == "PAY-99"
    opened = github_issue(99, "opened", type=None, labels=[{"name": "bug"}])
    assert github_hook(client, opened).status_code == 200
    assert BacklogItem.objects.get(external_key="acme/shop#99").flow_type == "defect"


def test_rich_text_nested_a_hundred_levels_deep_is_still_read(client, imported):
    """Jira's rich text (ADF) nests lists in lists; the bound is far above what a tool sends."""
    description = {"type": "text", "text": "innermost"}
    for _ in range(50):  # 100 levels: an object and its content list each
        description = {"type": "bulletList", "content": [description]}
    payload = status_change()
    payload["issue"]["fields"]["description"] = description
    response = jira_hook(client, payload)
    assert response.status_code == 200, response.json()
    assert BacklogItem.objects.get(external_key="PAY-4").state.name == "In Review"


# --- Finding 6: sizes -------------------------------------------------------------------------


def padded(payload: dict, size: int) -> bytes:
    body = json.dumps(payload | {"padding": ""}).encode()
    return body.replace(b'"padding": ""', b'"padding": "' + b"x" * (size - len(body)) + b'"')


def test_a_3_mb_signed_delivery_is_applied_not_an_html_error(client, imported):
    body = padded(status_change(), 3 * MB)
    assert len(body) == 3 * MB
    response = deliver_raw(client, "jira", body)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["code"] == "applied"
    assert BacklogItem.objects.get(external_key="PAY-4").state.name == "In Review"


def test_a_delivery_of_exactly_the_documented_limit_is_read(client, imported):
    response = deliver_raw(client, "jira", padded(status_change(), 5 * MB))
    assert response.status_code == 200, response.content[:300]


@pytest.mark.parametrize("hook", ["jira", "github"])
def test_a_signed_delivery_over_the_documented_limit_is_a_json_413(client, imported, hook):
    body = padded(status_change(), 5 * MB + 1)
    assert_json_refusal(deliver_raw(client, hook, body), 413, "too_large", "5 MB")
    assert not StateTransition.objects.filter(source="webhook").exists()


def test_a_delivery_whose_content_length_hides_its_size_is_read_only_up_to_the_limit(client, imported):
    body = padded(status_change(), 6 * MB)
    # "+6291456" is a length the WSGI layer honours but that is not all digits.
    response = deliver_raw(client, "jira", body, CONTENT_LENGTH=f"+{len(body)}")
    assert_json_refusal(response, 413, "too_large")
    assert not StateTransition.objects.filter(source="webhook").exists()


def test_an_empty_delivery_is_a_json_400(client, imported):
    assert_json_refusal(deliver_raw(client, "jira", b""), 400, "invalid", "empty")


# --- Finding 7: replays and stale events ---------------------------------------------------------


def test_a_repeated_jira_delivery_id_changes_nothing_the_second_time(client, imported):
    first = jira_hook(client, title_change("Vault tokens", AT), **{JIRA_ID: "delivery-1"})
    assert first.status_code == 200 and first.json()["code"] == "applied"
    item = BacklogItem.objects.get(external_key="PAY-4")
    assert item.title == "Vault tokens"
    item_update(item=item, title="Renamed on the page")
    again = jira_hook(client, title_change("Vault tokens", AT), **{JIRA_ID: "delivery-1"})
    assert again.status_code == 200 and again.json()["code"] == "duplicate", again.json()
    assert BacklogItem.objects.get(pk=item.pk).title == "Renamed on the page"
    assert WebhookDelivery.objects.filter(source="jira", delivery_id="delivery-1", status=200).count() == 1


def test_a_repeated_github_delivery_id_changes_nothing_the_second_time(client, imported):
    edited = github_issue(title="Address form v2", updated_at="2026-07-01T12:00:00Z")
    assert github_hook(client, edited, **{GITHUB_ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958"}).status_code == 200
    item = BacklogItem.objects.get(external_key="acme/shop#3")
    assert item.title == "Address form v2"
    item_update(item=item, title="Renamed on the page")
    again = github_hook(client, edited, **{GITHUB_ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958"})
    assert again.status_code == 200 and again.json()["code"] == "duplicate"
    assert BacklogItem.objects.get(pk=item.pk).title == "Renamed on the page"
    # The same id from the other tool is another delivery.
    assert jira_hook(client, status_change(), **{JIRA_ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958"}).json()["code"] == (
        "applied"
    )


@pytest.mark.django_db(transaction=True)
def test_the_same_delivery_arriving_twice_at_once_is_applied_once(imported):
    """Two workers receive one delivery together: the item's lock and the delivery id's unique
    row make one apply it and the other answer "duplicate"."""
    barrier = threading.Barrier(2)
    answers = []

    def receive():
        try:
            barrier.wait()
            answers.append(jira_hook(Client(), status_change(), **{JIRA_ID: "together"}).json()["code"])
        finally:
            connection.close()

    workers = [threading.Thread(target=receive) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(answers) == ["applied", "duplicate"]
    item = BacklogItem.objects.get(external_key="PAY-4")
    assert item.state.name == "In Review" and item.transitions.filter(source="webhook").count() == 1
    assert WebhookDelivery.objects.filter(delivery_id="together").count() == 1


def test_replayed_jira_delivery_does_not_revert_a_newer_title(client, imported):
    older = title_change("Tokenise cards", AT - dt.timedelta(hours=1))
    assert jira_hook(client, older, **{JIRA_ID: "older"}).status_code == 200
    assert jira_hook(client, title_change("Vault tokens", AT), **{JIRA_ID: "newer"}).status_code == 200
    item = BacklogItem.objects.get(external_key="PAY-4")
    assert (item.title, item.source_updated_at) == ("Vault tokens", AT)
    versions = item.history.count()
    # The old event again, under a new delivery id (a replay after the ids were pruned, or a forger
    # who holds one old signed body): kept, and said so.
    replay = jira_hook(client, older, **{JIRA_ID: "older-again"})
    assert replay.status_code == 200, replay.json()
    assert "older than what the portal holds; kept" in replay.json()["detail"]
    item.refresh_from_db()
    assert (item.title, item.source_updated_at) == ("Vault tokens", AT)
    assert item.history.count() == versions
    # Without any delivery id at all the newer-wins rule holds too.
    assert jira_hook(client, older).status_code == 200
    assert BacklogItem.objects.get(pk=item.pk).title == "Vault tokens"


def test_a_stale_jira_status_change_is_kept_and_answered_200_not_409(client, imported):
    assert jira_hook(client, status_change(to="In Review", at=AT)).status_code == 200
    stale = jira_hook(client, status_change(to="Done", at=AT - dt.timedelta(minutes=5)))
    assert stale.status_code == 200, stale.json()
    assert "older than what the portal holds; kept" in stale.json()["detail"]
    item = BacklogItem.objects.get(external_key="PAY-4")
    assert item.state.name == "In Review" and item.transitions.filter(source="webhook").count() == 1


def test_an_older_github_edit_does_not_revert_a_newer_title(client, imported):
    newer = github_issue(title="Validate the address form", updated_at="2026-07-01T12:00:00Z")
    older = github_issue(title="Address form (draft)", updated_at="2026-06-30T12:00:00Z")
    assert github_hook(client, newer).status_code == 200
    kept = github_hook(client, older)
    assert kept.status_code == 200 and "older than what the portal holds; kept" in kept.json()["detail"]
    item = BacklogItem.objects.get(external_key="acme/shop#3")
    assert item.title == "Validate the address form"
    assert item.source_updated_at == dt.datetime(2026, 7, 1, 12, tzinfo=UTC)
    # A stale reopen after a newer close is kept too.
    closed = github_issue(action="closed", closed_at="2026-07-02T10:00:00Z", state_reason="completed")
    assert github_hook(client, closed).status_code == 200
    reopened = github_hook(client, github_issue(action="reopened", updated_at="2026-07-01T13:00:00Z"))
    assert reopened.status_code == 200 and "kept" in reopened.json()["detail"]
    assert BacklogItem.objects.get(pk=item.pk).state.name == "Closed"


def test_a_refused_delivery_is_not_marked_seen_and_its_retry_is_applied(client, imported):
    refused = jira_hook(client, status_change(to="Parked"), **{JIRA_ID: "delivery-7"})
    assert refused.status_code == 422
    assert not WebhookDelivery.objects.exists()
    assert BacklogItem.objects.get(external_key="PAY-4").source_updated_at is None  # nothing written
    stream = ValueStream.objects.get(slug="payments")
    WorkflowState.objects.create(stream=stream, name="Parked", category="waiting", order=35)
    retried = jira_hook(client, status_change(to="Parked"), **{JIRA_ID: "delivery-7"})
    assert retried.status_code == 200 and retried.json()["code"] == "applied", retried.json()
    assert BacklogItem.objects.get(external_key="PAY-4").state.name == "Parked"
    assert WebhookDelivery.objects.get().delivery_id == "delivery-7"


def test_a_new_issue_from_a_webhook_remembers_the_event_time(client, imported):
    assert jira_hook(client, jira_new_issue(), **{JIRA_ID: "created-1"}).status_code == 200
    item = BacklogItem.objects.get(external_key="PAY-99")
    assert item.source_updated_at == AT
    older = title_change("Apple Pay (old)", AT - dt.timedelta(minutes=1), key="PAY-99")
    assert jira_hook(client, older).status_code == 200
    assert BacklogItem.objects.get(pk=item.pk).title == "Apple Pay"


# --- Finding 6: the REST API's JSON bodies (needs DEFAULT_PARSER_CLASSES = BoundedJSONParser) ----

ITEMS = "/api/v1/items/"


@pytest.fixture
def token(admin_user):
    return token_create(user=admin_user, name="hostile bodies")[1]


def api_post(client, token, body: bytes):
    return client.post(ITEMS, body, content_type="application/json", headers={"Authorization": f"Token {token}"})


def test_a_deeply_nested_json_body_to_the_api_is_a_json_400(client, token):
    response = api_post(client, token, b"[" * 200_000)
    assert_json_refusal(response, 400, "parse_error", "nested")
    closed = b'{"a": ' * 5_000 + b"1" + b"}" * 5_000
    assert_json_refusal(api_post(client, token, closed), 400, "parse_error", "nested")


def test_nan_in_an_api_body_is_a_json_400(client, token):
    response = api_post(client, token, b'{"stream": "payments", "title": "T", "size": NaN}')
    assert_json_refusal(response, 400, "parse_error", "NaN")


def test_an_api_body_over_the_upload_limit_is_a_json_413(client, token, settings):
    body = padded({"stream": "payments", "title": "Big"}, 3 * MB)
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    before = BacklogItem.objects.count()
    assert_json_refusal(api_post(client, token, body), 413, "too_large", "2.5 MB")
    assert BacklogItem.objects.count() == before
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * MB  # the limit is the setting's
    response = api_post(client, token, body)
    assert response.status_code == 400 and response.json()["code"] == "invalid"  # no such stream: read and checked


def test_a_deeply_nested_body_to_the_deployments_api_is_a_json_400(client, token):
    """/api/v1/deployments/ and /api/v1/incidents/ name their parser themselves (DeliveryRecordViewSet)."""
    for url in ("/api/v1/deployments/", "/api/v1/incidents/"):
        response = client.post(
            url, b"[" * 200_000, content_type="application/json", headers={"Authorization": f"Token {token}"}
        )
        assert_json_refusal(response, 400, "parse_error", "nested")


def test_delivery_records_older_than_a_month_are_pruned_by_the_daily_task():
    from streams.integrations.tasks import prune_webhook_deliveries

    now = timezone.now()
    WebhookDelivery.objects.create(source="github", delivery_id="old", received_at=now - dt.timedelta(days=31))
    WebhookDelivery.objects.create(source="github", delivery_id="recent", received_at=now - dt.timedelta(days=3))
    assert prune_webhook_deliveries.delay().get() == 1
    assert list(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == ["recent"]
