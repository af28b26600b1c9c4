"""Per-stream versions (`streams.models.versions`, `core.freshness.stream_versions`): a committed
write to a stream's data moves that stream's version and no other's, whichever door wrote it
(the services, the ORM, a bulk update, raw SQL, COPY); a rolled-back write moves nothing; a
result cached per stream is computed again only for the streams written since.

These tests commit (transactional_db): versions move when a write commits.
"""

from django.db import connection, transaction
from django.utils import timezone
import pytest

from core.bulk import RowWriter
from core.freshness import fresh_cached_by_stream, stream_versions
from streams.backlog.services import item_change_state, item_create
from streams.models import BacklogItem, Dependency, FlowSnapshot, ReadinessCheck, StateTransition, WorkflowState
from streams.tests.factories import BacklogItemFactory, ReadinessCriterionFactory, ValueStreamFactory, state
from teams.models import Discipline, Membership, Team
from teams.tests.factories import PersonFactory, TeamFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the triggers are PostgreSQL's; SQLite uses the global generation")


@pytest.fixture
def two_streams():
    payments, lending = ValueStreamFactory(name="Payments"), ValueStreamFactory(name="Lending")
    return payments, lending


def moved(streams, write) -> set[str]:
    """The names of the streams whose version moved across `write()`."""
    ids = [stream.pk for stream in streams]
    before = stream_versions(ids)
    write()
    after = stream_versions(ids)
    return {stream.name for stream in streams if before[stream.pk] != after[stream.pk]}


def an_item(stream, name="In progress", **extra) -> BacklogItem:
    return BacklogItemFactory(stream=stream, state=state(stream, name), **extra)


def test_a_move_through_the_service_moves_its_stream_only(postgres_only, two_streams):
    payments, lending = two_streams
    item = item_create(stream_id=payments.pk, title="Card limits", flow_type="feature")
    assert moved(two_streams, lambda: item_change_state(item=item, to_state=state(payments, "In progress"))) == {
        "Payments"
    }


@pytest.mark.parametrize(
    "door",
    ["orm save", "queryset update", "raw sql", "copy", "delete"],
)
def test_every_door_that_writes_items_moves_the_stream(postgres_only, two_streams, door):
    payments, lending = two_streams
    item = an_item(payments)

    def write():
        if door == "orm save":
            item.title = "Renamed"
            item.save()
        elif door == "queryset update":
            BacklogItem.objects.filter(pk=item.pk).update(title="Renamed")
        elif door == "raw sql":
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {BacklogItem._meta.db_table} SET title = 'Renamed' WHERE id = %s", [item.pk])
        elif door == "copy":
            with transaction.atomic():
                RowWriter().write(
                    StateTransition,
                    ["item_id", "to_state_id", "at", "source"],
                    [(item.pk, state(payments, "Review").pk, timezone.now(), "import")],
                )
        else:
            item.delete()

    assert moved(two_streams, write) == {"Payments"}


def test_an_item_moved_to_another_stream_moves_both(postgres_only, two_streams):
    payments, lending = two_streams
    item = an_item(payments)
    assert moved(
        two_streams,
        lambda: BacklogItem.objects.filter(pk=item.pk).update(stream=lending, state=state(lending, "In progress")),
    ) == {"Payments", "Lending"}


def test_a_rolled_back_write_moves_nothing(postgres_only, two_streams):
    payments, _ = two_streams
    item = an_item(payments)

    def write():
        with pytest.raises(RuntimeError), transaction.atomic():
            BacklogItem.objects.filter(pk=item.pk).update(title="Never")
            raise RuntimeError("refused")

    assert moved(two_streams, write) == set()


def test_what_waits_on_an_item_and_its_children_move_with_it(postgres_only, two_streams):
    """A stream's figures read the items its items wait on (their team) and their parents
    (finished before the parent or not): a write to those moves the stream too."""
    payments, lending = two_streams
    blocker, parent = an_item(lending), an_item(lending)
    waiting = an_item(payments)
    Dependency.objects.create(item=waiting, blocked_by=blocker, created_at=timezone.now())
    assert moved(two_streams, lambda: BacklogItem.objects.filter(pk=blocker.pk).update(title="x")) == {
        "Payments",
        "Lending",
    }
    child = an_item(payments, parent=parent)
    assert child.parent_id == parent.pk
    assert moved(two_streams, lambda: BacklogItem.objects.filter(pk=parent.pk).update(title="y")) == {
        "Payments",
        "Lending",
    }


def test_the_tables_beside_the_items_move_their_streams(postgres_only, two_streams):
    payments, lending = two_streams
    item = an_item(payments)
    criterion = ReadinessCriterionFactory()
    check = ReadinessCheck.objects.create(item=item, criterion=criterion)
    assert moved(two_streams, lambda: ReadinessCheck.objects.filter(pk=check.pk).update(reason="Waiting on legal")) == {
        "Payments"
    }
    assert moved(
        two_streams,
        lambda: WorkflowState.objects.filter(stream=lending, name="Review").update(wip_limit=3),
    ) == {"Lending"}
    assert moved(
        two_streams,
        lambda: FlowSnapshot.objects.create(
            stream=lending, week_start=timezone.localdate(), throughput=1, wip=2, metrics={}
        ),
    ) == {"Lending"}
    other = an_item(lending)
    dependency = Dependency(item=item, blocked_by=other, created_at=timezone.now())
    assert moved(two_streams, dependency.save) == {"Payments", "Lending"}


def test_the_teams_serving_a_stream_move_it(postgres_only, two_streams):
    payments, lending = two_streams
    team = TeamFactory()
    assert moved(two_streams, lambda: payments.teams.add(team)) == {"Payments"}
    assert moved(two_streams, lambda: Team.objects.filter(pk=team.pk).update(wip_limit=9)) == {"Payments"}
    person = PersonFactory()
    assert moved(two_streams, lambda: Membership.objects.create(person=person, team=team)) == {"Payments"}
    discipline = Discipline.objects.create(name="Data")
    assert moved(two_streams, lambda: person.disciplines.add(discipline)) == {"Payments"}


def test_a_result_cached_per_stream_is_computed_again_only_for_the_streams_written(postgres_only, two_streams):
    payments, lending = two_streams
    mine, theirs = an_item(payments), an_item(lending)
    ids = [payments.pk, lending.pk]
    asked = []

    def wip(stream_ids):
        asked.append(sorted(stream_ids))
        return {
            pk: BacklogItem.objects.filter(stream_id=pk, state__category=WorkflowState.Category.ACTIVE).count()
            for pk in stream_ids
        }

    assert fresh_cached_by_stream("wip", ids, wip) == {payments.pk: 1, lending.pk: 1}
    assert fresh_cached_by_stream("wip", ids, wip) == {payments.pk: 1, lending.pk: 1}
    item_change_state(item=theirs, to_state=state(lending, "Waiting for review"))
    assert fresh_cached_by_stream("wip", ids, wip) == {payments.pk: 1, lending.pk: 0}
    assert asked == [sorted(ids), [lending.pk]]
    BacklogItem.objects.filter(pk=mine.pk).update(state=state(payments, "Backlog"))
    assert fresh_cached_by_stream("wip", ids, wip) == {payments.pk: 0, lending.pk: 0}
    assert asked[-1] == [payments.pk]
    mine.delete()  # items deleted can change links (the default generation): every stream again
    fresh_cached_by_stream("wip", ids, wip)
    assert asked[-1] == sorted(ids)


def test_without_triggers_every_stream_follows_the_global_generation(two_streams):
    """SQLite (and any database without the triggers' support): any write moves every stream."""
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL keeps a version per stream")
    payments, lending = two_streams
    assert moved(two_streams, lambda: an_item(payments)) == {"Payments", "Lending"}
