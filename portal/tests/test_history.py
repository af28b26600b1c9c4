"""Change history: every domain model keeps who changed what and when; the API reads it, the
admin shows it, the services that write with `update()` record it too."""

from django.apps import apps
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
import pytest
from rest_framework.test import APIClient
from simple_history.admin import SimpleHistoryAdmin

from core import access
from core.audit import history_of, is_tracked
from okrs.services import check_in_record, key_result_link, key_result_unlink
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from portal.tests.api_helpers import api_for
from streams.backlog.services import item_change_state, item_create, item_update
from streams.models import BacklogItem, StateTransition, WorkflowState
from streams.tests.factories import ValueStreamFactory, state
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

# Derived or operational rows: recomputed from the history, or records of jobs and tokens.
UNTRACKED = {
    "teams.datageneration",  # a counter of changes, not domain data
    "streams.streamversion",  # per-stream counters of changes (core.freshness)
    "streams.streamchange",  # the triggers' notes waiting to be counted
    "streams.flowsnapshot",
    "streams.flowday",
    "streams.flowdayefficiency",
    "streams.flowdaystate",
    "streams.flowdaymark",
    "streams.importjob",
    "streams.importmapping",
    "streams.importproject",
    "streams.webhookdelivery",  # a log of deliveries received, kept to refuse repeats
    "streams.syncrun",  # a log of a connection's syncs
    "streams.helditem",  # what a sync holds back, derived from the tool and the mapping
}


def domain_models():
    for label in ("teams", "streams", "okrs"):
        for model in apps.get_app_config(label).get_models():
            if not model.__name__.startswith("Historical") and model._meta.label_lower not in UNTRACKED:
                yield model


@pytest.fixture
def world():
    team = TeamFactory(name="Checkout", slug="checkout")
    stream = ValueStreamFactory(name="Payments", slug="payments")
    stream.teams.add(team)
    owner = PersonFactory(user=UserFactory(username="olivia", roles=[access.PRODUCT_OWNER]))
    MembershipFactory(person=owner, team=team)
    viewer = UserFactory(username="vic", roles=[access.VIEWER])
    return {"team": team, "stream": stream, "owner": owner.user, "viewer": viewer}


def test_every_domain_model_keeps_its_history_and_shows_it_in_the_admin():
    models = list(domain_models())
    assert len(models) == 24
    for model in models:
        assert is_tracked(model), model
        assert isinstance(admin.site._registry[model], SimpleHistoryAdmin), model


def test_the_api_offers_the_history_of_every_tracked_resource():
    names = [
        "discipline", "person", "team", "membership", "stream", "target-mix", "leadership-assignment",
        "workflow-state", "item", "transition", "blocked-period", "dependency", "readiness-criterion",
        "readiness-check", "map", "process-block", "experiment", "objective", "key-result", "check-in",
        "deployment", "incident", "connection",
    ]  # fmt: skip
    for name in names:
        assert reverse(f"api:{name}-history", args=[1]).endswith("/1/history/")
    with pytest.raises(NoReverseMatch):  # a link's history is its key result's `items`
        reverse("api:key-result-link-history", args=[1])


def test_api_changes_name_who_when_and_each_field_before_and_after(world):
    api = api_for(world["owner"])
    created = api.post("/api/v1/items/", {"stream": "payments", "title": "Refunds", "flow_type": "feature"})
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert api.patch(f"/api/v1/items/{pk}/", {"title": "Partial refunds"}, format="json").status_code == 200
    in_progress = state(world["stream"], "In progress")
    assert api.post(f"/api/v1/items/{pk}/transition/", {"state": in_progress.pk}).status_code == 201

    body = api_for(world["viewer"]).get(f"/api/v1/items/{pk}/history/").json()
    assert body["object_id"] == pk and body["next"] is None
    moved, renamed, born = body["results"]
    assert [c["kind"] for c in (moved, renamed, born)] == ["changed", "changed", "created"]
    assert {c["username"] for c in (moved, renamed, born)} == {"olivia"}
    (title,) = renamed["changes"]
    assert title == {
        "field": "title", "old": "Refunds", "new": "Partial refunds",
        "old_display": "Refunds", "new_display": "Partial refunds",
    }  # fmt: skip
    state_change = next(c for c in moved["changes"] if c["field"] == "state")
    assert state_change["old"] == state(world["stream"], "Backlog").pk and state_change["new"] == in_progress.pk
    assert (state_change["old_display"], state_change["new_display"]) == ("Backlog (Backlog)", "In progress (Active)")
    assert {c["field"] for c in moved["changes"]} == {"state", "started_at"}
    started = next(c for c in moved["changes"] if c["field"] == "started_at")
    assert started["old_display"] == "—" and started["new_display"].endswith(" UTC")
    assert started["new"].startswith(started["new_display"][:10])  # the raw value stays ISO 8601
    born_title = next(c for c in born["changes"] if c["field"] == "title")
    assert (born_title["old"], born_title["new"]) == (None, "Refunds")
    # The transition itself is a row with its own history, signed by the same user.
    transition = StateTransition.objects.get(item_id=pk, to_state=in_progress)
    (entry,) = api.get(f"/api/v1/transitions/{transition.pk}/history/").json()["results"]
    assert entry["kind"] == "created" and entry["username"] == "olivia"


def test_history_pages_go_back_in_time_and_outlive_the_row(world):
    item = item_create(stream_id=world["stream"].pk, title="v0", flow_type="feature", actor=world["owner"])
    for n in range(1, 5):
        item_update(item=item, actor=world["owner"], title=f"v{n}")
    api = api_for(world["viewer"])
    first = api.get(f"/api/v1/items/{item.pk}/history/", {"page_size": 2}).json()
    assert [c["changes"][0]["new"] for c in first["results"]] == ["v4", "v3"]
    second = api.get(first["next"]).json()
    assert [c["changes"][0]["new"] for c in second["results"]] == ["v2", "v1"]
    third = api.get(second["next"]).json()
    assert [c["kind"] for c in third["results"]] == ["created"] and third["next"] is None

    BacklogItem.objects.filter(pk=item.pk).delete()
    after = api.get(f"/api/v1/items/{item.pk}/history/", {"page_size": 1}).json()
    assert after["results"][0]["kind"] == "deleted"
    assert api.get(f"/api/v1/items/{item.pk}/").status_code == 404


def test_history_refuses_bad_parameters_and_unknown_rows(world):
    api = api_for(world["viewer"])
    missing = api.get("/api/v1/items/999999/history/")
    assert missing.status_code == 404 and "No backlog item with id 999999" in missing.json()["detail"]
    bad = api.get(f"/api/v1/streams/{world['stream'].pk}/history/", {"page_size": 0, "before": "x"})
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"page_size", "before"}
    # A row that existed before history began has an empty history, not a 404.
    WorkflowState.history.all().delete()
    backlog = state(world["stream"], "Backlog")
    assert api.get(f"/api/v1/workflow-states/{backlog.pk}/history/").json()["results"] == []
    assert APIClient().get(f"/api/v1/streams/{world['stream'].pk}/history/").status_code == 401


def test_links_and_check_ins_are_recorded_on_the_key_result(world):
    director = UserFactory(username="dora", roles=[access.LEADER])
    objective = ObjectiveFactory(period="2026-Q4")
    key_result = KeyResultFactory(objective=objective, title="Refund in a day")
    item = item_create(stream_id=world["stream"].pk, title="Refunds", flow_type="feature")
    assert key_result_link(key_result=key_result, item=item, actor=director)
    check_in_record(key_result=key_result, value=key_result.start_value + 1, confidence=0.5, author=director)
    assert key_result_unlink(key_result=key_result, item=item, actor=director)

    changes = history_of(type(key_result), key_result.pk).changes
    unlinked, checked_in, linked = changes[:3]
    assert (linked.user, linked.fields[0].field, linked.fields[0].old, linked.fields[0].new) == (
        "dora", "items", [], [item.pk],
    )  # fmt: skip
    assert linked.fields[0].new_display == str(item)
    assert checked_in.reason == "check-in" and checked_in.fields[0].field == "current_value"
    assert (unlinked.fields[0].old, unlinked.fields[0].new) == ([item.pk], [])


def test_a_state_change_outside_a_request_is_signed_by_its_actor(world):
    item = item_create(stream_id=world["stream"].pk, title="Refunds", flow_type="feature")
    item_change_state(item=item, to_state=state(world["stream"], "In progress"), actor=world["owner"], via="import")
    latest = history_of(BacklogItem, item.pk).changes[0]
    assert latest.user == "olivia" and "state" in {f.field for f in latest.fields}


def test_the_admin_shows_a_rows_history(world, client):
    item = item_create(stream_id=world["stream"].pk, title="Refunds", flow_type="feature", actor=world["owner"])
    item_update(item=item, actor=world["owner"], title="Partial refunds")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:streams_backlogitem_history", args=[item.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "olivia" in html and "Partial refunds" in html
    assert "Revert" not in html  # reverting would write past the services


def test_deleting_a_stream_in_the_admin_records_every_deleted_row_in_batches(world, client):
    stream = world["stream"]
    items = [item_create(stream_id=stream.pk, title=f"Work {n}", flow_type="feature") for n in range(3)]
    item_change_state(item=items[0], to_state=state(stream, "In progress"))
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    response = client.post(reverse("admin:streams_valuestream_delete", args=[stream.pk]), {"post": "yes"})
    assert response.status_code == 302 and not BacklogItem.objects.exists()
    for model, count in ((BacklogItem, 3), (StateTransition, 4), (WorkflowState, 7)):
        deleted = model.history.filter(history_type="-")
        assert deleted.count() == count, model
        assert {v.history_user_id for v in deleted} == {root.pk}
    (gone,) = type(stream).history.filter(id=stream.pk, history_type="-")
    assert gone.name == "Payments" and gone.history_user == root
    # A plain delete elsewhere still records its version, one by one.
    other = item_create(stream_id=ValueStreamFactory().pk, title="Elsewhere", flow_type="feature")
    other_pk = other.pk
    other.delete()
    assert BacklogItem.history.filter(id=other_pk, history_type="-").count() == 1
