"""Rules about rows are enforced by the database itself, whoever writes."""

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction
import pytest

from okrs.models import Objective
from okrs.tests.factories import CheckInFactory, KeyResultFactory, ObjectiveFactory
from streams.models import Dependency, ProcessBlock, TargetMix, ValueStreamMap
from streams.tests.factories import (
    BacklogItemFactory,
    LeadershipAssignmentFactory,
    ReadinessCheckFactory,
    ValueStreamFactory,
)
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory

pytestmark = pytest.mark.django_db


def rejected(build):
    """Run `build` in a savepoint and report whether the database refused it."""
    try:
        with transaction.atomic():
            build()
    except IntegrityError:
        return True
    return False


def test_slugs_are_unique():
    ValueStreamFactory(slug="payments")
    TeamFactory(slug="checkout")
    assert rejected(lambda: ValueStreamFactory(slug="payments"))
    assert rejected(lambda: TeamFactory(slug="checkout"))


@pytest.mark.parametrize("value, refused", [(-1, True), (0, False), (100, False), (101, True)])
def test_percentages_are_within_0_and_100(value, refused):
    stream = ValueStreamFactory()
    assert (
        rejected(lambda: TargetMix.objects.create(stream=stream, period="2026-Q4", flow_type="feature", percent=value))
        is refused
    )
    assert rejected(lambda: LeadershipAssignmentFactory(time_share_percent=value)) is refused
    assert rejected(lambda: MembershipFactory(allocation_percent=value)) is refused


def test_process_block_percent_complete_and_times():
    vsm = ValueStreamMap.objects.create(stream=ValueStreamFactory(), name="Today", as_of=dt.date(2026, 1, 1))

    def block(**kw):
        values = {"map": vsm, "activity": "Build", "process_time_hours": 2, "lead_time_hours": 8} | kw
        return lambda: ProcessBlock.objects.create(**values)

    assert not rejected(block(percent_complete_accurate=80))
    assert rejected(block(percent_complete_accurate=101))
    assert rejected(block(process_time_hours=10, lead_time_hours=8))  # work cannot outlast its lead time


@pytest.mark.parametrize("value, refused", [("-0.01", True), ("0", False), ("1", False), ("1.01", True)])
def test_confidence_is_within_0_and_1(value, refused):
    key_result = KeyResultFactory()
    assert rejected(lambda: CheckInFactory(key_result=key_result, confidence=Decimal(value))) is refused


def test_at_most_one_active_product_director_per_stream():
    stream = ValueStreamFactory()
    LeadershipAssignmentFactory(stream=stream)
    assert rejected(lambda: LeadershipAssignmentFactory(stream=stream))
    # A value stream manager beside the director is fine, and so is a director who has left.
    assert not rejected(lambda: LeadershipAssignmentFactory(stream=stream, role="value_stream_manager"))
    assert not rejected(lambda: LeadershipAssignmentFactory(stream=stream, end_date=dt.date(2026, 6, 30)))


def test_mentor_cannot_be_the_leader():
    person = PersonFactory()
    assert rejected(lambda: LeadershipAssignmentFactory(person=person, mentor=person))


def test_waived_check_needs_a_reason_and_decided_check_a_sign_off_time():
    assert rejected(lambda: ReadinessCheckFactory(status="waived", reason="", signed_off_at=dt.datetime.now(dt.UTC)))
    assert rejected(lambda: ReadinessCheckFactory(status="met"))
    assert not rejected(
        lambda: ReadinessCheckFactory(status="waived", reason="Internal", signed_off_at=dt.datetime.now(dt.UTC))
    )


def test_objective_scope_matches_its_level():
    stream = ValueStreamFactory()
    assert rejected(lambda: ObjectiveFactory(level=Objective.Level.COMPANY, stream=stream))
    assert rejected(lambda: ObjectiveFactory(level=Objective.Level.STREAM))
    assert not rejected(lambda: ObjectiveFactory(level=Objective.Level.STREAM, stream=stream))


def test_key_result_target_must_differ_from_start():
    assert rejected(lambda: KeyResultFactory(start_value=5, target_value=5))


def test_item_cannot_finish_before_it_starts_and_external_keys_are_unique():
    stream = ValueStreamFactory()
    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    assert rejected(lambda: BacklogItemFactory(stream=stream, started_at=start, finished_at=start - dt.timedelta(1)))
    BacklogItemFactory(stream=stream, source="jira", external_key="PAY-1")
    assert rejected(lambda: BacklogItemFactory(stream=stream, source="jira", external_key="PAY-1"))
    # Items without an external key never collide.
    assert not rejected(lambda: [BacklogItemFactory(stream=stream), BacklogItemFactory(stream=stream)])


def test_dependency_on_itself_is_refused():
    item = BacklogItemFactory()
    assert rejected(lambda: Dependency.objects.create(item=item, blocked_by=item, created_at=item.created_at))


def test_team_wip_limit_cannot_be_negative():
    assert rejected(lambda: TeamFactory(wip_limit=-1))
