"""The state-change service: history, derived dates, release gate, serialised concurrency."""

import datetime as dt
import threading

from django.db import connection
from django.utils import timezone
import pytest

from streams.backlog.services import (
    ReleaseGateError,
    StateChangeError,
    item_change_state,
    item_create,
    item_state_change_validate,
    items_refresh_flow_dates,
    stream_refresh_flow_dates,
)
from streams.models import BacklogItem, ReadinessCheck, StateTransition
from streams.readiness.services import item_readiness_checks_sync
from streams.tests.factories import ReadinessCriterionFactory, ValueStreamFactory, state
from teams.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def days(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


@pytest.fixture
def stream():
    return ValueStreamFactory()


@pytest.fixture
def item(stream):
    return item_create(stream_id=stream.pk, title="Checkout redesign", flow_type="feature", created_at=T0)


def move(item, stream, name, at, **kwargs):
    return item_change_state(item=item, to_state=state(stream, name), at=at, **kwargs)


def test_item_create_records_its_entry_into_the_workflow(item, stream):
    entry = item.transitions.get()
    assert entry.from_state is None
    assert entry.to_state == state(stream, "Backlog")
    assert entry.at == T0
    assert item.started_at is None and item.finished_at is None


def test_state_change_records_transition_from_previous_state(item, stream):
    transition = move(item, stream, "In progress", days(1), via="admin")
    assert transition.from_state == state(stream, "Backlog")
    assert transition.to_state == state(stream, "In progress")
    assert transition.source == "admin"
    item.refresh_from_db()
    assert item.state == state(stream, "In progress")
    assert list(item.transitions.values_list("to_state__name", flat=True)) == ["Backlog", "In progress"]


def test_start_is_first_entry_into_active_or_waiting_and_finish_last_entry_into_done(item, stream):
    move(item, stream, "Waiting for review", days(2))  # waiting counts as started
    move(item, stream, "Review", days(3))
    move(item, stream, "Done", days(5))
    item.refresh_from_db()
    assert item.started_at == days(2)
    assert item.finished_at == days(5)


def test_reopen_clears_finish_keeps_start_and_history_then_refinishes(item, stream):
    move(item, stream, "In progress", days(1))
    move(item, stream, "Done", days(4))
    move(item, stream, "In progress", days(6))  # reopened: rework
    item.refresh_from_db()
    assert item.started_at == days(1)
    assert item.finished_at is None
    # Earlier dates are kept, never wiped: the first finish is still in the history.
    assert list(item.transitions.filter(to_state__category="done").values_list("at", flat=True)) == [days(4)]
    move(item, stream, "Done", days(9))
    item.refresh_from_db()
    assert (item.started_at, item.finished_at) == (days(1), days(9))


def test_done_without_passing_through_progress_starts_when_it_finishes(item, stream):
    move(item, stream, "Done", days(3))
    item.refresh_from_db()
    assert item.started_at == item.finished_at == days(3)


def test_removed_item_has_no_finish(item, stream):
    move(item, stream, "In progress", days(1))
    move(item, stream, "Done", days(2))
    move(item, stream, "Removed", days(3))  # e.g. shipped by mistake, then withdrawn
    item.refresh_from_db()
    assert item.finished_at is None
    assert item.state.category == "removed"


def test_change_to_the_current_state_is_refused(item, stream):
    with pytest.raises(StateChangeError, match="already in Backlog"):
        move(item, stream, "Backlog", days(1))


def test_state_of_another_stream_is_refused_and_nothing_is_written(item):
    other = ValueStreamFactory()
    with pytest.raises(StateChangeError, match="another value stream"):
        item_change_state(item=item, to_state=state(other, "In progress"), at=days(1))
    assert item.transitions.count() == 1


def test_change_dated_before_the_last_change_is_refused(item, stream):
    move(item, stream, "In progress", days(5))
    with pytest.raises(StateChangeError, match="before the item's last change") as error:
        move(item, stream, "Review", days(4))
    assert error.value.field == "at"


def test_change_dated_in_the_future_is_refused(item, stream):
    with pytest.raises(StateChangeError, match="cannot be dated in the future"):
        move(item, stream, "In progress", timezone.now() + dt.timedelta(hours=1))


@pytest.fixture
def pending_criteria(item, stream):
    ops = TeamFactory(name="Customer Support", type="business_operations")
    trained = ReadinessCriterionFactory(name="Support team trained", owner_team=ops, flow_types=["feature"])
    runbook = ReadinessCriterionFactory(name="Runbook updated", flow_types=["feature", "defect"], all_streams=False)
    runbook.streams.add(stream)
    ReadinessCriterionFactory(name="Legal review", flow_types=["risk"])  # another flow type: not applicable
    item_readiness_checks_sync(item=item)
    return trained, runbook


def test_gate_refuses_done_naming_every_pending_criterion_and_owner(item, stream, pending_criteria):
    trained, runbook = pending_criteria
    move(item, stream, "In progress", days(1))
    with pytest.raises(ReleaseGateError) as error:
        move(item, stream, "Done", days(2))
    message = str(error.value)
    assert "Support team trained (owned by Customer Support)" in message
    assert "Runbook updated" in message
    assert "Legal review" not in message
    assert set(error.value.unmet) == {trained, runbook}
    item.refresh_from_db()
    assert item.state == state(stream, "In progress")
    assert item.finished_at is None
    assert item.transitions.count() == 2  # the refused transition was not written


def test_gate_holds_for_a_criterion_added_after_the_item_without_a_check_row(item, stream):
    move(item, stream, "In progress", days(1))
    late = ReadinessCriterionFactory(name="Pricing page changed", flow_types=["feature"])
    assert not ReadinessCheck.objects.filter(item=item, criterion=late).exists()
    with pytest.raises(ReleaseGateError, match="Pricing page changed"):
        move(item, stream, "Done", days(2))


def test_gate_does_not_hold_non_done_states(item, stream, pending_criteria):
    move(item, stream, "Removed", days(1))  # removing work needs no readiness
    assert item.transitions.count() == 2


def test_waived_and_met_checks_let_the_item_finish(item, stream, pending_criteria, admin_user):
    move(item, stream, "In progress", days(1))
    checks = ReadinessCheck.objects.filter(item=item)
    assert checks.count() == 2
    first, second = checks
    first.status, first.signed_off_at, first.signed_off_by = "met", timezone.now(), admin_user
    second.status, second.reason, second.signed_off_at = "waived", "Launch is internal only", timezone.now()
    first.save()
    second.save()
    move(item, stream, "Done", days(2))
    item.refresh_from_db()
    assert item.finished_at == days(2)


def test_validate_raises_the_same_refusal_without_writing(item, stream, pending_criteria):
    with pytest.raises(ReleaseGateError):
        item_state_change_validate(item=item, to_state=state(stream, "Done"))
    item_state_change_validate(item=item, to_state=state(stream, "In progress"))
    assert item.transitions.count() == 1


def test_readiness_sync_is_idempotent(item, pending_criteria):
    assert item_readiness_checks_sync(item=item) == 0
    assert ReadinessCheck.objects.filter(item=item).count() == 2


def test_creating_straight_into_done_with_unmet_criteria_is_refused(stream, pending_criteria):
    before = BacklogItem.objects.count()
    with pytest.raises(ReleaseGateError):
        item_create(stream_id=stream.pk, title="Hotfix", flow_type="feature", state=state(stream, "Done"))
    assert BacklogItem.objects.count() == before  # nothing half-written


def test_refresh_flow_dates_repairs_items_from_history(item, stream):
    move(item, stream, "In progress", days(1))
    move(item, stream, "Done", days(3))
    BacklogItem.objects.filter(pk=item.pk).update(started_at=None, finished_at=None)
    assert items_refresh_flow_dates(BacklogItem.objects.filter(pk=item.pk)) == 1
    item.refresh_from_db()
    assert (item.started_at, item.finished_at) == (days(1), days(3))


def test_stream_refresh_repairs_every_item_of_the_stream_only(item, stream):
    move(item, stream, "In progress", days(1))
    other = item_create(stream_id=ValueStreamFactory().pk, title="Elsewhere", flow_type="feature", created_at=T0)
    BacklogItem.objects.update(started_at=days(99))
    assert stream_refresh_flow_dates(stream_id=stream.pk) == 1
    item.refresh_from_db()
    other.refresh_from_db()
    assert item.started_at == days(1)
    assert other.started_at == days(99)  # another stream's items are untouched


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_of_one_item_are_serialised():
    """Two threads move the same item at once: both transitions are kept, and the later one
    starts from the state the earlier one left (no lost update)."""
    stream = ValueStreamFactory()
    item = item_create(stream_id=stream.pk, title="Race", flow_type="feature", created_at=T0)
    targets = [state(stream, "In progress"), state(stream, "Waiting for review")]
    barrier = threading.Barrier(len(targets))
    errors: list[Exception] = []

    def worker(target):
        try:
            barrier.wait()
            item_change_state(item=item.pk, to_state=target)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    chain = list(StateTransition.objects.filter(item=item).order_by("at", "pk"))
    assert len(chain) == 3
    for previous, current in zip(chain, chain[1:], strict=False):
        assert current.from_state_id == previous.to_state_id
    item.refresh_from_db()
    assert item.state_id == chain[-1].to_state_id


@pytest.mark.django_db(transaction=True)
def test_the_migration_re_derives_the_start_of_items_never_in_progress():
    """Rows stored under the old rule (start at the first finish) are brought in line."""
    import importlib

    stream = ValueStreamFactory()
    never = item_create(stream_id=stream.pk, title="Never", flow_type="feature", created_at=days(0))
    item_change_state(item=never, to_state=state(stream, "Done"), at=days(1))
    item_change_state(item=never, to_state=state(stream, "Backlog"), at=days(2))
    worked = item_create(stream_id=stream.pk, title="Worked", flow_type="feature", created_at=days(0))
    item_change_state(item=worked, to_state=state(stream, "In progress"), at=days(1))
    # As the old rule stored it.
    BacklogItem.objects.filter(pk=never.pk).update(started_at=days(1))
    module = importlib.import_module("streams.migrations.0018_start_rule_never_in_progress")
    with connection.cursor() as cursor:
        cursor.execute(module.RESTART)
    never.refresh_from_db()
    worked.refresh_from_db()
    assert never.started_at is None and worked.started_at == days(1)
