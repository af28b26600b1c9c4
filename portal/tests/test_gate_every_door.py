"""The release gate and the item rules on every door (issue 23, findings 2 and 11).

A type change could walk around the gate: a feature with four pending checks, retyped as a
defect (three of them stop applying), its one remaining check signed off, finished, then retyped
as a feature again: a finished feature that never had its legal review. A type change may never
leave an item finished without every criterion of its final type decided; the service refuses
it with the gate's message, and the API and the admin go through the service. The admin also
used to save item edits itself: a parent from another stream, a parent cycle, and the
bookkeeping of a type change (checks re-synced, stored days recomputed) bypassed the service.
"""

import datetime as dt

from django.urls import reverse
from django.utils import timezone
import pytest

from core import access
from portal.tests.api_helpers import api_for, member_of
from streams.backlog import services
from streams.flow.rollups import stream_rollups_refresh
from streams.models import BacklogItem, FlowDayMark, FlowType, ReadinessCheck
from streams.readiness.services import readiness_check_decide
from streams.tests.factories import ReadinessCriterionFactory, ValueStreamFactory, state
from teams.models import Team
from teams.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

ITEMS = "/api/v1/items/"
FEATURE_ONLY = ("Legal review", "Runbook updated", "Support trained")


@pytest.fixture
def world(admin_user):
    team = TeamFactory(name="Checkout", slug="checkout")
    payments = ValueStreamFactory(name="Payments", slug="payments")
    payments.teams.add(team)
    ops = TeamFactory(name="Service operations", slug="ops", type=Team.Type.BUSINESS_OPERATIONS)
    for name in FEATURE_ONLY:
        ReadinessCriterionFactory(name=name, owner_team=ops, flow_types=[FlowType.FEATURE])
    ReadinessCriterionFactory(name="Release notes", owner_team=ops, flow_types=[FlowType.FEATURE, FlowType.DEFECT])
    owner = member_of(team, access.PRODUCT_OWNER, username="olivia")
    signer = member_of(ops, access.OPERATIONS, username="sam")
    return {"payments": payments, "team": team, "owner": owner, "signer": signer, "admin": admin_user}


def finished_defect(world) -> BacklogItem:
    """The walk-around up to its last step: a feature retyped as a defect, signed off, finished."""
    item = services.item_create(stream_id=world["payments"].pk, title="Pay by link", flow_type=FlowType.FEATURE)
    assert item.readiness_checks.filter(status=ReadinessCheck.Status.PENDING).count() == 4
    with pytest.raises(services.ReleaseGateError):
        services.item_change_state(item=item, to_state=state(world["payments"], "Done"))
    services.item_update(item=item, flow_type=FlowType.DEFECT)
    remaining = item.readiness_checks.get(status=ReadinessCheck.Status.PENDING)
    readiness_check_decide(check=remaining, status=ReadinessCheck.Status.MET, actor=world["signer"])
    services.item_change_state(item=item, to_state=state(world["payments"], "Done"))
    item.refresh_from_db()
    assert item.finished_at is not None
    return item


def assert_still_a_finished_defect(item: BacklogItem) -> None:
    item.refresh_from_db()
    assert item.flow_type == FlowType.DEFECT
    assert item.state.category == "done"
    assert not item.readiness_checks.filter(status=ReadinessCheck.Status.PENDING).exists()


def test_the_service_refuses_a_type_change_that_would_finish_an_item_without_its_criteria(world):
    item = finished_defect(world)
    with pytest.raises(services.ReleaseGateError) as refused:
        services.item_update(item=item, flow_type=FlowType.FEATURE)
    assert refused.value.code == "release_gate" and refused.value.field == "flow_type"
    for name in FEATURE_ONLY:
        assert name in refused.value.message
    assert_still_a_finished_defect(item)


def test_a_type_change_of_a_finished_item_whose_criteria_are_decided_is_allowed(world):
    item = finished_defect(world)
    services.item_update(item=item, flow_type=FlowType.DEBT)  # no criterion applies to debt
    item.refresh_from_db()
    assert item.flow_type == FlowType.DEBT


def test_the_api_refuses_the_type_change_with_409_naming_the_criteria(world):
    item = finished_defect(world)
    response = api_for(world["owner"]).patch(f"{ITEMS}{item.pk}/", {"flow_type": "feature"}, format="json")
    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["code"] == "release_gate"
    assert sorted(c["name"] for c in body["unmet_criteria"]) == list(FEATURE_ONLY)
    assert_still_a_finished_defect(item)


def _admin_form(client, item) -> tuple[str, dict]:
    from portal.tests.test_admin import form_data

    url = reverse("admin:streams_backlogitem_change", args=[item.pk])
    return url, form_data(client.get(url))


def test_the_admin_refuses_the_type_change_on_the_field(client, world):
    item = finished_defect(world)
    client.force_login(world["admin"])
    url, data = _admin_form(client, item)
    data["flow_type"] = FlowType.FEATURE
    response = client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["flow_type"][0]
    assert all(name in errors for name in FEATURE_ONLY)
    assert_still_a_finished_defect(item)


def test_the_admin_refuses_a_parent_from_another_stream(client, world):
    item = services.item_create(stream_id=world["payments"].pk, title="Story", flow_type=FlowType.DEBT)
    elsewhere = ValueStreamFactory(name="Lending")
    foreign = services.item_create(stream_id=elsewhere.pk, title="Epic elsewhere", flow_type=FlowType.DEBT)
    client.force_login(world["admin"])
    url, data = _admin_form(client, item)
    data["parent"] = foreign.pk
    response = client.post(url, data)
    assert response.status_code == 200
    assert "another value stream" in response.context["adminform"].form.errors["parent"][0]
    item.refresh_from_db()
    assert item.parent_id is None


def test_the_admin_refuses_a_parent_cycle(client, world):
    epic = services.item_create(stream_id=world["payments"].pk, title="Epic", flow_type=FlowType.DEBT)
    story = services.item_create(stream_id=world["payments"].pk, title="Story", flow_type=FlowType.DEBT, parent=epic)
    client.force_login(world["admin"])
    url, data = _admin_form(client, epic)
    data["parent"] = story.pk
    response = client.post(url, data)
    assert response.status_code == 200
    assert "own ancestor" in response.context["adminform"].form.errors["parent"][0]
    epic.refresh_from_db()
    assert epic.parent_id is None


def test_a_type_change_in_the_admin_resyncs_the_checks(client, world):
    item = services.item_create(stream_id=world["payments"].pk, title="Tidy", flow_type=FlowType.DEBT)
    client.force_login(world["admin"])
    url, data = _admin_form(client, item)
    data["flow_type"] = FlowType.DEFECT
    response = client.post(url, data)
    assert response.status_code == 302
    assert item.readiness_checks.get().criterion.name == "Release notes"


def test_a_type_change_of_finished_work_in_the_admin_recomputes_the_stored_days(client, world):
    stream = world["payments"]
    at = timezone.now() - dt.timedelta(days=10)
    item = services.item_create(stream_id=stream.pk, title="Tidy", flow_type=FlowType.DEBT, created_at=at)
    services.item_change_state(item=item, to_state=state(stream, "In progress"), at=at + dt.timedelta(days=1))
    services.item_change_state(item=item, to_state=state(stream, "Done"), at=at + dt.timedelta(days=2))
    stream_rollups_refresh(stream_id=stream.pk)
    finished_day = (at + dt.timedelta(days=2)).date()
    assert FlowDayMark.objects.get(stream=stream).valid_until > finished_day
    client.force_login(world["admin"])
    url, data = _admin_form(client, item)
    data["flow_type"] = FlowType.RISK  # no criterion applies to risks
    response = client.post(url, data)
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.flow_type == FlowType.RISK
    # The type of finished work is in its stored days: read from the history until recomputed.
    assert FlowDayMark.objects.get(stream=stream).valid_until <= finished_day
