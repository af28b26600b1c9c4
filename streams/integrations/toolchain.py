"""Jira and GitHub exports, read as a stream of issues, turned into what the import writer takes.

- Jira: the REST API's search response with `expand=changelog` (`{"issues": [...]}`); each
  issue's `fields` (summary, status, issuetype, created, labels, parent, issuelinks) and its
  `changelog.histories[].items[]` whose `field` is `status` (`fromString` → `toString`).
- GitHub: a JSON array of the issues `GET /repos/{owner}/{repo}/issues?state=all` returns,
  each with `timeline` (its timeline events), and optionally `sub_issues` and `blocked_by`
  (the issues those endpoints return). Pull requests in the list are skipped.

Files are read with ijson, one issue at a time, so memory follows what is kept (the items and
their moves), not the size of the file. Statuses become workflow states through a mapping
(`Mapping`), remembered per source and stream; issue types and labels become flow types."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
import datetime as dt
from typing import IO

from django.db import transaction
from django.utils import timezone

from core.errors import ImportRefused, RowError
from streams.integrations.github import github_labels, github_moves, github_status_now, read_github
from streams.integrations.issues import IssueReader, Progress, field_text
from streams.integrations.jira import jira_issues_prefix, jira_moves, read_jira
from streams.integrations.writer import Errors, ItemRow, Parsed, state_key
from streams.models import FlowType, ImportMapping, ImportSource, ValueStream, WorkflowState

Category = WorkflowState.Category


CATEGORY_RANK = {Category.BACKLOG: 0, Category.ACTIVE: 1, Category.WAITING: 2, Category.DONE: 3, Category.REMOVED: 4}


# Status names most teams use, by category (compared in lower case).
DEFAULT_STATUS_CATEGORIES = {
    Category.BACKLOG: {
        "to do",
        "todo",
        "open",
        "new",
        "backlog",
        "selected for development",
        "ready",
        "ready for development",
        "triage",
        "reopened",
        "planned",
        "up next",
        "next",
    },
    Category.ACTIVE: {
        "in progress",
        "in development",
        "doing",
        "development",
        "in review",
        "code review",
        "review",
        "in qa",
        "qa",
        "testing",
        "in test",
        "verification",
        "in progress (dev)",
    },
    Category.WAITING: {
        "blocked",
        "waiting",
        "on hold",
        "waiting for qa",
        "waiting for review",
        "ready for qa",
        "ready for review",
        "awaiting approval",
        "waiting for approval",
        "ready for release",
        "ready to deploy",
        "pending",
    },
    Category.DONE: {"done", "closed", "resolved", "released", "complete", "completed", "shipped", "deployed"},
    Category.REMOVED: {
        "won't do",
        "wont do",
        "won't fix",
        "wontfix",
        "cancelled",
        "canceled",
        "rejected",
        "duplicate",
        "declined",
        "not planned",
        "closed as not planned",
        "abandoned",
        "obsolete",
    },
}


# Jira's own coarse status categories, used when the name says nothing.
JIRA_STATUS_CATEGORY = {"new": Category.BACKLOG, "indeterminate": Category.ACTIVE, "done": Category.DONE}


DEFAULT_TYPES = {
    "bug": FlowType.DEFECT,
    "defect": FlowType.DEFECT,
    "incident": FlowType.DEFECT,
    "problem": FlowType.DEFECT,
    "story": FlowType.FEATURE,
    "task": FlowType.FEATURE,
    "epic": FlowType.FEATURE,
    "feature": FlowType.FEATURE,
    "sub-task": FlowType.FEATURE,
    "subtask": FlowType.FEATURE,
    "improvement": FlowType.FEATURE,
    "new feature": FlowType.FEATURE,
    "initiative": FlowType.FEATURE,
    "spike": FlowType.FEATURE,
    "tech debt": FlowType.DEBT,
    "technical debt": FlowType.DEBT,
    "tech-debt": FlowType.DEBT,
    "security": FlowType.RISK,
    "vulnerability": FlowType.RISK,
    "risk": FlowType.RISK,
}


# When labels disagree, the rarer and more urgent type wins.
TYPE_PRECEDENCE = [FlowType.RISK, FlowType.DEFECT, FlowType.DEBT, FlowType.FEATURE]


def default_status_category(name: str, hint: str = "") -> str:
    """The category a status name usually means ('' if unknown); `hint` is Jira's statusCategory key."""
    lowered = name.strip().lower()
    for category, names in DEFAULT_STATUS_CATEGORIES.items():
        if lowered in names:
            return category
    return JIRA_STATUS_CATEGORY.get(hint, "")


def default_label_type(label: str) -> str:
    """The flow type a label stands for ('' when it says nothing about the type)."""
    lowered = label.strip().lower()
    if "security" in lowered or "vulnerab" in lowered or lowered in {"cve", "risk"}:
        return FlowType.RISK
    if "debt" in lowered:
        return FlowType.DEBT
    if lowered in {"bug", "defect", "type: bug", "kind/bug", "type/bug"}:
        return FlowType.DEFECT
    return ""


def default_type(name: str) -> str:
    return DEFAULT_TYPES.get(name.strip().lower(), "")


@dataclass
class Found:
    """The names a file uses, with how often, as the mapping step shows them."""

    statuses: Counter = field(default_factory=Counter)
    status_hints: dict[str, str] = field(default_factory=dict)  # Jira's statusCategory key per status
    types: Counter = field(default_factory=Counter)
    labels: Counter = field(default_factory=Counter)
    issues: int = 0

    def as_dict(self) -> dict:
        return {
            "statuses": dict(self.statuses.most_common()),
            "status_hints": self.status_hints,
            "types": dict(self.types.most_common()),
            "labels": dict(self.labels.most_common()),
            "issues": self.issues,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Found:
        return cls(
            statuses=Counter(data.get("statuses", {})),
            status_hints=dict(data.get("status_hints", {})),
            types=Counter(data.get("types", {})),
            labels=Counter(data.get("labels", {})),
            issues=data.get("issues", 0),
        )


@dataclass
class Mapping:
    """Status → (state name, category); issue type → flow type; label → flow type or ''."""

    statuses: dict[str, tuple[str, str]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    origin: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, value) -> remembered/default
    existing: dict[str, str] = field(default_factory=dict)  # the stream's states in order: name -> category
    wip_limits: dict[str, int] = field(default_factory=dict)  # state name -> WIP limit set on the mapping step

    def status(self, name: str, hint: str = "") -> tuple[str, str] | None:
        """(state name, category) for a status: remembered, else the stream's state of that name
        (case and spacing aside: "In Progress" is the stream's "In progress"), else the stream's
        first state of the category the name usually means (Jira's "To Do" lands in the stream's
        "Backlog" rather than beside it), else a new state of that name and category; None when
        nothing says what it means."""
        if name in self.statuses:
            return self.statuses[name]
        same_name = {state_key(state): (state, category) for state, category in self.existing.items()}
        if state_key(name) in same_name:
            target = same_name[state_key(name)]
        elif category := default_status_category(name, hint):
            first_of_category = next((state for state, c in self.existing.items() if c == category), None)
            target = (first_of_category or name[:60], category)
        else:
            return None
        self.statuses[name] = target
        self.origin[(ImportMapping.Kind.STATUS, name)] = "default"
        return target

    def flow_type(self, issue_type: str, labels: list[str]) -> str:
        """The flow type of an issue: a label that means a type wins (risk before defect before
        debt), else its issue type's; names met for the first time get their default."""
        from_labels = set()
        for label in labels:
            if label not in self.labels:
                self.labels[label] = default_label_type(label)
                self.origin[(ImportMapping.Kind.LABEL, label)] = "default"
            from_labels.add(self.labels[label])
        for flow_type in TYPE_PRECEDENCE:
            if flow_type in from_labels:
                return flow_type
        if issue_type and issue_type not in self.types:
            self.types[issue_type] = default_type(issue_type) or FlowType.FEATURE
            self.origin[(ImportMapping.Kind.TYPE, issue_type)] = "default"
        return self.types.get(issue_type) or FlowType.FEATURE

    def as_dict(self) -> dict:
        return {
            "statuses": {name: list(target) for name, target in self.statuses.items()},
            "types": self.types,
            "labels": self.labels,
            "wip_limits": self.wip_limits,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Mapping:
        return cls(
            statuses={name: (target[0], target[1]) for name, target in data.get("statuses", {}).items()},
            types=dict(data.get("types", {})),
            labels=dict(data.get("labels", {})),
            wip_limits={name: int(limit) for name, limit in data.get("wip_limits", {}).items()},
        )


def mapping_for(stream: ValueStream | None, source: str, found: Found | None = None) -> Mapping:
    """The remembered mapping of the stream for the source, completed with defaults for the
    names `found` lists. Statuses with neither stay out: the import refuses them by name."""
    mapping = Mapping()
    if stream is not None:
        for kind, value, state_name, category, flow_type in ImportMapping.objects.filter(
            stream=stream, source=source
        ).values_list("kind", "value", "state_name", "category", "flow_type"):
            if kind == ImportMapping.Kind.STATUS:
                mapping.statuses[value] = (state_name, category)
            elif kind == ImportMapping.Kind.TYPE:
                mapping.types[value] = flow_type
            else:
                mapping.labels[value] = flow_type
            mapping.origin[(kind, value)] = "remembered"
    if stream is not None:
        states = WorkflowState.objects.filter(stream=stream).order_by("order", "pk")
        mapping.existing = dict(states.values_list("name", "category"))
    if found is None:
        return mapping
    for status in found.statuses:
        mapping.status(status, found.status_hints.get(status, ""))
    for issue_type in found.types:
        if issue_type not in mapping.types:
            mapping.types[issue_type] = default_type(issue_type) or FlowType.FEATURE
            mapping.origin[(ImportMapping.Kind.TYPE, issue_type)] = "default"
    for label in found.labels:
        if label not in mapping.labels:
            mapping.labels[label] = default_label_type(label)
            mapping.origin[(ImportMapping.Kind.LABEL, label)] = "default"
    return mapping


@transaction.atomic
def mapping_remember(*, stream: ValueStream, source: str, mapping: Mapping) -> None:
    """Store the mapping for the next import of the source into the stream (and for webhooks)."""
    rows = [
        (ImportMapping.Kind.STATUS, value, name, category, "") for value, (name, category) in mapping.statuses.items()
    ]
    rows += [(ImportMapping.Kind.TYPE, value, "", "", flow_type) for value, flow_type in mapping.types.items()]
    rows += [(ImportMapping.Kind.LABEL, value, "", "", flow_type) for value, flow_type in mapping.labels.items()]
    for kind, value, state_name, category, flow_type in rows:
        ImportMapping.objects.update_or_create(
            stream=stream,
            source=source,
            kind=kind,
            value=value[:200],
            defaults={"state_name": state_name, "category": category, "flow_type": flow_type},
        )


def parse_mapping_option(text: str) -> tuple[str, str, str]:
    """`STATUS=category` or `STATUS=State name:category` (the commands' --map) → (status, state, category)."""
    status, sep, target = text.partition("=")
    state_name, _, category = target.rpartition(":") if ":" in target else (status, "", target)
    status, state_name, category = status.strip(), state_name.strip(), category.strip().lower()
    if not sep or not status or category not in CATEGORY_RANK:
        raise ValueError(
            f"{text!r} is not STATUS=CATEGORY or STATUS=STATE:CATEGORY with a category among "
            f"{', '.join(CATEGORY_RANK)}."
        )
    return status, state_name or status, category


def scan(source: str, file: IO[bytes], progress: Progress | None = None) -> Found:
    """Read the statuses, issue types and labels a file uses (the mapping step's first pass)."""
    errors = Errors()
    found = Found()
    if source == ImportSource.JIRA:
        for _n, issue in IssueReader(file, jira_issues_prefix(file), errors, progress):
            found.issues += 1
            fields = issue.get("fields") or {}
            status = field_text(fields, "status", "name")
            if status:
                found.statuses[status] += 1
                found.status_hints.setdefault(status, field_text(fields, "status", "statusCategory", "key"))
            found.types[field_text(fields, "issuetype", "name")] += 1
            for label in fields.get("labels") or []:
                if isinstance(label, str):
                    found.labels[label] += 1
            for _at, before, after in jira_moves(issue):
                for name in (before, after):
                    if name:
                        found.statuses[name] += 0  # known, even if no issue rests there now
    else:
        for _n, issue in IssueReader(file, "item", errors, progress):
            if "pull_request" in issue:
                continue
            found.issues += 1
            found.types[field_text(issue, "type", "name")] += 1
            for label in github_labels(issue):
                found.labels[label] += 1
            for _at, status in github_moves(issue):
                found.statuses[status] += 0
            found.statuses[github_status_now(issue)] += 1
    found.types.pop("", None)
    if errors:
        raise ImportRefused(errors.errors, errors.more)
    return found


def parse(source: str, file: IO[bytes], mapping: Mapping, progress: Progress | None = None) -> Parsed:
    """Read and check a whole export into `Parsed`; raise `ImportRefused` listing every problem."""
    errors = Errors()
    parsed = Parsed(source=source, sets_team=False, sets_order=False)
    parsed.dependencies = set()
    unmapped: Counter = Counter()
    now = timezone.now()
    read = read_jira if source == ImportSource.JIRA else read_github
    for issue in read(file, errors, progress, now):
        key = issue.key
        if key in parsed.items:
            errors.add(
                f"issue {key}",
                0,
                "key",
                f"{key!r} appears twice in the file (first as issue {parsed.items[key].line}).",
            )
            continue
        history: list[tuple[str, dt.datetime]] = []
        problem = False
        for at, status in issue.moves:
            # A status met before is in the mapping already (what `status` would return).
            target = mapping.statuses.get(status) or mapping.status(status, issue.hints.get(status, ""))
            if target is None:
                unmapped[status] += 1
                problem = True
                continue
            name, category = target
            if name not in parsed.states:
                parsed.states[name] = (category, CATEGORY_RANK[category])
            if history and at < history[-1][1]:
                # A change dated before the creation (tools migrated from others have them):
                # it happened when the issue appeared.
                parsed.warnings["status change dated before the issue was created (moved to its creation)"] += 1
                at = history[-1][1]
            if history and category == Category.DONE and parsed.states[history[-1][0]][0] == Category.DONE:
                continue  # closed, then moved to the Done column: finished once, at the first
            if not history or history[-1][0] != name:
                history.append((name, at))
        if problem:
            continue
        parsed.items[key] = ItemRow(
            issue.number,
            key,
            issue.title[:300],
            mapping.flow_type(issue.issue_type, issue.labels),
            issue.moves[0][0],
            issue.parent_key,
            None,
        )
        parsed.histories[key] = history
        if issue.cut_short:
            parsed.cut_short.add(key)
        for blocker in issue.blocked_by:
            parsed.dependencies.add((key, blocker))
        if issue.project:
            parsed.projects.add(issue.project)
    for name, limit in mapping.wip_limits.items():  # set on the mapping step
        if name in parsed.states:
            parsed.wip_limits[name] = limit
    for status, count in unmapped.most_common():
        errors.add(
            f"status {status!r}",
            0,
            "",
            f"{count} issue(s) use this status and it has no mapping to a workflow state; map it on the import "
            f"page, or with --map '{status}=CATEGORY' (one of {', '.join(CATEGORY_RANK)}).",
        )
    for row in parsed.items.values():
        if row.parent_key == row.key:
            errors.add(f"issue {row.key}", 0, "parent", "an issue cannot be its own parent.")
    parsed.warnings.update(errors.notes)
    if errors:
        raise ImportRefused(errors.errors, errors.more)
    if not parsed.items:
        raise ImportRefused([RowError("the file", 0, "", "holds no issues.")])
    _refuse_parent_loops(parsed)
    return parsed


def _refuse_parent_loops(parsed: Parsed) -> None:
    for row in parsed.items.values():
        seen, key = {row.key}, row.parent_key
        while key and key in parsed.items and key not in seen:
            seen.add(key)
            key = parsed.items[key].parent_key
        if key == row.key:
            raise ImportRefused(
                [
                    RowError(
                        f"issue {row.key}",
                        0,
                        "parent",
                        f"{row.parent_key!r} descends from {row.key!r}: parents cannot form a loop.",
                    )
                ]
            )
