"""The backlog page: filters, moving items in place, the release gate's refusal on the row,
who may move items, and a query count flat in the number of rows."""

from django.contrib.auth.models import Group
from django.urls import reverse
import pytest

from core import access
from streams.backlog.services import item_change_state, item_create
from streams.models import BacklogItem, BlockedPeriod
from streams.tests.factories import ReadinessCriterionFactory, ValueStreamFactory, state
from teams.models import Team
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def backlog():
    Group.objects.get_or_create(name=access.PRODUCT_OWNER)
    stream = ValueStreamFactory(name="Payments", slug="payments")
    team = TeamFactory(name="Payments Core")
    stream.teams.add(team)
    owner = PersonFactory(user=UserFactory(username="olga", roles=[access.PRODUCT_OWNER]))
    MembershipFactory(person=owner, team=team, role="product_owner")
    support = TeamFactory(name="Support", type=Team.Type.BUSINESS_OPERATIONS)
    ReadinessCriterionFactory(name="Support trained", owner_team=support, flow_types=["feature"])
    feature = item_create(stream_id=stream.pk, title="Instant refunds", flow_type="feature", team=team, rank=1)
    item_change_state(item=feature, to_state=state(stream, "In progress"))
    defect = item_create(stream_id=stream.pk, title="Wrong fee", flow_type="defect", team=team, rank=2)
    idea = item_create(
        stream_id=stream.pk, title="Fewer refund calls", flow_type="feature", rank=3, proposed_by=support
    )
    return {"stream": stream, "owner": owner.user, "feature": feature, "defect": defect, "idea": idea}


def test_the_backlog_lists_open_items_by_rank_and_filters(client, backlog):
    client.force_login(backlog["owner"])
    assert client.get(reverse("streams:backlog")).url == reverse("streams:backlog-stream", args=["payments"])
    url = reverse("streams:backlog-stream", args=["payments"])
    response = client.get(url)
    assert [row["item"].title for row in response.context["rows"]] == [
        "Instant refunds",
        "Wrong fee",
        "Fewer refund calls",
    ]
    html = response.content.decode()
    assert "1 of 1 pending" in html and "Proposed by Support" in html
    assert "1 improvement idea proposed by operations" in html
    proposed = client.get(url, {"proposed": "on"})
    assert [row["item"].title for row in proposed.context["rows"]] == ["Fewer refund calls"]
    defects = client.get(url, {"flow_type": "defect"})
    assert [row["item"].title for row in defects.context["rows"]] == ["Wrong fee"]


def test_the_release_gate_refusal_appears_on_the_row_naming_criteria_and_owner_teams(client, backlog):
    client.force_login(backlog["owner"])
    feature, stream = backlog["feature"], backlog["stream"]
    response = client.post(
        reverse("streams:item-move", args=[feature.pk]), {"state": state(stream, "Done").pk}, headers=HTMX
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="item-{feature.pk}"')
    assert "Support trained (owned by Support)" in html and 'role="alert"' in html
    feature.refresh_from_db()
    assert feature.state.name == "In progress"
    # The refused finish starts the wait on readiness.
    assert BlockedPeriod.objects.get(item=feature).reason == "readiness"


def test_moving_an_item_in_place(client, backlog):
    client.force_login(backlog["owner"])
    defect, stream = backlog["defect"], backlog["stream"]
    response = client.post(
        reverse("streams:item-move", args=[defect.pk]), {"state": state(stream, "Done").pk}, headers=HTMX
    )
    assert response.status_code == 200 and "errors" not in response.content.decode()
    assert BacklogItem.objects.get(pk=defect.pk).state.name == "Done"
    other_stream_state = state(ValueStreamFactory(), "Done")
    bad = client.post(reverse("streams:item-move", args=[defect.pk]), {"state": other_stream_state.pk}, headers=HTMX)
    assert bad.status_code == 422 and "Choose one of this value stream&#x27;s states" in bad.content.decode()


def test_only_the_streams_product_owners_move_its_items(client, backlog):
    outsider = UserFactory(username="vic", roles=[access.PRODUCT_OWNER])
    client.force_login(outsider)
    url = reverse("streams:item-move", args=[backlog["defect"].pk])
    assert client.post(url, {"state": state(backlog["stream"], "Done").pk}, headers=HTMX).status_code == 403
    page = client.get(reverse("streams:backlog-stream", args=["payments"]))
    assert not any(row["may_move"] for row in page.context["rows"]) and "Move</button>" not in page.content.decode()


def test_the_query_count_does_not_grow_with_the_rows(
    client, backlog, django_assert_num_queries, django_assert_max_num_queries
):
    client.force_login(backlog["owner"])
    url = reverse("streams:backlog-stream", args=["payments"])
    client.get(url)
    with django_assert_max_num_queries(25) as few:
        client.get(url)
    for n in range(40):
        item_create(stream_id=backlog["stream"].pk, title=f"More {n}", flow_type="feature", rank=10 + n)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(response.context["rows"]) == 43
