"""Schemathesis hooks for the role runs of scripts/api_fuzz.sh: a viewer's and a product owner's token.

Loaded by `SCHEMATHESIS_HOOKS=scripts/fuzz_roles.py` with
- `API_FUZZ_ROLE`: `viewer` or `owner` (the rules below), and `API_FUZZ_USER`: whose token it is;
- `DATABASE_URL`: the fuzzed database (the script exports it);
- `API_FUZZ_REPORT`: optional file for the per-operation status summary and the violations found;
- `API_FUZZ_DEBUG_LOG`: optional file that gets every write and its answer (while developing).

Three parts:

1. **Realistic values** (`map_case`, every phase): stream and team slugs, item, state, key
   result and readiness check ids come from the database (read once at start), half of them
   inside what the owner may change and half outside, so that requests get past 400s and 404s
   and reach the permission checks. Every POST/PATCH of an item sometimes names a tool's
   `source` and `external_key`, whether or not the schema still offers them.
2. **Before each write** (`before_call`): what the write is about to change, read from the
   database: the stream an item is in before a PATCH or a transition (a move changes it), the
   stream of the delivery record an `external_id` already names.
3. **The check `role_write_scope`**, which fails on a write answering 2xx that the role may not
   do. A viewer may write nothing. A product owner may write only inside the backlogs of the
   streams their teams serve (items, transitions, deliveries: old and new stream), check in on
   key results of their teams' objectives, link items to key results when either side is
   theirs, and sign off readiness checks whose criterion their team owns. Any role but an
   administrator: an item write that sets a non-empty `source` or `external_key` is a failure
   (only imports, connectors and webhooks may). The owner's scope is computed here with plain
   SQL from memberships and the teams streams list, never with `core.access` (the code under
   test). A write this module has no rule for is a failure too: teach it the new operation.
   403 and every other non-2xx answer are fine.
"""

from __future__ import annotations

from collections import Counter, defaultdict
import csv
import io
import json
import os
import random
import zlib

import psycopg
import schemathesis

ROLE = os.environ.get("API_FUZZ_ROLE", "")
USER = os.environ.get("API_FUZZ_USER", ROLE)
REPORT = os.environ.get("API_FUZZ_REPORT", "")
DEBUG_LOG = os.environ.get("API_FUZZ_DEBUG_LOG", "")  # every write and its answer, while developing
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
TOOL_FIELDS = ("source", "external_key")
API = "/api/v1"

if ROLE not in ("viewer", "owner"):
    raise RuntimeError(f"API_FUZZ_ROLE must be viewer or owner, not {ROLE!r}")

_conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)


def _rows(sql: str, *params) -> list[tuple]:
    """The rows; none for a value no column can hold (a generated NUL byte): no row has it."""
    if any(isinstance(param, str) and "\x00" in param for param in params):
        return []
    with _conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _one(sql: str, *params):
    rows = _rows(sql, *params)
    return rows[0] if rows else None


# --- whose token, and what their teams serve (independent of core/access.py) ----------------------

USER_ID = _one("SELECT id FROM auth_user WHERE username = %s", USER)
if USER_ID is None:
    raise RuntimeError(f"no user {USER!r} in the fuzzed database")
TEAM_IDS = frozenset(
    team_id
    for (team_id,) in _rows(
        "SELECT m.team_id FROM teams_membership m JOIN teams_person p ON p.id = m.person_id WHERE p.user_id = %s",
        USER_ID[0],
    )
)
SERVED_STREAM_IDS = frozenset(
    stream_id
    for (stream_id,) in _rows(
        "SELECT DISTINCT valuestream_id FROM streams_valuestream_teams WHERE team_id = ANY(%s)", list(TEAM_IDS)
    )
)
if ROLE == "owner" and not SERVED_STREAM_IDS:
    raise RuntimeError(f"{USER!r} serves no stream: the owner run would test nothing")

# --- realistic values, read once -----------------------------------------------------------------

STREAMS = dict(_rows("SELECT id, slug FROM streams_valuestream ORDER BY id"))
TEAMS = dict(_rows("SELECT id, slug FROM teams_team ORDER BY id"))
STATES: dict[int, list[int]] = defaultdict(list)
for state_id, stream_id in _rows('SELECT id, stream_id FROM streams_workflowstate ORDER BY stream_id, "order"'):
    STATES[stream_id].append(state_id)
# Open items (not done, not removed), a sample of each stream, and those naming the user's teams.
ITEMS: dict[int, list[int]] = defaultdict(list)
OWN_TEAM_ITEMS: list[int] = []
for item_id, stream_id, team_id in _rows(
    """SELECT i.id, i.stream_id, i.team_id FROM streams_backlogitem i
       JOIN streams_workflowstate s ON s.id = i.state_id
       WHERE s.category NOT IN ('done', 'removed') ORDER BY i.id"""
):
    if len(ITEMS[stream_id]) < 60:
        ITEMS[stream_id].append(item_id)
    if team_id in TEAM_IDS and len(OWN_TEAM_ITEMS) < 60:
        OWN_TEAM_ITEMS.append(item_id)
OWN_KEY_RESULTS = [
    kr
    for (kr,) in _rows(
        """SELECT k.id FROM okrs_keyresult k JOIN okrs_objective o ON o.id = k.objective_id
           WHERE o.level = 'team' AND o.team_id = ANY(%s) ORDER BY k.id""",
        list(TEAM_IDS),
    )
]
OTHER_KEY_RESULTS = [
    kr
    for (kr,) in _rows(
        """SELECT k.id FROM okrs_keyresult k JOIN okrs_objective o ON o.id = k.objective_id
           WHERE NOT (o.level = 'team' AND o.team_id = ANY(%s)) ORDER BY k.id""",
        list(TEAM_IDS),
    )
]
LINKS: dict[int, list[int]] = defaultdict(list)
for kr_id, item_id in _rows("SELECT keyresult_id, backlogitem_id FROM okrs_keyresult_items ORDER BY id"):
    LINKS[kr_id].append(item_id)
# Pending readiness checks, a few per owning team.
CHECKS: list[int] = []
per_team: Counter = Counter()
for check_id, team_id in _rows(
    """SELECT c.id, r.owner_team_id FROM streams_readinesscheck c
       JOIN streams_readinesscriterion r ON r.id = c.criterion_id WHERE c.status = 'pending' ORDER BY c.id"""
):
    if per_team[team_id] < 20:
        CHECKS.append(check_id)
        per_team[team_id] += 1


def _external_ids(table: str, every: int) -> list[str]:
    """Some external ids the API already recorded: sending one again updates (and may move) that record."""
    query = f"SELECT external_id FROM {table} WHERE source = 'api' AND external_id <> '' ORDER BY stream_id, id"
    return [external_id for (external_id,) in _rows(query)][::every]


DEPLOYMENT_IDS = _external_ids("streams_deployment", 40)
INCIDENT_IDS = _external_ids("streams_incident", 5)
DEPLOYMENTS: dict[int, list[int]] = defaultdict(list)
for deployment_id, stream_id in _rows("SELECT id, stream_id FROM streams_deployment ORDER BY id"):
    if len(DEPLOYMENTS[stream_id]) < 20:
        DEPLOYMENTS[stream_id].append(deployment_id)

# Where values come from: half inside the user's streams, half outside (a viewer has none: all).
SERVED = sorted(SERVED_STREAM_IDS) or sorted(STREAMS)
OTHERS = sorted(set(STREAMS) - SERVED_STREAM_IDS) or SERVED


def _rng(case) -> random.Random:
    """A generator seeded by the generated case, so the same case always maps the same way."""
    seed = repr((case.operation.label, case.path_parameters, case.query, case.body)).encode()
    return random.Random(zlib.crc32(seed))


def _stream(rng: random.Random) -> int:
    return rng.choice(SERVED if rng.random() < 0.5 else OTHERS)


def _team(rng: random.Random) -> str:
    """A team slug, the user's own team more often than not (it once opened other streams)."""
    if TEAM_IDS and rng.random() < 0.6:
        return TEAMS[rng.choice(sorted(TEAM_IDS))]
    return rng.choice(list(TEAMS.values()))


def _item(rng: random.Random, stream: int | None = None) -> int:
    if stream is None:
        roll = rng.random()
        if roll < 0.3 and OWN_TEAM_ITEMS:
            return rng.choice(OWN_TEAM_ITEMS)
        stream = _stream(rng)
    return rng.choice(ITEMS.get(stream) or OWN_TEAM_ITEMS or [1])


def _item_stream(item_id) -> int | None:
    row = _one("SELECT stream_id FROM streams_backlogitem WHERE id = %s", _int(item_id))
    return row[0] if row else None


def _int(value) -> int | None:
    try:
        return int(str(value).lstrip("#"))
    except (TypeError, ValueError):
        return None


def _key_result(rng: random.Random) -> int:
    if OWN_KEY_RESULTS and rng.random() < 0.4:
        return rng.choice(OWN_KEY_RESULTS)
    return rng.choice(OTHER_KEY_RESULTS or OWN_KEY_RESULTS or [1])


def _tool_fields(rng: random.Random, body: dict) -> None:
    """Sometimes claim a tool's source and key, whether or not the schema still offers them."""
    if rng.random() < 0.3:
        body["source"] = rng.choice(["jira", "github", "seed"])
        body["external_key"] = f"FUZZ-{rng.randrange(1, 10**6)}"


def _realistic_times(rng: random.Random, body: dict, start: str, end: str, running: str | None = None) -> None:
    if rng.random() < 0.7:
        body[start] = "2026-11-20T09:00:00Z"
        body[end] = None if running and body.get("status") == running else "2026-11-20T09:12:00Z"


# --- 1. realistic values ----------------------------------------------------------------------------


@schemathesis.hook
def map_case(context, case):
    label = f"{case.method.upper()} {case.path}"
    if case.method.upper() not in WRITES:
        return case
    rng = _rng(case)
    body = dict(case.body) if isinstance(case.body, dict) else None
    path = dict(case.path_parameters or {})
    stream = None

    if label == f"POST {API}/items/" and body is not None:
        stream = _stream(rng)
        body["stream"] = STREAMS[stream]
        if "team" in body or rng.random() < 0.5:
            body["team"] = _team(rng)
        if "state" in body:
            body["state"] = rng.choice(STATES[stream])
        if body.get("parent") is not None:
            body["parent"] = _item(rng, stream)
        _tool_fields(rng, body)
    elif label == f"PATCH {API}/items/{{id}}/":
        path["id"] = _item(rng)
        if body is not None:
            if "stream" in body or rng.random() < 0.3:
                stream = _stream(rng)
                body["stream"] = STREAMS[stream]
            if body.get("team") is not None or rng.random() < 0.2:
                body["team"] = _team(rng)
            if body.get("parent") is not None:
                body["parent"] = _item(rng, stream or _item_stream(path["id"]))
            _tool_fields(rng, body)
    elif label == f"POST {API}/items/{{id}}/transition/":
        path["id"] = _item(rng)
        if body is not None:
            own = _item_stream(path["id"])
            body["state"] = rng.choice(STATES[own] if own in STATES and rng.random() < 0.8 else STATES[_stream(rng)])
            if rng.random() < 0.5:
                body.pop("at", None)
    elif label == f"POST {API}/readiness-checks/{{id}}/decide/" and CHECKS:
        path["id"] = rng.choice(CHECKS)
        if body is not None and body.get("status") == "waived" and not body.get("reason"):
            body["reason"] = "fuzz"
    elif label == f"POST {API}/key-results/{{id}}/items/":
        path["id"] = _key_result(rng)
        if body is not None:
            body["item"] = _item(rng)
    elif label == f"DELETE {API}/key-results/{{id}}/items/{{item_pk}}/":
        own_linked = [kr for kr in LINKS if kr in OWN_KEY_RESULTS]
        kr = rng.choice(own_linked) if own_linked and rng.random() < 0.3 else _key_result(rng)
        path["id"] = kr
        path["item_pk"] = rng.choice(LINKS[kr]) if LINKS.get(kr) and rng.random() < 0.7 else _item(rng)
    elif label == f"POST {API}/check-ins/" and body is not None:
        body["key_result"] = _key_result(rng)
        if rng.random() < 0.6:
            body["value"] = str(rng.randrange(0, 100))
            body["confidence"] = rng.choice(["0.5", "0.8", "1"])
        if rng.random() < 0.5:
            body.pop("date", None)
    elif label in (f"POST {API}/deployments/", f"POST {API}/incidents/") and body is not None:
        deployment = label.endswith("/deployments/")
        stream = _stream(rng)
        body["stream"] = STREAMS[stream]
        if rng.random() < 0.5:
            pool = DEPLOYMENT_IDS if deployment else INCIDENT_IDS
            body["external_id"] = rng.choice(pool) if pool and rng.random() < 0.5 else f"fuzz-{ROLE}-{rng.randrange(4)}"
        if deployment:
            _realistic_times(rng, body, "started_at", "finished_at", running="in_progress")
            if isinstance(body.get("items"), list):
                body["items"] = [{"item": f"#{_item(rng, stream)}", "first_commit_at": None} for _ in body["items"][:3]]
        else:
            _realistic_times(rng, body, "opened_at", "resolved_at")
            if rng.random() < 0.7:
                body.pop("caused_by_external_id", None)
                if body.get("caused_by") is not None or rng.random() < 0.3:
                    body["caused_by"] = rng.choice(DEPLOYMENTS.get(stream) or [1])
            if isinstance(body.get("items"), list):
                body["items"] = [f"#{_item(rng, stream)}" for _ in body["items"][:3]]
    else:
        return case

    if body is not None and case.media_type != "application/json":
        # A form cannot say null (it arrives as text): leave such fields out instead.
        body = {name: value for name, value in body.items() if value is not None}
    if path != (case.path_parameters or {}):
        case.path_parameters = path
    if body is not None and body != case.body:
        case.body = body
    return case


# --- 2. what a write is about to change ---------------------------------------------------------

# Keyed by the case id schemathesis sends with each request; one worker, so no lock.
_BEFORE: dict[str, dict] = {}


@schemathesis.hook
def before_call(context, case, kwargs):
    label = f"{case.method.upper()} {case.path}"
    if case.method.upper() not in WRITES:
        return
    before: dict = {}
    if label in (f"PATCH {API}/items/{{id}}/", f"POST {API}/items/{{id}}/transition/"):
        row = _one(
            "SELECT stream_id, source, external_key FROM streams_backlogitem WHERE id = %s",
            _int(case.path_parameters.get("id")),
        )
        if row:
            before = {"stream": row[0], "source": row[1], "external_key": row[2]}
    elif label in (f"POST {API}/deployments/", f"POST {API}/incidents/") and isinstance(case.body, dict):
        table = "streams_deployment" if label.endswith("/deployments/") else "streams_incident"
        external_id = case.body.get("external_id")
        if isinstance(external_id, str) and external_id:
            row = _one(f"SELECT stream_id FROM {table} WHERE source = 'api' AND external_id = %s", external_id)
            before = {"stream": row[0] if row else None}
    _BEFORE[case.id] = before


# --- 3. the check -------------------------------------------------------------------------------


def _body(response) -> dict:
    """The response's object: JSON, or the two-column CSV (`field,value`) of `?format=csv`."""
    text = response.content.decode(errors="replace")
    try:
        data = json.loads(text or "null")
    except ValueError:
        data = None
        if text.startswith("field,value"):
            data = {}
            for row in list(csv.reader(io.StringIO(text)))[1:]:
                if len(row) == 2:
                    try:
                        data[row[0]] = json.loads(row[1]) if row[1][:1] in "[{" else row[1]
                    except ValueError:
                        data[row[0]] = row[1]
    if not isinstance(data, dict):
        return {}
    # Ids as numbers whichever way they came.
    for name in ("id", "stream", "key_result", "item"):
        if isinstance(data.get(name), str) and data[name].isdigit():
            data[name] = int(data[name])
    return data


def _stream_name(stream_id) -> str:
    return f"{STREAMS.get(stream_id, '?')} (id {stream_id})"


def _record_stream(table: str, record_id) -> int | None:
    row = _one(f"SELECT stream_id FROM {table} WHERE id = %s", _int(record_id))
    return row[0] if row else None


def _own_key_result(key_result_id) -> bool:
    """Whether the key result belongs to a team objective of one of the user's teams."""
    row = _one(
        """SELECT o.level, o.team_id FROM okrs_keyresult k JOIN okrs_objective o ON o.id = k.objective_id
           WHERE k.id = %s""",
        _int(key_result_id),
    )
    return bool(row) and row[0] == "team" and row[1] in TEAM_IDS


def _owner_violation(label: str, case, response, before: dict) -> str | None:
    """Why the product owner may not have done this write, or None if they may.

    Streams are read from the database after the request (the response only names the row),
    and, for what a request may move, before it (`before_call`)."""
    body = _body(response)
    sent = case.body if isinstance(case.body, dict) else {}
    path = case.path_parameters or {}
    served = ", ".join(_stream_name(s) for s in SERVED)
    outside = f"outside the streams the owner's teams serve ({served})"

    if label == f"POST {API}/items/":
        stream = _record_stream("streams_backlogitem", body.get("id")) or body.get("stream")
        if stream not in SERVED_STREAM_IDS:
            return f"created item {body.get('id')} in {_stream_name(stream)}, {outside}"
        return None
    if label == f"PATCH {API}/items/{{id}}/":
        after = _item_stream(path.get("id"))
        was = before.get("stream", after)  # before_call runs before every call; the fallback is a guard
        if was not in SERVED_STREAM_IDS:
            return f"changed item {path.get('id')} of {_stream_name(was)}, {outside}"
        if after not in SERVED_STREAM_IDS:
            return f"moved item {path.get('id')} from {_stream_name(was)} into {_stream_name(after)}, {outside}"
        return None
    if label == f"POST {API}/items/{{id}}/transition/":
        stream = before.get("stream", _item_stream(path.get("id")))
        if stream not in SERVED_STREAM_IDS:
            return f"moved item {path.get('id')} of {_stream_name(stream)} to another state, {outside}"
        return None
    if label in (f"POST {API}/deployments/", f"POST {API}/incidents/"):
        deployment = label.endswith("/deployments/")
        noun = "deployment" if deployment else "incident"
        table = "streams_deployment" if deployment else "streams_incident"
        stream = _record_stream(table, body.get("id")) or body.get("stream")
        if stream not in SERVED_STREAM_IDS:
            return f"recorded {noun} {body.get('id')} in {_stream_name(stream)}, {outside}"
        if before.get("stream") is not None and before["stream"] not in SERVED_STREAM_IDS:
            return f"took over {noun} {body.get('id')} of {_stream_name(before['stream'])}, {outside}"
        items = (
            "SELECT i.id, i.stream_id FROM streams_deploymentitem d JOIN streams_backlogitem i ON i.id = d.item_id "
            "WHERE d.deployment_id = %s"
            if deployment
            else "SELECT i.id, i.stream_id FROM streams_incident_items d JOIN streams_backlogitem i "
            "ON i.id = d.backlogitem_id WHERE d.incident_id = %s"
        )
        for item, item_stream in _rows(items, _int(body.get("id"))):
            if item_stream not in SERVED_STREAM_IDS:
                return f"{noun} {body.get('id')} names item {item} of {_stream_name(item_stream)}, {outside}"
        return None
    if label == f"POST {API}/readiness-checks/{{id}}/decide/":
        row = _one(
            """SELECT r.owner_team_id FROM streams_readinesscheck c
               JOIN streams_readinesscriterion r ON r.id = c.criterion_id WHERE c.id = %s""",
            _int(path.get("id")),
        )
        if not row or row[0] not in TEAM_IDS:
            owner = TEAMS.get(row[0]) if row else "?"
            return f"signed off readiness check {path.get('id')} owned by team {owner}, not one of the owner's"
        return None
    if label == f"POST {API}/check-ins/":
        key_result = body.get("key_result", sent.get("key_result"))
        if not _own_key_result(key_result):
            return f"checked in on key result {key_result}, not of a team objective of the owner's teams"
        return None
    if label in (f"POST {API}/key-results/{{id}}/items/", f"DELETE {API}/key-results/{{id}}/items/{{item_pk}}/"):
        key_result = path.get("id")
        item = body.get("item", sent.get("item")) if label.startswith("POST") else path.get("item_pk")
        if _own_key_result(key_result):
            return None
        stream = _item_stream(item)
        if stream not in SERVED_STREAM_IDS:
            verb = "linked" if label.startswith("POST") else "unlinked"
            return (
                f"{verb} item {item} of {_stream_name(stream)} and key result {key_result}: neither the key result "
                f"(not a team objective of the owner's teams) nor the item ({outside}) is the owner's"
            )
        return None
    return f"no rule in scripts/fuzz_roles.py for {label}: a write the owner did that nobody decided they may"


def _tool_violation(label: str, case, response, before: dict) -> str | None:
    if label not in (f"POST {API}/items/", f"PATCH {API}/items/{{id}}/") or not isinstance(case.body, dict):
        return None
    body = _body(response)
    for name in TOOL_FIELDS:
        sent = case.body.get(name)
        if sent in (None, "") or str(body.get(name)) != str(sent):
            continue
        if label.startswith("PATCH") and before.get(name) == body.get(name):
            continue  # the item had it already: this request did not set it
        return f"set the item's {name} to {sent!r}: only imports, connectors and webhooks may"
    return None


_VIOLATIONS: dict[str, list[dict]] = defaultdict(list)  # one example per kind, a few per operation
_STATUSES: dict[str, Counter] = defaultdict(Counter)
_SEEN: set[tuple[str, str, int]] = set()


def _record(label: str, response, reason: str) -> None:
    examples = _VIOLATIONS[label]
    kind = "".join(char for char in reason if not char.isdigit())
    if len(examples) >= 6 or any(example["kind"] == kind for example in examples):
        return
    request = response.request
    examples.append(
        {
            "kind": kind,
            "role": ROLE,
            "reason": reason,
            "request": f"{request.method} {request.url}",
            "body": request.body.decode(errors="replace") if isinstance(request.body, bytes) else request.body,
            "status": response.status_code,
            "response": response.content[:300].decode(errors="replace"),
        }
    )


@schemathesis.check
class role_write_scope:
    """Fail on a write answering 2xx that the role (API_FUZZ_ROLE) may not do."""

    def after_response(self, ctx, response, case):
        method = case.method.upper()
        label = f"{method} {case.path}"
        if method not in WRITES:
            return
        if (case.id, label, response.status_code) not in _SEEN:
            _SEEN.add((case.id, label, response.status_code))
            _STATUSES[label][response.status_code] += 1
        if DEBUG_LOG:
            with open(DEBUG_LOG, "a") as log:
                log.write(f"{response.status_code} {label} {case.body!r:.300} -> {response.content[:200]!r}\n")
        if not 200 <= response.status_code < 300:
            return  # 403 is the right answer; 400/404/409 never wrote anything
        before = _BEFORE.get(case.id, {})
        reason = _tool_violation(label, case, response, before)
        if reason is None and ROLE == "viewer":
            reason = "a viewer reads only, yet the write answered 2xx"
        if reason is None and ROLE == "owner":
            reason = _owner_violation(label, case, response, before)
        if reason is not None:
            _record(label, response, reason)
            raise AssertionError(f"{ROLE} {USER!r} may not do this: {reason} (answered {response.status_code})")

    def after_run(self, ctx):
        if not REPORT:
            return
        with open(REPORT, "w") as out:
            out.write(f"Writes as {ROLE} ({USER}): responses per operation (distinct cases)\n")
            for label in sorted(_STATUSES):
                if set(_STATUSES[label]) == {405}:
                    continue  # a method the path does not have
                codes = ", ".join(f"{code}: {n}" for code, n in sorted(_STATUSES[label].items()))
                out.write(f"  {label:55} {codes}\n")
            found = sum(len(examples) for examples in _VIOLATIONS.values())
            out.write(f"Writes the role may not do that answered 2xx (an example of each kind): {found}\n")
            for _label, examples in sorted(_VIOLATIONS.items()):
                for example in examples:
                    out.write(json.dumps({k: v for k, v in example.items() if k != "kind"}) + "\n")
