"""Who hears what: each producer's recipients follow roles and ownership, and a second run the
same day or week says nothing again."""

import datetime as dt

from django.utils import timezone
import pytest

from core import access
from okrs.models import Objective
from okrs.tests.factories import CheckInFactory, KeyResultFactory, ObjectiveFactory
from portal.notifications import producers
from portal.notifications.models import Kind, Notification
from portal.notifications.services import preference_save
from portal.tests.api_helpers import api_for, member_of
from streams.backlog import services
from streams.models import FlowType, HeldItem, ImportJob, ImprovementExperiment, SyncRun
from streams.tests.factories import (
    BacklogItemFactory,
    LeadershipAssignmentFactory,
    ReadinessCheckFactory,
    ReadinessCriterionFactory,
    ValueStreamFactory,
    state,
)
from teams.models import Membership, Team
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory

pytestmark = pytest.mark.django_db


def told(kind=None):
    rows = Notification.objects.all() if kind is None else Notification.objects.filter(kind=kind)
    return sorted((n.recipient.name, n.kind) for n in rows.select_related("recipient"))


# --- Check-ins -----------------------------------------------------------------------------


def test_check_ins_due_go_to_the_key_results_owner_and_stale_ones_also_to_the_objectives(settings):
    today = timezone.localdate()
    boss, ana, ben = PersonFactory(name="Boss"), PersonFactory(name="Ana"), PersonFactory(name="Ben")
    objective = ObjectiveFactory(owner=boss)
    Objective.objects.filter(pk=objective.pk).update(created_at=timezone.now() - dt.timedelta(days=40))
    due = KeyResultFactory(objective=objective, owner=ana, title="Conversion")
    CheckInFactory(key_result=due, date=today - dt.timedelta(days=8))
    stale = KeyResultFactory(objective=objective, owner=ben, title="Refund time")
    CheckInFactory(key_result=stale, date=today - dt.timedelta(days=20))
    fresh = KeyResultFactory(objective=objective, owner=ana, title="NPS")
    CheckInFactory(key_result=fresh, date=today - dt.timedelta(days=2))
    KeyResultFactory(objective=ObjectiveFactory(owner=boss, period="2020-Q1"), owner=ana)  # a past period
    KeyResultFactory(objective=objective, title="Unowned")  # no owner: the objective's owner checks in

    assert producers.checkins(today) == 4
    assert told() == [
        ("Ana", "checkin_due"),
        ("Ben", "checkin_due"),
        ("Boss", "checkin_due"),
        ("Boss", "checkin_stale"),
    ]
    ana_due = Notification.objects.get(recipient=ana)
    assert [line["text"] for line in ana_due.lines] == [
        f"Conversion ({objective.title}): last check-in {today - dt.timedelta(days=8):%Y-%m-%d}, 8 days ago"
    ]
    assert ana_due.lines[0]["url"] == f"/okrs/key-results/{due.pk}/check-in/"
    assert ana_due.subject == "1 key result of yours needs a check-in" and "n = 1" in ana_due.figures
    stale_note = Notification.objects.get(recipient=boss, kind=Kind.CHECKIN_STALE)
    assert [line["text"].split(" (")[0] for line in stale_note.lines] == ["Refund time"]
    assert producers.checkins(today) == 0  # the same week: said already


# --- Readiness digest ------------------------------------------------------------------------


@pytest.fixture
def ops_world():
    today = timezone.localdate()
    ops = TeamFactory(name="Payments ops", slug="payments-ops", type=Team.Type.BUSINESS_OPERATIONS)
    other_ops = TeamFactory(name="Legal", slug="legal", type=Team.Type.BUSINESS_OPERATIONS)
    ana, ben = (
        MembershipFactory(team=ops, person__name="Ana").person,
        MembershipFactory(team=ops, person__name="Ben").person,
    )
    MembershipFactory(team=other_ops, person__name="Lea")
    MembershipFactory(team=TeamFactory(), person__name="Otto", role=Membership.Role.PRODUCT_OWNER)
    criterion = ReadinessCriterionFactory(owner_team=ops, name="Runbook")
    stream = ValueStreamFactory()
    old = ReadinessCheckFactory(item=BacklogItemFactory(stream=stream, title="Old"), criterion=criterion)
    late = ReadinessCheckFactory(
        item=BacklogItemFactory(stream=stream, title="Late", target_date=today - dt.timedelta(days=1)),
        criterion=criterion,
    )
    new = ReadinessCheckFactory(item=BacklogItemFactory(stream=stream, title="New"), criterion=criterion)
    now = timezone.now()
    for check, days in ((old, 10), (late, 3), (new, 1)):
        type(check).objects.filter(pk=check.pk).update(created_at=now - dt.timedelta(days=days))
    return {"today": today, "ana": ana, "ben": ben, "ops": ops}


def test_the_readiness_digest_goes_to_the_owning_teams_members_late_first_then_oldest(ops_world):
    today = ops_world["today"]
    assert producers.readiness_digests(today) == 2
    assert told() == [("Ana", "readiness_digest"), ("Ben", "readiness_digest")]  # not Legal's, not a product owner
    digest = Notification.objects.get(recipient=ops_world["ana"])
    assert [line["text"].split(":")[0].split(" ", 1)[1] for line in digest.lines] == ["Late", "Old", "New"]
    assert digest.lines[0]["text"].endswith(f"past its target date {today - dt.timedelta(days=1):%Y-%m-%d}")
    assert digest.subject == "3 readiness checks wait on Payments ops, 1 past their item's target date"
    assert digest.url == "/readiness/?team=payments-ops"
    assert "n = 3 pending" in digest.figures and "the oldest waits 10 days" in digest.figures
    assert producers.readiness_digests(today) == 0


def test_a_weekly_readiness_digest_comes_on_mondays_only(ops_world):
    preference_save(person=ops_world["ben"], kind=Kind.READINESS_DIGEST, channel="email", frequency="weekly")
    monday = ops_world["today"] - dt.timedelta(days=ops_world["today"].weekday())
    tuesday = monday + dt.timedelta(days=1)
    producers.readiness_digests(tuesday)
    assert told() == [("Ana", "readiness_digest")]
    producers.readiness_digests(monday)
    assert (
        Notification.objects.filter(recipient=ops_world["ben"])
        .values_list("key", flat=True)
        .get()
        .endswith(f"{monday.isocalendar()[0]}-W{monday.isocalendar()[1]:02d}")
    )


# --- Release gate ----------------------------------------------------------------------------


@pytest.fixture
def gate_world():
    team = TeamFactory(name="Checkout", slug="checkout")
    stream = ValueStreamFactory(name="Payments", slug="payments")
    stream.teams.add(team)
    ops = TeamFactory(name="Service operations", slug="ops", type=Team.Type.BUSINESS_OPERATIONS)
    legal = TeamFactory(name="Legal", slug="legal", type=Team.Type.BUSINESS_OPERATIONS)
    ReadinessCriterionFactory(name="Runbook", owner_team=ops, flow_types=[FlowType.FEATURE])
    ReadinessCriterionFactory(name="Legal review", owner_team=legal, flow_types=[FlowType.FEATURE])
    owner = member_of(team, access.PRODUCT_OWNER, username="olivia")
    signer = member_of(ops, access.OPERATIONS, username="sam")
    lawyer = member_of(legal, access.OPERATIONS, username="lea")
    item = services.item_create(stream_id=stream.pk, title="Pay by link", flow_type=FlowType.FEATURE)
    return {"stream": stream, "owner": owner, "signer": signer, "lawyer": lawyer, "item": item}


def test_a_gate_refusal_tells_the_teams_owning_the_pending_criteria_once_a_day(gate_world):
    item, done = gate_world["item"], state(gate_world["stream"], "Done")
    for _ in range(2):
        with pytest.raises(services.ReleaseGateError):
            services.item_change_state(item=item, to_state=done, actor=gate_world["owner"])
    notes = {n.recipient.user.username: n for n in Notification.objects.select_related("recipient__user")}
    assert set(notes) == {"sam", "lea"}  # not the product owner who tried
    assert notes["sam"].subject == f"{item.key} was held back from Done: 1 check of Service operations pending"
    assert [line["text"] for line in notes["sam"].lines] == ["Runbook (pending)"]
    assert "olivia" in notes["sam"].figures


def test_a_gate_refusal_through_the_api_is_told_too(gate_world):
    item, done = gate_world["item"], state(gate_world["stream"], "Done")
    response = api_for(gate_world["owner"]).post(
        f"/api/v1/items/{item.pk}/transition/", {"state": done.pk}, format="json"
    )
    assert response.status_code in (400, 409), response.content
    assert sorted(Notification.objects.values_list("recipient__user__username", flat=True)) == ["lea", "sam"]


# --- Events ----------------------------------------------------------------------------------


def test_an_experiments_verdict_goes_to_its_streams_director_only(settings):
    stream = ValueStreamFactory(name="Payments")
    director = LeadershipAssignmentFactory(stream=stream, person__name="Dora").person
    LeadershipAssignmentFactory(stream=ValueStreamFactory(), person__name="Other director")
    today = timezone.localdate()
    experiment = ImprovementExperiment.objects.create(
        stream=stream,
        title="Smaller batches",
        hypothesis="If we split stories, flow time drops",
        change="Split stories",
        start_date=today - dt.timedelta(days=60),
        review_date=today - dt.timedelta(days=1),
        verdict=ImprovementExperiment.Verdict.IMPROVED,
        decided_at=timezone.now(),
        result={"reason": "Flow time fell by 31% (p = 0.01)", "baseline_n": 40, "after_n": 38},
    )
    now = timezone.now()
    assert producers.experiment_verdicts(now) == 1
    note = Notification.objects.get()
    assert note.recipient == director and note.kind == Kind.EXPERIMENT_VERDICT
    assert note.subject == "Experiment “Smaller batches” in Payments: Improved"
    assert "baseline n = 40" in note.figures and note.url.endswith(f"/experiments/{experiment.pk}/")
    assert producers.experiment_verdicts(now) == 0


def test_failed_syncs_and_imports_go_to_the_streams_director(django_user_model):
    from streams.models import Connection

    stream = ValueStreamFactory(name="Payments", slug="payments")
    director = LeadershipAssignmentFactory(stream=stream, person__name="Dora").person
    connection = Connection.objects.create(stream=stream, tool="jira_cloud", base_url="https://acme.atlassian.net")
    now = timezone.now()
    SyncRun.objects.create(
        connection=connection,
        status=SyncRun.Status.STOPPED,
        finished_at=now,
        error="Jira refused the credentials (401)",
    )
    creator = PersonFactory(name="Ivan", user=django_user_model.objects.create(username="ivan"))
    ImportJob.objects.create(
        source="jira",
        stream_slug="new-stream",
        status=ImportJob.Status.FAILED,
        finished_at=now,
        created_by=creator.user,
    )
    HeldItem.objects.create(
        connection=connection, external_key="PAY-9", title="Refunds", kind="status", value="Blocked"
    )
    assert producers.sync_problems(now) == 3
    assert told() == [("Dora", "sync_problem"), ("Dora", "sync_problem"), ("Ivan", "sync_problem")]
    held = Notification.objects.get(key__startswith="held:")
    assert held.subject == "1 item of Payments waits for a mapping (Jira Cloud)"
    assert held.lines[0]["text"] == "“Blocked” is not mapped"
    sync_note = Notification.objects.get(recipient=director, key__startswith="sync:")
    assert sync_note.subject == "The Jira Cloud sync of Payments stopped: the tool refused the credentials"
    assert sync_note.lines[0]["text"] == "Jira refused the credentials (401)"
    assert producers.sync_problems(now) == 0


# --- Aging work --------------------------------------------------------------------------------


def test_work_aging_past_its_streams_p85_goes_to_its_teams_product_owners():
    now = timezone.now()
    stream = ValueStreamFactory(name="Payments", slug="payments")
    team, other = TeamFactory(name="Checkout"), TeamFactory(name="Lending")
    owner = MembershipFactory(team=team, role=Membership.Role.PRODUCT_OWNER, person__name="Olivia").person
    MembershipFactory(team=team, person__name="Mo")  # a member, not a product owner
    MembershipFactory(team=other, role=Membership.Role.PRODUCT_OWNER, person__name="Otto")
    done, doing = state(stream, "Done"), state(stream, "In progress")
    for days in (2, 4, 6, 8, 10):  # p85 = 8.8 days
        finished = now - dt.timedelta(days=3)
        BacklogItemFactory(
            stream=stream, state=done, started_at=finished - dt.timedelta(days=days), finished_at=finished
        )
    old = BacklogItemFactory(stream=stream, team=team, state=doing, title="Old", started_at=now - dt.timedelta(days=20))
    BacklogItemFactory(stream=stream, team=team, state=doing, title="Young", started_at=now - dt.timedelta(days=3))
    BacklogItemFactory(stream=stream, team=other, state=doing, title="Lending's", started_at=now - dt.timedelta(days=4))
    assert producers.aging(now.date(), now) == 1
    note = Notification.objects.get()
    assert note.recipient == owner and note.kind == Kind.AGING
    assert [line["text"] for line in note.lines] == [f"{old.key} Old: 20 days in progress (Payments: p85 8.8 days)"]
    assert note.subject == "1 item of Checkout aging past the stream's 85th percentile"
    assert "p85 of flow time 8.8 days over n = 5 items finished" in note.figures
    assert producers.aging(now.date(), now) == 0
