"""Readiness checks: who may sign off, what a decision records, how checks follow an item's
type and stream, and the wait on readiness the release gate starts and the last sign-off ends."""

import datetime as dt

from django.utils import timezone
import pytest

from core import access
from core.errors import DomainError
from streams.backlog.services import ReleaseGateError, item_change_state, item_create, item_move_to_stream, item_update
from streams.flow.engine import Scope, Window
from streams.flow.report import flow_report
from streams.models import BlockedPeriod, ReadinessCheck
from streams.readiness.services import item_readiness_checks_sync, readiness_check_decide
from streams.tests.factories import ReadinessCriterionFactory, ValueStreamFactory, state
from teams.models import Team
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
Status = ReadinessCheck.Status


def member_of(team, *roles, **user):
    person = PersonFactory(user=UserFactory(roles=list(roles), **user))
    MembershipFactory(person=person, team=team)
    return person.user


@pytest.fixture
def gate():
    """A stream whose features need support training, owned by the support team."""
    stream = ValueStreamFactory(name="Payments")
    support = TeamFactory(name="Support", type=Team.Type.BUSINESS_OPERATIONS)
    criterion = ReadinessCriterionFactory(name="Support trained", owner_team=support, flow_types=["feature"])
    item = item_create(
        stream_id=stream.pk, title="Instant refunds", flow_type="feature", created_at=NOW - dt.timedelta(days=20)
    )
    return {
        "stream": stream,
        "support": support,
        "criterion": criterion,
        "item": item,
        "check": item.readiness_checks.get(),
    }


def test_a_member_of_the_owning_team_signs_off_and_it_records_who_and_when(gate):
    signer = member_of(gate["support"], access.VIEWER)  # membership, not the role, decides
    decided = readiness_check_decide(check=gate["check"], status=Status.MET, actor=signer, at=NOW)
    stored = ReadinessCheck.objects.get(pk=gate["check"].pk)
    assert (stored.status, stored.signed_off_by, stored.signed_off_at) == (Status.MET, signer, NOW)
    assert decided.signed_off_by == signer and gate["check"].status == Status.MET


def test_a_member_of_another_team_may_not_sign_off_and_nothing_changes(gate):
    outsider = member_of(TeamFactory(name="Legal", type=Team.Type.BUSINESS_OPERATIONS), access.OPERATIONS)
    with pytest.raises(DomainError) as refused:
        readiness_check_decide(check=gate["check"], status=Status.MET, actor=outsider)
    assert refused.value.code == "permission_denied" and "Only members of Support" in str(refused.value)
    assert ReadinessCheck.objects.get(pk=gate["check"].pk).status == Status.PENDING


def test_an_administrator_signs_off_any_check(gate):
    admin = UserFactory(is_superuser=True, is_staff=True)
    readiness_check_decide(check=gate["check"].pk, status=Status.NOT_APPLICABLE, actor=admin)
    assert ReadinessCheck.objects.get(pk=gate["check"].pk).signed_off_by == admin


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_waiver_without_a_reason_is_refused(gate, reason):
    signer = member_of(gate["support"])
    with pytest.raises(DomainError) as refused:
        readiness_check_decide(check=gate["check"], status=Status.WAIVED, reason=reason, actor=signer)
    assert refused.value.field == "reason" and "needs a reason" in str(refused.value)
    assert ReadinessCheck.objects.get(pk=gate["check"].pk).status == Status.PENDING
    readiness_check_decide(check=gate["check"], status=Status.WAIVED, reason="Pilot with 10 users", actor=signer)
    assert ReadinessCheck.objects.get(pk=gate["check"].pk).reason == "Pilot with 10 users"


def test_unknown_decisions_and_repeats_are_refused_with_a_reason(gate):
    signer = member_of(gate["support"])
    with pytest.raises(DomainError, match="not a decision"):
        readiness_check_decide(check=gate["check"], status="approved", actor=signer)
    readiness_check_decide(check=gate["check"], status=Status.MET, actor=signer)
    with pytest.raises(DomainError, match="already met"):
        readiness_check_decide(check=gate["check"], status=Status.MET, actor=signer)
    # Back to pending: the sign-off is cleared.
    readiness_check_decide(check=gate["check"], status=Status.PENDING, actor=signer)
    stored = ReadinessCheck.objects.get(pk=gate["check"].pk)
    assert stored.signed_off_by is None and stored.signed_off_at is None


def test_checks_are_idempotent_and_follow_a_change_of_type(gate):
    item, signer = gate["item"], member_of(gate["support"])
    debt_only = ReadinessCriterionFactory(name="Runbook updated", owner_team=gate["support"], flow_types=["debt"])
    assert item_readiness_checks_sync(item=item) == 0  # nothing new, however often it runs
    assert item_readiness_checks_sync(item=item) == 0
    item_update(item=item, flow_type="debt")
    # The feature-only check was pending: it goes; the debt criterion now applies.
    assert set(item.readiness_checks.values_list("criterion__name", flat=True)) == {debt_only.name}
    readiness_check_decide(check=item.readiness_checks.get(), status=Status.MET, actor=signer)
    item_update(item=item, flow_type="feature")
    # A decided check is the record of a sign-off and stays; the feature criterion is back.
    assert dict(item.readiness_checks.values_list("criterion__name", "status")) == {
        "Runbook updated": Status.MET,
        "Support trained": Status.PENDING,
    }
    with pytest.raises(DomainError) as refused:
        item_update(item=item, flow_type="epic")
    assert refused.value.field == "flow_type"


def test_checks_follow_a_move_to_another_stream(gate):
    lending = ValueStreamFactory(name="Lending")
    gate["criterion"].all_streams = False
    gate["criterion"].save()
    gate["criterion"].streams.add(gate["stream"])
    lending_only = ReadinessCriterionFactory(name="Credit policy", all_streams=False)
    lending_only.streams.add(lending)
    moved = item_move_to_stream(item=gate["item"], stream_id=lending.pk)
    assert moved.stream == lending and moved.state.stream == lending
    assert list(moved.readiness_checks.values_list("criterion__name", flat=True)) == ["Credit policy"]
    item_change_state(item=moved, to_state=state(lending, "In progress"))
    admin = UserFactory(is_superuser=True)
    readiness_check_decide(check=moved.readiness_checks.get(), status=Status.MET, actor=admin)
    item_change_state(item=moved, to_state=state(lending, "Done"))
    with pytest.raises(DomainError, match="stays in the value stream"):
        item_move_to_stream(item=moved, stream_id=gate["stream"].pk)


def test_the_gate_starts_a_wait_on_readiness_and_the_last_sign_off_ends_it(gate):
    item, stream = gate["item"], gate["stream"]
    item_change_state(item=item, to_state=state(stream, "In progress"), at=NOW - dt.timedelta(days=10))
    with pytest.raises(ReleaseGateError) as refused:
        item_change_state(item=item, to_state=state(stream, "Done"), at=NOW - dt.timedelta(days=6))
    assert "Support trained (owned by Support)" in str(refused.value)
    wait = BlockedPeriod.objects.get(item=item)
    assert (wait.reason, wait.started_at, wait.ended_at) == ("readiness", NOW - dt.timedelta(days=6), None)
    # A second refusal does not open a second wait.
    with pytest.raises(ReleaseGateError):
        item_change_state(item=item, to_state=state(stream, "Done"), at=NOW - dt.timedelta(days=5))
    assert BlockedPeriod.objects.filter(item=item).count() == 1

    readiness_check_decide(
        check=gate["check"], status=Status.MET, actor=member_of(gate["support"]), at=NOW - dt.timedelta(days=2)
    )
    wait.refresh_from_db()
    assert wait.ended_at == NOW - dt.timedelta(days=2)
    item_change_state(item=item, to_state=state(stream, "Done"), at=NOW - dt.timedelta(days=1))

    # The four days waiting on readiness count as waiting time in the flow metrics.
    window = Window.build(start=(NOW - dt.timedelta(days=30)).date(), end=NOW.date(), as_of=NOW)
    report = flow_report(scope=Scope.stream(stream), window=window, use_rollups=False)
    (finished,) = report.finished
    assert finished.flow_days == pytest.approx(9)
    assert finished.blocked_days == pytest.approx(4) and finished.active_days == pytest.approx(5)


def test_work_not_started_is_not_flagged_waiting(gate):
    with pytest.raises(ReleaseGateError):
        item_change_state(item=gate["item"], to_state=state(gate["stream"], "Done"))
    assert not BlockedPeriod.objects.filter(item=gate["item"]).exists()
