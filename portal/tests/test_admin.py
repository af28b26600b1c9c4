"""The admin: every screen loads with bounded queries, items move only through the services,
the release gate and bad rows are refused with a message, and permissions follow `core.access`."""

import datetime as dt
from decimal import Decimal
import itertools

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.forms import MultiWidget
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
import pytest

from core import access
from okrs.models import CheckIn, KeyResult, Objective
from okrs.tests.factories import CheckInFactory, KeyResultFactory, ObjectiveFactory
from portal.notifications.models import ChatChannel
from portal.notifications.services import chat_channel_save
from streams.backlog import services
from streams.models import (
    BacklogItem,
    BlockedPeriod,
    Connection,
    Dependency,
    Deployment,
    DeploymentItem,
    FlowSnapshot,
    FlowType,
    ImprovementExperiment,
    Incident,
    LeadershipAssignment,
    ProcessBlock,
    ReadinessCheck,
    ReadinessCriterion,
    StateTransition,
    TargetMix,
    ValueStream,
    ValueStreamMap,
    Waste,
    WorkflowState,
)
from streams.tests.factories import (
    BacklogItemFactory,
    LeadershipAssignmentFactory,
    ReadinessCheckFactory,
    ReadinessCriterionFactory,
    ValueStreamFactory,
    state,
)
from teams.models import Discipline, Membership, Person, Team
from teams.tests.factories import DisciplineFactory, MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

_serial = itertools.count()


def _transition() -> StateTransition:
    stream = ValueStreamFactory()
    item = services.item_create(stream_id=stream.pk, title="Moved", flow_type=FlowType.FEATURE)
    return services.item_change_state(item=item, to_state=state(stream, "In progress"), actor=UserFactory())


def _map() -> ValueStreamMap:
    stream = ValueStreamFactory(workflow=False)
    return ValueStreamMap.objects.create(stream=stream, name="Checkout", as_of=dt.date.today())


def _deployment() -> Deployment:
    deployment = Deployment.objects.create(
        stream=ValueStreamFactory(workflow=False),
        service="checkout",
        version="1.4.2",
        started_at=timezone.now() - dt.timedelta(hours=3),
        finished_at=timezone.now() - dt.timedelta(hours=2),
    )
    DeploymentItem.objects.create(deployment=deployment, item=BacklogItemFactory())
    return deployment


# One row (with its foreign keys filled in, so every list column is exercised) per registered model.
_ACCESS = {"user_agent": "test", "http_accept": "text/html", "path_info": "/login/"}

ROW_FACTORIES = {
    ChatChannel: lambda: chat_channel_save(
        channel=ChatChannel(name="#ops", service="slack", team=TeamFactory()), url="https://hooks.slack.com/x"
    ),
    Discipline: DisciplineFactory,
    Person: lambda: PersonFactory(user=UserFactory()),
    Team: lambda: MembershipFactory().team,
    Membership: MembershipFactory,
    ValueStream: lambda: ValueStreamFactory(workflow=False),
    TargetMix: lambda: TargetMix.objects.create(
        stream=ValueStreamFactory(workflow=False), period="2026-Q1", flow_type=FlowType.FEATURE, percent=60
    ),
    LeadershipAssignment: lambda: LeadershipAssignmentFactory(mentor=PersonFactory()),
    WorkflowState: lambda: ValueStreamFactory().states.first(),
    BacklogItem: lambda: BacklogItemFactory(team=TeamFactory()),
    StateTransition: _transition,
    BlockedPeriod: lambda: BlockedPeriod.objects.create(item=BacklogItemFactory(), started_at=timezone.now()),
    Dependency: lambda: Dependency.objects.create(
        item=BacklogItemFactory(), blocked_by=BacklogItemFactory(), created_at=timezone.now()
    ),
    ReadinessCriterion: ReadinessCriterionFactory,
    ReadinessCheck: lambda: ReadinessCheckFactory(
        status=ReadinessCheck.Status.MET, signed_off_by=UserFactory(), signed_off_at=timezone.now()
    ),
    ValueStreamMap: _map,
    FlowSnapshot: lambda: FlowSnapshot.objects.create(
        stream=ValueStreamFactory(workflow=False),
        week_start=dt.date(2026, 3, 2) + dt.timedelta(weeks=next(_serial)),
        throughput=3,
        wip=2,
        metrics={},
    ),
    ProcessBlock: lambda: ProcessBlock.objects.create(
        map=_map(),
        activity="Review",
        team=TeamFactory(),
        process_time_hours=2,
        lead_time_hours=10,
        wastes=[Waste.WAITING, Waste.MOTION],
    ),
    ImprovementExperiment: lambda: ImprovementExperiment.objects.create(
        stream=ValueStreamFactory(workflow=False),
        title="Smaller batches",
        hypothesis="Flow time drops",
        change="Split stories",
        start_date=dt.date(2026, 1, 1),
        review_date=dt.date(2026, 3, 1),
    ),
    Objective: lambda: ObjectiveFactory(
        level=Objective.Level.TEAM, team=TeamFactory(), owner=PersonFactory(), parent=ObjectiveFactory()
    ),
    KeyResult: KeyResultFactory,
    Deployment: lambda: _deployment(),
    DeploymentItem: lambda: _deployment().shipped.first(),
    Incident: lambda: Incident.objects.create(
        stream=ValueStreamFactory(workflow=False),
        title="Checkout down",
        opened_at=timezone.now() - dt.timedelta(hours=2),
        resolved_at=timezone.now(),
        caused_by=_deployment(),
    ),
    CheckIn: lambda: CheckInFactory(author=UserFactory()),
    Connection: lambda: Connection.objects.create(
        stream=ValueStreamFactory(workflow=False), tool="azure_devops", base_url="https://dev.azure.com/contoso"
    ),
    UserFactory._meta.model: UserFactory,
    Group: lambda: Group.objects.create(name=f"Group {next(_serial)}"),
    # django-axes' records of logins and failed attempts (read-only in the admin).
    AccessAttempt: lambda: AccessAttempt.objects.create(
        username=f"user{next(_serial)}", ip_address="10.0.0.1", failures_since_start=1, **_ACCESS
    ),
    AccessLog: lambda: AccessLog.objects.create(username=f"user{next(_serial)}", ip_address="10.0.0.1", **_ACCESS),
    AccessFailureLog: lambda: AccessFailureLog.objects.create(
        username=f"user{next(_serial)}", ip_address="10.0.0.1", **_ACCESS
    ),
}

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _count_queries(client, url: str):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response, [query["sql"] for query in queries.captured_queries]


def form_data(response) -> dict:
    """The change form and its inlines as a browser would submit them untouched."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): value for name, value in management.initial.items()})
        forms.extend(inline.formset.forms)
    for form in forms:
        for field in form:
            value = field.value()
            if isinstance(field.field.widget, MultiWidget):
                for index, part in enumerate(field.field.widget.decompress(value)):
                    data[f"{field.html_name}_{index}"] = "" if part is None else part
            elif value is True:
                data[field.html_name] = "on"
            elif value is not None and value is not False:  # 0 is a value, an unticked box is none
                data[field.html_name] = value
    return data


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- Every screen loads, with a query count that does not grow with rows ---------------------


def test_every_registered_model_has_a_row_factory():
    assert set(REGISTERED) <= set(ROW_FACTORIES), "add a row factory for each new admin"


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_changelist_query_count_does_not_grow_with_rows(admin_client, model):
    url = _url(model, "changelist")
    ROW_FACTORIES[model]()
    admin_client.get(url)  # first request fills per-process caches (content types)
    response, one_row = _count_queries(admin_client, url)
    for _ in range(5):
        ROW_FACTORIES[model]()
    more_response, many_rows = _count_queries(admin_client, url)

    assert more_response.context["cl"].result_count > response.context["cl"].result_count
    assert len(many_rows) == len(one_row), "\n".join(many_rows)


def test_backlog_item_changelist_queries_are_named(admin_client, django_assert_num_queries):
    for _ in range(3):
        BacklogItemFactory(team=TeamFactory())
    url = _url(BacklogItem, "changelist")
    admin_client.get(url)
    # session, user, streams for the stream filter, the table's row estimate (small: then
    # counted), item count, item page with stream/team/state joined
    expected = 6 if connection.vendor == "postgresql" else 5
    with django_assert_num_queries(expected):
        admin_client.get(url)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_add_page_loads_for_a_superuser(admin_client, model):
    response = admin_client.get(_url(model, "add"))

    # The transition history and the weekly snapshots are written only by services and jobs,
    # and the login records only by django-axes.
    written_elsewhere = (StateTransition, FlowSnapshot, AccessAttempt, AccessLog, AccessFailureLog)
    assert response.status_code == (403 if model in written_elsewhere else 200)


def test_transition_admin_is_read_only(admin_client):
    transition = _transition()
    response = admin_client.get(_url(StateTransition, "change", transition.pk))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert admin_client.post(_url(StateTransition, "change", transition.pk), {}).status_code == 403
    assert admin_client.post(_url(StateTransition, "delete", transition.pk), {"post": "yes"}).status_code == 403


# --- Backlog items go through the services ----------------------------------------------------


@pytest.fixture
def stream():
    return ValueStreamFactory()


@pytest.fixture
def item(stream):
    return services.item_create(stream_id=stream.pk, title="Pay by link", flow_type=FlowType.FEATURE)


def test_deleting_an_item_or_a_stream_takes_its_history_with_it(admin_client, stream, item):
    response = admin_client.post(_url(BacklogItem, "delete", item.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not StateTransition.objects.filter(item_id=item.pk).exists()

    services.item_create(stream_id=stream.pk, title="Refunds", flow_type=FlowType.FEATURE)
    response = admin_client.post(_url(ValueStream, "delete", stream.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not BacklogItem.objects.filter(stream_id=stream.pk).exists()


def test_changing_a_states_category_refreshes_its_items_dates(
    admin_client, stream, item, django_capture_on_commit_callbacks
):
    """Review was mapped as a waiting queue by mistake; remapping it as done finishes its items."""
    review = state(stream, "Review")
    services.item_change_state(item=item, to_state=review)
    url = _url(WorkflowState, "change", review.pk)
    data = form_data(admin_client.get(url))
    data["category"] = "done"

    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url, data).status_code == 302

    item.refresh_from_db()
    assert item.finished_at is not None and item.finished_at == item.transitions.latest("at").at


def test_item_change_page_shows_transitions_read_only_and_only_its_streams_states(admin_client, stream, item):
    services.item_change_state(item=item, to_state=state(stream, "In progress"))
    ValueStreamFactory()  # another stream's states must not be offered

    response = admin_client.get(_url(BacklogItem, "change", item.pk))

    assert response.status_code == 200
    (transitions,) = [i for i in response.context["inline_admin_formsets"] if i.opts.model is StateTransition]
    assert len(transitions.formset.forms) == 2
    assert transitions.has_view_permission
    assert not transitions.has_add_permission
    assert not transitions.has_change_permission
    assert not transitions.has_delete_permission
    offered = set(response.context["adminform"].form.fields["state"].queryset)
    assert offered == set(stream.states.all())


def test_changing_the_state_in_admin_records_an_admin_transition(admin_client, admin_user, stream, item):
    url = _url(BacklogItem, "change", item.pk)
    data = form_data(admin_client.get(url))
    data["state"] = state(stream, "In progress").pk

    response = admin_client.post(url, data)

    assert response.status_code == 302
    transition = item.transitions.latest("pk")
    assert (transition.from_state.name, transition.to_state.name) == ("Backlog", "In progress")
    assert (transition.source, transition.actor) == ("admin", admin_user)
    item.refresh_from_db()
    assert item.state.name == "In progress"
    assert item.started_at == transition.at


def test_moving_to_done_with_a_pending_check_is_refused_until_it_is_waived(admin_client, admin_user, stream):
    ReadinessCriterionFactory(name="Support team trained")
    item = services.item_create(stream_id=stream.pk, title="Pay by link", flow_type=FlowType.FEATURE)
    url = _url(BacklogItem, "change", item.pk)
    data = form_data(admin_client.get(url))
    data["state"] = state(stream, "Done").pk

    refused = admin_client.post(url, data)

    assert refused.status_code == 200
    assert "Support team trained" in refused.context["adminform"].form.errors["state"][0]
    assert any("Support team trained" in message for message in _messages(refused))
    assert item.transitions.count() == 1
    item.refresh_from_db()
    assert item.state.name == "Backlog"

    check = item.readiness_checks.get()
    check_url = _url(ReadinessCheck, "change", check.pk)
    check_data = form_data(admin_client.get(check_url))
    check_data.update(status=ReadinessCheck.Status.WAIVED, reason="Support agreed to train after launch.")
    assert admin_client.post(check_url, check_data).status_code == 302
    check.refresh_from_db()
    assert check.signed_off_by == admin_user
    assert check.signed_off_at is not None

    accepted = admin_client.post(url, data)

    assert accepted.status_code == 302
    item.refresh_from_db()
    assert item.state.name == "Done"
    assert item.finished_at == item.transitions.latest("pk").at


def test_deciding_a_check_in_the_item_inline_records_the_sign_off(admin_client, admin_user, stream):
    ReadinessCriterionFactory(name="Runbook updated")
    item = services.item_create(stream_id=stream.pk, title="Pay by link", flow_type=FlowType.FEATURE)
    url = _url(BacklogItem, "change", item.pk)
    data = form_data(admin_client.get(url))
    data["readiness_checks-0-status"] = ReadinessCheck.Status.MET

    assert admin_client.post(url, data).status_code == 302

    check = item.readiness_checks.get()
    assert (check.status, check.signed_off_by) == (ReadinessCheck.Status.MET, admin_user)
    assert check.signed_off_at is not None


def test_waiving_a_check_without_a_reason_is_a_field_error(admin_client, item):
    check = ReadinessCheckFactory(item=item)
    url = _url(ReadinessCheck, "change", check.pk)
    data = form_data(admin_client.get(url))
    data.update(status=ReadinessCheck.Status.WAIVED, reason="  ")

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["reason"] == ["A waived check needs a reason."]
    check.refresh_from_db()
    assert check.status == ReadinessCheck.Status.PENDING


def test_a_state_change_refused_at_save_is_reported_and_other_edits_kept(admin_client, stream, item, monkeypatch):
    def refuse(**kwargs):
        raise services.StateChangeError("Someone else moved this item a moment ago.", field="state")

    monkeypatch.setattr(services, "item_change_state", refuse)
    url = _url(BacklogItem, "change", item.pk)
    data = form_data(admin_client.get(url))
    data.update(state=state(stream, "In progress").pk, title="Pay by link, v2")

    response = admin_client.post(url, data, follow=True)

    assert "Someone else moved this item a moment ago." in _messages(response)
    item.refresh_from_db()
    assert (item.title, item.state.name) == ("Pay by link, v2", "Backlog")
    assert item.transitions.count() == 1


def _add_item_data(stream, **overrides) -> dict:
    return {"stream": stream.pk, "title": "Refunds", "flow_type": FlowType.FEATURE, "rank": "0", **overrides}


def test_adding_an_item_records_its_entry_and_readiness_checks(admin_client, admin_user, stream):
    ReadinessCriterionFactory(name="Legal review")

    response = admin_client.post(_url(BacklogItem, "add"), _add_item_data(stream, source="jira", external_key="PAY-7"))

    assert response.status_code == 302
    item = BacklogItem.objects.get()
    assert (item.source, item.external_key) == ("", "")  # a tool's key is set by its import only
    assert item.state == state(stream, "Backlog")
    entry = item.transitions.get()
    assert (entry.from_state, entry.to_state, entry.source, entry.actor) == (None, item.state, "admin", admin_user)
    assert item.readiness_checks.get().criterion.name == "Legal review"


def test_adding_an_item_straight_into_done_with_pending_checks_is_refused(admin_client, stream):
    ReadinessCriterionFactory(name="Legal review")

    response = admin_client.post(_url(BacklogItem, "add"), _add_item_data(stream, state=state(stream, "Done").pk))

    assert response.status_code == 200
    assert "Legal review" in response.context["adminform"].form.errors["state"][0]
    assert any("Legal review" in message for message in _messages(response))
    assert not BacklogItem.objects.exists()
    assert not ReadinessCheck.objects.exists()


def test_an_item_create_refused_at_save_writes_nothing_and_is_reported(admin_client, stream, monkeypatch):
    calls = []
    item_create = services.item_create

    def refuse_when_saving(**kwargs):
        calls.append(kwargs)
        if len(calls) > 1:  # the form's dry run passes; the real create finds the data changed
            raise services.StateChangeError("The workflow changed while you typed.", field="state")
        return item_create(**kwargs)

    monkeypatch.setattr(services, "item_create", refuse_when_saving)

    response = admin_client.post(_url(BacklogItem, "add"), _add_item_data(stream), follow=True)

    assert response.redirect_chain == [(_url(BacklogItem, "add"), 302)]
    assert "The workflow changed while you typed." in _messages(response)
    assert not BacklogItem.objects.exists()


def test_adding_an_item_in_another_streams_state_is_a_field_error(admin_client, stream):
    other = ValueStreamFactory()

    response = admin_client.post(_url(BacklogItem, "add"), _add_item_data(stream, state=state(other, "Ready").pk))

    assert response.status_code == 200
    assert "another value stream" in response.context["adminform"].form.errors["state"][0]
    assert not BacklogItem.objects.exists()


# --- Bad rows are refused field by field -----------------------------------------------------


def test_allocation_above_100_percent_is_a_field_error(admin_client):
    person, team = PersonFactory(), TeamFactory()

    response = admin_client.post(
        _url(Membership, "add"),
        {"person": person.pk, "team": team.pk, "role": Membership.Role.MEMBER, "allocation_percent": "150"},
    )

    assert response.status_code == 200
    assert "allocation_percent" in response.context["adminform"].form.errors
    assert not Membership.objects.exists()


def test_confidence_above_1_is_a_field_error(admin_client):
    key_result = KeyResultFactory()

    response = admin_client.post(
        _url(CheckIn, "add"),
        {"key_result": key_result.pk, "value": "50", "confidence": "1.5", "date": "2026-02-01"},
    )

    assert response.status_code == 200
    assert "confidence" in response.context["adminform"].form.errors
    assert not CheckIn.objects.exists()


def test_a_violated_constraint_shows_its_message(admin_client):
    team = TeamFactory()

    response = admin_client.post(
        _url(Objective, "add"),
        {
            "title": "Grow",
            "level": Objective.Level.COMPANY,
            "period": "2026-Q1",
            "team": team.pk,
            "key_results-TOTAL_FORMS": "0",
            "key_results-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "A company objective has no stream or team" in response.content.decode()
    assert not Objective.objects.exists()


def test_choice_list_values_are_shown_by_label_and_filtered_by_code(admin_client):
    ReadinessCriterionFactory(name="Pricing page", flow_types=[FlowType.FEATURE, FlowType.DEFECT])
    ReadinessCriterionFactory(name="Support trained", flow_types=[FlowType.FEATURE])

    response = admin_client.get(_url(ReadinessCriterion, "changelist") + f"?flow_type={FlowType.DEFECT}")

    assert [criterion.name for criterion in response.context["cl"].result_list] == ["Pricing page"]
    assert "Feature, Defect" in response.content.decode()


def test_a_map_is_entered_with_its_process_blocks(admin_client, stream):
    response = admin_client.post(
        _url(ValueStreamMap, "add"),
        {
            "stream": stream.pk,
            "name": "Checkout today",
            "kind": ValueStreamMap.Kind.CURRENT,
            "as_of": "2026-02-01",
            "blocks-TOTAL_FORMS": "1",
            "blocks-INITIAL_FORMS": "0",
            "blocks-0-order": "1",
            "blocks-0-activity": "Code review",
            "blocks-0-people": "2",
            "blocks-0-process_time_hours": "2",
            "blocks-0-lead_time_hours": "30",
            "blocks-0-queue_before": "4",
            "blocks-0-percent_complete_accurate": "80",
            "blocks-0-wastes": [Waste.WAITING, Waste.DEFECTS],
        },
    )

    assert response.status_code == 302
    block = ProcessBlock.objects.get(map__stream=stream)
    assert (block.activity, block.wastes) == ("Code review", [Waste.WAITING, Waste.DEFECTS])


# --- Permissions follow core.access ----------------------------------------------------------


def test_a_staff_viewer_may_read_but_not_add(client):
    client.force_login(UserFactory(is_staff=True, roles=[access.VIEWER]))
    BacklogItemFactory()

    assert client.get(_url(BacklogItem, "changelist")).status_code == 200
    assert client.get(_url(BacklogItem, "add")).status_code == 403


def test_a_director_edits_only_the_streams_they_lead(client):
    user = UserFactory(is_staff=True, roles=[access.PRODUCT_DIRECTOR])
    led, other = ValueStreamFactory(), ValueStreamFactory()
    LeadershipAssignmentFactory(person=PersonFactory(user=user), stream=led)
    client.force_login(user)
    row = {"name": "Security review", "category": WorkflowState.Category.WAITING, "order": "9"}

    assert client.post(_url(WorkflowState, "add"), {**row, "stream": led.pk}).status_code == 302
    assert client.post(_url(WorkflowState, "add"), {**row, "stream": other.pk}).status_code == 403
    assert not other.states.filter(name="Security review").exists()
    foreign_state = state(other, "Review")
    assert client.post(_url(WorkflowState, "change", foreign_state.pk), {**row, "stream": other.pk}).status_code == 403


def test_only_the_owning_operations_team_signs_off_a_check(client, item):
    owner = UserFactory(is_staff=True, roles=[access.OPERATIONS])
    outsider = UserFactory(is_staff=True, roles=[access.OPERATIONS])
    check = ReadinessCheckFactory(item=item)
    MembershipFactory(person=PersonFactory(user=owner), team=check.criterion.owner_team)
    MembershipFactory(person=PersonFactory(user=outsider))
    url = _url(ReadinessCheck, "change", check.pk)
    decision = {"status": ReadinessCheck.Status.MET, "reason": ""}

    client.force_login(outsider)
    assert client.post(url, decision).status_code == 403
    client.force_login(owner)
    assert client.post(url, decision).status_code == 302

    check.refresh_from_db()
    assert (check.status, check.signed_off_by) == (ReadinessCheck.Status.MET, owner)


def test_a_check_in_on_a_team_objective_follows_the_teams_product_owner(client):
    user = UserFactory(is_staff=True, roles=[access.PRODUCT_OWNER])
    own_team = MembershipFactory(person=PersonFactory(user=user)).team
    own = KeyResultFactory(objective=ObjectiveFactory(level=Objective.Level.TEAM, team=own_team))
    foreign = KeyResultFactory(objective=ObjectiveFactory(level=Objective.Level.TEAM, team=TeamFactory()))
    client.force_login(user)
    row = {"value": "55", "confidence": "0.8", "date": "2026-02-01"}

    assert client.post(_url(CheckIn, "add"), {**row, "key_result": own.pk}).status_code == 302
    assert client.post(_url(CheckIn, "add"), {**row, "key_result": foreign.pk}).status_code == 403
    assert list(CheckIn.objects.values_list("key_result", "value")) == [(own.pk, Decimal("55"))]


def test_an_unfiltered_list_of_a_big_table_takes_postgresqls_estimate_instead_of_counting(admin_client, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the estimate is PostgreSQL's")
    from core import admin as admin_mixins

    for _ in range(3):
        _transition()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE streams_statetransition")
    analyzed = StateTransition.objects.count()
    _transition()  # rows added since the last ANALYZE are not in the estimate
    monkeypatch.setattr(admin_mixins, "ESTIMATE_ABOVE", 0)  # a few rows stand for three million
    url = _url(StateTransition, "changelist")

    def counts(response_url):
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(response_url)
        assert response.status_code == 200
        table_counts = [q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"].upper()]
        return response, [sql for sql in table_counts if "streams_statetransition" in sql]

    response, counted = counts(url)
    assert counted == [] and response.context["cl"].result_count == analyzed < StateTransition.objects.count()
    # A filtered list is counted exactly: the estimate is of the whole table.
    item = StateTransition.objects.first().item
    response, counted = counts(f"{url}?item__id__exact={item.pk}")
    assert counted and response.context["cl"].result_count == item.transitions.count()
