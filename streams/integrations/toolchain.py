"""Jira and GitHub exports, read as a stream of issues, turned into what the import writer takes.

- Jira: the REST API's search response with `expand=changelog` (`{"issues": [...]}`); each
  issue's `fields` (summary, status, issuetype, created, labels, parent, issuelinks) and its
  `changelog.histories[].items[]` whose `field` is `status` (`fromString` → `toString`).
- GitHub: a JSON array of the issues `GET /repos/{owner}/{repo}/issues?state=all` returns,
  each with `timeline` (its timeline events), and optionally `sub_issues` and `blocked_by`
  (the issues those endpoints return). Pull requests in the list are skipped.

Files are read with ijson, one issue at a time, so memory follows what is kept (the items and
their moves), not the size of the file. Statuses become workflow states through a mapping
(`Mapping`), remembered per source and stream; issue types and labels become flow types.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
import datetime as dt
from typing import IO

from django.conf import settings
from django.db import transaction
from django.utils import timezone
import ijson

from core.bounded_input import BoundedJson, InputTooLarge
from core.dates import too_early
from core.errors import ImportRefused, RowError
from streams.backlog.services import CLOCK_SKEW
from streams.integrations.writer import Errors, ItemRow, Parsed, state_key
from streams.models import FlowType, ImportMapping, ImportSource, ValueStream, WorkflowState

Category = WorkflowState.Category
CATEGORY_RANK = {Category.BACKLOG: 0, Category.ACTIVE: 1, Category.WAITING: 2, Category.DONE: 3, Category.REMOVED: 4}
PROGRESS_EVERY = 1000  # issues between two progress reports

# --- Default mappings -------------------------------------------------------------------------

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
GITHUB_OPEN, GITHUB_CLOSED, GITHUB_NOT_PLANNED = "Open", "Closed", "Closed as not planned"


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


# --- The mapping ------------------------------------------------------------------------------


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


# --- Reading the files ------------------------------------------------------------------------

Progress = Callable[[int, int], None]  # (issues read, bytes read)


class _Reader:
    """Issues of a JSON file, one at a time, with truncation and syntax errors as row errors."""

    def __init__(self, file: IO[bytes], prefix: str, errors: Errors, progress: Progress | None):
        # Bounded before the parser sees a byte: nesting, one issue's size, the file's size.
        self.file = BoundedJson(
            file,
            max_depth=settings.IMPORT_MAX_DEPTH,
            max_item_bytes=settings.IMPORT_MAX_ISSUE_MB * 1024 * 1024,
            max_bytes=settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024,
            item_depth=prefix.count(".") + 1,  # "item": a top-level array; "issues.item": one level down
        )
        self.prefix, self.errors, self.progress = prefix, errors, progress
        self.count = 0

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        try:
            for issue in ijson.items(self.file, self.prefix, use_float=True):
                self.count += 1
                if self.progress and self.count % PROGRESS_EVERY == 0:
                    self.progress(self.count, self.file.tell())
                if not isinstance(issue, dict):
                    self.errors.add(f"issue {self.count}", 0, "", "is not a JSON object.")
                    continue
                yield self.count, issue
        except InputTooLarge as error:
            after = f" (after issue {self.count:,})" if self.count else ""
            self.errors.add("the file", 0, "", f"is refused{after}: {error}")
        except ijson.IncompleteJSONError as error:
            after = f" after issue {self.count}" if self.count else ""
            message = (str(error).strip().splitlines() or ["unexpected end"])[0]  # yajl adds a pointer
            self.errors.add(
                "the file",
                0,
                "",
                f"the JSON ends early or is broken{after} ({message}); is the file truncated?",
            )
        except (ijson.JSONError, UnicodeDecodeError, ValueError) as error:
            message = (str(error).strip().splitlines() or [type(error).__name__])[0]
            self.errors.add("the file", 0, "", f"is not valid JSON after issue {self.count} ({message}).")
        if self.progress:
            self.progress(self.count, self.file.tell())


def _text(issue: dict, *path: str) -> str:
    value = issue
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value.strip() if isinstance(value, str) else ""


def _timestamp(value, now: dt.datetime) -> dt.datetime | str:
    """An aware datetime from ISO 8601 (Jira's `+0000` and GitHub's `Z` included), or the reason not."""
    if not isinstance(value, str) or not value:
        return "is missing."
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not an ISO 8601 date and time."
    if parsed.tzinfo is None:
        return f"{value!r} has no UTC offset; the export must carry one (e.g. +0000 or Z)."
    if parsed > now + CLOCK_SKEW:
        return f"{value!r} is in the future."
    return too_early(parsed) or parsed


def scan(source: str, file: IO[bytes], progress: Progress | None = None) -> Found:
    """Read the statuses, issue types and labels a file uses (the mapping step's first pass)."""
    errors = Errors()
    found = Found()
    if source == ImportSource.JIRA:
        for _n, issue in _Reader(file, "issues.item", errors, progress):
            found.issues += 1
            fields = issue.get("fields") or {}
            status = _text(fields, "status", "name")
            if status:
                found.statuses[status] += 1
                found.status_hints.setdefault(status, _text(fields, "status", "statusCategory", "key"))
            found.types[_text(fields, "issuetype", "name")] += 1
            for label in fields.get("labels") or []:
                if isinstance(label, str):
                    found.labels[label] += 1
            for _at, before, after in _jira_moves(issue):
                for name in (before, after):
                    if name:
                        found.statuses[name] += 0  # known, even if no issue rests there now
    else:
        for _n, issue in _Reader(file, "item", errors, progress):
            if "pull_request" in issue:
                continue
            found.issues += 1
            found.types[_text(issue, "type", "name")] += 1
            for label in github_labels(issue):
                found.labels[label] += 1
            for _at, status in _github_moves(issue):
                found.statuses[status] += 0
            found.statuses[_github_status_now(issue)] += 1
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
    read = _read_jira if source == ImportSource.JIRA else _read_github
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
            target = mapping.status(status, issue.hints.get(status, ""))
            if target is None:
                unmapped[status] += 1
                problem = True
                continue
            name, category = target
            parsed.states.setdefault(name, (category, CATEGORY_RANK[category]))
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


@dataclass
class _Issue:
    """One issue as both tools describe it; `moves` start with its creation in its first status."""

    number: int
    key: str
    title: str
    issue_type: str
    labels: list[str]
    moves: list[tuple[dt.datetime, str]]
    parent_key: str = ""
    blocked_by: list[str] = field(default_factory=list)
    project: str = ""
    hints: dict[str, str] = field(default_factory=dict)  # status -> Jira statusCategory key
    # The export holds only part of the issue's changelog (Jira's `changelog.total` counts more
    # histories than it sent): its first moves, and so its start, are unknown.
    cut_short: bool = False


# --- Jira -------------------------------------------------------------------------------------

BLOCKS_INWARD = "is blocked by"


def _jira_cut_short(issue: dict) -> bool:
    """Whether a search result's changelog is incomplete: Jira sends at most a page of an
    issue's histories with `expand=changelog` (every field edit is one), and says how many
    there are in `total`."""
    changelog = issue.get("changelog")
    if not isinstance(changelog, dict):
        return False
    total, histories = changelog.get("total"), changelog.get("histories")
    if not isinstance(total, int) or isinstance(total, bool):
        return False
    return total > (len(histories) if isinstance(histories, list) else 0)


def _jira_moves(issue: dict) -> list[tuple[str, str, str]]:
    """The status changes of the changelog as (created text, from, to), in time order."""
    moves = []
    histories = (issue.get("changelog") or {}).get("histories") or []
    for history in histories if isinstance(histories, list) else []:
        if not isinstance(history, dict):
            continue
        for change in history.get("items") or []:
            if isinstance(change, dict) and (change.get("field") == "status" or change.get("fieldId") == "status"):
                moves.append((history.get("created"), change.get("fromString") or "", change.get("toString") or ""))
    return moves


def _read_jira(file, errors: Errors, progress, now) -> Iterator[tuple]:
    for n, issue in _Reader(file, "issues.item", errors, progress):
        key = _text(issue, "key")
        fields = issue.get("fields")
        where = f"issue {key or n}"
        if not key:
            errors.add(f"issue {n}", 0, "key", "is missing.")
            continue
        if len(key) > 100:
            errors.add(where, 0, "key", "is longer than 100 characters.")
            continue
        if not isinstance(fields, dict):
            errors.add(where, 0, "fields", "is missing; export with the issue fields.")
            continue
        missing = [
            name
            for name, value in (
                ("fields.summary", _text(fields, "summary")),
                ("fields.status.name", _text(fields, "status", "name")),
                ("fields.issuetype.name", _text(fields, "issuetype", "name")),
            )
            if not value
        ]
        for name in missing:
            errors.add(where, 0, name, "is missing.")
        created = _timestamp(fields.get("created"), now)
        if isinstance(created, str):
            errors.add(where, 0, "fields.created", created)
        if missing or isinstance(created, str):
            continue
        status = _text(fields, "status", "name")
        moves: list[tuple[dt.datetime, str]] = []
        raw = _jira_moves(issue)
        bad = False
        for at_text, _before, after in raw:
            at = _timestamp(at_text, now)
            if isinstance(at, str):
                errors.add(where, 0, "changelog.histories.created", at)
                bad = True
                break
            if not after:
                errors.add(where, 0, "changelog.histories.items.toString", "a status change names no status.")
                bad = True
                break
            moves.append((at, after))
        if bad:
            continue
        order = sorted(range(len(moves)), key=lambda i: moves[i][0])
        moves = [moves[i] for i in order]
        first = (raw[order[0]][1] if raw else status) or moves[0][1]
        moves.insert(0, (created, first))
        if moves[-1][1] != status:  # the changelog was cut short (Jira pages it): end where the issue is
            updated = _timestamp(fields.get("updated"), now)
            last = moves[-1][0]
            moves.append((max(last, updated) if isinstance(updated, dt.datetime) else last, status))
            parsed_warning = "changelog shorter than the issue's life (ended in its current status)"
            errors.notes[parsed_warning] += 1
        blocked_by = []
        for link in fields.get("issuelinks") or []:
            if not isinstance(link, dict):
                continue
            kind = link.get("type") or {}
            if (kind.get("inward") or "").strip().lower() != BLOCKS_INWARD and (kind.get("name") or "") != "Blocks":
                continue
            if inward := _text(link, "inwardIssue", "key"):
                blocked_by.append(inward)  # this issue is blocked by the inward one
        yield _Issue(
            number=n,
            key=key,
            title=_text(fields, "summary"),
            issue_type=_text(fields, "issuetype", "name"),
            labels=[label for label in fields.get("labels") or [] if isinstance(label, str)],
            moves=moves,
            parent_key=_text(fields, "parent", "key"),
            blocked_by=blocked_by,
            project=key.rpartition("-")[0],
            hints={status: _text(fields, "status", "statusCategory", "key")},
            cut_short=_jira_cut_short(issue),
        )


# --- GitHub -----------------------------------------------------------------------------------


def github_key(issue: dict) -> tuple[str, str]:
    """(owner/repo#number, owner/repo) of an issue object, from its API or web URL."""
    number = issue.get("number")
    repo = ""
    url = _text(issue, "repository_url")
    if "/repos/" in url:
        repo = url.split("/repos/", 1)[1].strip("/")
    elif "github.com/" in (html := _text(issue, "html_url")):
        repo = "/".join(html.split("github.com/", 1)[1].split("/")[:2])
    if not isinstance(number, int) or isinstance(number, bool):
        return "", repo
    return (f"{repo}#{number}" if repo else f"#{number}"), repo


def github_labels(issue: dict) -> list[str]:
    labels = []
    for label in issue.get("labels") or []:
        name = label.get("name") if isinstance(label, dict) else label
        if isinstance(name, str) and name.strip():
            labels.append(name.strip())
    return labels


def _github_status_now(issue: dict) -> str:
    if issue.get("state") == "closed":
        return GITHUB_NOT_PLANNED if issue.get("state_reason") == "not_planned" else GITHUB_CLOSED
    return GITHUB_OPEN


def _github_moves(issue: dict) -> list[tuple[str, str]]:
    """The timeline's status-changing events as (created_at text, status), in the file's order."""
    moves = []
    for event in issue.get("timeline") or []:
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        if kind in ("added_to_project", "moved_columns_in_project"):
            column = _text(event, "project_card", "column_name")
            if column:
                moves.append((event.get("created_at"), column))
        elif kind == "closed":
            moves.append(
                (
                    event.get("created_at"),
                    GITHUB_NOT_PLANNED if event.get("state_reason") == "not_planned" else GITHUB_CLOSED,
                )
            )
        elif kind == "reopened":
            moves.append((event.get("created_at"), GITHUB_OPEN))
    return moves


def _read_github(file, errors: Errors, progress, now) -> Iterator[tuple]:
    parents: dict[str, str] = {}
    issues: list[_Issue] = []
    for n, issue in _Reader(file, "item", errors, progress):
        if "pull_request" in issue:
            continue
        key, repo = github_key(issue)
        where = f"issue {key or n}"
        if not key:
            errors.add(f"issue {n}", 0, "number", "is missing or not a number.")
            continue
        title = _text(issue, "title")
        if not title:
            errors.add(where, 0, "title", "is missing.")
        created = _timestamp(issue.get("created_at"), now)
        if isinstance(created, str):
            errors.add(where, 0, "created_at", created)
        if issue.get("state") not in ("open", "closed"):
            errors.add(where, 0, "state", f"{issue.get('state')!r} is not open or closed.")
        if not title or isinstance(created, str) or issue.get("state") not in ("open", "closed"):
            continue
        moves: list[tuple[dt.datetime, str]] = []
        bad = False
        for at_text, status in _github_moves(issue):
            at = _timestamp(at_text, now)
            if isinstance(at, str):
                errors.add(where, 0, "timeline.created_at", at)
                bad = True
                break
            moves.append((at, status))
        if bad:
            continue
        moves.sort(key=lambda move: move[0])
        moves.insert(0, (created, GITHUB_OPEN))
        status = _github_status_now(issue)
        last_open_or_close = next(
            (m for _at, m in reversed(moves) if m in (GITHUB_OPEN, GITHUB_CLOSED, GITHUB_NOT_PLANNED)), GITHUB_OPEN
        )
        if (status == GITHUB_OPEN) != (last_open_or_close == GITHUB_OPEN):
            # The timeline was cut short: end in the state the issue is in.
            closed = _timestamp(issue.get("closed_at") or issue.get("updated_at"), now)
            last = moves[-1][0]
            moves.append((max(last, closed) if isinstance(closed, dt.datetime) else last, status))
            errors.notes["timeline shorter than the issue's life (ended in its current state)"] += 1
        for child in issue.get("sub_issues") or []:
            if isinstance(child, dict):
                child_key, _ = github_key(child)
                if child_key:
                    parents[child_key] = key
        blocked_by = [k for k, _ in (github_key(b) for b in issue.get("blocked_by") or [] if isinstance(b, dict)) if k]
        issues.append(
            _Issue(
                number=n,
                key=key,
                title=title,
                issue_type=_text(issue, "type", "name"),
                labels=github_labels(issue),
                moves=moves,
                blocked_by=blocked_by,
                project=repo,
            )
        )
    for issue in issues:  # a parent lists its sub-issues: the children learn it at the end
        issue.parent_key = parents.get(issue.key, "")
        yield issue
