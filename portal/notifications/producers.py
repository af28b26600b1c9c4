"""What the portal says, to whom: each producer finds what is due and calls `notify` with a key
that names the thing and its period, so running it again says nothing twice.

Events (every few minutes, `notify_events`): experiment verdicts → the stream's director; a
sync that failed or stopped, items held for a mapping, and imports that failed, were refused
or wait for a mapping → the stream's director (or whoever started an import into a stream not
created yet). A release-gate refusal is told as it happens (`gate_refused`, on the signal the
state service sends).

Daily (`notify_daily`): key results whose check-in is due → their owner, and stale ones → also
the objective's owner; readiness checks waiting on an operations team → its members, past
their item's target date first, then oldest; work in progress older than its stream's 85th
percentile of flow time → the product owners of its team.
"""

from __future__ import annotations

from collections import defaultdict
import datetime as dt

from django.conf import settings
from django.db.models import Case, Count, F, Max, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from okrs.alignment import period_labels
from okrs.models import KeyResult
from portal.notifications.models import ChatChannel, Kind
from portal.notifications.services import Message, digest_due, notify, period_key, preferences_for
from streams.flow.periods import period_containing
from streams.flow.portfolio import PortfolioWindow, stream_flows
from streams.models import (
    BacklogItem,
    Connection,
    HeldItem,
    ImportJob,
    ImprovementExperiment,
    LeadershipAssignment,
    ReadinessCheck,
    SyncRun,
    WorkflowState,
)
from streams.readiness.selectors import readiness_by_owner_team
from teams.models import Membership, Person

RECENT = dt.timedelta(days=7)  # events older than this are not told any more (a new portal, an old failure)
DIGEST_LINES = 50
PAST_P85 = {False: "the stream's 85th percentile", True: "their streams' 85th percentiles"}


def _week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _directors(stream_ids) -> dict[int, Person]:
    rows = LeadershipAssignment.objects.filter(
        stream_id__in=set(stream_ids), role=LeadershipAssignment.Role.PRODUCT_DIRECTOR, end_date__isnull=True
    ).select_related("person")
    return {row.stream_id: row.person for row in rows}


def _chats(owner: str, ids) -> dict[int, list[ChatChannel]]:
    """The active chat channels of the teams or streams `ids` (`owner`: "team" or "stream")."""
    chats = defaultdict(list)
    for chat in ChatChannel.objects.filter(**{f"{owner}_id__in": set(ids)}, active=True):
        chats[getattr(chat, f"{owner}_id")].append(chat)
    return chats


def stream_chats(stream_ids) -> dict[int, list[ChatChannel]]:
    return _chats("stream", stream_ids)


def team_chats(team_ids) -> dict[int, list[ChatChannel]]:
    return _chats("team", team_ids)


# --- Events ----------------------------------------------------------------------------------


def experiment_verdicts(now: dt.datetime) -> int:
    decided = list(
        ImprovementExperiment.objects.exclude(verdict=ImprovementExperiment.Verdict.PENDING)
        .filter(decided_at__gte=now - RECENT)
        .select_related("stream")
    )
    directors, chats = _directors(e.stream_id for e in decided), stream_chats(e.stream_id for e in decided)
    told = 0
    for experiment in decided:
        director = directors.get(experiment.stream_id)
        if director is None:
            continue
        url = reverse("streams:experiment-detail", args=[experiment.stream.slug, experiment.pk])
        result = experiment.result or {}
        message = Message(
            subject=f"Experiment “{experiment.title}” in {experiment.stream.name}: {experiment.get_verdict_display()}",
            url=url,
            lines=((str(result.get("reason") or experiment.hypothesis)[:300], url),),
            figures=_experiment_figures(experiment, result),
        )
        told += bool(
            notify(
                director,
                Kind.EXPERIMENT_VERDICT,
                f"experiment:{experiment.pk}",
                message,
                chats=chats[experiment.stream_id],
            )
        )
    return told


def _experiment_figures(experiment: ImprovementExperiment, result: dict) -> str:
    parts = [f"{experiment.get_target_metric_display()}, decided {experiment.decided_at:%Y-%m-%d}"]
    for name in ("baseline_n", "after_n", "p_value"):
        if name in result:
            parts.append(f"{name.replace('_', ' ')} = {result[name]}")
    parts.append(f"window {experiment.start_date:%Y-%m-%d} to {experiment.review_date:%Y-%m-%d}")
    return "; ".join(parts)


def sync_problems(now: dt.datetime) -> int:
    """Runs that failed or stopped, connections holding items for a mapping (weekly while they
    do), and imports that failed, were refused or wait for a mapping."""
    runs = list(
        SyncRun.objects.filter(
            status__in=[SyncRun.Status.FAILED, SyncRun.Status.STOPPED], finished_at__gte=now - RECENT
        ).select_related("connection__stream")
    )
    held = list(
        Connection.objects.filter(held__isnull=False)
        .annotate(held_count=Count("held"))
        .select_related("stream")
        .distinct()
    )
    imports = list(
        ImportJob.objects.filter(
            Q(status__in=[ImportJob.Status.FAILED, ImportJob.Status.REFUSED], finished_at__gte=now - RECENT)
            | Q(status=ImportJob.Status.MAPPING, created_at__gte=now - RECENT)
        ).select_related("created_by__person")
    )
    stream_ids = [r.connection.stream_id for r in runs] + [c.stream_id for c in held]
    stream_ids += [j.stream_id for j in imports if j.stream_id]
    directors, chats = _directors(stream_ids), stream_chats(stream_ids)
    told = 0
    for run in runs:
        connection = run.connection
        url = reverse("streams:connection", args=[connection.stream.slug, connection.pk])
        what = "stopped: the tool refused the credentials" if run.status == SyncRun.Status.STOPPED else "failed"
        message = Message(
            subject=f"The {connection.get_tool_display()} sync of {connection.stream.name} {what}",
            url=url,
            lines=((run.error[:300] or connection.status_message[:300], url),),
            figures=f"run of {run.started_at:%Y-%m-%d %H:%M} UTC; {run.read} read, {run.requests} requests",
        )
        told += _tell(directors.get(connection.stream_id), f"sync:{run.pk}", message, chats[connection.stream_id])
    week = _week(now.date())
    for connection in held:
        url = reverse("streams:connection-mapping", args=[connection.stream.slug, connection.pk])
        names = sorted(set(HeldItem.objects.filter(connection=connection).values_list("value", flat=True)[:200]))
        n = connection.held_count
        message = Message(
            subject=f"{n} item{'s' * (n != 1)} of {connection.stream.name} wait{'s' * (n == 1)} for a mapping "
            f"({connection.get_tool_display()})",
            url=url,
            lines=tuple((f"“{name}” is not mapped", url) for name in names[:20]),
            figures=f"n = {connection.held_count} items held out of every figure until their names are mapped",
        )
        told += _tell(
            directors.get(connection.stream_id), f"held:{connection.pk}:{week}", message, chats[connection.stream_id]
        )
    for job in imports:
        url = reverse("imports:job", args=[job.pk])
        what = {"failed": "failed", "refused": "was refused", "mapping": "waits for a mapping"}[job.status]
        errors = [str(e.get("message", e))[:200] if isinstance(e, dict) else str(e)[:200] for e in job.errors[:10]]
        message = Message(
            subject=f"The {job.get_source_display()} import into {job.stream_slug} {what}",
            url=url,
            lines=tuple((text, url) for text in errors) or ((job.phase or job.get_status_display(), url),),
            figures=f"import #{job.pk} of {job.created_at:%Y-%m-%d %H:%M} UTC ({job.file_names[:100]})",
        )
        person = directors.get(job.stream_id) if job.stream_id else None
        if person is None and job.created_by is not None:
            person = getattr(job.created_by, "person", None)
        told += _tell(person, f"import:{job.pk}:{job.status}", message, chats.get(job.stream_id, []))
    return told


def _tell(person: Person | None, key: str, message: Message, chats) -> int:
    return int(person is not None and notify(person, Kind.SYNC_PROBLEM, key, message, chats=chats) is not None)


# --- Daily -----------------------------------------------------------------------------------


def checkins(today: dt.date) -> int:
    """Key results of the current period with no check-in for NOTIFY_CHECKIN_DUE_DAYS: one
    reminder a week to each owner listing theirs; past NOTIFY_CHECKIN_STALE_DAYS, the
    objective's owner hears of them too."""
    period = period_containing(today)
    due_days, stale_days = settings.NOTIFY_CHECKIN_DUE_DAYS, settings.NOTIFY_CHECKIN_STALE_DAYS
    rows = (
        KeyResult.objects.filter(objective__period__in=period_labels(period))
        .annotate(last=Max("check_ins__date"))
        .select_related("owner", "objective__owner")
        .order_by("objective_id", "order", "pk")
    )
    due: dict[int, list] = defaultdict(list)
    stale: dict[int, list] = defaultdict(list)
    people: dict[int, Person] = {}
    for kr in rows:
        since = kr.last or timezone.localdate(kr.objective.created_at)
        days = (today - since).days
        if days < due_days:
            continue
        owner = kr.owner or kr.objective.owner
        line = (
            f"{kr.title} ({kr.objective.title}): "
            + (f"last check-in {kr.last:%Y-%m-%d}, {days} days ago" if kr.last else f"no check-in yet, {days} days in"),
            reverse("okrs:check-in", args=[kr.pk]),
        )
        if owner is not None:
            people[owner.pk] = owner
            due[owner.pk].append(line)
        boss = kr.objective.owner
        if days >= stale_days and boss is not None and boss.pk != (owner.pk if owner else None):
            people[boss.pk] = boss
            stale[boss.pk].append(line)
    week, told = _week(today), 0
    figures = (
        f"as of {today:%Y-%m-%d}, period {period.label}: reminded after {due_days} days without a check-in, "
        f"stale after {stale_days}"
    )
    for kind, groups, subject in (
        (Kind.CHECKIN_DUE, due, "{n} key result{s} of yours need{v} a check-in"),
        (Kind.CHECKIN_STALE, stale, "{n} key result{s} under your objectives {v2} stale"),
    ):
        for person_id, lines in groups.items():
            n = len(lines)
            text = subject.format(n=n, s="s" if n != 1 else "", v="" if n != 1 else "s", v2="are" if n != 1 else "is")
            message = Message(
                subject=text, url=reverse("okrs:objective-list"), lines=tuple(lines), figures=f"n = {n}; {figures}"
            )
            told += bool(notify(people[person_id], kind, week, message))
    return told


def readiness_digests(today: dt.date, now: dt.datetime | None = None) -> int:
    """To each member of a team owning readiness criteria: the checks waiting on the team (as
    its readiness queue counts them: items not removed), those past their item's target date
    first, most overdue first, then the oldest."""
    now = now or timezone.now()
    waiting = {row.team.pk: row for row in readiness_by_owner_team(now) if row.pending}
    if not waiting:
        return 0
    members = defaultdict(list)
    for membership in Membership.objects.filter(team_id__in=waiting).select_related("person"):
        members[membership.team_id].append(membership.person)
    chats, told = team_chats(waiting), 0
    late = Q(item__target_date__lt=today)
    for team_id, row in waiting.items():
        if not members[team_id]:
            continue
        team = row.team
        checks = (
            ReadinessCheck.objects.filter(status=ReadinessCheck.Status.PENDING, criterion__owner_team_id=team_id)
            .exclude(item__state__category=WorkflowState.Category.REMOVED)
            .select_related("item", "criterion")
            .annotate(
                late=Case(When(late, then=Value(1)), default=Value(0)),
                late_target=Case(When(late, then=F("item__target_date")), default=None),
            )
            .order_by("-late", F("late_target").asc(nulls_last=True), "created_at", "pk")[:DIGEST_LINES]
        )
        n = row.pending
        message = Message(
            subject=f"{n} readiness check{'s' * (n != 1)} wait{'s' * (n == 1)} on {team.name}"
            + (f", {row.overdue} past their item's target date" if row.overdue else ""),
            url=reverse("readiness:queue") + f"?team={team.slug}",
            lines=tuple(_check_line(check, today) for check in checks),
            figures=f"n = {n} pending as of {today:%Y-%m-%d}; the oldest waits {row.oldest_days:.0f} days",
        )
        told += _digest(members[team_id], Kind.READINESS_DIGEST, f"team:{team_id}", message, chats[team_id], today)
    return told


def _digest(people: list[Person], kind: str, about: str, message: Message, chats, today: dt.date) -> int:
    """A digest to each of `people` whose frequency makes it due today, keyed by its period."""
    told = 0
    preferences = preferences_for(people, kind)
    for person in people:
        preference = preferences[person.pk]
        if digest_due(preference, today):
            key = f"{about}:{period_key(preference, today)}"
            told += bool(notify(person, kind, key, message, chats=chats, preference=preference))
    return told


def _check_line(check: ReadinessCheck, today: dt.date) -> tuple[str, str]:
    waiting = (today - timezone.localdate(check.created_at)).days
    text = f"{check.item.key} {check.item.title[:80]}: {check.criterion.name}, waiting {waiting} days"
    if check.item.target_date and check.item.target_date < today:
        text += f", past its target date {check.item.target_date:%Y-%m-%d}"
    return text, reverse("item-detail", args=[check.item_id])


def aging(today: dt.date, now: dt.datetime | None = None) -> int:
    """To the product owners of each team: its work in progress older than its stream's 85th
    percentile of flow time (items finished in the default window, 12 weeks), oldest first."""
    now = now or timezone.now()
    window = PortfolioWindow.ending_before(now)
    stream_ids = list(BacklogItem.objects.in_progress().values_list("stream_id", flat=True).distinct())
    flows = {pk: flow for pk, flow in stream_flows(stream_ids, window).items() if flow.flow_time_p85 is not None}
    if not flows:
        return 0
    past = Q()
    for stream_id, flow in flows.items():
        past |= Q(stream_id=stream_id, started_at__lt=now - dt.timedelta(days=flow.flow_time_p85))
    items = list(
        BacklogItem.objects.in_progress()
        .filter(past, team__isnull=False)
        .select_related("stream", "team")
        .order_by("team_id", "started_at", "pk")
    )
    by_team = defaultdict(list)
    for item in items:
        by_team[item.team_id].append(item)
    owners = defaultdict(list)
    for membership in Membership.objects.filter(team_id__in=by_team, role=Membership.Role.PRODUCT_OWNER).select_related(
        "person"
    ):
        owners[membership.team_id].append(membership.person)
    chats, told = team_chats(by_team), 0
    for team_id, aged in by_team.items():
        if not owners[team_id]:
            continue
        team = aged[0].team
        lines = tuple(
            (
                f"{item.key} {item.title[:80]}: {(now - item.started_at).days} days in progress "
                f"({item.stream.name}: p85 {flows[item.stream_id].flow_time_p85:.1f} days)",
                reverse("item-detail", args=[item.pk]),
            )
            for item in aged[:DIGEST_LINES]
        )
        streams = sorted({item.stream.name for item in aged})
        figures = "; ".join(
            f"{name}: p85 of flow time {flows[s].flow_time_p85:.1f} days over n = {flows[s].throughput} items finished"
            for s, name in sorted({(item.stream_id, item.stream.name) for item in aged}, key=lambda pair: pair[1])
        )
        first = aged[0].stream
        url = reverse("streams:stream-detail", args=[first.slug]) + f"?{window.query}"
        message = Message(
            subject=f"{len(aged)} item{'s' * (len(aged) != 1)} of {team.name} aging past {PAST_P85[len(streams) > 1]}",
            url=url,
            lines=lines,
            figures=f"{figures}, {window.describe()}",
        )
        told += _digest(owners[team_id], Kind.AGING, f"team:{team_id}", message, chats[team_id], today)
    return told
