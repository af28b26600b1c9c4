"""GitHub's issues with their timeline events: keys, labels and the moves the project columns,
closing and reopening make."""

from __future__ import annotations

from collections.abc import Iterator
import datetime as dt

from streams.integrations.issues import Issue, IssueReader, field_text, parse_timestamp
from streams.integrations.writer import Errors

# The statuses an issue has without a project column: GitHub's own states.
GITHUB_OPEN, GITHUB_CLOSED, GITHUB_NOT_PLANNED = "Open", "Closed", "Closed as not planned"


def github_key(issue: dict) -> tuple[str, str]:
    """(owner/repo#number, owner/repo) of an issue object, from its API or web URL."""
    number = issue.get("number")
    repo = ""
    url = field_text(issue, "repository_url")
    if "/repos/" in url:
        repo = url.split("/repos/", 1)[1].strip("/")
    elif "github.com/" in (html := field_text(issue, "html_url")):
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


def github_status_now(issue: dict) -> str:
    if issue.get("state") == "closed":
        return GITHUB_NOT_PLANNED if issue.get("state_reason") == "not_planned" else GITHUB_CLOSED
    return GITHUB_OPEN


def github_moves(issue: dict) -> list[tuple[str, str]]:
    """The timeline's status-changing events as (created_at text, status), in the file's order."""
    moves = []
    for event in issue.get("timeline") or []:
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        if kind in ("added_to_project", "moved_columns_in_project"):
            column = field_text(event, "project_card", "column_name")
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


def read_github(file, errors: Errors, progress, now) -> Iterator[tuple]:
    parents: dict[str, str] = {}
    issues: list[Issue] = []
    for n, issue in IssueReader(file, "item", errors, progress):
        if "pull_request" in issue:
            continue
        key, repo = github_key(issue)
        where = f"issue {key or n}"
        if not key:
            errors.add(f"issue {n}", 0, "number", "is missing or not a number.")
            continue
        title = field_text(issue, "title")
        if not title:
            errors.add(where, 0, "title", "is missing.")
        created = parse_timestamp(issue.get("created_at"), now)
        if isinstance(created, str):
            errors.add(where, 0, "created_at", created)
        if issue.get("state") not in ("open", "closed"):
            errors.add(where, 0, "state", f"{issue.get('state')!r} is not open or closed.")
        if not title or isinstance(created, str) or issue.get("state") not in ("open", "closed"):
            continue
        moves: list[tuple[dt.datetime, str]] = []
        bad = False
        for at_text, status in github_moves(issue):
            at = parse_timestamp(at_text, now)
            if isinstance(at, str):
                errors.add(where, 0, "timeline.created_at", at)
                bad = True
                break
            moves.append((at, status))
        if bad:
            continue
        moves.sort(key=lambda move: move[0])
        moves.insert(0, (created, GITHUB_OPEN))
        status = github_status_now(issue)
        last_open_or_close = next(
            (m for _at, m in reversed(moves) if m in (GITHUB_OPEN, GITHUB_CLOSED, GITHUB_NOT_PLANNED)), GITHUB_OPEN
        )
        if (status == GITHUB_OPEN) != (last_open_or_close == GITHUB_OPEN):
            # The timeline was cut short: end in the state the issue is in.
            closed = parse_timestamp(issue.get("closed_at") or issue.get("updated_at"), now)
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
            Issue(
                number=n,
                key=key,
                title=title,
                issue_type=field_text(issue, "type", "name"),
                labels=github_labels(issue),
                moves=moves,
                blocked_by=blocked_by,
                project=repo,
            )
        )
    for issue in issues:  # a parent lists its sub-issues: the children learn it at the end
        issue.parent_key = parents.get(issue.key, "")
        yield issue
