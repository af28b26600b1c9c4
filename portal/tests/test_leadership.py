"""/leadership/: each stream's leaders, the ownership gaps by their rules, outcomes by director
kind, flow load per director, and a query count flat in the number of streams."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone
import pytest

from streams.backlog.services import item_change_state, item_create
from streams.tests.factories import LeadershipAssignmentFactory, ValueStreamFactory, state
from teams.tests.factories import PersonFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.now().date()


@pytest.fixture
def streams():
    mentor = PersonFactory(name="Mia Mentor")
    ada, bo = PersonFactory(name="Ada Dedicated"), PersonFactory(name="Bo Busy")
    payments, lending, cards = (ValueStreamFactory(name=name) for name in ("Payments", "Lending", "Cards"))
    ValueStreamFactory(name="Archive")  # no director
    LeadershipAssignmentFactory(stream=payments, person=ada, kind="dedicated", mentor=mentor)
    LeadershipAssignmentFactory(
        stream=payments, person=PersonFactory(name="Val Manager"), role="value_stream_manager", time_share_percent=50
    )
    LeadershipAssignmentFactory(
        stream=lending,
        person=bo,
        kind="dual_role",
        time_share_percent=60,
        mentor=mentor,
        review_date=TODAY - dt.timedelta(days=1),
    )
    LeadershipAssignmentFactory(stream=cards, person=bo, kind="dual_role", time_share_percent=45)
    for stream, n in ((payments, 2), (lending, 1), (cards, 3)):
        for k in range(n):
            item = item_create(stream_id=stream.pk, title=f"{stream.name} {k}", flow_type="feature")
            item_change_state(item=item, to_state=state(stream, "In progress"))
    return {"payments": payments, "lending": lending, "cards": cards}


def test_the_gaps_are_named_by_their_rules(admin_client, streams):
    response = admin_client.get(reverse("leadership"))
    assert response.status_code == 200
    gaps = {(stream.name, gap) for stream, gap in response.context["leadership"].gaps}
    assert gaps == {
        ("Archive", "No product director"),
        ("Cards", "Dual-role director gives 45% of their time (under 50%)"),
        ("Cards", "Director has no mentor"),
        ("Cards", "Bo Busy directs more streams than their time allows"),
        ("Lending", f"Director's review overdue since {TODAY - dt.timedelta(days=1):%Y-%m-%d}"),
        ("Lending", "Bo Busy directs more streams than their time allows"),
    }
    html = response.content.decode()
    assert "Val Manager" in html and "Owns" not in html.split("Streams and their leaders")[0]


def test_outcomes_by_kind_and_load_per_director(admin_client, streams):
    result = admin_client.get(reverse("leadership")).context["leadership"]
    outcomes = {o.kind: o for o in result.outcomes}
    assert (outcomes["dedicated"].streams, outcomes["dual_role"].streams, outcomes["none"].streams) == (1, 2, 1)
    assert outcomes["dual_role"].alignment.wip == 4 and outcomes["dedicated"].alignment.wip == 2
    loads = {load.person.name: load for load in result.loads}
    assert (loads["Bo Busy"].time_share, loads["Bo Busy"].wip, loads["Bo Busy"].overloaded) == (105, 4, True)
    assert [s.name for s in loads["Bo Busy"].streams] == ["Cards", "Lending"]
    assert (loads["Ada Dedicated"].wip, loads["Ada Dedicated"].overloaded) == (2, False)


def test_the_query_count_is_the_same_for_few_streams_and_many(
    admin_client, streams, django_assert_num_queries, django_assert_max_num_queries
):
    admin_client.get(reverse("leadership"))
    with django_assert_max_num_queries(20) as few:
        admin_client.get(reverse("leadership"))
    for n in range(30):
        LeadershipAssignmentFactory(stream=ValueStreamFactory(name=f"Stream {n:02}"), mentor=PersonFactory())
    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_client.get(reverse("leadership"))
    assert len(response.context["leadership"].rows) == 34
