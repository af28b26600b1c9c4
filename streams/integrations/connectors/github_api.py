"""GitHub (github.com or GitHub Enterprise Server): a thin client of the REST API and the reading
of a repository's issues with their timelines into tool items.

- `GET /repos/{owner}/{repo}/issues?state=all&sort=updated&direction=asc&since=...`: issues
  updated since the watermark, oldest update first, pages followed by the Link header (pull
  requests, which the endpoint also lists, are skipped);
- `GET /repos/{owner}/{repo}/issues/{number}/timeline`: each issue's events, as the file import
  reads them (project columns, closed, reopened);
- `GET /search/issues?q=repo:{owner}/{repo} is:issue`: how many issues are in scope (the probe);
- the whole list again, hourly: a deleted or transferred issue is never among the updated ones,
  so the stored issues it no longer names end removed.
Rate limits: a 403 or 429 with `x-ratelimit-remaining: 0` waits until `x-ratelimit-reset`, and
one with `Retry-After` (secondary limits) as long as it says (`connectors/http.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import datetime as dt
import re

from streams.integrations.connectors.history import ToolItem, aware_time
from streams.integrations.connectors.http import ToolHttp
from streams.integrations.github import (
    GITHUB_CLOSED,
    GITHUB_NOT_PLANNED,
    GITHUB_OPEN,
    github_key,
    github_labels,
    github_moves,
    github_status_now,
)
from streams.integrations.issues import field_text

PAGE = 100
REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
NO_TYPE = "Issue"  # the work type of an issue with no GitHub issue type
OVERLAP = dt.timedelta(minutes=2)


@dataclass
class GitHubScope:
    repository: str

    @classmethod
    def from_dict(cls, data: dict) -> GitHubScope:
        repository = str(data.get("repository") or "").strip().strip("/")
        if not REPOSITORY.fullmatch(repository):
            raise ValueError("name the repository as owner/name, e.g. acme/payments.")
        return cls(repository=repository)


class GitHubIssues:
    def __init__(self, http: ToolHttp, scope: GitHubScope):
        self.http, self.scope = http, scope
        self.repo = f"/repos/{scope.repository}"

    def count_in_scope(self) -> int:
        data = self.http.get("/search/issues", q=f"repo:{self.scope.repository} is:issue", per_page=1)
        return int(data.get("total_count") or 0)

    def statuses(self) -> tuple[dict[str, str], list[str]]:
        """GitHub's own states; project columns are met as issues move and mapped then."""
        return {GITHUB_OPEN: "backlog", GITHUB_CLOSED: "done", GITHUB_NOT_PLANNED: "removed"}, [NO_TYPE]

    def pages(self, since: dt.datetime | None) -> Iterator[list[dict]]:
        """Issues updated since `since` (all without), oldest update first, a page at a time."""
        params = {"state": "all", "sort": "updated", "direction": "asc", "per_page": PAGE}
        if since is not None:
            params["since"] = (since - OVERLAP).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for page in self.http.get_pages(f"{self.repo}/issues", **params):
            yield [issue for issue in page if isinstance(issue, dict) and "pull_request" not in issue]

    def keys_in_scope(self) -> set[str]:
        """The key of every issue the repository holds now, open or closed (the list names no
        deleted or transferred issue). GitHub's REST API cannot list numbers alone: a page of 100
        issues a request, hourly (IDS_CHECK_EVERY)."""
        keys = set()
        for page in self.pages(None):
            keys.update(key for key in (github_key(issue)[0] for issue in page) if key)
        return keys

    def issue(self, number: int) -> dict:
        return self.http.get(f"{self.repo}/issues/{number}")

    def with_timeline(self, issue: dict) -> dict:
        number = issue.get("number")
        events: list = []
        for page in self.http.get_pages(f"{self.repo}/issues/{number}/timeline", per_page=PAGE):
            events += page
        return {**issue, "timeline": events}


def issue_item(issue: dict) -> ToolItem | str:
    """An issue with its timeline as a tool item (its whole life), or why it cannot be read."""
    key, _repo = github_key(issue)
    created = aware_time(issue.get("created_at"))
    if not key or created is None or issue.get("state") not in ("open", "closed"):
        return f"issue {key or issue.get('number')} came without a number, a created time or a state"
    moves = []
    for at_text, status in github_moves(issue):
        at = aware_time(at_text)
        if at is None:
            return f"issue {key} has a timeline event without a time"
        moves.append((at, status))
    moves.sort(key=lambda move: move[0])
    moves.insert(0, (created, GITHUB_OPEN))
    status = github_status_now(issue)
    last_state = next((m for _at, m in reversed(moves) if m in (GITHUB_OPEN, GITHUB_CLOSED, GITHUB_NOT_PLANNED)), "")
    if (status == GITHUB_OPEN) != (last_state == GITHUB_OPEN):  # the timeline says less than the issue
        closed = aware_time(issue.get("closed_at") or issue.get("updated_at"))
        moves.append((max(moves[-1][0], closed) if closed else moves[-1][0], status))
    return ToolItem(
        key=key,
        title=field_text(issue, "title"),
        work_type=field_text(issue, "type", "name") or NO_TYPE,
        labels=github_labels(issue),
        created=created,
        moves=moves,
        whole=True,
    )
