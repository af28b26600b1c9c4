"""seed_scale: the generated organisation is complete, and its history agrees with the flow rules."""

import datetime as dt
from io import StringIO

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count, F, Q
from django.utils import timezone
import pytest

from okrs.models import KeyResult, Objective
from portal.scale import ITEM_SOURCE, ScaleSpec, scale_data_create, scale_data_delete
from streams.backlog.services import item_create, items_refresh_flow_dates
from streams.delivery.keys import delivery_keys
from streams.models import (
    BacklogItem,
    BlockedPeriod,
    Dependency,
    Deployment,
    DeploymentItem,
    FlowType,
    Incident,
    LeadershipAssignment,
    ReadinessCheck,
    StateTransition,
    ValueStream,
    WorkflowState,
)
from streams.tests.factories import ValueStreamFactory
from teams.models import Membership, Person, Team

# Several chunks, so numbering, dependencies and parents cross chunk boundaries.
SMALL = {"items": 2000, "streams": 4, "teams": 8, "people": 50, "chunk_size": 400}
Category = WorkflowState.Category


def _seed(**options) -> str:
    out = StringIO()
    call_command("seed_scale", **{**SMALL, "force": True, **options}, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    models = (
        ValueStream,
        WorkflowState,
        Team,
        Person,
        Membership,
        LeadershipAssignment,
        BacklogItem,
        StateTransition,
        BlockedPeriod,
        Dependency,
        ReadinessCheck,
        Objective,
        KeyResult,
        KeyResult.items.through,
    )
    return {model._meta.label: model._default_manager.count() for model in models}


def _scalar(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def _flow_dates() -> dict[int, tuple]:
    return {
        pk: (started, finished)
        for pk, started, finished in BacklogItem.objects.values_list("pk", "started_at", "finished_at")
    }


def _assert_history_consistent() -> None:
    """The checks every generated history must pass, whichever way it was written."""
    # An item's state is the target of its latest transition.
    assert (
        _scalar("""
        SELECT COUNT(*) FROM streams_backlogitem i
        WHERE i.state_id IS DISTINCT FROM (
            SELECT t.to_state_id FROM streams_statetransition t WHERE t.item_id = i.id
            ORDER BY t.at DESC, t.id DESC LIMIT 1)
    """)
        == 0
    )
    # A transition leaves the state the previous one entered, later than it; the first comes from nowhere.
    assert (
        _scalar("""
        SELECT COUNT(*) FROM (
            SELECT from_state_id, at, LAG(to_state_id) OVER w AS previous_state, LAG(at) OVER w AS previous_at
            FROM streams_statetransition WINDOW w AS (PARTITION BY item_id ORDER BY at, id)
        ) history
        WHERE from_state_id IS DISTINCT FROM previous_state OR at <= previous_at
    """)
        == 0
    )
    # The history starts when the item was created, in states of the item's own stream.
    assert (
        _scalar("""
        SELECT COUNT(*) FROM streams_backlogitem i
        WHERE i.created_at <> (SELECT MIN(t.at) FROM streams_statetransition t WHERE t.item_id = i.id)
    """)
        == 0
    )
    assert not StateTransition.objects.exclude(to_state__stream=F("item__stream")).exists()
    # started/finished are exactly what the state service derives from the history.
    stored = _flow_dates()
    items_refresh_flow_dates(BacklogItem.objects.all())
    assert _flow_dates() == stored
    # Deferred foreign keys are otherwise only checked on commit, which a test never reaches.
    connection.check_constraints()


@pytest.fixture
def seeded(db) -> str:
    return _seed()


def test_counts_match_the_request_and_the_time_is_reported(seeded):
    assert BacklogItem.objects.filter(source=ITEM_SOURCE).count() == 2000
    assert ValueStream.objects.count() == 4
    assert Team.objects.count() == 8
    assert Person.objects.count() == 50
    assert "Created 2,000 items" in seeded
    assert f"{StateTransition.objects.count():,} transitions" in seeded
    assert "s (" in seeded and "in all" in seeded


def test_deliveries_ship_finished_items_of_their_own_stream_after_they_finish(seeded):
    production = Deployment.objects.filter(environment="production")
    assert production.count() > 50 and Deployment.objects.filter(environment="staging").exists()
    assert production.filter(status="failure").exists() and Incident.objects.filter(caused_by__isnull=False).exists()
    assert DeploymentItem.objects.count() > 100
    assert not DeploymentItem.objects.exclude(deployment__stream=F("item__stream")).exists()
    assert not DeploymentItem.objects.filter(deployment__finished_at__lt=F("item__finished_at")).exists()
    assert not DeploymentItem.objects.filter(deployment__status="failure").exists()
    assert not DeploymentItem.objects.filter(first_commit_at__gt=F("item__finished_at")).exists()
    assert not Deployment.objects.filter(finished_at__lt=F("started_at")).exists()
    assert not Incident.objects.filter(resolved_at__lt=F("opened_at")).exists()
    assert not Incident.objects.filter(opened_at__lt=F("caused_by__finished_at")).exists()
    ids = list(ValueStream.objects.values_list("pk", flat=True))
    keys = delivery_keys(ids, timezone.now() - dt.timedelta(days=84), timezone.now())
    assert sum(k.deployments for k in keys.values()) > 0 and any(k.lead_time_n for k in keys.values())


def test_items_average_about_six_transitions(seeded):
    per_item = StateTransition.objects.count() / BacklogItem.objects.count()
    assert 5.5 <= per_item <= 7.0


def test_history_is_consistent_with_states_and_flow_dates(seeded):
    _assert_history_consistent()


def test_history_has_the_shapes_flow_metrics_meet(seeded):
    items = BacklogItem.objects
    for category in Category.values:
        assert items.filter(state__category=category).exists(), category
    assert set(items.values_list("flow_type", flat=True)) == set(FlowType.values)
    # Reopened: a done item moved back into progress.
    assert StateTransition.objects.filter(
        from_state__category=Category.DONE, to_state__category__in=WorkflowState.IN_PROGRESS
    ).exists()
    assert StateTransition.objects.filter(to_state__category=Category.WAITING).exists()
    # Removed items count in no metric: no finish, whether or not they had started.
    removed = items.filter(state__category=Category.REMOVED)
    assert not removed.filter(finished_at__isnull=False).exists()
    assert removed.filter(started_at__isnull=False).exists()
    # Done straight from the backlog: flow time 0.
    assert items.filter(state__category=Category.DONE, started_at=F("finished_at")).exists()
    assert BlockedPeriod.objects.filter(ended_at__isnull=False).exists()
    assert not BlockedPeriod.objects.filter(ended_at__lt=F("started_at")).exists()
    assert items.filter(parent__isnull=False).exists()
    # The release gate holds: no done item has a pending readiness check.
    assert not ReadinessCheck.objects.filter(
        item__state__category=Category.DONE, status=ReadinessCheck.Status.PENDING
    ).exists()
    # Creation dates spread over more than a year.
    first, last = items.order_by("created_at").first(), items.order_by("created_at").last()
    assert (last.created_at - first.created_at).days > 365


def test_organisation_has_workflows_directors_service_and_memberships(seeded):
    streams = ValueStream.objects.annotate(
        active=Count("states", filter=Q(states__category=Category.ACTIVE), distinct=True),
        waiting=Count("states", filter=Q(states__category=Category.WAITING), distinct=True),
        directors=Count(
            "leadership_assignments",
            distinct=True,
            filter=Q(
                leadership_assignments__role=LeadershipAssignment.Role.PRODUCT_DIRECTOR,
                leadership_assignments__end_date__isnull=True,
            ),
        ),
    )
    for stream in streams:
        assert set(stream.states.values_list("category", flat=True)) == set(Category.values)
        assert stream.active >= 2 and stream.waiting >= 2
        assert stream.directors == 1
        assert stream.teams.exists()
    assert Membership.objects.filter(role=Membership.Role.TEAM_LEAD).count() == Team.objects.count()
    assert Dependency.objects.exists()
    assert KeyResult.items.through.objects.exists()
    assert Objective.objects.filter(level=Objective.Level.COMPANY).exists()


def test_rerun_needs_reset_and_reset_gives_the_same_counts(seeded):
    before = _counts()
    with pytest.raises(CommandError, match="--reset"):
        _seed()
    output = _seed(reset=True)
    assert "Deleted" in output
    assert _counts() == before
    _assert_history_consistent()


def test_reset_keeps_data_that_was_not_generated(seeded):
    stream = ValueStreamFactory(slug="payments")
    item = item_create(stream_id=stream.pk, title="Real work", flow_type=FlowType.FEATURE)
    _seed(reset=True)
    assert BacklogItem.objects.filter(pk=item.pk).exists()
    assert item.transitions.count() == 1


def test_normal_inserts_still_work_after_seeding(seeded):
    highest = BacklogItem.objects.order_by("-pk").values_list("pk", flat=True).first()
    stream = ValueStream.objects.first()
    item = item_create(stream_id=stream.pk, title="Added by hand", flow_type=FlowType.DEFECT)
    assert item.pk > highest
    assert item.transitions.count() == 1


def test_same_seed_gives_the_same_data_with_bulk_create(db):
    """The fallback for databases without COPY writes what COPY writes."""

    def snapshot():
        return sorted(
            BacklogItem.objects.values_list(
                "external_key",
                "stream__slug",
                "team__slug",
                "flow_type",
                "state__name",
                "parent__external_key",
                "created_at",
                "started_at",
                "finished_at",
            )
        )

    as_of = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    spec = ScaleSpec(items=600, streams=3, teams=6, people=30, chunk_size=200, as_of=as_of)

    def deliveries():
        return (
            sorted(Deployment.objects.values_list("stream__slug", "service", "environment", "finished_at", "status")),
            sorted(
                DeploymentItem.objects.values_list("item__external_key", "deployment__finished_at", "first_commit_at")
            ),
            sorted(Incident.objects.values_list("stream__slug", "title", "opened_at", "resolved_at")),
        )

    scale_data_create(spec, use_copy=True)
    with_copy = snapshot(), deliveries()
    scale_data_delete()
    assert not BacklogItem.objects.exists() and not Person.objects.exists() and not Deployment.objects.exists()
    scale_data_create(spec, use_copy=False)
    assert (snapshot(), deliveries()) == with_copy
    _assert_history_consistent()


def test_refuses_to_run_with_debug_off_unless_forced(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_scale", items=10, streams=1, teams=1, people=2, stdout=StringIO())


def test_the_generator_writes_the_flow_dates_the_state_service_derives(db):
    """The seed writes started/finished with the items rather than updating every item after
    its history: the service's rule, run over each chunk, finds nothing to change."""
    report = scale_data_create(ScaleSpec(**SMALL))
    assert report.counts["streams.BacklogItem"] == SMALL["items"]
    assert BacklogItem.objects.filter(started_at__isnull=False).count() > SMALL["items"] // 2
    assert report.dates_corrected == 0


@pytest.mark.django_db(transaction=True)
def test_parallel_writers_commit_consistent_chunks():
    """Outside a transaction several connections write chunks at once."""
    report = scale_data_create(ScaleSpec(items=3000, streams=4, teams=8, people=50, chunk_size=300), workers=2)
    assert report.workers == 2
    assert BacklogItem.objects.count() == 3000
    # Cross-chunk dependencies only point at chunks that were committed.
    assert Dependency.objects.exclude(blocked_by__stream=F("item__stream")).exists()
    _assert_history_consistent()
