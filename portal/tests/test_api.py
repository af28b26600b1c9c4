"""/api/v1/: reads for every logged-in user, writes only for those allowed and through the
services (the release gate included), JSON errors by field, cursor pages, streamed CSV that
matches the JSON, tokens and throttling, and query counts that do not grow with the rows."""

import csv
import datetime as dt
import io

from django.core.cache import cache
from django.urls import reverse
import pytest
from rest_framework.test import APIClient

from core import access
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from portal.models import ApiToken
from portal.tests.api_helpers import api_for, member_of
from portal.tokens import token_create
from streams.backlog.services import item_create
from streams.models import BacklogItem, ProcessBlock, ReadinessCheck, StateTransition, ValueStreamMap
from streams.tests.factories import ReadinessCriterionFactory, ValueStreamFactory, state
from teams.models import Team
from teams.tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

ITEMS = "/api/v1/items/"


@pytest.fixture
def world():
    team = TeamFactory(name="Checkout", slug="checkout")
    payments = ValueStreamFactory(name="Payments", slug="payments")
    payments.teams.add(team)
    lending = ValueStreamFactory(name="Lending", slug="lending")
    owner = member_of(team, access.PRODUCT_OWNER, username="olivia")
    viewer = UserFactory(username="vic", roles=[access.VIEWER])
    items = [
        item_create(stream_id=payments.pk, title=f"Payments item {n}", flow_type="feature", team=team) for n in range(3)
    ]
    item_create(stream_id=lending.pk, title="Loan top-up", flow_type="defect")
    return {"team": team, "payments": payments, "lending": lending, "owner": owner, "viewer": viewer, "items": items}


# --- Reading ------------------------------------------------------------------------------------


def test_anonymous_requests_get_401_in_json_not_a_login_redirect(world):
    response = APIClient().get(ITEMS)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_every_logged_in_user_reads_items_with_the_pages_filters(world):
    api = api_for(world["viewer"])
    everything = api.get(ITEMS).json()
    assert len(everything["results"]) == 4
    payments = api.get(ITEMS, {"stream": "payments"}).json()["results"]
    assert {row["title"] for row in payments} == {f"Payments item {n}" for n in range(3)}
    row = payments[0]
    assert row["stream_slug"] == "payments" and row["team_slug"] == "checkout"
    assert row["category"] == "backlog" and row["key"] == f"#{row['id']}"
    assert api.get(ITEMS, {"flow_type": "defect"}).json()["results"][0]["title"] == "Loan top-up"
    assert api.get(ITEMS, {"q": "top-up"}).json()["results"][0]["title"] == "Loan top-up"
    assert api.get(ITEMS, {"view": "in_progress"}).json()["results"] == []


def test_bad_filters_are_400_with_a_message_per_parameter(world):
    response = api_for(world["viewer"]).get(
        ITEMS, {"stream": "nowhere", "flow_type": "epic", "created_after": "2026-13-01", "finished_in": "2026-Q5"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["errors"]) == {"stream", "flow_type", "created_after", "finished_in"}
    assert "2026-Q4" in body["errors"]["finished_in"][0]  # says what a period looks like


def test_cursor_pages_walk_every_row_once(world):
    api = api_for(world["viewer"])
    seen, url = [], ITEMS + "?page_size=3"
    while url:
        page = api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == seen and len(seen) == len(set(seen)) == 4
    assert api.get(ITEMS, {"cursor": "not-a-cursor"}).status_code == 404


def test_every_resource_lists_for_a_viewer(world):
    api = api_for(world["viewer"])
    root = api.get("/api/v1/").json()
    assert len(root) == 25
    for name, url in root.items():
        response = api.get(url)
        assert response.status_code == 200, name
        assert "results" in response.json(), name


def test_a_list_query_count_does_not_grow_with_the_rows(
    world, django_assert_max_num_queries, django_assert_num_queries
):
    api = api_for(world["viewer"])
    with django_assert_max_num_queries(6) as few:
        assert api.get(ITEMS, {"page_size": 100}).status_code == 200
    for n in range(30):
        item_create(stream_id=world["lending"].pk, title=f"More {n}", flow_type="risk")
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(api.get(ITEMS, {"page_size": 100}).json()["results"]) == 34


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_streams_every_filtered_row_with_the_json_columns_and_values(world):
    api = api_for(world["viewer"])
    BacklogItem.objects.filter(pk=world["items"][0].pk).update(title="=HYPERLINK(1)")
    response = api.get(ITEMS, {"stream": "payments", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    json_rows = api.get(ITEMS, {"stream": "payments"}).json()["results"]
    assert len(rows) == len(json_rows) == 3
    assert list(rows[0]) == list(json_rows[0])  # same columns, same order
    for got, want in zip(rows, json_rows, strict=True):
        for name, value in want.items():
            expected = "" if value is None else ("true" if value is True else "false" if value is False else str(value))
            if name == "title" and expected.startswith("="):
                expected = "'" + expected  # a spreadsheet must not run it
            assert got[name] == expected, name


def test_csv_leaves_many_valued_fields_out(world):
    ReadinessCriterionFactory(name="Support trained")
    response = api_for(world["viewer"]).get("/api/v1/readiness-criteria/", {"format": "csv"})
    header = b"".join(response.streaming_content).decode().splitlines()[0].split(",")
    assert "streams" not in header and "name" in header


# --- Writing ------------------------------------------------------------------------------------


def test_a_viewer_may_not_write(world):
    api = api_for(world["viewer"])
    response = api.post(ITEMS, {"stream": "payments", "title": "Sneaky"}, format="json")
    assert response.status_code == 403
    assert "may not add" in response.json()["detail"]
    item = world["items"][0]
    assert api.patch(f"{ITEMS}{item.pk}/", {"title": "x"}, format="json").status_code == 403
    done = state(world["payments"], "Done")
    assert api.post(f"{ITEMS}{item.pk}/transition/", {"state": done.pk}, format="json").status_code == 403
    assert BacklogItem.objects.filter(title__in=["Sneaky", "x"]).count() == 0
    assert not StateTransition.objects.filter(to_state=done).exists()


def test_a_product_owner_creates_edits_and_moves_items_of_their_streams(world):
    api = api_for(world["owner"])
    created = api.post(
        ITEMS, {"stream": "payments", "title": "Refunds", "flow_type": "feature", "team": "checkout"}, format="json"
    )
    assert created.status_code == 201, created.json()
    item_id = created.json()["id"]
    assert created["Location"].endswith(f"/api/v1/items/{item_id}/")
    transition = StateTransition.objects.get(item_id=item_id)
    assert transition.source == "api" and transition.actor == world["owner"]

    edited = api.patch(f"{ITEMS}{item_id}/", {"title": "Refunds v2", "size": 3}, format="json")
    assert edited.status_code == 200 and edited.json()["title"] == "Refunds v2" and edited.json()["size"] == 3

    moved = api.post(
        f"{ITEMS}{item_id}/transition/", {"state": state(world["payments"], "In progress").pk}, format="json"
    )
    assert moved.status_code == 201 and moved.json()["to_state_name"] == "In progress"
    assert BacklogItem.objects.get(pk=item_id).started_at is not None

    other = api.post(ITEMS, {"stream": "lending", "title": "Not mine"}, format="json")
    assert other.status_code == 403


def test_the_release_gate_refuses_a_finish_with_409_naming_the_criteria_and_writes_nothing(world):
    support = TeamFactory(name="Support", slug="support", type=Team.Type.BUSINESS_OPERATIONS)
    ReadinessCriterionFactory(name="Support trained", owner_team=support)
    item = item_create(stream_id=world["payments"].pk, title="Gated", flow_type="feature", team=world["team"])
    api = api_for(world["owner"])
    response = api.post(f"{ITEMS}{item.pk}/transition/", {"state": state(world["payments"], "Done").pk}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "release_gate" and "Support trained" in body["detail"]
    assert body["unmet_criteria"] == [
        {
            "id": body["unmet_criteria"][0]["id"],
            "name": "Support trained",
            "owner_team": "support",
            "owner_team_name": "Support",
        }
    ]
    assert BacklogItem.objects.get(pk=item.pk).state.name == "Backlog"
    assert StateTransition.objects.filter(item=item).count() == 1  # only its creation

    check = ReadinessCheck.objects.get(item=item)
    signer = member_of(support, access.OPERATIONS, username="sam")
    assert (
        api_for(world["owner"])
        .post(f"/api/v1/readiness-checks/{check.pk}/decide/", {"status": "met"}, format="json")
        .status_code
        == 403
    )
    waived = api_for(signer).post(f"/api/v1/readiness-checks/{check.pk}/decide/", {"status": "waived"}, format="json")
    assert waived.status_code == 400 and "reason" in waived.json()["errors"]
    met = api_for(signer).post(f"/api/v1/readiness-checks/{check.pk}/decide/", {"status": "met"}, format="json")
    assert met.status_code == 200 and met.json()["status"] == "met" and met.json()["signed_off_by"] == signer.pk
    done = api.post(f"{ITEMS}{item.pk}/transition/", {"state": state(world["payments"], "Done").pk}, format="json")
    assert done.status_code == 201


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"state": 999999}, "state", "Invalid pk"),
        ({}, "state", "required"),
        ({"state": "In progress"}, "state", "Incorrect type"),
        ({"state": "STATE", "at": "2026-03-01T10:00:00"}, "at", "no UTC offset"),
        ({"state": "STATE", "at": "yesterday"}, "at", "wrong format"),
    ],
)
def test_bad_transitions_are_400_by_field(world, payload, field, words):
    item = world["items"][0]
    if payload.get("state") == "STATE":
        payload["state"] = state(world["payments"], "In progress").pk
    response = api_for(world["owner"]).post(f"{ITEMS}{item.pk}/transition/", payload, format="json")
    assert response.status_code == 400
    assert words in " ".join(response.json()["errors"][field])


def test_a_state_of_another_stream_or_the_same_state_is_refused(world):
    item = world["items"][0]
    api = api_for(world["owner"])
    foreign = api.post(f"{ITEMS}{item.pk}/transition/", {"state": state(world["lending"], "Done").pk}, format="json")
    assert foreign.status_code == 400 and "state" in foreign.json()["errors"]
    same = api.post(f"{ITEMS}{item.pk}/transition/", {"state": item.state_id}, format="json")
    assert same.status_code == 409 and same.json()["code"] == "no_change"


def test_bad_item_input_names_each_field_and_writes_nothing(world):
    before = BacklogItem.objects.count()
    response = api_for(world["owner"]).post(
        ITEMS,
        {
            "stream": "payments",
            "title": "",
            "flow_type": "epic",
            "size": -1,
            "state": state(world["lending"], "Done").pk,
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"title", "flow_type", "size"}
    assert BacklogItem.objects.count() == before
    wrong_body = api_for(world["owner"]).post(ITEMS, "not json", content_type="application/json")
    assert wrong_body.status_code == 400 and "JSON" in wrong_body.json()["detail"]


def test_check_ins_and_links_follow_the_okr_rights(world):
    objective = ObjectiveFactory(level="team", team=world["team"], period="2026-Q4")
    key_result = KeyResultFactory(objective=objective, start_value=0, target_value=10)
    owner, viewer = api_for(world["owner"]), api_for(world["viewer"])
    payload = {"key_result": key_result.pk, "value": "4", "confidence": "0.7", "date": "2026-11-01"}
    assert viewer.post("/api/v1/check-ins/", payload, format="json").status_code == 403
    created = owner.post("/api/v1/check-ins/", payload, format="json")
    assert created.status_code == 201, created.json()
    assert owner.get(f"/api/v1/key-results/{key_result.pk}/").json()["progress"] == 0.4
    too_sure = owner.post("/api/v1/check-ins/", {**payload, "confidence": "1.5"}, format="json")
    assert too_sure.status_code == 400 and "confidence" in too_sure.json()["errors"]

    item = world["items"][0]
    url = f"/api/v1/key-results/{key_result.pk}/items/"
    assert viewer.post(url, {"item": item.pk}, format="json").status_code == 403
    assert owner.post(url, {"item": item.pk}, format="json").status_code == 201
    assert owner.post(url, {"item": item.pk}, format="json").status_code == 200  # linked already
    links = owner.get("/api/v1/key-result-links/", {"key_result": key_result.pk}).json()["results"]
    assert [link["item"] for link in links] == [item.pk]
    assert owner.delete(f"{url}{item.pk}/").status_code == 204
    assert owner.delete(f"{url}{item.pk}/").status_code == 404


# --- Tokens and throttling ---------------------------------------------------------------------


def test_a_user_creates_a_token_on_the_page_uses_it_and_revokes_it(client, world):
    client.force_login(world["owner"])
    created = client.post(reverse("api-tokens"), {"name": "weekly report"})
    assert created.status_code == 302  # to a GET, so a reload creates nothing
    page = client.get(created["Location"])
    assert page["Cache-Control"] == "no-store"
    key = page.context["new_key"]
    assert key and key in page.content.decode()
    token = ApiToken.objects.get(user=world["owner"])
    assert token.key_hash != key and key.startswith(token.prefix)  # stored as a digest

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(ITEMS).status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None
    again = client.get(reverse("api-tokens"))
    assert key not in again.content.decode()  # shown once

    client.post(reverse("api-token-revoke", args=[token.pk]))
    refused = api.get(ITEMS)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_tokens_are_private_and_bad_headers_are_explained(client, world):
    token, _ = token_create(user=world["owner"], name="mine")
    client.force_login(world["viewer"])
    assert client.post(reverse("api-token-revoke", args=[token.pk])).status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token")
    assert "Authorization: Token <key>" in api.get(ITEMS).json()["detail"]
    api.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert api.get(ITEMS).status_code == 401
    assert client.post(reverse("api-tokens"), {"name": " "}).status_code == 422


def test_requests_beyond_the_rate_are_429(world, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import UserRateThrottle

    cache.clear()
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "user": "3/min"}
    original = UserRateThrottle.THROTTLE_RATES
    UserRateThrottle.THROTTLE_RATES = rates
    try:
        api = api_for(world["viewer"])
        codes = [api.get("/api/v1/teams/").status_code for _ in range(4)]
    finally:
        UserRateThrottle.THROTTLE_RATES = original
        cache.clear()
    assert codes == [200, 200, 200, 429]


def test_the_schema_and_the_docs_are_served_without_a_cdn(client, world):
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/items/{id}/transition/" in paths and "/api/v1/metrics/flow/" in paths
    client.force_login(world["viewer"])
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "cdn" not in docs.lower() and "https://" not in docs.replace("https://swagger.io", "")


def test_a_parent_must_be_in_the_stream_and_not_below_the_item(world):
    api = api_for(world["owner"])
    parent, child, _ = world["items"]
    lending_item = BacklogItem.objects.get(title="Loan top-up")
    assert api.patch(f"{ITEMS}{child.pk}/", {"parent": parent.pk}, format="json").status_code == 200
    foreign = api.patch(f"{ITEMS}{child.pk}/", {"parent": lending_item.pk}, format="json")
    assert foreign.status_code == 400 and "parent" in foreign.json()["errors"]
    cycle = api.patch(f"{ITEMS}{parent.pk}/", {"parent": child.pk}, format="json")
    assert cycle.status_code == 400 and "ancestor" in cycle.json()["detail"]
    assert BacklogItem.objects.get(pk=parent.pk).parent_id is None


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (ITEMS, {"created_before": "9999-12-31"}),
        (ITEMS, {"finished_in": "0000"}),
        (ITEMS, {"finished_in": "9999-Q4"}),
        (ITEMS, {"stream": "pay\x00ments"}),
        (ITEMS, {"state": "1e30000"}),
        ("/api/v1/key-result-links/", {"item": "-1e30000"}),
        ("/api/v1/metrics/flow/", {"as_of": "0001-01-02T00:00:00Z"}),
        ("/api/v1/metrics/flow/", {"director": "²"}),
        ("/api/v1/metrics/flow/", {"team": "a\x00b"}),
    ],
)
def test_extreme_parameters_are_answered_with_a_4xx(world, url, params):
    response = api_for(world["viewer"]).get(url, params)
    assert 400 <= response.status_code < 500 or (response.status_code == 200 and "created_before" in params)
    assert response["Content-Type"].startswith("application/json")


def test_a_nul_character_in_a_slug_field_is_a_400(world):
    response = api_for(world["owner"]).post(ITEMS, {"stream": "pay\x00ments", "title": "x"}, format="json")
    assert response.status_code == 400


def test_proposed_reads_true_and_false(world):
    api = api_for(world["viewer"])
    assert len(api.get(ITEMS, {"proposed": "false"}).json()["results"]) == 4
    assert api.get(ITEMS, {"proposed": "true"}).json()["results"] == []


def test_process_blocks_list_their_workflow_states_without_a_query_per_block(world, django_assert_max_num_queries):
    stream = world["lending"]
    vsm = ValueStreamMap.objects.create(stream=stream, name="Now", kind="current", as_of=dt.date(2026, 1, 1))
    states = list(stream.states.order_by("order")[:2])
    for n in range(12):
        block = ProcessBlock.objects.create(
            map=vsm, order=n, activity=f"Step {n}", process_time_hours=1, lead_time_hours=2
        )
        block.states.set(states)
    api = api_for(world["viewer"])
    with django_assert_max_num_queries(7):
        rows = api.get("/api/v1/process-blocks/", {"map": vsm.pk}).json()["results"]
    assert len(rows) == 12
    assert all(row["states"] == [s.pk for s in states] for row in rows)
