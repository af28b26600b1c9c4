"""Every URL pattern × every role × every method a view accepts, with the exact outcome each gets.

Roles: an anonymous visitor, a viewer, a leader, the product director of Payments, a product
owner in the team Checkout that serves Payments, an operations member of the team that owns the
readiness criterion, and a superuser. The role users are not staff here (as UserFactory makes
them): the admin sends them to its login, and `test_access_matrix_admin.py` checks the admin's
rules with staff users. Each request runs in a savepoint that is rolled back, so every cell
starts from the same world; a case uses its own stream's objects ("own") or another stream's
("other"), so object scoping is checked too, not only roles. A write may name its `effect`,
looked for after the request: a refusal must leave nothing, a success must leave it.

Every write is sent with the CSRF token, and each one a role is not refused anyway again
without it (`~no-csrf`): pages refuse it with 403, the API refuses a session's write with 403
(DRF's SessionAuthentication), and a request authenticated by an API token needs none. Each
method a view does not accept is sent too and answered 405, and each API case also goes to its
router's `.json` suffix. `test_every_url_pattern_and_method_has_a_case` fails on a URL pattern,
or a method one accepts, that no case sends. Outcomes are explained in `access_matrix_helpers`.
"""

from dataclasses import replace
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import resolve, reverse
import pytest

from okrs.models import KeyResult, Objective
from portal.notifications.services import unsubscribe_token
from portal.scenarios.models import Scenario
from streams.models import BacklogItem, ImportJob, ReadinessCheck, ReadinessCriterion, ValueStreamMap
from streams.tests.factories import state
from teams.models import Person

from .access_matrix_helpers import (
    ADMIN_LOGIN,
    CSRF_SECRET,
    GO,
    HTMX,
    LOGIN,
    METHODS,
    NOOP,
    NOT_FOUND,
    ROLES,
    Case,
    admin_models,
    admin_site_urls,
    admin_urls,
    api,
    api_only,
    build_world,
    check_role,
    declared_methods,
    hook_headers,
    only,
    page,
    probe_admin_methods,
    quiet_refusals,  # noqa: F401 (a fixture)
    roles,
    route_of,
    url_patterns,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings):
    return build_world(settings)


# --- the cases ------------------------------------------------------------------------------------


CONNECTION_FORM = {"tool": "azure_devops", "base_url": "http://127.0.0.1:9/org", "project": "Q", "rate": "5"}
DIRECTOR_GOES = only({"director": GO, "superuser": GO})


def own(key):
    return lambda w: [w["own"][key].pk]


def other(key):
    return lambda w: [w["other"][key].pk]


def slug_and(key, which="own"):
    return lambda w: [w[which]["item"].stream.slug, w[which][key].pk]


def block_args(which):
    return lambda w: [w[which]["item"].stream.slug, w[which]["map"].pk, w[which]["block"].pk]


def block_data(w):
    return {
        "activity": "Review",
        "people": 1,
        "process_time_hours": "1",
        "lead_time_hours": "4",
        "queue_before": 0,
        "percent_complete_accurate": 90,
    }


def exists(model, **lookups):
    """An effect: a row matching `lookups` (values may be functions of the world) exists."""
    return lambda w: model.objects.filter(**{k: v(w) if callable(v) else v for k, v in lookups.items()}).exists()


def gone(key, which="own"):
    return lambda w: not type(w[which][key]).objects.filter(pk=w[which][key].pk).exists()


JIRA_BODY = b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "NOPE-1", "fields": {}}}'
SIGNED_JIRA_BODY = (
    b'{"webhookEvent": "jira:issue_updated", "timestamp": 1767225600000, "issue": {"key": "NOPE-1", "fields": {}}}'
)
GITHUB_BODY = b'{"action": "closed", "issue": {"number": 1}, "repository": {"full_name": "acme/none"}}'


CASES = [
    # Cross-cutting pages
    Case("home", page()),
    Case("healthz", roles(200)),
    Case("leadership", page()),
    Case("teams", page()),
    Case("login", roles(GO, anonymous=200)),
    Case("logout", roles(LOGIN), method="post"),
    # Single sign-on: not configured in the world, so not there (portal/identity/tests sign in)
    Case("oidc-start", roles(404)),
    Case("oidc-callback", roles(404)),
    Case("item-detail", page(), args=own("item")),
    Case("item-detail", page(**NOT_FOUND), args=lambda w: [999999], variant="missing"),
    Case("stream-health", page(), args=lambda w: ["payments"]),
    Case("investment", page()),
    Case("scenario-list", page()),
    Case("scenario-new", page(), query={"stream": "payments"}),
    Case("scenario-new", page(**roles(GO, anonymous=LOGIN)), variant="no-subject"),
    Case("scenario-new", page(**NOT_FOUND), query={"stream": "nope"}, variant="missing"),
    Case(
        "scenario-new",
        only({"leader": GO, "director": GO, "owner": GO, "superuser": GO}),
        method="post",
        path=lambda w: f"{reverse('scenario-new')}?stream=payments&cap_stream={w['payments'].pk}&cap=2",
        data=lambda w: {"name": "Cap at 2"},
        effect=lambda w: Scenario.objects.filter(name="Cap at 2").exists(),
    ),
    Case("scenario-detail", page(), args=own("scenario")),
    Case(
        "scenario-delete",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=own("scenario"),
        effect=lambda w: not Scenario.objects.filter(pk=w["own"]["scenario"].pk).exists(),
    ),
    # Streams
    Case("streams:backlog", page(**roles(GO, anonymous=LOGIN))),
    Case("streams:stream-detail", page(), args=lambda w: ["payments"]),
    Case("streams:stream-detail", page(**NOT_FOUND), args=lambda w: ["nope"], variant="missing"),
    Case("streams:backlog-stream", page(), args=lambda w: ["payments"]),
    Case("streams:stream-flow-csv", page(), args=lambda w: ["payments"]),
    Case("streams:stream-cfd-csv", page(), args=lambda w: ["payments"]),
    Case("streams:delivery", page(), args=lambda w: ["payments"]),
    Case("streams:delivery", page(**NOT_FOUND), args=lambda w: ["nope"], variant="missing"),
    Case(
        "streams:item-move",
        only({"owner": 200, "director": 200, "superuser": 200}),
        method="post",
        args=own("item"),
        data=lambda w: {"state": state(w["payments"], "In progress").pk},
        headers=HTMX,
        variant="own",
    ),
    Case(
        "streams:item-move",
        only({"superuser": 200}),
        method="post",
        args=other("item"),
        data=lambda w: {"state": state(w["lending"], "In progress").pk},
        headers=HTMX,
        variant="other",
    ),
    Case("streams:maps", page()),
    Case("streams:stream-maps", page(), args=lambda w: ["payments"]),
    Case(
        "streams:stream-maps",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=lambda w: ["payments"],
        data=lambda w: {"name": "Workshop", "kind": "future", "as_of": "2026-03-10", "notes": ""},
        variant="create",
    ),
    Case("streams:map-detail", page(), args=slug_and("map")),
    Case("streams:map-detail", page(), args=slug_and("map", "other"), variant="other"),
    Case(
        "streams:block-add",
        only({"director": 200, "superuser": 200}),
        method="post",
        args=slug_and("map"),
        data=block_data,
        headers=HTMX,
        variant="own",
    ),
    Case(
        "streams:block-add",
        only({"superuser": 200}),
        method="post",
        args=slug_and("map", "other"),
        data=block_data,
        headers=HTMX,
        variant="other",
    ),
    Case("streams:block-edit", only({"director": 200, "superuser": 200}), args=block_args("own")),
    Case(
        "streams:block-edit",
        only({"director": 200, "superuser": 200}),
        method="post",
        args=block_args("own"),
        data=block_data,
        headers=HTMX,
        variant="post",
    ),
    Case(
        "streams:block-edit",
        only({"superuser": 200}),
        method="post",
        args=block_args("other"),
        data=block_data,
        headers=HTMX,
        variant="other",
    ),
    Case(
        "streams:block-move",
        only({"director": 200, "superuser": 200}),
        method="post",
        args=block_args("own"),
        data=lambda w: {"direction": "down"},
        headers=HTMX,
    ),
    Case(
        "streams:block-delete",
        only({"director": 200, "superuser": 200}),
        method="post",
        args=block_args("own"),
        headers=HTMX,
    ),
    Case(
        "streams:block-delete",
        only({"superuser": 200}),
        method="post",
        args=block_args("other"),
        headers=HTMX,
        variant="other",
    ),
    # Live connections: read by all who see the stream (never the token), changed by its director.
    Case("streams:connections", page(), args=lambda w: ["payments"]),
    Case(
        "streams:connections",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=lambda w: ["payments"],
        data=lambda w: {
            "tool": "azure_devops",
            "base_url": "http://127.0.0.1:9/org2",
            "token": "t",
            "project": "P",
            "rate": "5",
        },
        effect=lambda w: w["own"]["stream"].connections.count() == 2,
    ),
    Case("streams:connection", page(), args=slug_and("connection")),
    Case(
        "streams:connection",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=slug_and("connection"),
        data=lambda w: CONNECTION_FORM,
    ),
    Case(
        "streams:connection",
        only({"superuser": GO}),
        method="post",
        args=slug_and("connection", "other"),
        data=lambda w: CONNECTION_FORM,
        variant="other",
    ),
    Case(
        "streams:connection-test", only({"director": GO, "superuser": GO}), method="post", args=slug_and("connection")
    ),
    Case("streams:connection-mapping", only({"director": GO, "superuser": GO}), args=slug_and("connection")),
    Case(
        "streams:connection-mapping",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=slug_and("connection"),
    ),
    Case(
        "streams:connection-sync", only({"director": GO, "superuser": GO}), method="post", args=slug_and("connection")
    ),
    Case(
        "streams:connection-pause",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=slug_and("connection"),
        data=lambda w: {"paused": "1"},
    ),
    Case("streams:experiments", page(), args=lambda w: ["payments"]),
    Case(
        "streams:experiments",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=lambda w: ["payments"],
        data=lambda w: {
            "title": "WIP limit",
            "hypothesis": "If we limit WIP, flow time falls by 20%.",
            "change": "WIP limit of 5",
            "target_metric": "flow_time",
            "flow_type": "",
            "expected_direction": "decrease",
            "expected_size_percent": 20,
            "start_date": "2026-03-09",
            "review_date": "2026-03-30",
        },
        variant="create",
    ),
    Case("streams:experiment-detail", page(), args=slug_and("experiment")),
    # OKRs
    Case("okrs:objective-list", page()),
    Case("okrs:alignment", page()),
    Case("okrs:objective-create", only({"leader": 200, "director": 200, "owner": 200, "superuser": 200})),
    Case(
        "okrs:objective-create",
        only({"leader": 200, "director": GO, "owner": 200, "superuser": GO}),
        method="post",
        data=lambda w: {"title": "Faster refunds", "level": "stream", "period": "2026-Q4", "stream": w["payments"].pk},
        variant="stream",
    ),
    Case("okrs:objective-edit", only({"director": 200, "superuser": 200}), args=own("objective")),
    Case("okrs:objective-edit", only({"superuser": 200}), args=other("objective"), variant="other"),
    Case(
        "okrs:objective-edit",
        only({"leader": 200, "superuser": 200}),
        args=lambda w: [w["company"].pk],
        variant="company",
    ),
    Case("okrs:key-result-create", only({"director": 200, "superuser": 200}), args=own("objective")),
    Case("okrs:key-result-edit", only({"director": 200, "superuser": 200}), args=own("key_result")),
    Case("okrs:key-result-edit", only({"superuser": 200}), args=other("key_result"), variant="other"),
    Case(
        "okrs:check-in",
        only({"director": 200, "superuser": 200}),
        method="post",
        args=own("key_result"),
        data=lambda w: {"value": "5", "confidence": "0.6", "date": "2026-10-15"},
        headers=HTMX,
    ),
    Case(
        "okrs:check-in",
        only({"superuser": 200}),
        method="post",
        args=other("key_result"),
        data=lambda w: {"value": "5", "confidence": "0.6", "date": "2026-10-15"},
        headers=HTMX,
        variant="other",
    ),
    Case("okrs:key-result-detail", page(), args=own("key_result")),
    Case("okrs:key-result-item-search", page(), args=own("key_result"), query={"q": "work"}, headers=HTMX),
    Case(
        "okrs:key-result-link",
        only({"director": 200, "owner": 200, "superuser": 200}),
        method="post",
        args=own("key_result"),
        data=lambda w: {"item": w["own"]["item"].pk},
        headers=HTMX,
    ),
    Case(
        "okrs:key-result-link",
        only({"superuser": 200}),
        method="post",
        args=other("key_result"),
        data=lambda w: {"item": w["other"]["item"].pk},
        headers=HTMX,
        variant="other",
    ),
    Case(
        "okrs:key-result-unlink",
        only({"director": 200, "owner": 200, "superuser": 200}),
        method="post",
        args=lambda w: [w["own"]["key_result"].pk, w["linked"].pk],
        headers=HTMX,
    ),
    Case("okrs:item-outcomes", page(**roles(GO, anonymous=LOGIN)), args=own("item")),
    Case("okrs:item-key-result-search", page(), args=own("item"), query={"q": "KR"}, headers=HTMX),
    Case(
        "okrs:item-link",
        only({"director": 200, "owner": 200, "superuser": 200}),
        method="post",
        args=own("item"),
        data=lambda w: {"key_result": w["own"]["key_result"].pk},
        headers=HTMX,
    ),
    Case(
        "okrs:item-unlink",
        only({"director": 200, "owner": 200, "superuser": 200}),
        method="post",
        args=lambda w: [w["linked"].pk, w["own"]["key_result"].pk],
        headers=HTMX,
    ),
    # Readiness
    Case("readiness:queue", page()),
    Case(
        "readiness:decide",
        only({"operations": 200, "superuser": 200}),
        method="post",
        args=own("check"),
        data=lambda w: {f"check-{w['own']['check'].pk}-status": "met"},
        headers=HTMX,
    ),
    Case(
        "readiness:decide",
        only({"superuser": 200}),
        method="post",
        args=other("check"),
        data=lambda w: {f"check-{w['other']['check'].pk}-status": "met"},
        headers=HTMX,
        variant="other",
    ),
    # Ticked checks: refusals are said on the queue (a redirect), so the write tells who may.
    Case(
        "readiness:decide-many",
        roles(NOOP, anonymous=LOGIN) | {"operations": GO, "superuser": GO},
        method="post",
        data=lambda w: {"bulk-status": "met", "checks": [w["own"]["check"].pk]},
        effect=lambda w: ReadinessCheck.objects.get(pk=w["own"]["check"].pk).status == "met",
    ),
    Case("readiness:criteria", page()),
    Case("readiness:criterion-add", only({"operations": 200, "superuser": 200})),
    Case("readiness:criterion-edit", only({"operations": 200, "superuser": 200}), args=lambda w: [w["criterion"].pk]),
    Case(
        "readiness:criterion-edit", only({"superuser": 200}), args=lambda w: [w["other_criterion"].pk], variant="other"
    ),
    # Imports and webhooks
    Case("imports:list", page()),
    Case("imports:job", page(), args=own("job")),
    Case("imports:retry", only({"director": GO, "superuser": GO}), method="post", args=own("job")),
    Case("imports:retry", only({"superuser": GO}), method="post", args=other("job"), variant="other"),
    Case("hook-jira", roles(403), method="post", data=lambda w: JIRA_BODY),
    Case("hook-github", roles(403), method="post", data=lambda w: GITHUB_BODY),
    # Signed: the hook reads the event, whoever's session comes along (an issue never imported).
    Case(
        "hook-jira",
        roles(202),
        method="post",
        data=lambda w: SIGNED_JIRA_BODY,
        headers=lambda body: hook_headers(body, "X-Hub-Signature"),
        variant="signed",
    ),
    Case(
        "hook-github",
        roles(202),
        method="post",
        data=lambda w: GITHUB_BODY,
        headers=lambda body: hook_headers(body, "X-Hub-Signature-256") | {"X-GitHub-Event": "issues"},
        variant="signed",
    ),
    # Notifications: each person's own; the unsubscribe link works without logging in
    Case("notifications:inbox", page()),
    Case("notifications:read", roles(GO, anonymous=LOGIN), method="post", data=lambda w: {}),
    Case("notifications:preferences", page()),
    Case(
        "notifications:preferences",
        roles(GO, anonymous=LOGIN),
        method="post",
        data=lambda w: {"aging-channel": "portal", "aging-frequency": "weekly"},
        variant="save",
    ),
    Case("notifications:unsubscribe", roles(200), args=lambda w: [unsubscribe_token(Person.objects.first(), "aging")]),
    Case(
        "notifications:unsubscribe",
        roles(200),
        method="post",
        csrf=False,
        args=lambda w: [unsubscribe_token(Person.objects.first(), "aging")],
        variant="one-click",
    ),
    Case("notifications:unsubscribe", roles(400), args=lambda w: ["forged:token"], variant="forged"),
    # API tokens
    Case("api-tokens", page()),
    Case(
        "api-tokens",
        page(**roles(GO, anonymous=LOGIN)),
        method="post",
        data=lambda w: {"name": "mine"},
        variant="create",
    ),
    Case("api-token-revoke", only({"owner": GO}, denied=404), method="post", args=lambda w: [w["token"].pk]),
    # API: the documents, the metrics, every resource's list, row and history, and the writes
    Case("api:api-root", api()),
    # The schema and its docs describe the API, not the data: public, like the login page.
    # Generating the schema takes a while and does not depend on who asks: three roles ask.
    Case("api:schema", {"anonymous": 200, "viewer": 200, "superuser": 200}),
    Case("api:docs", roles(200)),
    Case("api:redoc", roles(200)),
    Case("api:metrics-flow", api(), query={"stream": "payments"}),
    Case("api:metrics-flow-items", api(), query={"stream": "payments"}),
    Case("api:metrics-alignment", api()),
    Case("api:metrics-readiness", api()),
    Case("api:metrics-forecast", api(), query={"stream": "payments", "items": 5}),
    Case("api:metrics-delivery", api()),
    Case("api:metrics-delivery", api(**NOT_FOUND), query={"stream": "nope"}, variant="missing"),
    Case("api:metrics-investment", api()),
    *[
        Case(f"api:{name}-{kind}", api(), args=None if kind == "list" else row)
        for name, row in [
            ("discipline", lambda w: [w["discipline"].pk]),
            ("person", lambda w: [w["users"]["owner"].person.pk]),
            ("team", lambda w: [w["checkout"].pk]),
            ("membership", lambda w: [w["membership"].pk]),
            ("stream", lambda w: [w["payments"].pk]),
            ("target-mix", own("mix")),
            ("leadership-assignment", lambda w: [w["assignment"].pk]),
            ("workflow-state", lambda w: [state(w["payments"], "Backlog").pk]),
            ("item", own("item")),
            ("transition", own("transition")),
            ("blocked-period", own("blocked")),
            ("dependency", own("dependency")),
            ("readiness-criterion", lambda w: [w["criterion"].pk]),
            ("readiness-check", own("check")),
            ("map", own("map")),
            ("process-block", own("block")),
            ("experiment", own("experiment")),
            ("objective", own("objective")),
            ("key-result", own("key_result")),
            ("check-in", own("checkin")),
            ("deployment", own("deployment")),
            ("incident", own("incident")),
            ("connection", own("connection")),
        ]
        for kind in ("list", "detail", "history")
    ],
    Case("api:sync-run-list", api()),
    Case("api:sync-run-detail", api(), args=own("sync_run")),
    *[
        Case(
            f"api:{name}-list",
            api_only({"director": 201, "owner": 201, "superuser": 201} if stream == "payments" else {"superuser": 201}),
            method="post",
            data=lambda w, body=body, stream=stream: {"stream": stream, **body},
            json=True,
            variant=f"create-{stream}",
        )
        for name, body in [
            (
                "deployment",
                {"service": "api", "started_at": "2026-11-02T09:00:00Z", "finished_at": "2026-11-02T09:10:00Z"},
            ),
            ("incident", {"title": "Down", "opened_at": "2026-11-02T09:00:00Z"}),
        ]
        for stream in ("payments", "lending")
    ],
    Case("api:key-result-link-list", api()),
    Case("api:key-result-link-detail", api(**NOT_FOUND), args=lambda w: [999999]),
    Case(
        "api:item-list",
        api_only({"director": 201, "owner": 201, "superuser": 201}),
        method="post",
        data=lambda w: {"stream": "payments", "title": "Refunds", "flow_type": "feature"},
        json=True,
        variant="create",
    ),
    Case(
        "api:item-list",
        api_only({"superuser": 201}),
        method="post",
        data=lambda w: {"stream": "lending", "title": "Refunds", "flow_type": "feature"},
        json=True,
        variant="create-other",
    ),
    Case("api:item-releasable", api(), args=own("item")),
    Case(
        "api:item-detail",
        api_only({"director": 200, "owner": 200, "superuser": 200}),
        method="patch",
        args=own("item"),
        data=lambda w: {"title": "Renamed"},
        json=True,
        variant="patch",
    ),
    Case(
        "api:item-detail",
        api_only({"superuser": 200}),
        method="patch",
        args=other("item"),
        data=lambda w: {"title": "Renamed"},
        json=True,
        variant="patch-other",
    ),
    Case(
        "api:item-transition",
        api_only({"director": 201, "owner": 201, "superuser": 201}),
        method="post",
        args=own("item"),
        data=lambda w: {"state": state(w["payments"], "In progress").pk},
        json=True,
    ),
    Case(
        "api:item-transition",
        api_only({"superuser": 201}),
        method="post",
        args=other("item"),
        data=lambda w: {"state": state(w["lending"], "In progress").pk},
        json=True,
        variant="other",
    ),
    Case(
        "api:readiness-check-decide",
        api_only({"operations": 200, "superuser": 200}),
        method="post",
        args=own("check"),
        data=lambda w: {"status": "met"},
        json=True,
    ),
    Case(
        "api:readiness-check-decide",
        api_only({"superuser": 200}),
        method="post",
        args=other("check"),
        data=lambda w: {"status": "met"},
        json=True,
        variant="other",
    ),
    Case(
        "api:key-result-link",
        api_only({"director": 201, "owner": 201, "superuser": 201}),
        method="post",
        args=own("key_result"),
        data=lambda w: {"item": w["own"]["item"].pk},
        json=True,
    ),
    Case(
        "api:key-result-unlink",
        api_only({"director": 204, "owner": 204, "superuser": 204}),
        method="delete",
        args=lambda w: [w["own"]["key_result"].pk, w["linked"].pk],
    ),
    Case(
        "api:check-in-list",
        api_only({"director": 201, "superuser": 201}),
        method="post",
        data=lambda w: {
            "key_result": w["own"]["key_result"].pk,
            "value": "5",
            "confidence": "0.5",
            "date": "2026-10-15",
        },
        json=True,
        variant="create",
    ),
    Case(
        "api:check-in-list",
        api_only({"superuser": 201}),
        method="post",
        data=lambda w: {
            "key_result": w["other"]["key_result"].pk,
            "value": "5",
            "confidence": "0.5",
            "date": "2026-10-15",
        },
        json=True,
        variant="create-other",
    ),
]

# --- writes the first matrix never sent: every POST a page accepts ------------------------------


def objective_data(w, which="own", **changes):
    stream = w[which]["stream"]
    return {
        "title": f"{stream.name} grows faster",
        "level": "stream",
        "period": "2026-Q4",
        "stream": stream.pk,
    } | changes


def key_result_data(w):
    return {
        "title": "Refund time",
        "kind": "outcome",
        "start_value": "0",
        "target_value": "5",
        "current_value": "1",
    } | {
        "weight": "1",
        "order": "1",
    }


def criterion_data(team_key):
    return lambda w: {
        "name": "Runbook written",
        "owner_team": (w["desk"] if team_key == "desk" else w["other_criterion"].owner_team).pk,
        "all_streams": "on",
        "flow_types": ["feature"],
        "active": "on",
    }


def csv_upload(stream):
    return lambda w: {
        "source": "csv",
        "stream": stream,
        "states": SimpleUploadedFile("states.csv", b"name,category,order\nTodo,backlog,1\n", "text/csv"),
        "items": SimpleUploadedFile("items.csv", b"key,title,type,created_at\nK-1,Refunds,feature,2026-01-05\n"),
        "transitions": SimpleUploadedFile("transitions.csv", b"key,to_state,at\n", "text/csv"),
    }


def mapping_job(which):
    """A scanned job of `which` stream, waiting for its mapping."""
    return lambda w: [w[which]["mapping_job"].pk]


def proposal(stream):
    return lambda w: {
        "propose-stream": w[stream].pk,
        "propose-title": "Faster refunds",
        "propose-flow_type": "feature",
        "propose-description": "",
    }


PAGE_WRITES = [
    Case(
        "readiness:queue",
        only({"operations": GO, "superuser": GO}),
        method="post",
        path=lambda w: reverse("readiness:queue") + "?team=desk",
        data=proposal("payments"),
        effect=exists(BacklogItem, title="Faster refunds", stream=lambda w: w["payments"]),
        variant="propose",
    ),
    # Proposals are the readiness team's way into any stream's backlog, by design.
    Case(
        "readiness:queue",
        only({"operations": GO, "superuser": GO}),
        method="post",
        path=lambda w: reverse("readiness:queue") + "?team=desk",
        data=proposal("lending"),
        effect=exists(BacklogItem, title="Faster refunds", stream=lambda w: w["lending"]),
        variant="propose-other",
    ),
    Case(
        "streams:map-detail",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=slug_and("map"),
        data=lambda w: {"name": "Today, redrawn", "kind": "current", "as_of": "2026-03-01", "notes": ""},
        effect=exists(ValueStreamMap, name="Today, redrawn"),
        variant="edit",
    ),
    Case(
        "streams:map-detail",
        only({"superuser": GO}),
        method="post",
        args=slug_and("map", "other"),
        data=lambda w: {"name": "Today, redrawn", "kind": "current", "as_of": "2026-03-01", "notes": ""},
        effect=exists(ValueStreamMap, name="Today, redrawn"),
        variant="edit-other",
    ),
    Case(
        "streams:map-detail",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=slug_and("map"),
        data=lambda w: {"delete": "map"},
        effect=gone("map"),
        variant="delete",
    ),
    Case(
        "streams:map-detail",
        only({"superuser": GO}),
        method="post",
        args=slug_and("map", "other"),
        data=lambda w: {"delete": "map"},
        effect=gone("map", "other"),
        variant="delete-other",
    ),
    Case("streams:block-edit", only({"superuser": 200}), args=block_args("other"), variant="other"),
    Case(
        "okrs:objective-edit",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=own("objective"),
        data=objective_data,
        effect=exists(Objective, title="Payments grows faster"),
        variant="post",
    ),
    Case(
        "okrs:objective-edit",
        only({"superuser": GO}),
        method="post",
        args=other("objective"),
        data=lambda w: objective_data(w, "other"),
        effect=exists(Objective, title="Lending grows faster"),
        variant="post-other",
    ),
    # Moving one's own objective into another stream: the form refuses it (200, nothing saved).
    Case(
        "okrs:objective-edit",
        only({"director": NOOP, "superuser": GO}),
        method="post",
        args=own("objective"),
        data=lambda w: objective_data(w, stream=w["lending"].pk),
        effect=exists(Objective, title="Payments grows faster", stream=lambda w: w["lending"]),
        variant="post-into-other",
    ),
    Case(
        "okrs:objective-edit",
        only({"leader": GO, "superuser": GO}),
        method="post",
        args=lambda w: [w["company"].pk],
        data=lambda w: {"title": "Grow more", "level": "company", "period": "2026-Q4"},
        effect=exists(Objective, title="Grow more"),
        variant="post-company",
    ),
    Case(
        "okrs:objective-create",
        only({"leader": NOOP, "director": NOOP, "owner": NOOP, "superuser": GO}),
        method="post",
        data=lambda w: objective_data(w, "other"),
        effect=exists(Objective, title="Lending grows faster"),
        variant="stream-other",
    ),
    Case(
        "okrs:key-result-create",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=own("objective"),
        data=key_result_data,
        effect=exists(KeyResult, title="Refund time"),
        variant="post",
    ),
    Case("okrs:key-result-create", only({"superuser": 200}), args=other("objective"), variant="other"),
    Case(
        "okrs:key-result-create",
        only({"superuser": GO}),
        method="post",
        args=other("objective"),
        data=key_result_data,
        effect=exists(KeyResult, title="Refund time"),
        variant="post-other",
    ),
    Case(
        "okrs:key-result-edit",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=own("key_result"),
        data=key_result_data,
        effect=exists(KeyResult, title="Refund time"),
        variant="post",
    ),
    Case(
        "okrs:key-result-edit",
        only({"superuser": GO}),
        method="post",
        args=other("key_result"),
        data=key_result_data,
        effect=exists(KeyResult, title="Refund time"),
        variant="post-other",
    ),
    Case("okrs:check-in", only({"director": 200, "superuser": 200}), args=own("key_result"), variant="form"),
    Case(
        "readiness:criterion-add",
        only({"operations": GO, "superuser": GO}),
        method="post",
        data=criterion_data("desk"),
        effect=exists(ReadinessCriterion, name="Runbook written"),
        variant="post",
    ),
    # Naming another team as the owner: that team is not offered (a form error, nothing saved).
    Case(
        "readiness:criterion-add",
        only({"operations": 422, "superuser": GO}),
        method="post",
        data=criterion_data("other"),
        effect=exists(ReadinessCriterion, name="Runbook written"),
        variant="post-other-team",
    ),
    Case(
        "readiness:criterion-edit",
        only({"operations": GO, "superuser": GO}),
        method="post",
        args=lambda w: [w["criterion"].pk],
        data=criterion_data("desk"),
        effect=exists(ReadinessCriterion, name="Runbook written"),
        variant="post",
    ),
    Case(
        "readiness:criterion-edit",
        only({"superuser": GO}),
        method="post",
        args=lambda w: [w["other_criterion"].pk],
        data=criterion_data("other"),
        effect=exists(ReadinessCriterion, name="Runbook written"),
        variant="post-other",
    ),
    # Importing writes a stream's workflow and backlog: its director's (the refusal is a form error).
    Case(
        "imports:list",
        only({"director": GO, "superuser": GO}, denied=422),
        method="post",
        data=csv_upload("payments"),
        effect=exists(ImportJob, stream_slug="payments", status="queued"),
        variant="upload",
    ),
    Case(
        "imports:list",
        only({"superuser": GO}, denied=422),
        method="post",
        data=csv_upload("lending"),
        effect=exists(ImportJob, stream_slug="lending", status="queued"),
        variant="upload-other",
    ),
    Case("imports:job", page(), args=mapping_job("own"), variant="mapping"),
    Case(
        "imports:job",
        only({"director": GO, "superuser": GO}),
        method="post",
        args=mapping_job("own"),
        data=lambda w: {"status_0_state": "Backlog", "status_0_category": "backlog"},
        effect=exists(ImportJob, stream=lambda w: w["payments"], status="queued"),
        variant="map",
    ),
    Case(
        "imports:job",
        only({"superuser": GO}),
        method="post",
        args=mapping_job("other"),
        data=lambda w: {"status_0_state": "Backlog", "status_0_category": "backlog"},
        effect=exists(ImportJob, stream=lambda w: w["lending"], status="queued"),
        variant="map-other",
    ),
    # A signed-in user is sent on; a visitor signs in.
    Case(
        "login",
        roles(GO),
        method="post",
        data=lambda w: {"username": "olivia", "password": "pw-for-tests-1"},
        variant="sign-in",
    ),
    # LoginView answers PUT as POST; a form-encoded PUT body is not parsed, so the form is empty.
    Case("login", roles(GO, anonymous=200), method="put", data=lambda w: {"username": "olivia"}, variant="put"),
]


# --- cross-stream writes that name the caller's own team, moves, and the fields tools own --------

ITEM = "api:item-detail"
MAY_CHANGE_OWN = {"director": 200, "owner": 200, "superuser": 200}

API_WRITES = [
    # The stream decides, never the team an item names.
    Case(
        "api:item-list",
        api_only({"superuser": 201}),
        method="post",
        data=lambda w: {"stream": "lending", "title": "Refunds", "flow_type": "feature", "team": "checkout"},
        json=True,
        effect=exists(BacklogItem, title="Refunds", stream=lambda w: w["lending"]),
        variant="create-other-own-team",
    ),
    Case(
        "api:item-list",
        api_only({"director": 201, "owner": 201, "superuser": 201}),
        method="post",
        data=lambda w: {"stream": "payments", "title": "Refunds", "flow_type": "feature", "team": "desk"},
        json=True,
        effect=exists(BacklogItem, title="Refunds", stream=lambda w: w["payments"]),
        variant="create-own-other-team",
    ),
    Case(
        ITEM,
        api_only({"superuser": 200}),
        method="patch",
        args=other("item"),
        data=lambda w: {"team": "checkout"},
        json=True,
        effect=exists(BacklogItem, pk=lambda w: w["other"]["item"].pk, team=lambda w: w["checkout"]),
        variant="patch-other-own-team",
    ),
    # Moving needs the right on both streams.
    Case(
        ITEM,
        api_only({"superuser": 200}),
        method="patch",
        args=own("item"),
        data=lambda w: {"stream": "lending"},
        json=True,
        effect=exists(BacklogItem, pk=lambda w: w["own"]["item"].pk, stream=lambda w: w["lending"]),
        variant="move-into-other",
    ),
    Case(
        ITEM,
        api_only({"superuser": 200}),
        method="patch",
        args=other("item"),
        data=lambda w: {"stream": "payments"},
        json=True,
        effect=exists(BacklogItem, pk=lambda w: w["other"]["item"].pk, stream=lambda w: w["payments"]),
        variant="move-from-other",
    ),
    Case(
        ITEM,
        api_only({"superuser": 200}),
        method="patch",
        args=other("item"),
        data=lambda w: {"stream": "payments", "team": "checkout"},
        json=True,
        effect=exists(BacklogItem, pk=lambda w: w["other"]["item"].pk, stream=lambda w: w["payments"]),
        variant="move-from-other-own-team",
    ),
    Case(
        ITEM,
        api_only(MAY_CHANGE_OWN),
        method="patch",
        args=own("item"),
        data=lambda w: {"flow_type": "defect"},
        json=True,
        effect=exists(BacklogItem, pk=lambda w: w["own"]["item"].pk, flow_type="defect"),
        variant="retype",
    ),
    Case(
        ITEM,
        api_only({"superuser": 200}),
        method="patch",
        args=other("item"),
        data=lambda w: {"flow_type": "defect"},
        json=True,
        effect=exists(BacklogItem, pk=lambda w: w["other"]["item"].pk, flow_type="defect"),
        variant="retype-other",
    ),
    # Finished work retyped to a type whose criteria it never met: the release gate holds.
    Case(
        ITEM,
        api_only({"director": 409, "owner": 409, "superuser": 409}),
        method="patch",
        args=lambda w: [w["done"].pk],
        data=lambda w: {"flow_type": "defect"},
        json=True,
        effect=exists(BacklogItem, pk=lambda w: w["done"].pk, flow_type="defect"),
        mentions="release_gate",
        variant="retype-finished",
    ),
    # Only imports, connectors and webhooks set `source` and `external_key`: 400 naming the
    # field, for everyone who may change the item (the others are refused first), superuser too.
    *[
        Case(
            ITEM,
            api_only({"director": 400, "owner": 400, "superuser": 400}),
            method="patch",
            args=own("item"),
            data=lambda w, body=body: body,
            json=True,
            effect=exists(BacklogItem, pk=lambda w: w["own"]["item"].pk, **body),
            mentions=next(iter(body)),
            variant=f"patch-{next(iter(body))}-{next(iter(body.values())) or 'cleared'}",
        )
        # The item was imported as OWN-1: clearing its key is sending the field too.
        for body in ({"source": "jira"}, {"external_key": "PAY-99"}, {"external_key": ""})
    ],
    Case(
        ITEM,
        api_only({"superuser": 400}),
        method="patch",
        args=other("item"),
        data=lambda w: {"external_key": "LEN-99"},
        json=True,
        mentions="external_key",
        variant="patch-external_key-other",
    ),
    # A create is validated before it is authorised: everyone signed in gets the 400.
    *[
        Case(
            "api:item-list",
            roles(400, anonymous=401),
            method="post",
            data=lambda w, body=body: {"stream": "payments", "title": "Refunds", "flow_type": "feature", **body},
            json=True,
            effect=exists(BacklogItem, title="Refunds"),
            mentions=next(iter(body)),
            variant=f"create-{next(iter(body))}",
        )
        for body in ({"source": "jira"}, {"external_key": "PAY-99"})
    ],
    # A script with an API key sends no CSRF token: the key is not a cookie a page can replay.
    Case(
        "api:item-list",
        api_only({"director": 201, "owner": 201, "superuser": 201}),
        method="post",
        data=lambda w: {"stream": "payments", "title": "Refunds", "flow_type": "feature"},
        json=True,
        token_auth=True,
        csrf=False,
        variant="create-by-token",
    ),
    Case(
        "api:item-list",
        api_only({"superuser": 201}),
        method="post",
        data=lambda w: {"stream": "lending", "title": "Refunds", "flow_type": "feature", "team": "checkout"},
        json=True,
        token_auth=True,
        csrf=False,
        variant="create-other-by-token",
    ),
    Case(
        ITEM,
        api_only({"superuser": 200}),
        method="patch",
        args=other("item"),
        data=lambda w: {"team": "checkout"},
        json=True,
        token_auth=True,
        csrf=False,
        variant="patch-other-by-token",
    ),
    Case("api:item-list", api(), token_auth=True, variant="by-token"),
]


# --- generated cases: format suffixes, refused methods, the admin for those who are not staff ----

FORMAT_ROLES = ("anonymous", "viewer", "superuser")


def _format_names() -> set[str]:
    return {p.name for p in url_patterns() if p.name and ("(?P<format>" in p.route or "<drf_format_suffix" in p.route)}


def _with_format(case: Case) -> Case:
    def path(w):
        match = resolve(case.url(w).split("?")[0])
        if case.name == "api:api-root":
            return reverse(case.name) + ".json"
        return reverse(case.name, kwargs=match.kwargs | {"format": "json"})

    expect = case.expect if case.method != "get" else {role: case.expect[role] for role in FORMAT_ROLES}
    return replace(case, path=path, expect=expect, variant=f"{case.variant}.json".lstrip("."))


def format_cases(cases: list[Case]) -> list[Case]:
    """The router's `.json` twin of each API read (three roles: the view is the same), and of one
    write per route and method (every role)."""
    names, seen, twins = _format_names(), set(), []
    for case in cases:
        key = (case.name, case.method)
        if (
            case.name in names
            and case.path is None
            and not case.token_auth
            and (case.method == "get" or key not in seen)
        ):
            seen.add(key)
            twins.append(_with_format(case))
    return twins


def refused_method_cases(cases: list[Case], w) -> list[Case]:
    """For every pattern outside the admin (and the API's format suffixes), each method its view
    does not declare, sent where one of its cases goes: 405. (A visitor meets the login first.)"""
    first = {}
    for case in cases:
        first.setdefault(route_of(case.url(w)), case)
    refused = []
    for pattern in url_patterns():
        # A format suffix reaches the same dispatch as the route without it.
        if pattern.admin or pattern.route not in first or "(?P<format>" in pattern.route:
            continue
        case = first[pattern.route]
        url = case.url(w)
        for method in sorted(set(METHODS) - declared_methods(pattern.callback)):
            # The API's routes share one dispatch: the superuser alone asks there.
            expect = {"superuser": 405} if url.startswith("/api/") else {"viewer": 405, "superuser": 405}
            api_call = url.startswith("/api/v1/")
            if pattern.name == "login":  # LoginView sends a signed-in user on before it looks at the method
                expect |= {"viewer": GO, "superuser": GO}
            refused.append(
                Case(
                    case.name,
                    expect,
                    method=method,
                    path=lambda w, url=url: url,
                    json=api_call,
                    twin=False,
                    variant=f"{case.variant}!{method}",
                )
            )
    return refused


def admin_outsider_cases(w) -> list[Case]:
    """Every admin pattern for a visitor (every method) and a signed-in user who is not staff
    (GET): neither reaches an admin view."""
    # The site's own pages answer a visitor with the admin's login; a model's pages (wrapped once
    # more by the ModelAdmin) meet the portal's login first.
    urls = [(url, LOGIN) for model in admin_models() for url in admin_urls(w, model).values()]
    urls += [(url, ADMIN_LOGIN) for name, url in admin_site_urls(w).items() if name not in ("login", "logout")]
    # Every method meets the same gate: the visitor sends them all, the user who is not staff GET.
    cases = [
        Case(
            "admin",
            {"anonymous": visitor} | ({"viewer": ADMIN_LOGIN} if method == "get" else {}),
            method=method,
            path=lambda w, url=url: url,
            twin=False,
            variant=f"{url}!{method}",
        )
        for url, visitor in urls
        for method in METHODS
    ]
    # The admin's sign-in page is open to all; for a signed-in user who is not staff it says so.
    login, logout = reverse("admin:login"), reverse("admin:logout")
    cases += [
        Case("admin:login", {"anonymous": 200, "viewer": 200}, path=lambda w: login, variant="outsider"),
        Case(
            "admin:login",
            {"anonymous": 200, "viewer": 200},
            method="post",
            path=lambda w: login,
            data=lambda w: {"username": "vic", "password": "pw-for-tests-1"},
            variant="outsider-sign-in",
        ),
        Case("admin:login", {"anonymous": 200, "viewer": 200}, method="put", path=lambda w: login, variant="put"),
        # Signing out of the admin sends a user who is not staff to the admin's index (its login).
        Case("admin:logout", {"anonymous": ADMIN_LOGIN, "viewer": GO}, method="post", path=lambda w: logout),
    ]
    return cases


BASE_CASES = [*CASES, *PAGE_WRITES, *API_WRITES]
FORMAT_CASES = format_cases(BASE_CASES)


def all_cases(w) -> list[Case]:
    """This file's cases, with the ones generated from the world."""
    cases = [*BASE_CASES, *FORMAT_CASES]
    return [*cases, *refused_method_cases(cases, w), *admin_outsider_cases(w)]


# --- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_the_outcome_the_matrix_names(world, role):
    wrong = check_role(all_cases(world), world, role)
    assert not wrong, f"{len(wrong)} cells differ:\n" + "\n".join(wrong)


def test_a_page_post_needs_the_token_its_form_carries():
    """The token-less twins above send the cookie without the token; here a browser's round trip:
    the form's hidden token is accepted, a forged post (the cookie alone) is refused."""
    from teams.tests.factories import UserFactory

    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(username="fay"))
    form = client.get(reverse("api-tokens")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)

    assert client.post(reverse("api-tokens"), {"name": "forged"}).status_code == 403
    assert client.post(reverse("api-tokens"), {"name": "mine", "csrfmiddlewaretoken": token}).status_code == 302


def test_a_session_api_write_needs_the_csrf_token(settings):
    w = build_world(settings)
    client = Client(enforce_csrf_checks=True)
    client.force_login(w["users"]["owner"])
    body = {"stream": "payments", "title": "Refunds", "flow_type": "feature"}

    refused = client.post(reverse("api:item-list"), body, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not BacklogItem.objects.filter(title="Refunds").exists()

    client.cookies["csrftoken"] = CSRF_SECRET
    accepted = client.post(
        reverse("api:item-list"), body, content_type="application/json", headers={"X-CSRFToken": CSRF_SECRET}
    )
    assert accepted.status_code == 201


def test_every_url_pattern_and_method_has_a_case(settings):
    """Every URL pattern (the admin's included) is sent by some case, with every method its view
    accepts: declared by the view, or for the admin's views (which declare none) asked."""
    from .test_access_matrix_admin import admin_cases

    w = build_world(settings, staff=True)
    page_cases, staff_cases = all_cases(w), admin_cases()
    requests = [
        (route_of(url), method, case) for case in [*page_cases, *staff_cases] for url, method in case.requests(w)
    ]
    sent = {(route, method) for route, method, _ in requests}
    triples = {(route, role, method) for route, method, case in requests for role in case.expect}
    probed = probe_admin_methods(w)
    patterns = url_patterns()
    accepted = {p.route: declared_methods(p.callback) or probed.get(p.route, set(METHODS)) for p in patterns}
    pairs = {(p.route, method) for p in patterns for method in accepted[p.route]}
    covered = {route for route, _ in sent}
    missing = [p.name or p.route for p in patterns if p.route not in covered]
    unsent = sorted(f"{route} {method.upper()}" for route, method in pairs - sent)
    admin = [p for p in patterns if p.admin]

    print(
        f"\nURL patterns covered: {sum(p.route in covered for p in patterns)}/{len(patterns)}"
        f" (admin {sum(p.route in covered for p in admin)}/{len(admin)});"
        f" (pattern, accepted method) pairs sent: {len(pairs & sent)}/{len(pairs)}"
        f"\ncases: {len(page_cases) + len(staff_cases)} ({len(page_cases)} pages, API, admin for outsiders;"
        f" {len(staff_cases)} admin for staff), each write not refused also sent without its CSRF token"
        f"\nroles: {len(ROLES)} ({', '.join(ROLES)}); methods: {len(METHODS)} ({', '.join(m.upper() for m in METHODS)})"
        f"\n(pattern, role, method) triples: {len(triples)}"
    )
    assert not missing, f"URL patterns no case sends: {missing}"
    assert not unsent, f"Methods a view accepts that no case sends: {unsent}"
