"""Writes through the API that a hostile product owner tried (issue 23): another stream's backlog
reached by naming their own team, moving an item into a stream they do not serve, and claiming a
tool's source and key. Each is refused with a message and writes nothing."""

import pytest

from core import access
from portal.tests.api_helpers import api_for, member_of
from streams.backlog.services import item_create
from streams.models import BacklogItem, StateTransition
from streams.tests.factories import ValueStreamFactory, state
from teams.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

ITEMS = "/api/v1/items/"


@pytest.fixture
def world():
    team = TeamFactory(name="Checkout", slug="checkout")
    payments = ValueStreamFactory(name="Payments", slug="payments")
    payments.teams.add(team)
    lending = ValueStreamFactory(name="Lending", slug="lending")
    owner = member_of(team, access.PRODUCT_OWNER, username="olivia")
    mine = item_create(stream_id=payments.pk, title="Refunds", flow_type="feature", team=team)
    theirs = item_create(stream_id=lending.pk, title="Loan top-up", flow_type="feature", team=team)
    return {"team": team, "payments": payments, "lending": lending, "owner": owner, "mine": mine, "theirs": theirs}


def test_a_product_owner_naming_their_own_team_cannot_create_in_another_stream(world):
    api = api_for(world["owner"])
    before = BacklogItem.objects.count()
    response = api.post(ITEMS, {"stream": "lending", "title": "Planted", "team": "checkout"}, format="json")
    assert response.status_code == 403, response.json()
    assert "Lending" in response.json()["detail"]
    assert BacklogItem.objects.count() == before


def test_a_product_owner_cannot_drive_an_item_of_another_stream_that_names_their_team(world):
    api = api_for(world["owner"])
    theirs = world["theirs"]
    started = state(world["lending"], "In progress")
    response = api.post(f"{ITEMS}{theirs.pk}/transition/", {"state": started.pk}, format="json")
    assert response.status_code == 403
    assert api.patch(f"{ITEMS}{theirs.pk}/", {"title": "Renamed"}, format="json").status_code == 403
    theirs.refresh_from_db()
    assert theirs.title == "Loan top-up" and theirs.state.category == "backlog"
    assert StateTransition.objects.filter(item=theirs).count() == 1


def test_moving_an_item_needs_the_right_on_both_streams(world):
    api = api_for(world["owner"])
    mine = world["mine"]
    out = api.patch(f"{ITEMS}{mine.pk}/", {"stream": "lending", "team": "checkout"}, format="json")
    assert out.status_code == 403, out.json()
    assert "Lending" in out.json()["detail"]
    assert BacklogItem.objects.get(pk=mine.pk).stream == world["payments"]
    # Into their own stream from one they do not serve: refused on the item where it is.
    theirs = world["theirs"]
    back = api.patch(f"{ITEMS}{theirs.pk}/", {"stream": "payments"}, format="json")
    assert back.status_code == 403
    assert BacklogItem.objects.get(pk=theirs.pk).stream == world["lending"]


@pytest.mark.parametrize(
    "claim",
    [
        {"source": "jira", "external_key": "LEND-1"},
        {"source": "github", "external_key": "acme/lending#7"},
        {"external_key": "LEND-1"},
        {"source": "jira"},
    ],
)
def test_an_item_creator_cannot_claim_a_tool_source_or_key(world, claim):
    api = api_for(world["owner"])
    before = BacklogItem.objects.count()
    response = api.post(ITEMS, {"stream": "payments", "title": "Claim", **claim}, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert any(name in str(body) for name in claim), body
    assert "imports" in str(body)
    assert BacklogItem.objects.count() == before


@pytest.mark.parametrize("claim", [{"source": "jira"}, {"external_key": "LEND-1"}])
def test_an_item_editor_cannot_set_a_tool_source_or_key(world, claim):
    api = api_for(world["owner"])
    mine = world["mine"]
    response = api.patch(f"{ITEMS}{mine.pk}/", claim, format="json")
    assert response.status_code == 400, response.json()
    mine.refresh_from_db()
    assert (mine.source, mine.external_key) == ("", "")


def test_an_administrator_cannot_claim_a_key_through_the_api_either(world, admin_user):
    response = api_for(admin_user).post(
        ITEMS, {"stream": "payments", "title": "Claim", "source": "jira", "external_key": "LEND-1"}, format="json"
    )
    assert response.status_code == 400
    assert not BacklogItem.objects.filter(external_key="LEND-1").exists()


def test_the_item_service_refuses_a_source_from_a_door_that_is_not_a_tool(world):
    from core.errors import DomainError

    with pytest.raises(DomainError, match="imports, connectors and webhooks"):
        item_create(
            stream_id=world["payments"].pk, title="Claim", flow_type="feature", source="jira", external_key="X-1"
        )
    # The webhook door may.
    item = item_create(
        stream_id=world["payments"].pk,
        title="From Jira",
        flow_type="feature",
        source="jira",
        external_key="PAY-1",
        via="webhook",
    )
    assert item.external_key == "PAY-1"


# --- One floor for dates (issue 23, finding 9): every door refuses a date before 2000 ----------


def test_far_past_dates_are_refused_on_every_api_write(world, admin_user):
    from okrs.models import CheckIn
    from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
    from streams.models import Deployment

    api = api_for(admin_user)
    mine = world["mine"]
    key_result = KeyResultFactory(objective=ObjectiveFactory(level="team", team=world["team"], period="2026-Q4"))
    writes = [
        (
            "post",
            "/api/v1/check-ins/",
            {"key_result": key_result.pk, "value": "4", "confidence": "0.7", "date": "0001-01-01"},
            "date",
        ),
        (
            "post",
            f"{ITEMS}{mine.pk}/transition/",
            {"state": state(world["payments"], "In progress").pk, "at": "0001-01-01T00:00:00Z"},
            "at",
        ),
        ("patch", f"{ITEMS}{mine.pk}/", {"target_date": "0001-01-01"}, "target_date"),
        ("post", ITEMS, {"stream": "payments", "title": "Old", "target_date": "1999-12-31"}, "target_date"),
        (
            "post",
            "/api/v1/deployments/",
            {"stream": "payments", "service": "pay", "started_at": "1999-12-31T23:00:00Z", "status": "in_progress"},
            "started_at",
        ),
    ]
    for method, url, body, field in writes:
        response = getattr(api, method)(url, body, format="json")
        assert response.status_code == 400, (url, response.json())
        assert "before 2000-01-01" in str(response.json()["errors"][field]), (url, response.json())
    assert not CheckIn.objects.exists() and not Deployment.objects.exists()
    assert StateTransition.objects.filter(item=mine).count() == 1
    assert not BacklogItem.objects.filter(title="Old").exists()
    mine.refresh_from_db()
    assert mine.target_date is None
