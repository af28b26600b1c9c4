"""Jira's search results with `expand=changelog`: each issue's status changes, links and whether
the export cut its changelog short."""

from __future__ import annotations

from collections.abc import Iterator
import datetime as dt

from streams.integrations.issues import Issue, IssueReader, field_text, parse_timestamp
from streams.integrations.writer import Errors

BLOCKS_INWARD = "is blocked by"


def jira_cut_short(issue: dict) -> bool:
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


def jira_moves(issue: dict) -> list[tuple[str, str, str]]:
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


def jira_issues_prefix(file) -> str:
    """Where the issues are in a Jira export: `issues.item` in one search answer
    (`{"issues": [...]}`), `item.issues.item` in a JSON array of the pages Jira Cloud's
    `POST /rest/api/3/search/jql` returns (it pages by `nextPageToken`, so an export is
    several answers; save them in one array, in order)."""
    start = file.tell()
    head = file.read(256).lstrip(b" \t\r\n\xef\xbb\xbf")
    file.seek(start)
    return "item.issues.item" if head[:1] == b"[" else "issues.item"


def read_jira(file, errors: Errors, progress, now) -> Iterator[tuple]:
    for n, issue in IssueReader(file, jira_issues_prefix(file), errors, progress):
        key = field_text(issue, "key")
        fields = issue.get("fields")
        if not key:
            errors.add(f"issue {n}", 0, "key", "is missing.")
            continue
        where = f"issue {key}"
        if len(key) > 100:
            errors.add(where, 0, "key", "is longer than 100 characters.")
            continue
        if not isinstance(fields, dict):
            errors.add(where, 0, "fields", "is missing; export with the issue fields.")
            continue
        title = field_text(fields, "summary")
        status = field_text(fields, "status", "name")
        issue_type = field_text(fields, "issuetype", "name")
        missing = [
            name
            for name, value in (
                ("fields.summary", title),
                ("fields.status.name", status),
                ("fields.issuetype.name", issue_type),
            )
            if not value
        ]
        for name in missing:
            errors.add(where, 0, name, "is missing.")
        created = parse_timestamp(fields.get("created"), now)
        if isinstance(created, str):
            errors.add(where, 0, "fields.created", created)
        if missing or isinstance(created, str):
            continue
        moves: list[tuple[dt.datetime, str]] = []
        raw = jira_moves(issue)
        bad = False
        for at_text, _before, after in raw:
            at = parse_timestamp(at_text, now)
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
            updated = parse_timestamp(fields.get("updated"), now)
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
            if inward := field_text(link, "inwardIssue", "key"):
                blocked_by.append(inward)  # this issue is blocked by the inward one
        yield Issue(
            number=n,
            key=key,
            title=title,
            issue_type=issue_type,
            labels=[label for label in fields.get("labels") or [] if isinstance(label, str)],
            moves=moves,
            parent_key=field_text(fields, "parent", "key"),
            blocked_by=blocked_by,
            project=key.rpartition("-")[0],
            hints={status: field_text(fields, "status", "statusCategory", "key")},
            cut_short=jira_cut_short(issue),
        )
