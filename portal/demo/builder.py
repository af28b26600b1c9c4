"""Writes (and removes) the demo organisation described in `catalogue`.

`demo_seed` guarantees, for a given day:

- the same rows every time: every random choice comes from `random.Random(SEED)` and every
  date is an offset from `demo_now()`, today at midnight UTC, so the history runs up to today;
- a consistent history: each item's transitions chain (the first has no `from_state` and is
  dated `created_at`; each later one leaves the state the previous one entered, strictly
  later), the item's `state` is the last transition's target, and `started_at`/`finished_at`
  are derived by `streams.backlog.services.items_refresh_flow_dates`, never computed here;
- the release gate holds: an item in a done state has no pending check, and every decided
  check records who signed it off and when (before the item was first released);
- all or nothing: it runs in one transaction.

Demo rows are recognised by the stream and team slugs of the catalogue and by the
`@harbour.example` e-mail domain of people and users; `demo_delete` removes those rows and
nothing else. Disciplines are shared vocabulary: found or created, never deleted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
import datetime as dt
from decimal import Decimal
import random
import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from core import access
from core.bulk import analyze_tables
from core.errors import DomainError
from okrs.measures import LOWER_IS_BETTER, readings_so_far
from okrs.models import CheckIn, KeyResult, Measure, Objective
from okrs.selectors import period_elapsed
from okrs.services import key_result_save
from streams.backlog.services import items_refresh_flow_dates
from streams.flow.periods import Period, period_containing
from streams.models import (
    BacklogItem,
    BlockedPeriod,
    DeliverySource,
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
from teams.models import Discipline, Membership, Person, Team

from . import catalogue as cat
from .flow import Blocked, Fate, Life, Workflow, lognormal_days, simulate

Category = WorkflowState.Category
Status = ReadinessCheck.Status
BATCH_SIZE = 1000
FLOW_TYPES = (FlowType.FEATURE, FlowType.DEFECT, FlowType.RISK, FlowType.DEBT)
STORY_SIZES = (1, 2, 3, 5, 8, 13)
STORY_SIZE_WEIGHTS = (10, 25, 30, 20, 10, 5)
DEPENDENCIES = 80

# Per flow type: mean days in the backlog before work starts, median flow time in days, and
# the chance an item is never started at all.
TIMING = {
    FlowType.FEATURE: (14.0, 14.0, 0.10),
    FlowType.DEFECT: (3.0, 4.0, 0.04),
    FlowType.RISK: (15.0, 12.0, 0.12),
    FlowType.DEBT: (25.0, 10.0, 0.22),
}


@dataclass
class DemoResult:
    """What a seed wrote: rows per model, and the logins it can print."""

    counts: dict[type[models.Model], int]
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # username, password, what it may do
    skipped_logins: list[str] = field(default_factory=list)  # usernames already taken by non-demo users


def demo_now() -> dt.datetime:
    """Today at midnight UTC: the anchor every demo date is an offset from."""
    return dt.datetime.combine(timezone.now().astimezone(dt.UTC).date(), dt.time.min, tzinfo=dt.UTC)


def _demo_streams():
    return ValueStream.objects.filter(slug__in=[spec.slug for spec in cat.STREAMS])


def _demo_teams():
    return Team.objects.filter(slug__in=[spec.slug for spec in cat.TEAMS])


def _demo_people():
    return Person.objects.filter(email__iendswith=f"@{cat.EMAIL_DOMAIN}")


def _demo_users():
    return get_user_model().objects.filter(email__iendswith=f"@{cat.EMAIL_DOMAIN}")


def demo_exists() -> bool:
    """Whether any demo row is in the database."""
    return any(qs.exists() for qs in (_demo_streams(), _demo_teams(), _demo_people(), _demo_users()))


@transaction.atomic
def demo_delete() -> int:
    """Delete every demo row (and what cascades from it); return the number of rows deleted."""
    streams, teams, people = _demo_streams(), _demo_teams(), _demo_people()
    deleted = 0
    # Ordered so that no PROTECT relation is left pointing at a row about to go: criteria
    # protect their owner team, items protect their states, assignments their person.
    for queryset in (
        Objective.objects.filter(
            Q(stream__in=streams)
            | Q(team__in=teams)
            | Q(level=Objective.Level.COMPANY, owner__in=people, title__in=[o.title for o in cat.COMPANY_OBJECTIVES])
        ),
        ReadinessCriterion.objects.filter(owner_team__in=teams),
        BacklogItem.objects.filter(stream__in=streams),
        LeadershipAssignment.objects.filter(Q(stream__in=streams) | Q(person__in=people)),
        streams,
        teams,
        people,
        _demo_users(),
    ):
        count, _ = queryset.delete()
        deleted += count
    return deleted


@transaction.atomic
def demo_seed(*, now: dt.datetime | None = None) -> DemoResult:
    """Create the demo organisation; see the module docstring for what is guaranteed.

    The caller checks `demo_exists()` first: seeding twice would collide on slugs and e-mails.
    """
    return _Builder(now=now or demo_now(), rng=random.Random(cat.SEED)).build()


def _ascii(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if ch.isascii() and ch.isalnum()).lower()


def _email(first: str, last: str) -> str:
    return f"{_ascii(first)}.{_ascii(last)}@{cat.EMAIL_DOMAIN}"


def _decimal(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


@dataclass
class _Plan:
    """An item before it is saved, with the life simulated for it."""

    item: BacklogItem
    life: Life
    level: int  # 0 epic, 1 feature of an epic, 2 story of a feature, 3 standalone

    # Used only to choose plausible sign-off dates and key-result links while generating; the
    # stored dates are derived from the written history by `items_refresh_flow_dates`.
    @property
    def started_at(self) -> dt.datetime | None:
        return self.life.first_at(WorkflowState.IN_PROGRESS)

    @property
    def finished_at(self) -> dt.datetime | None:
        return self.life.last_done_at() if self.life.state.category == Category.DONE else None


class _Builder:
    def __init__(self, *, now: dt.datetime, rng: random.Random):
        self.now = now
        self.today = now.date()
        self.rng = rng
        self.counts: Counter[type[models.Model]] = Counter()
        self.result = DemoResult(counts=self.counts)

    def _save(self, model: type[models.Model], objs: list) -> list:
        created = model.objects.bulk_create(objs, batch_size=BATCH_SIZE)
        self.counts[model] += len(created)
        return created

    def _days_ago(self, days: float) -> dt.datetime:
        return self.now - dt.timedelta(minutes=round(days * 24 * 60))

    def build(self) -> DemoResult:
        self.names = self._names()
        self._disciplines()
        self._streams()
        self._teams()
        self._users()
        self._people()
        self._leadership()
        self._criteria()
        self._items()
        self._delivery()
        self._okrs()
        self._measured_key_results()
        self._maps_and_experiments()
        return self.result

    # --- Organisation --------------------------------------------------------------------

    def _disciplines(self) -> None:
        existing = {d.slug: d for d in Discipline.objects.all()}
        by_name = {d.name.lower(): d for d in existing.values()}
        missing = [
            Discipline(slug=slug, name=name)
            for slug, name in cat.DISCIPLINES
            if slug not in existing and name.lower() not in by_name
        ]
        self._save(Discipline, missing)
        by_name.update({d.name.lower(): d for d in missing})
        self.disciplines = {slug: existing.get(slug) or by_name[name.lower()] for slug, name in cat.DISCIPLINES}

    def _streams(self) -> None:
        self.current = period_containing(self.today)
        self.previous = self.current.previous()
        self.streams: dict[str, ValueStream] = {}
        for spec in cat.STREAMS:
            self.streams[spec.slug] = ValueStream(
                name=spec.name,
                slug=spec.slug,
                description=spec.description,
                customer=spec.customer,
                industry=spec.industry,
                status=spec.status,
                pnl_period=spec.pnl_period,
                revenue=Decimal(spec.revenue) if spec.revenue is not None else None,
                cost=Decimal(spec.cost) if spec.cost is not None else None,
            )
        self._save(ValueStream, list(self.streams.values()))

        states, required, mixes = [], [], []
        for spec in cat.STREAMS:
            stream = self.streams[spec.slug]
            for order, (name, category) in enumerate(cat.WORKFLOWS[spec.workflow]):
                wip = cat.ACTIVE_STATE_WIP_LIMIT if category == Category.ACTIVE else None
                states.append(WorkflowState(stream=stream, name=name, category=category, order=order, wip_limit=wip))
            required += [
                ValueStream.required_disciplines.through(valuestream=stream, discipline=self.disciplines[slug])
                for slug in spec.disciplines
            ]
            for period, mix in ((self.current, spec.mix), (self.previous, spec.previous_mix)):
                mixes += [
                    TargetMix(stream=stream, period=period.label, flow_type=flow_type, percent=percent)
                    for flow_type, percent in zip(FLOW_TYPES, mix, strict=True)
                ]
        self._save(WorkflowState, states)
        self._save(ValueStream.required_disciplines.through, required)
        self._save(TargetMix, mixes)
        self.workflows = {
            spec.slug: Workflow.from_states(
                [s for s in states if s.stream is self.streams[spec.slug]], waiting_weight=spec.waiting_weight
            )
            for spec in cat.STREAMS
        }

    def _teams(self) -> None:
        self.teams = {
            spec.slug: Team(
                name=spec.name,
                slug=spec.slug,
                type=spec.type,
                work_mode=spec.work_mode,
                wip_limit=spec.wip_limit,
                description=spec.description,
            )
            for spec in cat.TEAMS
        }
        self._save(Team, list(self.teams.values()))
        self._save(
            ValueStream.teams.through,
            [
                ValueStream.teams.through(valuestream=self.streams[slug], team=self.teams[spec.slug])
                for spec in cat.TEAMS
                for slug in spec.serves
            ],
        )

    def _users(self) -> None:
        """The catalogue's logins, plus one per business-operations seat so every sign-off names a person."""
        User = get_user_model()
        role_groups = Group.objects.in_bulk(access.ROLES, field_name="name")
        if missing := set(access.ROLES) - set(role_groups):
            raise LookupError(f"Role groups {sorted(missing)} are missing; run `manage.py migrate` first.")
        wanted = list(cat.LOGINS)
        seats_with_login = {login.person for login in cat.LOGINS}
        for spec in cat.TEAMS:
            if spec.type == Team.Type.BUSINESS_OPERATIONS:
                for key in (f"{spec.slug}:{index}" for index in range(len(spec.roster))):
                    if key not in seats_with_login:
                        username = _email(*self.names[key]).partition("@")[0]
                        wanted.append(cat.Login(username, access.OPERATIONS, key, note=""))

        taken = set(User.objects.filter(username__in=[w.username for w in wanted]).values_list("username", flat=True))
        # Hashing is deliberately slow; one hash shared by the demo logins keeps the seed fast.
        password = make_password(settings.DEMO_PASSWORD)
        users, memberships = [], []
        self.person_users = {}
        for login in wanted:
            if login.username in taken:
                self.result.skipped_logins.append(login.username)
                continue
            first, last = self.names.get(login.person, (login.username.capitalize(), ""))
            can_log_in = bool(login.note)
            user = User(
                username=login.username,
                first_name=first,
                last_name=last,
                email=_email(first, last) if login.person else f"{login.username}@{cat.EMAIL_DOMAIN}",
                is_superuser=login.group is None,
                # Roles that write reach the admin, where `core.access.may` decides row by row.
                is_staff=can_log_in and login.group != access.VIEWER,
            )
            if can_log_in:
                user.password = password
                self.result.logins.append((login.username, settings.DEMO_PASSWORD, login.note))
            else:
                user.set_unusable_password()  # signs off checks in the story, never logs in
            users.append(user)
            if login.group:
                memberships.append(User.groups.through(user=user, group=role_groups[login.group]))
            if login.person:
                self.person_users[login.person] = user
        self._save(User, users)
        self._save(User.groups.through, memberships)

    def _names(self) -> dict[str, tuple[str, str]]:
        """A distinct (first, last) name for every leader and every seat, keyed like `Login.person`."""
        firsts, lasts = list(cat.FIRST_NAMES), list(cat.LAST_NAMES)
        self.rng.shuffle(firsts)
        self.rng.shuffle(lasts)
        keys = [leader.key for leader in cat.LEADERS] + [
            f"{spec.slug}:{index}" for spec in cat.TEAMS for index in range(len(spec.roster))
        ]
        if len(keys) > min(len(firsts), len(lasts)):
            raise ValueError(f"{len(keys)} people need as many names; the catalogue has {len(firsts)}.")
        return dict(zip(keys, zip(firsts, lasts, strict=False), strict=False))

    def _people(self) -> None:
        titles = {leader.key: (leader.title, leader.disciplines) for leader in cat.LEADERS}
        for spec in cat.TEAMS:
            for index, seat in enumerate(spec.roster):
                titles[f"{spec.slug}:{index}"] = (seat.title, seat.disciplines)
        self.people = {
            key: Person(
                name=f"{first} {last}", email=_email(first, last), title=titles[key][0], user=self.person_users.get(key)
            )
            for key, (first, last) in self.names.items()
        }
        self._save(Person, list(self.people.values()))
        self._save(
            Person.disciplines.through,
            [
                Person.disciplines.through(person=self.people[key], discipline=self.disciplines[slug])
                for key, (_, disciplines) in titles.items()
                for slug in disciplines
            ],
        )
        memberships = [
            Membership(
                person=self.people[f"{spec.slug}:{index}"],
                team=self.teams[spec.slug],
                role=seat.role,
                allocation_percent=seat.allocation,
            )
            for spec in cat.TEAMS
            for index, seat in enumerate(spec.roster)
        ]
        memberships += [
            Membership(
                person=self.people[extra.person], team=self.teams[extra.team], allocation_percent=extra.allocation
            )
            for extra in cat.EXTRA_MEMBERSHIPS
        ]
        self._save(Membership, memberships)

    def _leadership(self) -> None:
        assignments = []
        for spec in cat.ASSIGNMENTS:
            assignments.append(
                LeadershipAssignment(
                    person=self.people[spec.person],
                    stream=self.streams[spec.stream],
                    role=spec.role,
                    kind=spec.kind,
                    time_share_percent=spec.time_share,
                    digital_experience_years=_decimal(spec.years),
                    owns_pnl=spec.owns_pnl,
                    induction_completed=spec.induction,
                    mentor=self.people[spec.mentor] if spec.mentor else None,
                    strengths=spec.strengths,
                    weaknesses=spec.weaknesses,
                    start_date=self.today - dt.timedelta(days=spec.started_days_ago),
                    review_date=self.today + dt.timedelta(days=spec.review_in_days)
                    if spec.review_in_days is not None
                    else None,
                    end_date=self.today - dt.timedelta(days=spec.ended_days_ago)
                    if spec.ended_days_ago is not None
                    else None,
                )
            )
        self._save(LeadershipAssignment, assignments)
        # Who owns a stream's objectives: its active director, else its value stream manager.
        self.stream_owner: dict[str, Person] = {}
        for spec in cat.ASSIGNMENTS:
            if spec.ended_days_ago is None and (spec.role == cat.DIRECTOR or spec.stream not in self.stream_owner):
                self.stream_owner[spec.stream] = self.people[spec.person]

    def _criteria(self) -> None:
        self.criteria = [
            ReadinessCriterion(
                name=spec.name,
                description=spec.description,
                owner_team=self.teams[spec.team],
                all_streams=not spec.streams,
                flow_types=list(spec.flow_types),
                active=spec.active,
            )
            for spec in cat.CRITERIA
        ]
        self._save(ReadinessCriterion, self.criteria)
        self.criterion_streams = {
            criterion.pk: {self.streams[slug].pk for slug in spec.streams}
            for criterion, spec in zip(self.criteria, cat.CRITERIA, strict=True)
        }
        self._save(
            ReadinessCriterion.streams.through,
            [
                ReadinessCriterion.streams.through(readinesscriterion=criterion, valuestream=self.streams[slug])
                for criterion, spec in zip(self.criteria, cat.CRITERIA, strict=True)
                for slug in spec.streams
            ],
        )
        self.signers: dict[int, list] = defaultdict(list)
        for spec in cat.TEAMS:
            for index in range(len(spec.roster)):
                user = self.person_users.get(f"{spec.slug}:{index}")
                if user is not None:
                    self.signers[self.teams[spec.slug].pk].append(user)

    # --- Backlog and its history ---------------------------------------------------------

    def _items(self) -> None:
        self.plans: list[_Plan] = []
        for spec in cat.STREAMS:
            self.plans += self._stream_plans(spec)
        # Parents before children, so each child can point at a saved parent.
        for level in (0, 1, 2):
            self._save(BacklogItem, [plan.item for plan in self.plans if min(plan.level, 2) == level])

        # Before blocked periods are written: a dependency may flag its item blocked.
        dependencies = self._dependencies()
        transitions, blocked = [], []
        for plan in self.plans:
            previous = None
            for state, at in plan.life.steps:
                transitions.append(
                    StateTransition(
                        item_id=plan.item.pk, from_state=previous, to_state=state, at=at, source=cat.ITEM_SOURCE
                    )
                )
                previous = state
            blocked += [
                BlockedPeriod(
                    item_id=plan.item.pk,
                    reason=period.reason,
                    started_at=period.started_at,
                    ended_at=period.ended_at,
                    note=period.note or self.rng.choice(cat.BLOCK_NOTES[period.reason]),
                )
                for period in plan.life.blocked
            ]
        self._save(StateTransition, transitions)
        self._save(BlockedPeriod, blocked)
        self._save(Dependency, dependencies)
        self._save(ReadinessCheck, [check for plan in self.plans for check in self._checks(plan)])
        # What follows in this transaction (flow dates, rollups, experiments' samples) is planned from the
        # tables' statistics. Taken while a table held only dead rows (a deleted demo, a flushed test
        # database), they say "empty" whatever was written since: an experiment's sample query then ran for
        # minutes. ANALYZE in the transaction counts its own rows.
        if connection.vendor == "postgresql":
            analyze_tables([model._meta.db_table for model in (BacklogItem, StateTransition, BlockedPeriod)])
        # The history is the source of truth: started/finished come from it, by the one service that derives them.
        items_refresh_flow_dates(BacklogItem.objects.filter(stream__in=list(self.streams.values())))

    def _stream_plans(self, spec: cat.StreamSpec) -> list[_Plan]:
        stream, workflow = self.streams[spec.slug], self.workflows[spec.slug]
        # An epic is worked on for months; it does not sit in a review queue for most of them.
        epic_workflow = replace(workflow, waiting_weight=0.1)
        plans: list[_Plan] = []

        def add(level, title, flow_type, created_at, *, parent=None, delay=None, flow=None, fate=None, size=None):
            default_delay, median, never = TIMING[flow_type]
            if fate is None:
                roll = self.rng.random()
                fate = (
                    Fate.REMOVED_BEFORE_START
                    if roll < 0.05
                    else Fate.REMOVED_IN_FLOW
                    if roll < 0.07
                    else Fate.NEVER_STARTED
                    if roll < 0.07 + never
                    else Fate.REOPEN
                    if roll < 0.11 + never
                    else Fate.SENT_BACK
                    if roll < 0.14 + never
                    else Fate.FLOW
                )
            delay = self.rng.expovariate(1 / default_delay) if delay is None else delay
            flow = lognormal_days(self.rng, median * ((size or 3) / 3) ** 0.5) if flow is None else flow
            experiment_started = spec.speedup_after_days and self._days_ago(spec.speedup_after_days)
            if experiment_started and created_at + dt.timedelta(days=delay) > experiment_started:
                flow *= 0.6  # the stream's experiment works: see catalogue.EXPERIMENTS
            life = simulate(
                self.rng,
                epic_workflow if level == 0 else workflow,
                created_at=created_at,
                now=self.now,
                fate=fate,
                start_delay_days=delay,
                flow_days=flow,
            )
            item = BacklogItem(
                stream=stream,
                title=title[:300],
                flow_type=flow_type,
                parent=parent,
                size=size,
                state=life.state,
                created_at=created_at,
                source=cat.ITEM_SOURCE,
                customer_facing=spec.customer == cat.EXTERNAL
                and flow_type in (FlowType.FEATURE, FlowType.DEFECT)
                and self.rng.random() < 0.7,
            )
            plans.append(_Plan(item=item, life=life, level=level))
            return item

        def size():
            return self.rng.choices(STORY_SIZES, STORY_SIZE_WEIGHTS)[0]

        def soon_after(parent: BacklogItem, days: float) -> dt.datetime:
            # Children are written within `days` of their parent, and at least half a day before now.
            room = min(days, (self.now - parent.created_at).total_seconds() / 86400 - 0.5)
            return parent.created_at + dt.timedelta(minutes=round(self.rng.uniform(0, max(room, 0)) * 24 * 60))

        for epic_title in spec.epics:
            is_debt = any(word in epic_title for word in ("modernisation", "rebuild"))
            flow_type = FlowType.DEBT if is_debt else FlowType.FEATURE
            # Epics run for months: the older ones are done, most are still in progress.
            epic = add(
                0,
                epic_title,
                flow_type,
                self._days_ago(self.rng.uniform(60, 230)),
                fate=Fate.FLOW,
                delay=self.rng.expovariate(1 / 10),
                flow=lognormal_days(self.rng, 150, 0.4),
            )
            epic.target_date = (epic.created_at + dt.timedelta(days=self.rng.uniform(120, 240))).date()
            epic.description = f"Part of the {spec.name} roadmap. {spec.description}"
            for _ in range(self.rng.randint(4, 7)):
                obj = self.rng.choice(spec.objects)
                title = f"{self.rng.choice(cat.FEATURE_VERBS)} {obj}{self.rng.choice(cat.FEATURE_QUALIFIERS)}"
                has_stories = self.rng.random() < 0.5
                created = soon_after(epic, 110)
                feature = add(
                    1,
                    title,
                    flow_type,
                    created,
                    parent=epic,
                    size=None if has_stories else size(),
                    flow=lognormal_days(self.rng, 18) if has_stories else None,
                )
                if self.rng.random() < 0.25:
                    feature.target_date = (created + dt.timedelta(days=self.rng.uniform(20, 90))).date()
                if has_stories:
                    for step in self.rng.sample(cat.STORY_STEPS, self.rng.randint(2, 3)):
                        add(2, f"{title}: {step}", flow_type, soon_after(feature, 15), parent=feature, size=size())

        patterns = {
            FlowType.DEFECT: cat.DEFECT_PATTERNS,
            FlowType.RISK: cat.RISK_PATTERNS,
            FlowType.DEBT: cat.DEBT_PATTERNS,
        }
        # Standalone items; features come mostly through epics, hence their smaller share here.
        weights = (spec.mix[0] * 0.4, *spec.mix[1:])
        while len(plans) < spec.items:
            flow_type = self.rng.choices(FLOW_TYPES, weights)[0]
            obj = self.rng.choice(spec.objects)
            if flow_type == FlowType.FEATURE:
                title = f"{self.rng.choice(cat.FEATURE_VERBS)} {obj}{self.rng.choice(cat.FEATURE_QUALIFIERS)}"
            else:
                title = self.rng.choice(patterns[flow_type]).format(obj)
                title = title[0].upper() + title[1:]
            add(3, title, flow_type, self._days_ago(self.rng.uniform(0.2, 215)), size=size())

        self._place(spec, plans)
        return plans

    def _place(self, spec: cat.StreamSpec, plans: list[_Plan]) -> None:
        """Give the stream's items their keys (in creation order), teams and ranks."""
        for number, plan in enumerate(sorted(plans, key=lambda p: p.item.created_at), start=1):
            plan.item.external_key = f"{spec.prefix}-{number}"
        teams = [(self.teams[t.slug], t.item_weight) for t in cat.TEAMS if spec.slug in t.serves and t.item_weight]
        for plan in plans:
            parent = plan.item.parent
            if parent is not None and self.rng.random() < 0.8:
                plan.item.team = parent.team  # work mostly stays with the team that owns the epic
            elif plan.life.state.category == Category.BACKLOG and self.rng.random() < 0.15:
                plan.item.team = None  # not yet picked up by any team
            else:
                plan.item.team = self.rng.choices([t for t, _ in teams], [w for _, w in teams])[0]
        # In-progress work first, then the backlog in a refined-looking order, then the rest.
        order = {Category.ACTIVE: 0, Category.WAITING: 0, Category.BACKLOG: 1, Category.DONE: 2, Category.REMOVED: 3}
        ranked = sorted(plans, key=lambda p: (order[p.life.state.category], self.rng.random()))
        for rank, plan in enumerate(ranked, start=1):
            plan.item.rank = float(rank * 10)

    def _dependencies(self) -> list[Dependency]:
        """Items blocked by earlier items of other teams, half of them in other streams.

        An item in an active state whose blocker is not done yet is flagged blocked on it now.
        """
        candidates = [p for p in self.plans if p.item.team_id and p.life.state.category != Category.REMOVED]
        dependencies, pairs = [], set()
        for _ in range(50 * DEPENDENCIES):  # bounded: the catalogue guarantees enough candidates
            if len(dependencies) == DEPENDENCIES:
                break
            plan, blocker_plan = self.rng.choice(candidates), self.rng.choice(candidates)
            item, blocker = plan.item, blocker_plan.item
            cross_stream = len(dependencies) % 2 == 0
            # Depending only on earlier items keeps the dependency graph free of cycles.
            if (
                blocker.created_at >= item.created_at
                or blocker.team_id == item.team_id
                or (blocker.stream_id != item.stream_id) != cross_stream
                or (item.pk, blocker.pk) in pairs
            ):
                continue
            pairs.add((item.pk, blocker.pk))
            created_at = item.created_at + dt.timedelta(days=self.rng.uniform(0, 5))
            created_at = max(item.created_at, min(created_at, self.now - dt.timedelta(hours=1)))
            dependencies.append(
                Dependency(
                    item_id=item.pk,
                    blocked_by_id=blocker.pk,
                    created_at=created_at,
                    note=f"Needs {blocker.external_key} ({blocker.title}) first.",
                )
            )
            if (
                plan.life.state.category == Category.ACTIVE
                and blocker_plan.life.state.category != Category.DONE
                and all(period.ended_at is not None for period in plan.life.blocked)
            ):
                since = max(plan.life.last_at, created_at)
                plan.life.blocked.append(
                    Blocked(
                        since + (self.now - since) * self.rng.uniform(0.1, 0.6),
                        None,
                        BlockedPeriod.Reason.DEPENDENCY,
                        f"Waiting for {blocker.external_key} from {blocker.team.name}.",
                    )
                )
        return dependencies

    def _checks(self, plan: _Plan) -> list[ReadinessCheck]:
        """One check per applicable criterion, decided before release for every released item."""
        item, life = plan.item, plan.life
        checks = []
        for criterion in self.criteria:
            if not criterion.applies_to(item, self.criterion_streams[criterion.pk]):
                continue
            category = life.state.category
            first_done = life.first_at([Category.DONE])
            if first_done is not None:
                # Released at least once (perhaps reopened since): the gate held at release.
                statuses, weights = (Status.MET, Status.NOT_APPLICABLE, Status.WAIVED), (70, 18, 12)
                low, high = plan.started_at or item.created_at, first_done
            elif category in WorkflowState.IN_PROGRESS:
                statuses, weights = (Status.PENDING, Status.MET, Status.NOT_APPLICABLE, Status.WAIVED), (55, 30, 10, 5)
                low, high = plan.started_at, self.now
            elif category == Category.BACKLOG:
                statuses, weights = (Status.PENDING, Status.NOT_APPLICABLE), (85, 15)
                low, high = item.created_at, self.now
            else:
                statuses, weights = (Status.PENDING, Status.NOT_APPLICABLE), (70, 30)
                low, high = item.created_at, life.last_at
            status = self.rng.choices(statuses, weights)[0]
            check = ReadinessCheck(item_id=item.pk, criterion=criterion, status=status, created_at=item.created_at)
            if status != Status.PENDING:
                signers = self.signers[criterion.owner_team_id]
                check.signed_off_by = self.rng.choice(signers) if signers else None
                check.signed_off_at = low + (high - low) * self.rng.uniform(0.2, 0.95)
                if status == Status.WAIVED:
                    check.reason = self.rng.choice(cat.WAIVER_REASONS)
            checks.append(check)
        return checks

    # --- Objectives and key results ------------------------------------------------------

    def _okrs(self) -> None:
        quarters = ((self.previous, (0, 1)), (self.current, (1, 2)))
        ceo, cpo, coo = self.people["ceo"], self.people["cpo"], self.people["coo"]
        company: dict[tuple[str, int], Objective] = {}
        for period, _ in quarters:
            for index, (spec, owner) in enumerate(zip(cat.COMPANY_OBJECTIVES, (ceo, cpo, coo), strict=True)):
                company[period.label, index] = Objective(
                    title=spec.title,
                    level=Objective.Level.COMPANY,
                    owner=owner,
                    period=period.label,
                )
        self._save(Objective, list(company.values()))

        stream_objectives: dict[tuple[str, str], list[Objective]] = defaultdict(list)
        stream_level = []
        for period, themes in quarters:
            for spec in cat.STREAMS:
                for theme in themes:
                    objective_spec = spec.objectives[theme]
                    objective = Objective(
                        title=objective_spec.title,
                        level=Objective.Level.STREAM,
                        period=period.label,
                        owner=self.stream_owner.get(spec.slug),
                        stream=self.streams[spec.slug],
                        parent=company[period.label, objective_spec.company],
                    )
                    stream_objectives[period.label, spec.slug].append(objective)
                    stream_level.append((objective, objective_spec))
        self._save(Objective, [objective for objective, _ in stream_level])

        team_level = []
        for period, _ in quarters:
            for team_spec in cat.TEAMS:
                spec = cat.TEAM_OBJECTIVES[team_spec.type]
                if len(team_spec.serves) <= 2:
                    parent = self.rng.choice(stream_objectives[period.label, self.rng.choice(team_spec.serves)])
                else:
                    parent = company[period.label, spec.company]
                objective = Objective(
                    title=spec.title,
                    level=Objective.Level.TEAM,
                    period=period.label,
                    team=self.teams[team_spec.slug],
                    owner=self.people[f"{team_spec.slug}:0"],
                    parent=parent,
                )
                team_level.append((objective, spec))
        self._save(Objective, [objective for objective, _ in team_level])

        key_results, check_ins = [], []
        # Last quarter's final values, so a key result carried over starts where it ended.
        final_values: dict[tuple, float] = {}
        all_objectives = [(objective, cat.COMPANY_OBJECTIVES[index]) for (_, index), objective in company.items()]
        all_objectives += stream_level + team_level  # each level's previous quarter comes before its current one
        for objective, spec in all_objectives:
            period = self.previous if objective.period == self.previous.label else self.current
            for order, kr_spec in enumerate(spec.key_results):
                start, target = float(kr_spec.start), float(kr_spec.target)
                lineage = (objective.level, objective.stream_id, objective.team_id, kr_spec.title)
                carried = final_values.get(lineage)
                if period is self.current and carried is not None:
                    # The objective carries over: this quarter starts where the last one ended, aiming further.
                    start, target = carried, target + (target - start) * 0.3
                    if round(start, 2) == round(target, 2):
                        target = start + (float(kr_spec.target) - float(kr_spec.start)) * 0.3
                key_result = KeyResult(
                    objective=objective,
                    title=kr_spec.title,
                    kind=kr_spec.kind,
                    unit=kr_spec.unit,
                    start_value=_decimal(start),
                    target_value=_decimal(target),
                    order=order,
                    weight=Decimal("1") if order == 0 or self.rng.random() < 0.6 else Decimal("0.5"),
                )
                series = self._check_ins(key_result, period=period, start=start, target=target)
                check_ins += series
                key_result.current_value = series[-1].value if series else _decimal(start)
                if period is self.previous:
                    final_values[lineage] = float(key_result.current_value)
                key_results.append(key_result)
        self._save(KeyResult, key_results)
        self._save(CheckIn, check_ins)
        self.plans_by: dict[tuple[str, int], list[_Plan]] = defaultdict(list)
        for plan in self.plans:
            self.plans_by["stream", plan.item.stream_id].append(plan)
            if plan.item.team_id:
                self.plans_by["team", plan.item.team_id].append(plan)
        self._save(KeyResult.items.through, [link for key_result in key_results for link in self._links(key_result)])

    def _measured_key_results(self) -> None:
        """Key results the portal measures, on three streams' current objectives: flow time
        (lower is better), deployment frequency and the aligned share of WIP. Their start and
        weekly readings come from the data (`okrs.services.key_result_save`); the first target is
        set so the key result runs ahead of a straight path, the second so it falls behind."""
        objectives = list(
            Objective.objects.filter(level=Objective.Level.STREAM, period=self.current.label)
            .select_related("stream")
            .order_by("stream__name", "pk")
        )
        specs = [
            (Measure.FLOW_TIME_P85, "Finish work faster: flow time p85 down", "days", "on track"),
            (Measure.DEPLOYMENT_FREQUENCY, "Release more often", "per week", "behind"),
            (Measure.ALIGNED_WIP, "Work in progress serves this quarter", "%", "behind"),
        ]
        elapsed = Decimal(str(max(0.1, period_elapsed(self.current))))
        used = set()
        for measure, title, unit, plan in specs:
            lower = measure in LOWER_IS_BETTER
            for objective in objectives:
                if objective.stream_id in used:
                    continue
                key_result = KeyResult(
                    objective=objective,
                    title=title,
                    unit=unit,
                    source=KeyResult.Source.MEASURED,
                    measure=measure,
                    measure_stream=objective.stream,
                    order=9,
                    start_value=Decimal("0"),
                    target_value=Decimal("1"),
                    owner=objective.owner,
                )
                values = [found.value for _, found in readings_so_far(key_result) if found.value is not None]
                if not values:
                    continue
                start, now = values[0], values[-1]
                gained = (start - now) if lower else (now - start)
                if plan == "on track" and gained <= 0:
                    continue  # this stream did not improve: look for one that did
                # On track: what was gained is the share of the way a straight path would have
                # covered by now, plus 10 points; behind: a third of it (a target 1 away when nothing moved).
                share = elapsed + Decimal("0.1") if plan == "on track" else elapsed * 3
                reach = abs(gained) * share if plan != "on track" else gained / share
                reach = reach if reach >= Decimal("0.05") else Decimal("1")
                target = start - reach if lower else start + reach
                key_result.target_value = max(target, Decimal("0.01")).quantize(Decimal("0.01"))
                try:
                    key_result_save(key_result=key_result)
                except DomainError:
                    continue
                used.add(objective.stream_id)
                self.counts[KeyResult] += 1
                break

    def _check_ins(self, key_result: KeyResult, *, period: Period, start: float, target: float) -> list[CheckIn]:
        """Weekly check-ins over the part of the quarter that has passed, oldest first; one in
        five current key results has gone quiet for two weeks or more (stale)."""
        end = min(period.last_day, self.today)
        if period is self.current and self.rng.random() < 0.2:
            end = self.today - dt.timedelta(days=self.rng.randint(15, 35))
        day = period.start + dt.timedelta(days=self.rng.randint(3, 8))
        days = []
        while day <= end:
            if self.rng.random() > 0.15:  # a week is missed now and then
                days.append(day)
            day += dt.timedelta(days=7)
        quarter_days = (period.end - period.start).days
        reach = self.rng.uniform(0.25, 1.2)  # where the key result will end the quarter
        confidence = self.rng.uniform(0.5, 0.8)
        owner = key_result.objective.owner
        author = owner.user if owner is not None and owner.user_id else None
        check_ins = []
        for day in days:
            elapsed = (day - period.start).days / quarter_days
            value = start + (target - start) * (reach * elapsed + self.rng.uniform(-0.05, 0.05))
            on_track = reach - 0.8
            confidence = min(0.95, max(0.05, confidence + self.rng.uniform(-0.1, 0.1) + 0.05 * on_track))
            check_ins.append(
                CheckIn(
                    key_result=key_result,
                    value=_decimal(value),
                    confidence=_decimal(confidence),
                    date=day,
                    author=author,
                    note=self.rng.choice(
                        (
                            "",
                            "",
                            "On track.",
                            "Slipping: waiting on a dependency.",
                            "Better than expected after the release.",
                        )
                    ),
                )
            )
        return check_ins

    def _links(self, key_result: KeyResult) -> list:
        """Link a stream or team key result to work of its quarter; company ones rest on their children."""
        objective = key_result.objective
        if objective.level == Objective.Level.COMPANY or self.rng.random() < 0.15:
            return []  # some key results have no work behind them: the alignment page names them
        period = self.previous if objective.period == self.previous.label else self.current
        start = dt.datetime.combine(period.start, dt.time.min, tzinfo=dt.UTC)
        end = dt.datetime.combine(period.end, dt.time.min, tzinfo=dt.UTC)
        if objective.level == Objective.Level.STREAM:
            scope = ("stream", objective.stream_id)
        else:
            scope = ("team", objective.team_id)
        pool = [
            plan.item.pk
            for plan in self.plans_by[scope]
            if plan.level in (0, 1, 3)
            and plan.life.state.category != Category.REMOVED
            and plan.started_at is not None
            and plan.started_at < end
            and (plan.finished_at is None or plan.finished_at >= start)
        ]
        wanted = self.rng.randint(2, 5) if key_result.kind == KeyResult.Kind.OUTPUT else self.rng.randint(1, 3)
        return [
            KeyResult.items.through(keyresult_id=key_result.pk, backlogitem_id=pk)
            for pk in self.rng.sample(pool, min(wanted, len(pool)))
        ]

    # --- Delivery: deployments, what they shipped, and incidents ------------------------

    def _delivery(self) -> None:
        """Each stream's pipeline (`cat.DELIVERY`): production deployments at its pace, a staging
        deployment before each where it has staging, the finished items each release shipped with
        a first commit before the item finished, and incidents caused by some deployments or by
        nothing known; two incidents are still open.

        Its own random sequence, so the rest of the demo stays as it was before deliveries existed."""
        rng = self.delivery_rng = random.Random(cat.SEED + 1)
        finished: dict[int, list[_Plan]] = defaultdict(list)
        for plan in self.plans:
            if plan.finished_at is not None and plan.level != 0:  # epics are not deployed as such
                finished[plan.item.stream_id].append(plan)
        deployments: list[Deployment] = []
        for spec in cat.STREAMS:
            profile = cat.DELIVERY.get(spec.slug)
            if profile is None:
                continue
            stream = self.streams[spec.slug]
            count = round(profile.per_week * cat.DELIVERY_DAYS / 7)
            moments = sorted(self._days_ago(rng.uniform(0.05, cat.DELIVERY_DAYS)) for _ in range(count))
            for n, done in enumerate(moments, start=1):
                service = rng.choice(profile.services)
                started = done - dt.timedelta(minutes=rng.randint(4, 45))
                version = f"{1 + n // 40}.{n % 40}.0"
                if profile.staging:
                    rehearsed = started - dt.timedelta(hours=rng.uniform(1, 20))
                    deployments.append(
                        self._deployment(stream, service, "staging", rehearsed, version, f"{spec.prefix}-stg-{n}")
                    )
                failed = rng.random() < profile.failure_rate
                deployments.append(
                    self._deployment(stream, service, "production", started, version, f"{spec.prefix}-{n}", failed)
                )
        self._save(Deployment, deployments)
        self._shipped(finished, [d for d in deployments if d.environment == "production"])
        self._incidents(deployments)

    def _deployment(self, stream, service, environment, started, version, run, failed=False) -> Deployment:
        minutes = self.delivery_rng.randint(3, 25)
        return Deployment(
            stream=stream,
            service=service,
            environment=environment,
            started_at=started,
            finished_at=started + dt.timedelta(minutes=minutes),
            status=Deployment.Status.FAILURE if failed else Deployment.Status.SUCCESS,
            version=version,
            source=DeliverySource.API,
            external_id=f"demo-{run}",
        )

    def _shipped(self, finished: dict[int, list[_Plan]], production: list[Deployment]) -> None:
        """Each finished item ships with the first successful production deployment of its stream
        at or after its finish (within two weeks); its first commit came before it finished."""
        by_stream: dict[int, list[Deployment]] = defaultdict(list)
        for deployment in production:
            if deployment.status == Deployment.Status.SUCCESS:
                by_stream[deployment.stream_id].append(deployment)
        rows = []
        for spec in cat.STREAMS:
            releases = by_stream.get(self.streams[spec.slug].pk, [])
            profile = cat.DELIVERY.get(spec.slug)
            for plan in finished.get(self.streams[spec.slug].pk, []):
                release = next(
                    (
                        d
                        for d in releases
                        if plan.finished_at <= d.finished_at <= plan.finished_at + dt.timedelta(days=14)
                    ),
                    None,
                )
                if release is None:
                    continue
                hours = min(lognormal_days(self.delivery_rng, profile.commit_hours / 24) * 24, 24 * 60)
                commit = max(plan.finished_at - dt.timedelta(hours=hours), plan.started_at or plan.item.created_at)
                rows.append(
                    DeploymentItem(
                        deployment=release,
                        item_id=plan.item.pk,
                        first_commit_at=commit if self.delivery_rng.random() < 0.8 else None,
                    )
                )
        self._save(DeploymentItem, rows)

    def _incidents(self, deployments: list[Deployment]) -> None:
        rng = self.delivery_rng
        incidents = []

        def incident(stream, service, opened, cause=None, *, hours, severity=None) -> Incident:
            return Incident(
                stream=stream,
                title=rng.choice(cat.INCIDENT_TITLES).format(service=service),
                severity=severity or rng.choice(["sev1", "sev2", "sev2", "sev3", "sev3", "sev3", "sev4"]),
                opened_at=opened,
                resolved_at=None if hours is None else opened + dt.timedelta(hours=hours),
                caused_by=cause,
                source=DeliverySource.API,
                external_id=f"demo-INC-{len(incidents) + 1}",
            )

        production = [d for d in deployments if d.environment == "production"]
        for deployment in production:
            spec = next(s for s in cat.STREAMS if self.streams[s.slug].pk == deployment.stream_id)
            profile = cat.DELIVERY[spec.slug]
            failed = deployment.status == Deployment.Status.FAILURE
            if (failed and rng.random() < 0.5) or (not failed and rng.random() < profile.incident_rate):
                opened = deployment.finished_at + dt.timedelta(minutes=rng.randint(2, 180))
                hours = lognormal_days(rng, profile.restore_hours / 24) * 24
                if opened + dt.timedelta(hours=hours) < self.now:
                    incidents.append(incident(deployment.stream, deployment.service, opened, deployment, hours=hours))
        for spec in cat.STREAMS:
            profile = cat.DELIVERY.get(spec.slug)
            if profile is None:
                continue
            stream = self.streams[spec.slug]
            for _ in range(round(cat.INCIDENTS_UNATTRIBUTED_PER_WEEK * cat.DELIVERY_DAYS / 7)):
                opened = self._days_ago(rng.uniform(2, cat.DELIVERY_DAYS))
                hours = lognormal_days(rng, profile.restore_hours / 24) * 24
                service = rng.choice(profile.services)
                if opened + dt.timedelta(hours=hours) < self.now:  # never resolved in the future
                    incidents.append(incident(stream, service, opened, hours=hours))
        # Two incidents still open: what a leader would look at first.
        for slug, days in (("home-insurance-claims", 1.5), ("data-analytics-platform", 4)):
            stream = self.streams[slug]
            service = cat.DELIVERY[slug].services[0]
            incidents.append(incident(stream, service, self._days_ago(days), hours=None, severity="sev2"))
        self._save(Incident, incidents)

    # --- Value stream maps and experiments ----------------------------------------------

    def _maps_and_experiments(self) -> None:
        maps = [
            ValueStreamMap(
                stream=self.streams[spec.stream],
                name=spec.name,
                kind=spec.kind,
                notes=spec.notes,
                as_of=self.today - dt.timedelta(days=spec.as_of_days_ago),
            )
            for spec in cat.MAPS
        ]
        self._save(ValueStreamMap, maps)
        self._save(
            ProcessBlock,
            [
                ProcessBlock(
                    map=vsm,
                    order=order,
                    activity=block.activity,
                    team=self.teams.get(block.team),
                    people=block.people,
                    process_time_hours=_decimal(block.process_hours),
                    lead_time_hours=_decimal(block.lead_hours),
                    queue_before=block.queue,
                    percent_complete_accurate=block.pca,
                    barriers=block.barriers,
                    wastes=list(block.wastes),
                )
                for vsm, spec in zip(maps, cat.MAPS, strict=True)
                for order, block in enumerate(spec.blocks, start=1)
            ],
        )
        states = {
            (state.stream_id, state.name): state
            for state in WorkflowState.objects.filter(stream__in=[vsm.stream for vsm in maps])
        }
        blocks = ProcessBlock.objects.filter(map__in=maps).order_by("map_id", "order")
        specs = [(vsm, block) for vsm, spec in zip(maps, cat.MAPS, strict=True) for block in spec.blocks]
        self._save(
            ProcessBlock.states.through,
            [
                ProcessBlock.states.through(processblock=block, workflowstate=states[(vsm.stream_id, name)])
                for block, (vsm, spec) in zip(blocks, specs, strict=True)
                for name in spec.states
            ],
        )
        self._save(
            ImprovementExperiment,
            [
                ImprovementExperiment(
                    stream=self.streams[spec.stream],
                    title=spec.title,
                    hypothesis=spec.hypothesis,
                    change=spec.change,
                    target_metric=spec.metric,
                    flow_type=spec.flow_type,
                    expected_direction=spec.direction,
                    expected_size_percent=spec.size,
                    start_date=self.today - dt.timedelta(days=spec.started_days_ago),
                    review_date=self.today + dt.timedelta(days=spec.review_in_days),
                )
                for spec in cat.EXPERIMENTS
            ],
        )
