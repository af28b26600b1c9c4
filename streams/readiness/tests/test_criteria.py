"""Readiness criteria managed on their page: who may, and the checks of open work following
each change (added where it now applies, pending ones dropped where it no longer does)."""

from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
import pytest

from core import access
from streams.backlog.services import item_change_state, item_create
from streams.models import BacklogItem, ReadinessCheck, ReadinessCriterion
from streams.readiness.services import criterion_checks_sync, readiness_check_decide
from streams.tests.factories import ReadinessCriterionFactory, ValueStreamFactory, state
from streams.tests.plans import queries_with_per_row_subplans
from teams.models import Team
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    Group.objects.get_or_create(name=access.OPERATIONS)
    payments, lending = ValueStreamFactory(name="Payments"), ValueStreamFactory(name="Lending")
    legal = TeamFactory(name="Legal", type=Team.Type.BUSINESS_OPERATIONS)
    lea = PersonFactory(user=UserFactory(username="lea", roles=[access.OPERATIONS]))
    MembershipFactory(person=lea, team=legal)
    open_feature = item_create(stream_id=payments.pk, title="Open feature", flow_type="feature")
    done_feature = item_create(stream_id=payments.pk, title="Done feature", flow_type="feature")
    item_change_state(item=done_feature, to_state=state(payments, "Done"))
    item_create(stream_id=payments.pk, title="Open defect", flow_type="defect")
    item_create(stream_id=lending.pk, title="Lending feature", flow_type="feature")
    return {"payments": payments, "lending": lending, "legal": legal, "lea": lea.user, "open": open_feature}


def post(client, url, **fields):
    data = {"name": "Legal review", "owner_team": fields.pop("team").pk, "flow_types": ["feature"], "active": "on"}
    data.update(fields)
    return client.post(url, data)


def checked_titles(criterion):
    return sorted(criterion.checks.values_list("item__title", flat=True))


def test_a_new_criterion_gives_open_work_it_applies_to_a_pending_check(client, org):
    client.force_login(org["lea"])
    response = post(client, reverse("readiness:criterion-add"), team=org["legal"], streams=[org["payments"].pk])
    assert response.status_code == 302
    criterion = ReadinessCriterion.objects.get(name="Legal review")
    assert checked_titles(criterion) == ["Open feature"]  # not the finished one, the defect, or Lending's
    listing = client.get(reverse("readiness:criteria")).content.decode()
    assert "Legal review" in listing and reverse("readiness:criterion-edit", args=[criterion.pk]) in listing


def test_narrowing_or_deactivating_drops_pending_checks_and_keeps_decided_ones(client, org):
    client.force_login(org["lea"])
    post(client, reverse("readiness:criterion-add"), team=org["legal"], all_streams="on")
    criterion = ReadinessCriterion.objects.get(name="Legal review")
    assert checked_titles(criterion) == ["Lending feature", "Open feature"]
    readiness_check_decide(check=criterion.checks.get(item=org["open"]), status="met", actor=org["lea"])
    edit = reverse("readiness:criterion-edit", args=[criterion.pk])
    post(client, edit, team=org["legal"], streams=[org["payments"].pk])
    assert dict(criterion.checks.values_list("item__title", "status")) == {"Open feature": "met"}
    post(client, edit, team=org["legal"], all_streams="on", active="")
    assert dict(criterion.checks.values_list("item__title", "status")) == {"Open feature": "met"}


def test_streams_are_required_unless_it_applies_to_all(client, org):
    client.force_login(org["lea"])
    response = post(client, reverse("readiness:criterion-add"), team=org["legal"])
    assert response.status_code == 422 and "Choose the value streams it applies to" in response.content.decode()
    assert not ReadinessCriterion.objects.exists()


def test_only_operations_members_of_the_owning_team_manage_it(client, org):
    theirs = ReadinessCriterionFactory(name="Runbook")  # owned by another team
    client.force_login(org["lea"])
    assert client.get(reverse("readiness:criterion-edit", args=[theirs.pk])).status_code == 403
    # Lea cannot hand a criterion to a team she is not in: it is not a choice.
    response = post(client, reverse("readiness:criterion-add"), team=theirs.owner_team, all_streams="on")
    assert response.status_code == 422 and not ReadinessCriterion.objects.filter(name="Legal review").exists()
    client.force_login(UserFactory(username="vera", roles=[access.VIEWER]))
    assert client.get(reverse("readiness:criterion-add")).status_code == 403


def test_the_list_query_count_does_not_grow_with_criteria(
    admin_client, org, django_assert_num_queries, django_assert_max_num_queries
):
    ReadinessCriterionFactory(owner_team=org["legal"], all_streams=False).streams.add(org["payments"])
    admin_client.get(reverse("readiness:criteria"))
    with django_assert_max_num_queries(15) as few:
        admin_client.get(reverse("readiness:criteria"))
    for _ in range(15):
        ReadinessCriterionFactory(owner_team=org["legal"], all_streams=False).streams.add(org["lending"])
    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_client.get(reverse("readiness:criteria"))
    assert response.content.decode().count('<tr><th scope="row">') == 16


def test_a_criterion_saved_in_the_admin_brings_open_work_in_line_too(admin_client, org):
    response = admin_client.post(
        reverse("admin:streams_readinesscriterion_add"),
        {"name": "Pricing page", "owner_team": org["legal"].pk, "flow_types": ["feature"], "active": "on"}
        | {"all_streams": "on"},
    )
    assert response.status_code == 302
    assert checked_titles(ReadinessCriterion.objects.get(name="Pricing page")) == ["Lending feature", "Open feature"]


def test_syncing_a_criterion_runs_no_subquery_per_check_however_much_open_work_there_is():
    """The pending checks to drop were those of items NOT IN the open work the criterion applies
    to: past what work_mem holds as a hash (about 260,000 items at the default 4 MB, half the
    open work of ten times the DESIGN.md scale), PostgreSQL ran that subquery again for every
    pending check, and saving a criterion would not end. Provoked here with less open work and
    the smallest work_mem."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans")
    stream = ValueStreamFactory(name="Big board")
    backlog = state(stream, "Backlog")
    items = BacklogItem.objects.bulk_create(
        BacklogItem(stream=stream, title=f"Item {n}", flow_type="feature", state=backlog, created_at=timezone.now())
        for n in range(6000)
    )
    criterion = ReadinessCriterionFactory(flow_types=["feature"])
    ReadinessCheck.objects.bulk_create(ReadinessCheck(item=item, criterion=criterion) for item in items[:3000])
    criterion.flow_types = ["defect"]  # none of the open work any more
    criterion.save()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE streams_backlogitem, streams_readinesscheck, streams_workflowstate")
        cursor.execute("SET LOCAL work_mem = '64kB'")
    with CaptureQueriesContext(connection) as queries:
        assert criterion_checks_sync(criterion=criterion) == (0, 3000)
    assert queries_with_per_row_subplans(queries.captured_queries) == {}
