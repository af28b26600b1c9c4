"""Jira Cloud and Jira Data Center: a thin typed client of their REST APIs and the reading of
issues with their status histories into tool items.

Jira Cloud (REST API v3):
- `POST /rest/api/3/search/jql` pages by `nextPageToken` (no `startAt`, no total) and returns
  only ids unless fields are named; the fields and `expand: changelog` are asked for. The old
  `GET /rest/api/{2,3}/search` answers 410 Gone on Cloud since 2025.
- `POST /rest/api/3/changelog/bulkfetch`: the whole status history of issues whose changelog
  the search cut short (it sends one page of histories per issue and says how many there are).
- `POST /rest/api/3/search/approximate-count`: how many issues are in scope (the probe).
- `GET /rest/api/3/myself`: the account's time zone, in which JQL reads dates.

Jira Data Center (REST API v2): `POST /rest/api/2/search` pages by `startAt` and `total`, with
the whole changelog; `/rest/api/2/myself` likewise.

Incremental: `(<scope>) AND updated >= "<watermark minus an overlap>"` in the account's time
zone, to the minute, ordered by creation; a backfill resumes from the creation time of the last
committed issue. Re-reading the overlap is harmless: an unchanged issue writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.integrations.connectors.history import ToolItem, aware_time
from streams.integrations.connectors.http import ToolHttp, ToolRefused
from streams.integrations.issues import field_text
from streams.integrations.jira import BLOCKS_INWARD, jira_cut_short, jira_moves

PAGE = 100  # issues per search page (Jira caps pages with the changelog expanded)
BULK_CHANGELOG = 1000  # histories per bulkfetch page
FIELDS = ["summary", "status", "issuetype", "created", "updated", "labels", "parent", "issuelinks"]
OVERLAP = dt.timedelta(minutes=5)  # JQL dates are to the minute, and search lags writes a little
KEY = re.compile(r"[A-Z][A-Z0-9_]*-\d+")  # an issue key, as JQL may quote it


@dataclass
class JiraScope:
    jql: str = ""
    filter: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> JiraScope:
        jql, saved = str(data.get("jql") or "").strip(), str(data.get("filter") or "").strip()
        if bool(jql) == bool(saved):
            raise ValueError("give either a JQL query (e.g. project = PAY) or a saved filter's id, not both.")
        if saved and not saved.isdigit():
            raise ValueError(f"{saved!r} is not a saved filter's id (a number, as in ...?filter=10042).")
        if "order by" in jql.casefold():
            raise ValueError("leave ORDER BY out of the query: the sync orders by creation itself.")
        return cls(jql=jql, filter=saved)

    def clause(self) -> str:
        return f"filter = {self.filter}" if self.filter else f"({self.jql})"


def jql_time(at: dt.datetime, zone: dt.tzinfo) -> str:
    """An instant as JQL reads it: the account's local time, to the minute (rounded down)."""
    return at.astimezone(zone).strftime("%Y/%m/%d %H:%M")


class JiraIssues:
    def __init__(self, http: ToolHttp, scope: JiraScope, *, cloud: bool):
        self.http, self.scope, self.cloud = http, scope, cloud
        self.api = "/rest/api/3" if cloud else "/rest/api/2"
        self._zone: dt.tzinfo | None = None

    def zone(self) -> dt.tzinfo:
        """The account's time zone (JQL's dates are read in it); UTC if Jira names none we know."""
        if self._zone is None:
            me = self.http.get(f"{self.api}/myself")
            try:
                self._zone = ZoneInfo(str(me.get("timeZone") or "UTC"))
            except (ZoneInfoNotFoundError, ValueError):
                self._zone = dt.UTC
        return self._zone

    def count_in_scope(self) -> int:
        if self.cloud:
            data = self.http.post(f"{self.api}/search/approximate-count", {"jql": self.scope.clause()})
            return int(data.get("count") or 0)
        data = self.http.post(f"{self.api}/search", {"jql": self.scope.clause(), "maxResults": 0, "fields": ["id"]})
        return int(data.get("total") or 0)

    def jql(self, *, updated_since: dt.datetime | None, created_from: dt.datetime | None) -> str:
        parts = [self.scope.clause()]
        if updated_since is not None:
            parts.append(f'updated >= "{jql_time(updated_since - OVERLAP, self.zone())}"')
        if created_from is not None:
            parts.append(f'created >= "{jql_time(created_from, self.zone())}"')
        return " AND ".join(parts) + " ORDER BY created ASC"

    def keys_jql(self, keys: list[str]) -> str:
        """The issues of these keys (a hundred at most: JQL's length is bounded)."""
        quoted = ", ".join(f'"{key}"' for key in keys if KEY.fullmatch(key))
        return f"key in ({quoted}) ORDER BY created ASC"

    def pages(self, jql: str, *, fields=FIELDS, changelog: bool = True) -> Iterator[list[dict]]:
        """The issues the query finds, a page at a time (Cloud: by `nextPageToken`; Data Center:
        by `startAt` up to `total`), with their changelogs unless told not to."""
        size = PAGE if changelog else (5000 if self.cloud else 1000)  # Jira caps pages with changelogs
        token, start = None, 0
        while True:
            body = {"jql": jql, "fields": list(fields), "maxResults": size}
            if self.cloud:
                body |= {"expand": "changelog"} if changelog else {}
                body |= {"nextPageToken": token} if token else {}
                data = self.http.post(f"{self.api}/search/jql", body)
            else:
                body |= ({"expand": ["changelog"]} if changelog else {}) | {"startAt": start}
                data = self.http.post(f"{self.api}/search", body)
            issues = data.get("issues")
            if not isinstance(issues, list):
                raise ToolRefused("the search answer has no 'issues' list")
            yield [issue for issue in issues if isinstance(issue, dict)]
            if self.cloud:
                token = data.get("nextPageToken")
                if not token or data.get("isLast") is True:
                    return
            else:
                start += len(issues)
                if not issues or start >= int(data.get("total") or 0):
                    return

    def complete_changelogs(self, issues: list[dict]) -> None:
        """Give each issue whose changelog the search cut short its whole status history."""
        short = {str(issue.get("id")): issue for issue in issues if jira_cut_short(issue) and issue.get("id")}
        if not short or not self.cloud:
            return  # Data Center's search sends the whole changelog
        histories: dict[str, list] = {key: [] for key in short}
        token = None
        while True:
            body = {"issueIdsOrKeys": list(short), "fieldIds": ["status"], "maxResults": BULK_CHANGELOG}
            if token:
                body["nextPageToken"] = token
            data = self.http.post(f"{self.api}/changelog/bulkfetch", body)
            for log in data.get("issueChangeLogs") or []:
                if isinstance(log, dict) and str(log.get("issueId")) in histories:
                    histories[str(log.get("issueId"))] += [
                        h for h in log.get("changeHistories") or [] if isinstance(h, dict)
                    ]
            token = data.get("nextPageToken")
            if not token:
                break
        for issue_id, issue in short.items():
            issue["changelog"] = {"histories": histories[issue_id], "total": len(histories[issue_id])}

    def ids_in_scope(self) -> set[str]:
        """The keys of every issue in scope now (to find those deleted in Jira)."""
        pages = self.pages(self.scope.clause(), fields=["key"], changelog=False)
        return {field_text(issue, "key") for page in pages for issue in page}

    def statuses(self) -> tuple[dict[str, str], list[str]]:
        """(status → suggested category from Jira's status category, issue types)."""
        categories = {"new": "backlog", "indeterminate": "active", "done": "done"}
        statuses: dict[str, str] = {}
        for status in self.http.get_list(f"{self.api}/status"):
            if isinstance(status, dict) and isinstance(status.get("name"), str):
                key = field_text(status, "statusCategory", "key")
                statuses.setdefault(status["name"], categories.get(key, "active"))
        types = sorted(
            {t["name"] for t in self.http.get_list(f"{self.api}/issuetype") if isinstance(t, dict) and t.get("name")}
        )
        return statuses, types


def issue_item(issue: dict) -> ToolItem | str:
    """A Jira issue with its changelog as a tool item (its whole life), or why it cannot be read."""
    key = field_text(issue, "key")
    fields = issue.get("fields")
    if not key or not isinstance(fields, dict):
        return f"issue {key or issue.get('id')} came without its key or fields"
    created = aware_time(fields.get("created"))
    status = field_text(fields, "status", "name")
    if created is None or not status:
        return f"issue {key} has no readable created time or status"
    raw = jira_moves(issue)
    moves = []
    for at_text, _before, after in raw:
        at = aware_time(at_text)
        if at is None or not after:
            return f"issue {key} has a status change without a time or a status"
        moves.append((at, after))
    moves.sort(key=lambda move: move[0])
    first = (sorted(raw, key=lambda r: aware_time(r[0]))[0][1] if raw else status) or status
    moves.insert(0, (created, first))
    if moves[-1][1] != status:  # a history that does not end where the issue is: end it there
        updated = aware_time(fields.get("updated"))
        moves.append((max(moves[-1][0], updated) if updated else moves[-1][0], status))
    blocked_by = []
    for link in fields.get("issuelinks") or []:
        if isinstance(link, dict) and (field_text(link, "type", "inward").lower() == BLOCKS_INWARD):
            if inward := field_text(link, "inwardIssue", "key"):
                blocked_by.append(inward)
    return ToolItem(
        key=key,
        title=field_text(fields, "summary"),
        work_type=field_text(fields, "issuetype", "name"),
        labels=[label for label in fields.get("labels") or [] if isinstance(label, str)],
        created=created,
        moves=moves,
        parent_key=field_text(fields, "parent", "key"),
        whole=True,
        cut_short=jira_cut_short(issue),
        blocked_by=blocked_by,
    )
