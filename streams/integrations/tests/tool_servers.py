"""Local HTTP servers that answer as the tools' REST APIs document, for the connector tests.

`AzureDevOpsServer` speaks Azure DevOps Services' REST API 7.1 as its documentation shows it:
the Reporting Work Item Revisions API (batches in the order revisions were made, an opaque
`continuationToken`, `isLastBatch`, `nextLink`, `maxPageSize`, deleted items with
`includeDeleted`), one work item's revisions (`$top`/`$skip`), work item types with their
states and state categories, a team's board with split columns and its own column fields,
WIQL. It checks the personal access token (basic auth, empty user), and a test can queue
faults the way the service shows them: 429 with `Retry-After` and a TF400733 message, 5xx,
a 401 once a token is revoked, an answer slower than the client's timeout, a dropped
connection.
"""

from __future__ import annotations

import base64
from collections import deque
from dataclasses import dataclass, field
import datetime as dt
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import re
import threading
import time
from urllib.parse import parse_qs, unquote, urlsplit
import zoneinfo

BOARD_COLUMN = "WEF_6CB513B6E70E43499D9FC94E5BBFB784_Kanban.Column"
BOARD_DONE = "WEF_6CB513B6E70E43499D9FC94E5BBFB784_Kanban.Column.Done"
TYPES = {
    "User Story": [
        ("New", "Proposed"),
        ("Active", "InProgress"),
        ("Resolved", "Resolved"),
        ("Closed", "Completed"),
        ("Removed", "Removed"),
    ],
    "Bug": [("New", "Proposed"), ("Active", "InProgress"), ("Resolved", "Resolved"), ("Closed", "Completed")],
}


@dataclass
class Fault:
    """What the next matching request gets instead of its answer."""

    path: str  # a regular expression searched in the request path
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    delay: float = 0.0  # seconds before answering (longer than the client's timeout: a timeout)
    drop: bool = False  # close the connection without answering
    skip: int = 0  # matching requests answered normally before this fault applies


def iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ToolServer:
    """A threaded local HTTP server with the plumbing every tool's double shares: faults a test
    queues, a log of the requests, JSON answers. Subclasses route and check credentials."""

    def __init__(self):
        self.faults: deque[Fault] = deque()
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def origin(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                server._serve(self, "GET")

            def do_POST(self):
                server._serve(self, "POST")

        return Handler

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(request.path)
        path, query = unquote(url.path), {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length) or b"null") if length else None
        self.requests.append(f"{method} {path}")
        fault = None
        with self.lock:
            for candidate in self.faults:
                if re.search(candidate.path, path):
                    if candidate.skip:
                        candidate.skip -= 1
                    else:
                        fault = candidate
                    break
        if fault is not None:
            self.faults.remove(fault)
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop:
                request.close_connection = True
                request.connection.shutdown(2)
                return
            return self._answer(request, fault.status, fault.body or {"message": "fault"}, fault.headers)
        status, answer, *headers = self.route(request, method, path, query, body)
        self._answer(request, status, answer, headers[0] if headers else None)

    def route(self, request, method: str, path: str, query: dict, body) -> tuple[int, object]:
        raise NotImplementedError

    def _answer(self, request, status: int, body, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)


class AzureDevOpsServer(ToolServer):
    def __init__(self, *, organisation: str = "contoso", project: str = "Payments", token: str = "pat-secret"):
        super().__init__()
        self.organisation, self.project, self.token = organisation, project, token
        self.revisions: list[dict] = []  # in the order they were made: the reporting API's order
        self.current: dict[int, dict] = {}  # work item id -> its latest fields
        self.page_cap = 1000
        self.board_columns = [
            {"name": "New", "columnType": "incoming", "isSplit": False, "stateMappings": {"User Story": "New"}},
            {"name": "Develop", "columnType": "inProgress", "isSplit": True, "stateMappings": {"User Story": "Active"}},
            {"name": "Test", "columnType": "inProgress", "isSplit": False, "stateMappings": {"User Story": "Active"}},
            {"name": "Closed", "columnType": "outgoing", "isSplit": False, "stateMappings": {"User Story": "Closed"}},
        ]

    @property
    def base_url(self) -> str:
        return f"{self.origin}/{self.organisation}"

    # -- the data a test gives it -------------------------------------------------------------

    def create(
        self,
        item_id: int,
        at: dt.datetime,
        *,
        type="User Story",
        title=None,
        state="New",
        area=None,
        parent=None,
        tags="",
        column=None,
        done=False,
    ) -> None:
        fields = {
            "System.Id": item_id,
            "System.WorkItemType": type,
            "System.Title": title or f"Item {item_id}",
            "System.State": state,
            "System.AreaPath": area or self.project,
            "System.TeamProject": self.project,
            "System.CreatedDate": iso(at),
            "System.Tags": tags,
        }
        if parent:
            fields["System.Parent"] = parent
        if column:
            fields[BOARD_COLUMN], fields[BOARD_DONE] = column, done
        self._revise(item_id, at, fields)

    def change(self, item_id: int, at: dt.datetime, **changes) -> None:
        """A new revision; keywords: state, title, type, area, parent, tags, column, done, deleted."""
        names = {
            "state": "System.State",
            "title": "System.Title",
            "type": "System.WorkItemType",
            "area": "System.AreaPath",
            "parent": "System.Parent",
            "tags": "System.Tags",
            "column": BOARD_COLUMN,
            "done": BOARD_DONE,
            "deleted": "System.IsDeleted",
        }
        fields = dict(self.current[item_id])
        for name, value in changes.items():
            fields[names[name]] = value
        self._revise(item_id, at, fields)

    def _revise(self, item_id: int, at: dt.datetime, fields: dict) -> None:
        with self.lock:
            rev = self.current.get(item_id, {}).get("System.Rev", 0) + 1
            fields = {**fields, "System.Rev": rev, "System.ChangedDate": iso(at)}
            self.current[item_id] = fields
            self.revisions.append({"id": item_id, "rev": rev, "fields": fields})

    # -- the HTTP side --------------------------------------------------------------------------

    def route(self, request, method: str, path: str, query: dict, body) -> tuple[int, object]:
        expected = "Basic " + base64.b64encode(f":{self.token}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return 401, {"message": "TF400813: The user is not authorized to access this resource."}
        prefix = f"/{self.organisation}/{self.project}"
        if not path.startswith(prefix + "/"):
            return 404, {"message": f"TF200016: The project {path!r} does not exist."}
        rest = path[len(prefix) :]
        if rest == "/_apis/wit/reporting/workitemrevisions" and method == "GET":
            return 200, self._reporting(query)
        if m := re.fullmatch(r"/_apis/wit/workitems/(\d+)/revisions", rest):
            return self._item_revisions(int(m.group(1)), query)
        if rest == "/_apis/wit/workitemtypes":
            value = [
                {"name": name, "states": [{"name": s, "category": c, "color": "b2b2b2"} for s, c in states]}
                for name, states in TYPES.items()
            ]
            return 200, {"count": len(value), "value": value}
        if m := re.fullmatch(r"/([^/]+)/_apis/work/boards/([^/]+)", rest):
            fields = {"columnField": {"referenceName": BOARD_COLUMN}, "doneField": {"referenceName": BOARD_DONE}}
            return 200, {"name": m.group(2), "columns": self.board_columns, "fields": fields}
        if rest == "/_apis/wit/wiql" and method == "POST":
            under = re.search(r"UNDER '((?:[^']|'')*)'", (body or {}).get("query", ""))
            area = under.group(1).replace("''", "'").casefold() if under else ""
            ids = [
                i
                for i, f in self.current.items()
                if not f.get("System.IsDeleted")
                and (
                    not area
                    or f["System.AreaPath"].casefold() == area
                    or f["System.AreaPath"].casefold().startswith(area + "\\")
                )
            ]
            top = int(query.get("$top", 20000))
            return 200, {"workItems": [{"id": i} for i in ids[:top]]}
        return 404, {"message": f"no route {rest}"}

    def _reporting(self, query: dict) -> dict:
        start = int(base64.b64decode(query["continuationToken"]).decode()) if "continuationToken" in query else 0
        size = min(int(query.get("maxPageSize", 200)), self.page_cap)
        wanted = query.get("fields", "").split(",") if query.get("fields") else None
        with self.lock:
            chosen = self.revisions[start : start + size]
            end = start + len(chosen)
            last = end >= len(self.revisions)
        values = []
        for revision in chosen:
            if revision["fields"].get("System.IsDeleted") and query.get("includeDeleted") != "true":
                continue
            fields = revision["fields"]
            if wanted:
                fields = {k: v for k, v in fields.items() if k in wanted}
            values.append({"id": revision["id"], "rev": revision["rev"], "fields": fields})
        token = base64.b64encode(str(end).encode()).decode()
        return {
            "values": values,
            "nextLink": f"{self.base_url}/{self.project}/_apis/wit/reporting/workitemrevisions"
            f"?continuationToken={token}",
            "continuationToken": token,
            "isLastBatch": last,
        }

    def _item_revisions(self, item_id: int, query: dict) -> tuple[int, dict]:
        revisions = [r for r in self.revisions if r["id"] == item_id]
        if not revisions:
            return 404, {"message": f"TF401232: Work item {item_id} does not exist."}
        skip, top = int(query.get("$skip", 0)), int(query.get("$top", 200))
        page = revisions[skip : skip + top]
        return 200, {"count": len(page), "value": page}


JIRA_STATUSES = {"To Do": "new", "In Progress": "indeterminate", "In Review": "indeterminate", "Done": "done"}


def jira_time(at: dt.datetime) -> str:
    """Jira's own spelling: milliseconds and a +0000 offset."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


class JiraServer(ToolServer):
    """Jira Cloud (REST API v3) or Data Center (v2), as their documentation shows them.

    Cloud: `POST /rest/api/3/search/jql` pages by `nextPageToken` (no total; the last page has
    none and says `isLast`), sends at most `changelog_cap` histories per issue with the
    changelog's real `total`, `POST /rest/api/3/changelog/bulkfetch` pages whole histories,
    `approximate-count`, `myself` with the account's time zone, and the removed
    `GET /rest/api/3/search` answers 410 Gone. Data Center: `POST /rest/api/2/search` pages by
    `startAt` with `total` and whole changelogs. JQL is read as the sync writes it: its scope
    (`project = KEY` or `filter = ID`), `updated >=` and `created >=` in the account's time
    zone to the minute, `ORDER BY created ASC`.
    """

    def __init__(
        self,
        *,
        cloud: bool = True,
        email: str = "ada@example.com",
        token: str = "api-token",
        time_zone: str = "Europe/Berlin",
    ):
        super().__init__()
        self.cloud, self.email, self.token, self.time_zone = cloud, email, token, time_zone
        self.issues: dict[str, dict] = {}  # key -> issue as Jira holds it (histories whole)
        self.filters: dict[str, str] = {}  # saved filter id -> project key
        self.page_cap = 100
        self.changelog_cap = 100
        self.next_id = 10000
        self.searches: list[str] = []

    @property
    def base_url(self) -> str:
        return self.origin

    # -- the data a test gives it -------------------------------------------------------------

    def create(
        self,
        key: str,
        at: dt.datetime,
        *,
        type="Story",
        summary=None,
        status="To Do",
        labels=(),
        parent=None,
        blocked_by=(),
    ) -> None:
        self.next_id += 1
        links = [
            {
                "type": {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
                "inwardIssue": {"key": blocker},
            }
            for blocker in blocked_by
        ]
        with self.lock:
            self.issues[key] = {
                "id": str(self.next_id),
                "key": key,
                "fields": {
                    "summary": summary or f"Issue {key}",
                    "status": {"name": status, "statusCategory": {"key": JIRA_STATUSES.get(status, "indeterminate")}},
                    "issuetype": {"name": type},
                    "created": jira_time(at),
                    "updated": jira_time(at),
                    "labels": list(labels),
                    "issuelinks": links,
                    **({"parent": {"key": parent}} if parent else {}),
                },
                "histories": [],
            }

    def move(self, key: str, at: dt.datetime, status: str) -> None:
        with self.lock:
            issue = self.issues[key]
            before = issue["fields"]["status"]["name"]
            issue["histories"].append(
                {
                    "id": str(len(issue["histories"]) + 1),
                    "created": jira_time(at),
                    "items": [
                        {
                            "field": "status",
                            "fieldtype": "jira",
                            "fieldId": "status",
                            "fromString": before,
                            "toString": status,
                        }
                    ],
                }
            )
            issue["fields"]["status"] = {
                "name": status,
                "statusCategory": {"key": JIRA_STATUSES.get(status, "indeterminate")},
            }
            issue["fields"]["updated"] = jira_time(at)

    def edit(self, key: str, at: dt.datetime, **fields) -> None:
        """A change that is not a move (summary, labels, issuetype) and its changelog entry."""
        with self.lock:
            issue = self.issues[key]
            for name, value in fields.items():
                issue["fields"][name] = {"name": value} if name == "issuetype" else value
            issue["histories"].append(
                {
                    "id": str(len(issue["histories"]) + 1),
                    "created": jira_time(at),
                    "items": [{"field": name, "toString": str(v)} for name, v in fields.items()],
                }
            )
            issue["fields"]["updated"] = jira_time(at)

    def delete(self, key: str) -> None:
        with self.lock:
            del self.issues[key]

    # -- JQL, as far as the sync writes it -----------------------------------------------------

    def matching(self, jql: str) -> list[dict]:
        self.searches.append(jql)
        zone = zoneinfo.ZoneInfo(self.time_zone)
        query, _, order = jql.partition(" ORDER BY ")
        if m := re.search(r"key in \(([^)]*)\)", query):
            keys = {key.strip().strip('"') for key in m.group(1).split(",")}
            return sorted((self.issues[k] for k in keys if k in self.issues), key=lambda i: i["fields"]["created"])
        if m := re.search(r"filter = (\d+)", query):
            project = self.filters[m.group(1)]
        else:
            project = re.search(r"project = (\w+)", query).group(1)

        def at(name):
            found = re.search(name + r' >= "(\d{4}/\d\d/\d\d \d\d:\d\d)"', query)
            return dt.datetime.strptime(found.group(1), "%Y/%m/%d %H:%M").replace(tzinfo=zone) if found else None

        updated, created = at("updated"), at("created")
        chosen = []
        for issue in self.issues.values():
            fields = issue["fields"]
            if issue["key"].rpartition("-")[0] != project:
                continue
            if updated and dt.datetime.fromisoformat(fields["updated"]) < updated:
                continue
            if created and dt.datetime.fromisoformat(fields["created"]) < created:
                continue
            chosen.append(issue)
        if order.strip() == "created ASC":
            chosen.sort(key=lambda issue: (issue["fields"]["created"], int(issue["id"])))
        return chosen

    def shown(self, issue: dict, fields: list, changelog: bool, cap: int) -> dict:
        shown = {"id": issue["id"], "key": issue["key"], "self": f"{self.origin}/rest/api/2/issue/{issue['id']}"}
        if fields and fields != ["key"]:
            shown["fields"] = {name: value for name, value in issue["fields"].items() if name in fields}
        elif fields == ["key"]:
            shown["fields"] = {}
        if changelog:
            histories = issue["histories"]
            shown["changelog"] = {
                "startAt": 0,
                "maxResults": cap,
                "total": len(histories),
                "histories": histories[:cap],
            }
        return shown

    # -- the HTTP side --------------------------------------------------------------------------

    def route(self, request, method: str, path: str, query: dict, body) -> tuple[int, object]:
        if self.cloud:
            expected = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        else:
            expected = f"Bearer {self.token}"
        if request.headers.get("Authorization") != expected:
            return 401, {"errorMessages": ["You are not authorized to perform this operation. Please log in."]}
        api = "/rest/api/3" if self.cloud else "/rest/api/2"
        if path == f"{api}/myself":
            return 200, {
                "accountId": "5b10a2844c20165700ede21g",
                "emailAddress": self.email,
                "timeZone": self.time_zone,
            }
        if path == f"{api}/status":
            return 200, [{"name": n, "statusCategory": {"key": c}} for n, c in JIRA_STATUSES.items()]
        if path == f"{api}/issuetype":
            return 200, [{"name": n} for n in ("Story", "Bug", "Task", "Epic")]
        if self.cloud and path == "/rest/api/3/search":
            return 410, {
                "errorMessages": [
                    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
                ]
            }
        if self.cloud and path == "/rest/api/3/search/approximate-count" and method == "POST":
            return 200, {"count": len(self.matching(body["jql"]))}
        if self.cloud and path == "/rest/api/3/search/jql" and method == "POST":
            return 200, self._search_cloud(body)
        if self.cloud and path == "/rest/api/3/changelog/bulkfetch" and method == "POST":
            return 200, self._bulkfetch(body)
        if not self.cloud and path == "/rest/api/2/search" and method == "POST":
            return 200, self._search_dc(body)
        return 404, {"errorMessages": [f"no route {path}"]}

    def _search_cloud(self, body: dict) -> dict:
        with self.lock:
            issues = self.matching(body["jql"])
        start = int(body.get("nextPageToken") or 0)
        size = min(int(body.get("maxResults", 50)), self.page_cap if body.get("fields") != ["key"] else 5000)
        page = issues[start : start + size]
        fields = body.get("fields") or []
        changelog = "changelog" in (body.get("expand") or "")
        answer = {"issues": [self.shown(i, fields, changelog, self.changelog_cap) for i in page]}
        if start + size < len(issues):
            answer["nextPageToken"] = str(start + size)
            answer["isLast"] = False
        else:
            answer["isLast"] = True
        return answer

    def _bulkfetch(self, body: dict) -> dict:
        wanted = set(body["issueIdsOrKeys"])
        entries = [
            (issue["id"], h)
            for issue in self.issues.values()
            if issue["id"] in wanted or issue["key"] in wanted
            for h in issue["histories"]
        ]
        start = int(body.get("nextPageToken") or 0)
        size = min(int(body.get("maxResults", 1000)), 1000)
        logs: dict[str, list] = {}
        for issue_id, history in entries[start : start + size]:
            items = [i for i in history["items"] if i.get("field") in (body.get("fieldIds") or ["status"])]
            if items:
                logs.setdefault(issue_id, []).append({**history, "items": items})
        answer = {"issueChangeLogs": [{"issueId": k, "changeHistories": v} for k, v in logs.items()]}
        if start + size < len(entries):
            answer["nextPageToken"] = str(start + size)
        return answer

    def _search_dc(self, body: dict) -> dict:
        with self.lock:
            issues = self.matching(body["jql"])
        start, size = int(body.get("startAt", 0)), min(int(body.get("maxResults", 50)), self.page_cap)
        fields = body.get("fields") or []
        changelog = "changelog" in (body.get("expand") or [])
        page = issues[start : start + size] if size else []
        return {
            "startAt": start,
            "maxResults": size,
            "total": len(issues),
            "issues": [self.shown(i, fields, changelog, 10**6) for i in page],
        }


class GitHubServer(ToolServer):
    """GitHub's REST API as documented: a repository's issues (`state`, `since`, `sort=updated`,
    `direction=asc`, `per_page`, pages linked by the Link header, pull requests in the list),
    one issue, its timeline (paged too), issue search's `total_count`, bearer tokens, and rate
    limits answered as GitHub does (403 with `x-ratelimit-remaining: 0` and
    `x-ratelimit-reset`)."""

    def __init__(self, *, repository: str = "acme/shop", token: str = "ghp_secret"):
        super().__init__()
        self.repository, self.token = repository, token
        self.issues: dict[int, dict] = {}
        self.timelines: dict[int, list[dict]] = {}
        self.page_cap = 100

    @property
    def base_url(self) -> str:
        return self.origin

    def create(self, number: int, at: dt.datetime, *, title=None, labels=(), type=None, pull_request=False) -> None:
        with self.lock:
            issue = {
                "number": number,
                "title": title or f"Issue {number}",
                "state": "open",
                "state_reason": None,
                "labels": [{"name": label} for label in labels],
                "created_at": gh_time(at),
                "updated_at": gh_time(at),
                "closed_at": None,
                "repository_url": f"{self.origin}/repos/{self.repository}",
                "html_url": f"https://github.com/{self.repository}/issues/{number}",
                **({"type": {"name": type}} if type else {}),
                **({"pull_request": {"url": "..."}} if pull_request else {}),
            }
            self.issues[number] = issue
            self.timelines[number] = []

    def delete(self, number: int) -> None:
        """Deleted, or transferred to another repository: gone from this repository's list."""
        with self.lock:
            del self.issues[number]

    def event(self, number: int, at: dt.datetime, kind: str, *, column: str = "", reason=None) -> None:
        """A timeline event: moved_columns_in_project (column), closed (reason), reopened."""
        with self.lock:
            issue = self.issues[number]
            event = {"event": kind, "created_at": gh_time(at)}
            if column:
                event["project_card"] = {"column_name": column}
            if kind == "closed":
                event["state_reason"] = reason or "completed"
                issue.update(state="closed", state_reason=event["state_reason"], closed_at=gh_time(at))
            elif kind == "reopened":
                issue.update(state="open", state_reason=None, closed_at=None)
            self.timelines[number].append(event)
            issue["updated_at"] = gh_time(at)

    def route(self, request, method: str, path: str, query: dict, body):
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        repo = f"/repos/{self.repository}"
        if path == "/search/issues":
            count = sum("pull_request" not in i for i in self.issues.values())
            return 200, {"total_count": count, "incomplete_results": False, "items": []}
        if path == f"{repo}/issues":
            with self.lock:
                chosen = list(self.issues.values())
            if since := query.get("since"):
                chosen = [i for i in chosen if i["updated_at"] >= since]
            if query.get("sort") == "updated":
                chosen.sort(key=lambda i: (i["updated_at"], i["number"]), reverse=query.get("direction") != "asc")
            return self._paged(path, query, chosen)
        if m := re.fullmatch(repo + r"/issues/(\d+)", path):
            issue = self.issues.get(int(m.group(1)))
            return (200, issue) if issue else (404, {"message": "Not Found"})
        if m := re.fullmatch(repo + r"/issues/(\d+)/timeline", path):
            return self._paged(path, query, self.timelines.get(int(m.group(1)), []))
        return 404, {"message": "Not Found"}

    def _paged(self, path: str, query: dict, rows: list):
        size = min(int(query.get("per_page", 30)), self.page_cap)
        page = int(query.get("page", 1))
        chosen = rows[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(rows):
            rest = "&".join(f"{k}={v}" for k, v in query.items() if k != "page")
            headers["Link"] = f'<{self.origin}{path}?{rest}&page={page + 1}>; rel="next"'
        return 200, chosen, headers


def gh_time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
