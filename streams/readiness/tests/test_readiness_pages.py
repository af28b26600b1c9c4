"""/readiness/: each owner team's queue across streams, sign-off through htmx with its
permissions, proposals into a stream's backlog, and a query count flat in the rows."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone
import pytest

from core import access
from streams.backlog.services import item_create
from streams.models import BacklogItem, ReadinessCheck
from streams.readiness.services import readiness_check_decide
from streams.tests.factories import ReadinessCriterionFactory, ValueStreamFactory
from teams.models import Team
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
HTMX = {"HX-Request": "true"}


def member_of(team, *roles, username):
    person = PersonFactory(user=UserFactory(username=username, roles=list(roles)))
    MembershipFactory(person=person, team=team)
    return person.user


@pytest.fixture
def ops():
    payments, lending = ValueStreamFactory(name="Payments"), ValueStreamFactory(name="Lending")
    support = TeamFactory(name="Support", slug="support", type=Team.Type.BUSINESS_OPERATIONS)
    legal = TeamFactory(name="Legal", slug="legal", type=Team.Type.BUSINESS_OPERATIONS)
    ReadinessCriterionFactory(name="Support trained", owner_team=support)
    ReadinessCriterionFactory(name="Legal review", owner_team=legal)
    today = NOW.date()
    items = {
        "late": item_create(stream_id=payments.pk, title="Refunds", flow_type="feature", target_date=today),
        "soon": item_create(
            stream_id=lending.pk, title="Loan top-up", flow_type="feature", target_date=today + dt.timedelta(days=9)
        ),
        "undated": item_create(stream_id=payments.pk, title="Card freeze", flow_type="feature"),
    }
    return {"payments": payments, "support": support, "legal": legal, "items": items}


def check_of(item, team):
    return ReadinessCheck.objects.get(item=item, criterion__owner_team=team)


def test_the_queue_lists_the_users_team_checks_across_streams_by_target_date(client, ops):
    client.force_login(member_of(ops["support"], access.OPERATIONS, username="sam"))
    response = client.get(reverse("readiness:queue"))
    assert response.status_code == 200
    assert response.context["selected"].team == ops["support"]
    queue = [row["check"].item.title for row in response.context["rows"]]
    assert queue == ["Refunds", "Loan top-up", "Card freeze"]  # no target date last
    assert all(row["may_sign_off"] for row in response.context["rows"])
    teams = {row.team.name: row.pending for row in response.context["teams"]}
    assert teams == {"Legal": 3, "Support": 3}
    # Another team's queue can be read, but not signed off.
    legal = client.get(reverse("readiness:queue"), {"team": "legal"})
    assert not any(row["may_sign_off"] for row in legal.context["rows"])
    assert "Pending · to be signed off by Legal" in legal.content.decode()
    assert client.get(reverse("readiness:queue"), {"team": "nobody"}).status_code == 404


def test_ages_in_the_queue_are_whole_days(client, ops):
    client.force_login(member_of(ops["support"], access.OPERATIONS, username="sam"))
    check = check_of(ops["items"]["late"], ops["support"])
    type(check).objects.filter(pk=check.pk).update(created_at=NOW - dt.timedelta(days=113, hours=14))
    page = client.get(reverse("readiness:queue"), {"team": "support"}).content.decode()
    row = page.split(f'id="check-{check.pk}"')[1].split("</tr>")[0]
    assert '<td class="num">113</td>' in row and "113.6" not in page


def test_no_decision_is_preselected_and_none_chosen_is_refused(client, ops):
    sam = member_of(ops["support"], username="sam")
    client.force_login(sam)
    check = check_of(ops["items"]["late"], ops["support"])
    page = client.get(reverse("readiness:queue"), {"team": "support"}).content.decode()
    assert '<option value="">Choose a decision…</option>' in page and 'value="met" selected' not in page
    response = client.post(reverse("readiness:decide", args=[check.pk]), {f"check-{check.pk}-status": ""}, headers=HTMX)
    assert response.status_code == 422 and "Choose a decision" in response.content.decode()
    check.refresh_from_db()
    assert check.status == "pending"


def test_signing_off_through_htmx_returns_the_decided_row(client, ops):
    sam = member_of(ops["support"], username="sam")
    client.force_login(sam)
    check = check_of(ops["items"]["late"], ops["support"])
    url = reverse("readiness:decide", args=[check.pk])
    response = client.post(url, {f"check-{check.pk}-status": "met"}, headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="check-{check.pk}"') and "Met" in html and "by sam" in html
    # The team's pending count in the summary follows, swapped out of band.
    assert f'<tr id="team-{ops["support"].pk}"' in html and 'hx-swap-oob="true"' in html
    assert '<td class="num" data-testid="pending-support">2</td>' in html
    check.refresh_from_db()
    assert (check.status, check.signed_off_by) == ("met", sam)


def test_a_waiver_without_a_reason_comes_back_inline_and_changes_nothing(client, ops):
    client.force_login(member_of(ops["support"], username="sam"))
    check = check_of(ops["items"]["late"], ops["support"])
    response = client.post(
        reverse("readiness:decide", args=[check.pk]), {f"check-{check.pk}-status": "waived"}, headers=HTMX
    )
    assert response.status_code == 422
    assert "A waiver needs a reason" in response.content.decode()
    assert ReadinessCheck.objects.get(pk=check.pk).status == "pending"


def test_only_the_owning_team_or_an_administrator_signs_off(client, ops):
    check = check_of(ops["items"]["late"], ops["support"])
    url, data = reverse("readiness:decide", args=[check.pk]), {f"check-{check.pk}-status": "not_applicable"}
    client.force_login(member_of(ops["legal"], access.OPERATIONS, username="lee"))
    assert client.post(url, data, headers=HTMX).status_code == 403
    assert ReadinessCheck.objects.get(pk=check.pk).status == "pending"
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    response = client.post(url, data)  # without htmx: back to the queue with a message
    assert response.status_code == 302 and response["Location"].endswith("?team=support")
    assert ReadinessCheck.objects.get(pk=check.pk).status == "not_applicable"


def test_a_team_member_proposes_an_improvement_into_a_streams_backlog(client, ops):
    client.force_login(member_of(ops["support"], username="sam"))
    url = reverse("readiness:queue") + "?team=support"
    empty = client.post(
        url, {"propose-stream": ops["payments"].pk, "propose-title": "", "propose-flow_type": "feature"}
    )
    assert empty.status_code == 422 and "This field is required" in empty.content.decode()
    response = client.post(
        url,
        {
            "propose-stream": ops["payments"].pk,
            "propose-title": "Self-service refund status",
            "propose-flow_type": "feature",
            "propose-customer_facing": "on",
        },
    )
    assert response.status_code == 302
    item = BacklogItem.objects.get(title="Self-service refund status")
    assert (item.stream, item.proposed_by, item.customer_facing) == (ops["payments"], ops["support"], True)
    assert item.state.category == "backlog" and item.readiness_checks.count() == 2
    # Someone outside the team cannot propose in its name.
    client.force_login(member_of(ops["legal"], username="lee"))
    refused = client.post(
        url, {"propose-stream": ops["payments"].pk, "propose-title": "X", "propose-flow_type": "risk"}
    )
    assert refused.status_code == 403


def test_lead_times_by_criterion_and_team(client, ops):
    sam = member_of(ops["support"], username="sam")
    for key, days in (("late", 2), ("soon", 6)):
        check = check_of(ops["items"][key], ops["support"])
        ReadinessCheck.objects.filter(pk=check.pk).update(created_at=NOW - dt.timedelta(days=10))
        readiness_check_decide(check=check.pk, status="met", actor=sam, at=NOW - dt.timedelta(days=10 - days))
    client.force_login(sam)
    response = client.get(reverse("readiness:queue"))
    support = next(row for row in response.context["teams"] if row.team.slug == "support")
    assert (support.met, support.pending) == (2, 1)
    assert support.lead_p50 == pytest.approx(4) and support.lead_p85 == pytest.approx(2 + 0.85 * 4)
    (trained,) = response.context["lead_times"]
    assert (trained.criterion.name, trained.met, trained.p50) == ("Support trained", 2, pytest.approx(4))


def test_the_query_count_does_not_grow_with_the_queue(
    client, ops, django_assert_num_queries, django_assert_max_num_queries
):
    client.force_login(member_of(ops["support"], username="sam"))
    url = reverse("readiness:queue")
    client.get(url)  # warm the session
    with django_assert_max_num_queries(20) as few:
        client.get(url)
    for n in range(60):
        item_create(stream_id=ops["payments"].pk, title=f"More {n}", flow_type="feature")
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(response.context["rows"]) == 50 and response.context["queue"].paginator.num_pages == 2


def test_ticked_checks_are_signed_off_one_by_one_through_the_service_until_the_first_refusal(client, ops):
    client.force_login(member_of(ops["support"], access.OPERATIONS, username="sam"))
    first, theirs, last = (
        check_of(ops["items"]["late"], ops["support"]),
        check_of(ops["items"]["soon"], ops["legal"]),  # Legal's: Sam may not sign it off
        check_of(ops["items"]["undated"], ops["support"]),
    )
    page = client.get(reverse("readiness:queue"), {"team": "support"}).content.decode()
    assert 'form="bulk-signoff"' in page and "Sign off ticked" in page
    url = reverse("readiness:decide-many")
    data = {"team": "support", "bulk-status": "met", "checks": [first.pk, theirs.pk, last.pk]}
    response = client.post(url, data, follow=True)
    said = response.content.decode()
    assert "Signed off 1 of 3: Legal review for" in said and "The rest are left pending." in said
    statuses = {
        check.pk: check.status for check in ReadinessCheck.objects.filter(pk__in=[first.pk, theirs.pk, last.pk])
    }
    assert statuses == {first.pk: "met", theirs.pk: "pending", last.pk: "pending"}
    assert {row.team.name: row.pending for row in response.context["teams"]}["Support"] == 2  # the counts follow
    # Without a decision nothing is signed off.
    refused = client.post(url, {"team": "support", "bulk-status": "", "checks": [last.pk]}, follow=True)
    assert "Choose a decision" in refused.content.decode()
    assert ReadinessCheck.objects.get(pk=last.pk).status == "pending"
    done = client.post(url, {"team": "support", "bulk-status": "not_applicable", "checks": [last.pk]}, follow=True)
    assert "1 check signed off as not applicable." in done.content.decode()
