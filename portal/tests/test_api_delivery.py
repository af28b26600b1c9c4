"""/api/v1/deployments/ and /api/v1/incidents/: what pipelines and incident tools post.

Writes are validated by field (end before start, unknown stream, items outside the stream),
idempotent by external id (a repeat updates), allowed only to those who may change the
stream's backlog, and lists cost the same number of queries whatever their length."""

import datetime as dt

from django.db import reset_queries
import pytest
from rest_framework.test import APIClient

from core import access
from portal.tests.api_helpers import api_for, member_of
from portal.tokens import token_create
from streams.backlog.services import item_create
from streams.models import Deployment, DeploymentItem, Incident
from streams.tests.factories import ValueStreamFactory
from teams.tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

DEPLOYMENTS, INCIDENTS = "/api/v1/deployments/", "/api/v1/incidents/"
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def world():
    team = TeamFactory(name="Checkout", slug="checkout")
    payments = ValueStreamFactory(name="Payments", slug="payments")
    payments.teams.add(team)
    lending = ValueStreamFactory(name="Lending", slug="lending")
    owner = member_of(team, access.PRODUCT_OWNER, username="olivia")
    refunds = item_create(
        stream_id=payments.pk, title="Refunds", flow_type="feature", external_key="PAY-1", via="import"
    )
    receipts = item_create(stream_id=payments.pk, title="Receipts", flow_type="feature")
    loan = item_create(stream_id=lending.pk, title="Top-up", flow_type="feature", external_key="LEN-1", via="import")
    return {
        "payments": payments,
        "lending": lending,
        "owner": owner,
        "viewer": UserFactory(username="vic", roles=[access.VIEWER]),
        "items": (refunds, receipts, loan),
    }


def deployment(**overrides) -> dict:
    return {
        "stream": "payments",
        "service": "checkout-api",
        "environment": "production",
        "started_at": iso(T0),
        "finished_at": iso(T0 + dt.timedelta(minutes=12)),
        "status": "success",
        "version": "1.4.0",
        "external_id": "run-100",
    } | overrides


def test_a_pipeline_posts_a_deployment_then_its_outcome_and_gets_one_record(world):
    refunds, receipts, _ = world["items"]
    api = api_for(world["owner"])
    started = api.post(
        DEPLOYMENTS,
        deployment(status="in_progress", finished_at=None, items=[{"item": "PAY-1"}]),
        format="json",
    )
    assert started.status_code == 201, started.json()
    body = started.json()
    assert started["Location"].endswith(f"{DEPLOYMENTS}{body['id']}/")
    assert (body["status"], body["finished_at"], body["source"]) == ("in_progress", None, "api")
    assert body["items"] == [{"item": refunds.pk, "key": "PAY-1", "first_commit_at": None}]

    commit = iso(T0 - dt.timedelta(hours=30))
    finished = api.post(
        DEPLOYMENTS,
        deployment(items=[{"item": "PAY-1", "first_commit_at": commit}, {"item": f"#{receipts.pk}"}]),
        format="json",
    )
    assert finished.status_code == 200, finished.json()
    assert finished.json()["id"] == body["id"]
    record = Deployment.objects.get()
    assert record.status == "success" and record.finished_at == T0 + dt.timedelta(minutes=12)
    assert dict(DeploymentItem.objects.values_list("item_id", "first_commit_at")) == {
        refunds.pk: T0 - dt.timedelta(hours=30),
        receipts.pk: None,
    }
    # A retry of the same delivery changes nothing; one without items keeps them.
    again = api.post(DEPLOYMENTS, deployment(), format="json")
    assert again.status_code == 200 and len(again.json()["items"]) == 2
    assert Deployment.objects.count() == 1
    assert record.history.count() == 2  # created, then finished: the retry wrote no new version
    assert record.history.first().history_user == world["owner"]


def test_without_an_external_id_every_post_is_a_new_deployment(world):
    api = api_for(world["owner"])
    for _ in range(2):
        assert api.post(DEPLOYMENTS, deployment(external_id=""), format="json").status_code == 201
    assert Deployment.objects.count() == 2


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"finished_at": iso(T0 - dt.timedelta(minutes=1))}, "finished_at", "cannot finish (2026-11-02 08:59 UTC)"),
        ({"stream": "nope"}, "stream", "No value stream has the slug “nope”"),
        ({"status": "in_progress"}, "finished_at", "in progress has no finish time"),
        ({"finished_at": None}, "finished_at", "succeeded needs its finish time"),
        ({"started_at": "2026-11-02T09:00:00"}, "started_at", "no UTC offset"),
        ({"status": "rolled_back"}, "status", "not a valid choice"),
        ({"items": [{"item": "LEN-1"}, {"item": "PAY-9"}]}, "items", "Payments has no item LEN-1, PAY-9"),
        (
            {"items": [{"item": "PAY-1", "first_commit_at": iso(T0 + dt.timedelta(hours=1))}]},
            "items",
            "after the deployment finished",
        ),
        ({"service": ""}, "service", "may not be blank"),
    ],
)
def test_bad_deployments_are_refused_by_field_and_write_nothing(world, changes, field, words):
    response = api_for(world["owner"]).post(DEPLOYMENTS, deployment(**changes), format="json")
    assert response.status_code == 400, response.json()
    assert words in " ".join(response.json()["errors"][field])
    assert not Deployment.objects.exists() and not DeploymentItem.objects.exists()


def test_a_refused_repeat_leaves_the_first_record_as_it_was(world):
    api = api_for(world["owner"])
    assert api.post(DEPLOYMENTS, deployment(items=[{"item": "PAY-1"}]), format="json").status_code == 201
    bad = api.post(DEPLOYMENTS, deployment(version="2.0", items=[{"item": "PAY-404"}]), format="json")
    assert bad.status_code == 400
    record = Deployment.objects.get()
    assert record.version == "1.4.0" and list(record.items.values_list("external_key", flat=True)) == ["PAY-1"]


def test_only_those_who_may_change_the_backlog_record_deliveries(world):
    viewer = api_for(world["viewer"])
    assert viewer.get(DEPLOYMENTS).status_code == 200
    denied = viewer.post(DEPLOYMENTS, deployment(), format="json")
    assert denied.status_code == 403 and "may not record deployments of Payments" in denied.json()["detail"]
    other = api_for(world["owner"]).post(DEPLOYMENTS, deployment(stream="lending"), format="json")
    assert other.status_code == 403
    assert APIClient().post(DEPLOYMENTS, deployment(), format="json").status_code == 401
    assert not Deployment.objects.exists()


def test_a_token_lets_a_pipeline_post(world):
    _, key = token_create(user=world["owner"], name="pipeline")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.post(DEPLOYMENTS, deployment(), format="json").status_code == 201


def test_incidents_name_their_cause_by_id_or_external_id_and_update_by_their_own(world):
    api = api_for(world["owner"])
    cause = api.post(DEPLOYMENTS, deployment(), format="json").json()
    opened = T0 + dt.timedelta(hours=1)
    incident = {
        "stream": "payments",
        "title": "Card payments failing",
        "severity": "sev1",
        "opened_at": iso(opened),
        "caused_by_external_id": "run-100",
        "external_id": "INC-7",
        "items": ["PAY-1"],
    }
    created = api.post(INCIDENTS, incident, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["caused_by"], body["restore_hours"], body["items"]) == (cause["id"], None, [world["items"][0].pk])

    resolved = api.post(
        INCIDENTS,
        {k: v for k, v in incident.items() if k not in ("caused_by_external_id", "items")}
        | {"resolved_at": iso(opened + dt.timedelta(minutes=90))},
        format="json",
    )
    assert resolved.status_code == 200, resolved.json()
    assert resolved.json()["restore_hours"] == 1.5
    record = Incident.objects.get()
    assert record.caused_by_id == cause["id"] and list(record.items.all()) == [world["items"][0]]
    assert (
        api.post(INCIDENTS, incident | {"caused_by_external_id": "", "caused_by": None}, format="json").json()[
            "caused_by"
        ]
        is None
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"resolved_at": iso(T0 - dt.timedelta(hours=1))}, "resolved_at", "cannot be resolved"),
        ({"stream": "nope"}, "stream", "No value stream has the slug “nope”"),
        ({"caused_by": 999999}, "caused_by", "No deployment has the id 999999"),
        ({"caused_by_external_id": "run-x"}, "caused_by_external_id", "external id “run-x” in Payments"),
        ({"caused_by": "LENDING"}, "caused_by", "Deployment"),
        ({"caused_by": "LATER"}, "caused_by", "started (2026-11-03 09:00 UTC) after the incident opened"),
        ({"caused_by": "OWN", "caused_by_external_id": "run-1"}, "caused_by", "not both"),
        ({"severity": "sev0"}, "severity", "not a valid choice"),
        ({"items": ["LEN-1"]}, "items", "Payments has no item LEN-1"),
    ],
)
def test_bad_incidents_are_refused_by_field_and_write_nothing(world, changes, field, words):
    own = Deployment.objects.create(
        stream=world["payments"], service="api", started_at=T0 - dt.timedelta(hours=2), finished_at=T0
    )
    later = Deployment.objects.create(
        stream=world["payments"],
        service="api",
        started_at=T0 + dt.timedelta(days=1),
        finished_at=T0 + dt.timedelta(days=1),
    )
    foreign = Deployment.objects.create(
        stream=world["lending"], service="api", started_at=T0 - dt.timedelta(hours=2), finished_at=T0
    )
    ids = {"OWN": own.pk, "LATER": later.pk, "LENDING": foreign.pk}
    changes = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in changes.items()}
    if field == "caused_by" and changes.get("caused_by") == foreign.pk:
        words = f"Deployment {foreign.pk} belongs to Lending, not Payments"
    body = {"stream": "payments", "title": "Down", "opened_at": iso(T0)} | changes
    response = api_for(world["owner"]).post(INCIDENTS, body, format="json")
    assert response.status_code == 400, response.json()
    assert words in " ".join(response.json()["errors"][field])
    assert not Incident.objects.exists()


def test_lists_filter_and_cost_the_same_queries_whatever_their_length(
    world, django_assert_num_queries, django_assert_max_num_queries
):
    api = api_for(world["viewer"])
    owner = api_for(world["owner"])
    owner.post(DEPLOYMENTS, deployment(items=[{"item": "PAY-1"}]), format="json")
    incident = {"stream": "payments", "title": "Slow", "opened_at": iso(T0), "items": ["PAY-1"]}
    owner.post(INCIDENTS, incident, format="json")
    reset_queries()  # the connection's query log is a bounded deque: start each count from empty
    with django_assert_max_num_queries(8) as few:
        assert len(api.get(DEPLOYMENTS).json()["results"]) == 1
    with django_assert_max_num_queries(8) as few_incidents:
        api.get(INCIDENTS)
    n_deployments, n_incidents = len(few.captured_queries), len(few_incidents.captured_queries)
    for n in range(15):
        owner.post(
            DEPLOYMENTS,
            deployment(
                external_id=f"run-{n}",
                environment="staging" if n % 2 else "production",
                items=[{"item": "PAY-1"}, {"item": f"#{world['items'][1].pk}"}],
            ),
            format="json",
        )
        owner.post(INCIDENTS, incident | {"title": f"Slow {n}"}, format="json")
    reset_queries()
    with django_assert_num_queries(n_deployments):
        assert len(api.get(DEPLOYMENTS).json()["results"]) == 16
    with django_assert_num_queries(n_incidents):
        assert len(api.get(INCIDENTS).json()["results"]) == 16
    staging = api.get(DEPLOYMENTS, {"environment": "staging", "stream": "payments"}).json()["results"]
    assert len(staging) == 7
    assert api.get(INCIDENTS, {"open": "true", "stream": "lending"}).json()["results"] == []
    csv = b"".join(api.get(DEPLOYMENTS, {"format": "csv"}).streaming_content).decode()
    assert csv.splitlines()[0].startswith("id,stream,stream_slug,service,environment,started_at")
    assert len(csv.splitlines()) == 17


def test_records_are_posted_as_json_and_a_form_is_refused_with_415(world):
    response = api_for(world["owner"]).post(DEPLOYMENTS, deployment(), format="multipart")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"
    assert not Deployment.objects.exists()


def test_the_delivery_metrics_give_each_stream_and_the_pooled_keys_with_their_definitions(world):
    api = api_for(world["owner"])
    for n, status in enumerate(["success", "success", "failure"]):
        finished = T0 + dt.timedelta(days=n)
        api.post(
            DEPLOYMENTS,
            deployment(
                external_id=f"run-{n}",
                status=status,
                started_at=iso(finished - dt.timedelta(minutes=5)),
                finished_at=iso(finished),
                items=[{"item": "PAY-1", "first_commit_at": iso(finished - dt.timedelta(hours=10))}],
            ),
            format="json",
        )
    window = {"start": "2026-11-01", "end": "2026-11-14"}
    body = api_for(world["viewer"]).get("/api/v1/metrics/delivery/", window).json()
    assert body["bands_year"] == 2023 and body["window"]["days"] == 14
    assert "first successful production deployment" in body["definitions"]["lead_time"]
    assert [row["slug"] for row in body["streams"]] == ["lending", "payments"]
    payments = body["streams"][1]
    assert (payments["deployments"], payments["successful"], payments["failed_changes"]) == (3, 2, 1)
    assert payments["deployments_per_week"] == 1.0 and payments["change_failure_rate"] == 0.3333
    assert payments["lead_time_p50_hours"] == 10.0 and payments["levels"]["lead_time"] == "elite"
    assert body["portfolio"]["deployments"] == 3 and body["streams"][0]["levels"]["deployment_frequency"] is None
    one = api_for(world["viewer"]).get("/api/v1/metrics/delivery/", window | {"stream": "payments"}).json()
    assert one["stream"]["slug"] == "payments" and one["stream"]["deployments"] == 3 and "streams" not in one
    bad = api_for(world["viewer"]).get("/api/v1/metrics/delivery/", {"start": "2026-11-20", "end": "2026-11-10"})
    assert bad.status_code == 400 and "start" in bad.json()["errors"]
