"""seed_demo builds a believable, consistent organisation, once, and refuses to run with DEBUG off.

The organisation is seeded once for the module inside a transaction that is rolled back at
the end, so it never leaks into other test modules; each test runs in a savepoint inside it.
"""

from collections import Counter, defaultdict
import datetime as dt
import io
import random
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Max, Sum
from django.test import RequestFactory
from django.test.utils import override_settings
from django.utils import timezone
import pytest

from core import access
from okrs.models import CheckIn, KeyResult, Measure, Objective
from okrs.selectors import period_elapsed
from portal.demo import catalogue
from portal.demo.flow import Fate, Workflow, simulate
from streams.backlog.services import items_refresh_flow_dates
from streams.delivery.keys import delivery_keys
from streams.flow.engine import Scope, Window
from streams.flow.investment import investment
from streams.flow.periods import period_containing
from streams.flow.report import flow_report
from streams.flow.tests.test_rollups import assert_same
from streams.models import (
    BacklogItem,
    BlockedPeriod,
    Dependency,
    Deployment,
    DeploymentItem,
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
    WorkflowState,
)
from streams.readiness.services import unmet_criteria
from teams.models import Discipline, Membership, Person, Team

Category = WorkflowState.Category
User = get_user_model()

COUNTED = (
    Discipline,
    Person,
    Team,
    Membership,
    User,
    Group,
    ValueStream,
    WorkflowState,
    TargetMix,
    LeadershipAssignment,
    BacklogItem,
    StateTransition,
    BlockedPeriod,
    Dependency,
    ReadinessCriterion,
    ReadinessCheck,
    ValueStreamMap,
    ProcessBlock,
    ImprovementExperiment,
    Deployment,
    DeploymentItem,
    Incident,
    Objective,
    KeyResult,
    CheckIn,
    ValueStream.teams.through,
    ValueStream.required_disciplines.through,
    Person.disciplines.through,
    ReadinessCriterion.streams.through,
    KeyResult.items.through,
    User.groups.through,
)


def _counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in COUNTED}


def _fingerprint() -> list[tuple]:
    """What a reader of the portal would notice if a rebuild differed."""
    return list(
        BacklogItem.objects.order_by("external_key").values_list(
            "external_key",
            "title",
            "flow_type",
            "state__name",
            "team__slug",
            "parent__external_key",
            "created_at",
            "started_at",
            "finished_at",
        )
    )


def _seed(*args, **options) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(DEBUG=True):
            output = _seed()
        yield SimpleNamespace(output=output, counts=_counts(), fingerprint=_fingerprint())
        transaction.set_rollback(True)


def test_refuses_to_run_with_debug_off_without_force(settings):
    settings.DEBUG = False
    # No database access is allowed in this test: the refusal comes before any query.
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo", stdout=io.StringIO())


def _path_workflow() -> Workflow:
    states = [
        WorkflowState(name=name, category=category, order=order)
        for order, (name, category) in enumerate(catalogue.WORKFLOWS["regulated"])
    ]
    return Workflow.from_states(states, waiting_weight=2.0)


def test_simulated_lives_chain_and_end_before_now():
    workflow, rng = _path_workflow(), random.Random(1)
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    for _ in range(2000):
        created = now - dt.timedelta(days=rng.uniform(0.1, 200))
        life = simulate(
            rng,
            workflow,
            created_at=created,
            now=now,
            fate=rng.choice(list(Fate)),
            start_delay_days=rng.expovariate(1 / 10),
            flow_days=rng.lognormvariate(2, 1),
        )
        assert life.steps[0] == (workflow.entry, created)
        for (before, at_before), (after, at_after) in zip(life.steps, life.steps[1:], strict=False):
            assert after is not before and at_before < at_after
        assert life.last_at < now
        for period in life.blocked:
            assert period.ended_at is None or period.started_at <= period.ended_at < now


@pytest.mark.slow
@pytest.mark.django_db
class TestSeededOrganisation:
    def test_prints_the_logins_and_a_summary(self, seeded):
        assert "http://127.0.0.1:8000/" in seeded.output
        for login in catalogue.LOGINS:
            assert f"username {login.username} " in seeded.output
        assert settings.DEMO_PASSWORD in seeded.output
        assert "backlog items" in seeded.output and "1,500" in seeded.output

    def test_second_run_changes_nothing(self, seeded):
        with override_settings(DEBUG=True):
            output = _seed()
        assert "already there" in output
        assert _counts() == seeded.counts

    def test_force_runs_with_debug_off(self, seeded, settings):
        settings.DEBUG = False
        assert "already there" in _seed(force=True)

    def test_reset_rebuilds_the_same_organisation(self, seeded):
        with override_settings(DEBUG=True):
            output = _seed(reset=True)
        assert "Deleted" in output
        assert _counts() == seeded.counts
        assert _fingerprint() == seeded.fingerprint

    def test_reset_leaves_rows_it_did_not_create(self, seeded):
        stream = ValueStream.objects.create(name="Our own stream", slug="our-own-stream")
        team = Team.objects.create(name="Our own team", slug="our-own-team")
        person = Person.objects.create(name="Someone Real", email="someone@company.test")
        # An administrator who made "admin" for real keeps it: the seed skips that login.
        User.objects.filter(username="admin").update(email="root@company.test", password="kept")
        with override_settings(DEBUG=True):
            output = _seed(reset=True)
        assert ValueStream.objects.filter(pk=stream.pk).exists()
        assert Team.objects.filter(pk=team.pk).exists()
        assert Person.objects.filter(pk=person.pk).exists()
        assert User.objects.get(username="admin").password == "kept"
        assert "'admin' already existed" in output
        assert ValueStream.objects.count() == seeded.counts["streams.ValueStream"] + 1

    def test_organisation_has_the_promised_shape(self, seeded):
        streams = ValueStream.objects.all()
        assert streams.count() >= 6
        assert set(streams.values_list("customer", flat=True)) == set(ValueStream.Customer.values)
        assert streams.values("industry").distinct().count() >= 2
        assert streams.filter(revenue__isnull=False).exists()
        for stream in streams:
            assert set(stream.states.values_list("category", flat=True)) == set(Category.values)
            assert stream.required_disciplines.exists()
        current = period_containing(dt.date.today())
        assert TargetMix.objects.filter(period=current.label).count() == 4 * streams.count()
        assert TargetMix.objects.filter(period=current.previous().label).count() == 4 * streams.count()

        assert Team.objects.count() == 15
        assert set(Team.objects.values_list("type", flat=True)) == set(Team.Type.values)
        business_operations = Team.objects.filter(type=Team.Type.BUSINESS_OPERATIONS)
        assert business_operations.count() >= 2
        assert max(team.streams.count() for team in business_operations) >= 6  # shared services serve many
        assert Person.objects.count() == 60
        assert not Person.objects.filter(disciplines=None).exists()
        over = Membership.objects.values("person").annotate(total=Sum("allocation_percent")).filter(total__gt=100)
        assert over.count() >= 2

    def test_leadership_has_real_and_nominal_directors(self, seeded):
        directors = LeadershipAssignment.objects.filter(role=LeadershipAssignment.Role.PRODUCT_DIRECTOR)
        active = directors.filter(end_date__isnull=True)
        assert active.filter(kind=LeadershipAssignment.Kind.DEDICATED).exists()
        assert active.filter(kind=LeadershipAssignment.Kind.DUAL_ROLE).exists()
        assert active.filter(mentor__isnull=True).exists()
        assert active.filter(review_date__lt=dt.date.today()).exists()
        assert directors.filter(end_date__isnull=False).exists()  # a replaced appointment
        assert ValueStream.objects.exclude(pk__in=active.values("stream")).count() == 1
        assert LeadershipAssignment.objects.filter(role=LeadershipAssignment.Role.VALUE_STREAM_MANAGER).exists()

    def test_backlog_has_history_of_every_kind(self, seeded):
        items = BacklogItem.objects.all()
        assert items.count() == 1500
        assert set(items.values_list("flow_type", flat=True)) == set(FlowType.values)
        assert items.filter(parent__isnull=False, parent__parent__isnull=False).exists()  # epic → feature → story
        for category in Category.values:
            assert items.filter(state__category=category).exists()
        transitions = StateTransition.objects.all()
        assert transitions.filter(to_state__category=Category.WAITING).count() > 1000
        assert {"Waiting for review", "Ready for release"} <= set(
            transitions.filter(to_state__category=Category.WAITING).values_list("to_state__name", flat=True)
        )
        reopened = transitions.filter(from_state__category=Category.DONE).exclude(to_state__category=Category.DONE)
        assert reopened.exists()
        assert transitions.filter(to_state__category=Category.REMOVED).exists()
        # Work sent back to the backlog after it started: resumed since, or returned there now.
        sent_back = transitions.filter(from_state__category__in=("active", "waiting"), to_state__category="backlog")
        assert sent_back.exists() and BacklogItem.objects.returned().exists()
        oldest = transitions.order_by("at").first().at
        assert dt.datetime.now(dt.UTC) - oldest > dt.timedelta(days=183)
        assert BlockedPeriod.objects.filter(ended_at__isnull=True).exists()
        assert BlockedPeriod.objects.filter(ended_at__isnull=False).exists()
        done = items.filter(state__category=Category.DONE)
        flow_days = sorted((item.finished_at - item.started_at).total_seconds() / 86400 for item in done)
        median, p95 = flow_days[len(flow_days) // 2], flow_days[int(len(flow_days) * 0.95)]
        assert p95 > 4 * median  # long-tailed

    def test_every_history_chains_and_ends_in_the_items_state(self, seeded):
        items = {
            pk: (state, created)
            for pk, state, created in BacklogItem.objects.values_list("pk", "state_id", "created_at")
        }
        chains = defaultdict(list)
        for item_id, from_state, to_state, at in StateTransition.objects.order_by("item_id", "at", "pk").values_list(
            "item_id", "from_state_id", "to_state_id", "at"
        ):
            chains[item_id].append((from_state, to_state, at))
        assert set(chains) == set(items)
        now = dt.datetime.now(dt.UTC)
        for item_id, chain in chains.items():
            state, created = items[item_id]
            assert chain[0][0] is None and chain[0][2] == created
            for (_, previous_to, previous_at), (from_state, _, at) in zip(chain, chain[1:], strict=False):
                assert from_state == previous_to and at > previous_at
            assert chain[-1][1] == state
            assert chain[-1][2] < now

    def test_flow_dates_are_what_the_history_derives(self, seeded):
        before = list(BacklogItem.objects.order_by("pk").values_list("pk", "started_at", "finished_at"))
        items_refresh_flow_dates(BacklogItem.objects.all())
        assert list(BacklogItem.objects.order_by("pk").values_list("pk", "started_at", "finished_at")) == before
        assert BacklogItem.objects.filter(state__category=Category.DONE, finished_at__isnull=True).count() == 0

    def test_release_gate_holds_for_every_done_item(self, seeded):
        statuses = Counter(ReadinessCheck.objects.values_list("status", flat=True))
        assert set(statuses) == set(ReadinessCheck.Status.values)
        done_pending = ReadinessCheck.objects.filter(
            item__state__category=Category.DONE, status=ReadinessCheck.Status.PENDING
        ).select_related("item", "criterion")
        assert [check for check in done_pending if check.criterion.applies_to(check.item)] == []
        for item in BacklogItem.objects.filter(state__category=Category.DONE, readiness_checks__isnull=False)[:25]:
            assert unmet_criteria(item) == []
        decided = ReadinessCheck.objects.exclude(status=ReadinessCheck.Status.PENDING)
        assert not decided.filter(signed_off_by__isnull=True).exists()
        assert not decided.filter(signed_off_at__isnull=True).exists()
        assert not decided.filter(signed_off_at__gt=dt.datetime.now(dt.UTC)).exists()
        owners = ReadinessCriterion.objects.values_list("owner_team__type", flat=True)
        assert set(owners) == {Team.Type.BUSINESS_OPERATIONS}
        assert ReadinessCriterion.objects.filter(all_streams=True).exists()
        assert ReadinessCriterion.objects.filter(all_streams=False, streams__isnull=False).exists()

    def test_portfolio_reads_the_stored_rollups_and_they_match_the_history(self, seeded):
        """On the demo's messy history (reopens, removals, blocks), rollups equal the engine."""
        today = dt.datetime.now(dt.UTC).date()
        windows = [Window.build(), Window.build(start=today - dt.timedelta(days=60), end=today - dt.timedelta(days=8))]
        director = LeadershipAssignment.objects.filter(end_date__isnull=True).first().person
        for window in windows:
            for scope in (Scope.portfolio(), Scope.director(director)):
                fast = flow_report(scope=scope, window=window, with_items=False)
                exact = flow_report(scope=scope, window=window, with_items=False, use_rollups=False)
                assert fast.method == "daily rollups" and fast.throughput > 0
                assert_same(fast, exact)

    def test_dependencies_cross_teams_and_streams(self, seeded):
        dependencies = Dependency.objects.select_related("item", "blocked_by")
        assert dependencies.exists()
        assert all(d.item.team_id != d.blocked_by.team_id for d in dependencies)
        assert any(d.item.stream_id != d.blocked_by.stream_id for d in dependencies)

    def test_objectives_form_a_tree_with_check_ins_and_linked_work(self, seeded):
        current = period_containing(dt.date.today())
        for period in (current, current.previous()):
            objectives = Objective.objects.filter(period=period.label)
            assert set(objectives.values_list("level", flat=True)) == set(Objective.Level.values)
            assert not objectives.exclude(level=Objective.Level.COMPANY).filter(parent__isnull=True).exists()
            assert not objectives.exclude(parent__isnull=True).exclude(parent__period=period.label).exists()
        assert set(KeyResult.objects.values_list("kind", flat=True)) == set(KeyResult.Kind.values)
        assert not CheckIn.objects.filter(confidence__gt=1).exists()
        assert not CheckIn.objects.filter(confidence__lt=0).exists()
        stale_before = dt.date.today() - dt.timedelta(days=14)
        latest = KeyResult.objects.filter(objective__period=current.label).annotate(last=Max("check_ins__date"))
        assert [kr for kr in latest if kr.last is None or kr.last <= stale_before]
        assert KeyResult.objects.filter(items__isnull=False).exists()
        in_progress = BacklogItem.objects.filter(state__category__in=WorkflowState.IN_PROGRESS)
        assert in_progress.filter(key_results__isnull=True, parent__key_results__isnull=True).exists()  # orphans

    def test_measured_key_results_run_ahead_and_behind_with_their_readings(self, seeded):
        measured = KeyResult.objects.filter(source=KeyResult.Source.MEASURED).select_related("objective")
        assert measured.count() >= 2
        elapsed = period_elapsed(period_containing(dt.date.today()))
        progress = {kr.measure: float(kr.progress) for kr in measured}
        assert progress[Measure.FLOW_TIME_P85] >= elapsed  # on track: ahead of a straight path
        assert min(progress.values()) < elapsed - 0.1  # and one behind
        for kr in measured:
            readings = kr.check_ins.filter(system=True).order_by("date")
            assert readings.exists() and readings.last().value == kr.current_value
            assert readings.first().value == kr.start_value

    def test_a_streams_effort_mix_differs_visibly_from_its_count_mix(self, seeded):
        widest = 0.0
        for stream in ValueStream.objects.all():
            for row in investment(Scope.stream(stream), Window.build()).by_type:
                widest = max(widest, abs(row.effort_share - row.item_share))
        assert widest >= 0.2  # features take far more of the effort than of the items somewhere

    def test_maps_and_experiments(self, seeded):
        kinds = set(ValueStreamMap.objects.values_list("kind", flat=True))
        assert {ValueStreamMap.Kind.CURRENT, ValueStreamMap.Kind.FUTURE} <= kinds
        for block in ProcessBlock.objects.all():
            assert block.process_time_hours <= block.lead_time_hours
        assert ProcessBlock.objects.exclude(wastes=[]).exists()
        assert ImprovementExperiment.objects.count() == 2

    def test_deliveries_put_the_streams_in_different_dora_levels(self, seeded):
        now = timezone.now()
        streams = list(ValueStream.objects.filter(slug__in=catalogue.DELIVERY))
        keys = delivery_keys([s.pk for s in streams], now - dt.timedelta(days=84), now)
        frequency = {keys[s.pk].bands["deployment_frequency"] for s in streams}
        assert {"elite", "high", "medium", "low"} <= frequency | {
            keys[s.pk].bands["change_failure_rate"] for s in streams
        }
        assert len(frequency) >= 3
        assert all(keys[s.pk].lead_time_n > 0 for s in streams if keys[s.pk].successful >= 4)
        assert Incident.objects.filter(resolved_at__isnull=True).count() == 2
        assert Incident.objects.filter(caused_by__isnull=False).exists()
        assert Deployment.objects.filter(environment="staging").exists()
        for row in DeploymentItem.objects.select_related("deployment", "item"):
            assert row.item.stream_id == row.deployment.stream_id
            assert row.deployment.finished_at >= row.item.finished_at
            assert row.first_commit_at is None or row.first_commit_at <= row.item.finished_at
        assert not Deployment.objects.filter(finished_at__gt=now).exists()
        assert not Incident.objects.filter(resolved_at__gt=now).exists()

    def test_each_role_has_a_login_where_it_makes_sense(self, seeded):
        # django-axes checks every password login and needs the request it came with.
        admin = authenticate(RequestFactory().post("/login/"), username="admin", password=settings.DEMO_PASSWORD)
        assert admin is not None and admin.is_superuser
        for role in access.ROLES:
            users = [u for u in User.objects.filter(groups__name=role) if u.check_password(settings.DEMO_PASSWORD)]
            assert len(users) == 1, role
        director = Person.objects.get(user__username="director")
        assert director.leadership_assignments.filter(
            role=LeadershipAssignment.Role.PRODUCT_DIRECTOR, end_date__isnull=True
        ).exists()
        assert (
            Person.objects.get(user__username="owner").memberships.filter(role=Membership.Role.PRODUCT_OWNER).exists()
        )
        assert Person.objects.get(user__username="operations").teams.filter(type=Team.Type.BUSINESS_OPERATIONS).exists()
