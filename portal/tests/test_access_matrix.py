"""Every URL name × every role, with the exact outcome each must get.

Roles: an anonymous visitor, a viewer, a leader, the product director of Payments, a product
owner in the team that serves Payments, and an operations member of the team that owns the
readiness criterion. Each request runs in a savepoint that is rolled back, so every cell
starts from the same world. A case is a URL name with its own objects ("own") or another
stream's ("other"), so object scoping is checked too, not only roles.

Outcomes: an HTTP status, or LOGIN for a redirect to the login page, or GO for any other
redirect (a successful form post). `test_every_url_name_is_in_the_matrix` fails when a URL
is added without its row here.
"""

from dataclasses import dataclass, field
import datetime as dt
import hashlib
import hmac
import json

from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
import pytest

from okrs.models import CheckIn, KeyResult, Objective
from portal.tokens import token_create
from streams.models import (
    BlockedPeriod,
    Dependency,
    Deployment,
    ImportJob,
    ImprovementExperiment,
    Incident,
    LeadershipAssignment,
    ProcessBlock,
    ReadinessCheck,
    TargetMix,
    ValueStreamMap,
)
from streams.services import item_create
from streams.tests.factories import (
    LeadershipAssignmentFactory,
    ReadinessCriterionFactory,
    ValueStreamFactory,
    state,
)
from teams import access
from teams.models import Membership, Team
from teams.tests.factories import DisciplineFactory, MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN, GO = "login", "go"
ROLES = ("anonymous", "viewer", "leader", "director", "owner", "operations")
HTMX = {"HX-Request": "true"}
HOOK_SECRET = "matrix-secret"


@dataclass(frozen=True)
class Case:
    name: str  # URL name
    expect: dict  # role → outcome
    method: str = "get"
    args: object = None  # world → URL args
    data: object = None  # world → body
    variant: str = ""
    query: dict = field(default_factory=dict)
    json: bool = False
    headers: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name}[{self.variant}]" if self.variant else self.name


def roles(default, **overrides) -> dict:
    return {role: overrides.get(role, default) for role in ROLES}


def page(**overrides) -> dict:
    """A page every logged-in user reads."""
    return roles(200, **({"anonymous": LOGIN} | overrides))


def api(**overrides) -> dict:
    """An API read: anonymous scripts get 401 in JSON, never the login page."""
    return roles(200, **({"anonymous": 401} | overrides))


NOT_FOUND = {role: 404 for role in ROLES[1:]}


def only(allowed: dict, denied=403, anonymous=LOGIN) -> dict:
    """A write only the roles in `allowed` may make; the others get `denied`."""
    return {role: allowed.get(role, anonymous if role == "anonymous" else denied) for role in ROLES}


def api_only(allowed: dict) -> dict:
    return only(allowed, anonymous=401)


# --- the world ------------------------------------------------------------------------------------


@pytest.fixture
def world(settings):
    settings.JIRA_WEBHOOK_SECRET = settings.GITHUB_WEBHOOK_SECRET = HOOK_SECRET
    from django.contrib.auth.models import Group

    for role in access.ROLES:
        Group.objects.get_or_create(name=role)
    checkout = TeamFactory(name="Checkout", slug="checkout")
    desk = TeamFactory(name="Service desk", slug="desk", type=Team.Type.BUSINESS_OPERATIONS)
    payments = ValueStreamFactory(name="Payments", slug="payments")
    payments.teams.add(checkout)
    lending = ValueStreamFactory(name="Lending", slug="lending")
    users = {
        "viewer": UserFactory(username="vic", roles=[access.VIEWER]),
        "leader": UserFactory(username="lea", roles=[access.LEADER]),
    }
    director = PersonFactory(name="Dan", user=UserFactory(username="dan", roles=[access.PRODUCT_DIRECTOR]))
    LeadershipAssignmentFactory(person=director, stream=payments)
    owner = PersonFactory(name="Olivia", user=UserFactory(username="olivia", roles=[access.PRODUCT_OWNER]))
    MembershipFactory(person=owner, team=checkout)
    clerk = PersonFactory(name="Omar", user=UserFactory(username="omar", roles=[access.OPERATIONS]))
    MembershipFactory(person=clerk, team=desk)
    users |= {"director": director.user, "owner": owner.user, "operations": clerk.user}
    criterion = ReadinessCriterionFactory(name="Support trained", owner_team=desk, flow_types=["feature"])
    other_criterion = ReadinessCriterionFactory(name="Legal review", flow_types=["feature"])

    w = {"users": users, "payments": payments, "lending": lending, "checkout": checkout, "desk": desk}
    for key, stream in (("own", payments), ("other", lending)):
        item = item_create(
            stream_id=stream.pk,
            title=f"{stream.name} work",
            flow_type="feature",
            external_key=f"{key.upper()}-1",
            via="import",
        )
        vsm = ValueStreamMap.objects.create(stream=stream, name="Today", kind="current", as_of=dt.date(2026, 3, 1))
        block = ProcessBlock.objects.create(
            map=vsm, order=1, activity="Build", process_time_hours=2, lead_time_hours=8, percent_complete_accurate=90
        )
        experiment = ImprovementExperiment.objects.create(
            stream=stream,
            title="Pairing",
            hypothesis="If we pair, flow time falls.",
            change="Pair",
            start_date=dt.date(2026, 3, 9),
            review_date=dt.date(2026, 3, 30),
        )
        objective = Objective.objects.create(
            title=f"{stream.name} grows", level="stream", stream=stream, period="2026-Q4"
        )
        key_result = KeyResult.objects.create(objective=objective, title=f"{stream.name} KR", target_value=10)
        w[key] = {
            "item": item,
            "map": vsm,
            "block": block,
            "experiment": experiment,
            "objective": objective,
            "key_result": key_result,
            "check": ReadinessCheck.objects.get(item=item, criterion=criterion if key == "own" else other_criterion),
            "job": ImportJob.objects.create(source="csv", stream=stream, created_by=users["director"], status="failed"),
            "checkin": CheckIn.objects.create(
                key_result=key_result, value=1, confidence=0.5, date=dt.date(2026, 10, 2)
            ),
            "transition": item.transitions.get(),
            "blocked": BlockedPeriod.objects.create(item=item, started_at=timezone.now()),
            "mix": TargetMix.objects.create(stream=stream, period="2026-Q4", flow_type="feature", percent=50),
        }
        w[key]["deployment"] = Deployment.objects.create(
            stream=stream, service="api", started_at=timezone.now(), finished_at=timezone.now()
        )
        w[key]["incident"] = Incident.objects.create(stream=stream, title="Down", opened_at=timezone.now())
    w["own"]["dependency"] = Dependency.objects.create(
        item=w["own"]["item"], blocked_by=w["other"]["item"], created_at=timezone.now()
    )
    w["linked"] = item_create(stream_id=payments.pk, title="Linked work", flow_type="feature")
    w["own"]["key_result"].items.add(w["linked"])
    w["company"] = Objective.objects.create(title="Grow", level="company", period="2026-Q4")
    w["discipline"] = DisciplineFactory(name="Design")
    w["criterion"], w["other_criterion"] = criterion, other_criterion
    w["assignment"] = LeadershipAssignment.objects.get(stream=payments)
    w["membership"] = Membership.objects.get(person=owner)
    w["token"], _ = token_create(user=users["owner"], name="reports")
    return w


# --- the cases ------------------------------------------------------------------------------------


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


def hook_headers(body: bytes, header: str, prefix: str = "sha256=") -> dict:
    return {header: prefix + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()}


JIRA_BODY = b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "NOPE-1", "fields": {}}}'
GITHUB_BODY = b'{"action": "closed", "issue": {"number": 1}, "repository": {"full_name": "acme/none"}}'

CASES = [
    # Cross-cutting pages
    Case("home", page()),
    Case("healthz", roles(200)),
    Case("leadership", page()),
    Case("teams", page()),
    Case("login", roles(GO, anonymous=200)),
    Case("logout", roles(LOGIN), method="post"),
    Case("item-detail", page(), args=own("item")),
    Case("item-detail", page(**NOT_FOUND), args=lambda w: [999999], variant="missing"),
    Case("stream-health", page(), args=lambda w: ["payments"]),
    # Streams
    Case("streams:backlog", page(**roles(GO, anonymous=LOGIN))),
    Case("streams:stream-detail", page(), args=lambda w: ["payments"]),
    Case("streams:stream-detail", page(**NOT_FOUND), args=lambda w: ["nope"], variant="missing"),
    Case("streams:backlog-stream", page(), args=lambda w: ["payments"]),
    Case("streams:stream-flow-csv", page(), args=lambda w: ["payments"]),
    Case("streams:delivery", page(), args=lambda w: ["payments"]),
    Case("streams:delivery", page(**NOT_FOUND), args=lambda w: ["nope"], variant="missing"),
    Case(
        "streams:item-move",
        only({"owner": 200, "director": 200}),
        method="post",
        args=own("item"),
        data=lambda w: {"state": state(w["payments"], "In progress").pk},
        headers=HTMX,
        variant="own",
    ),
    Case(
        "streams:item-move",
        only({}),
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
        only({"director": GO}),
        method="post",
        args=lambda w: ["payments"],
        data=lambda w: {"name": "Workshop", "kind": "future", "as_of": "2026-03-10", "notes": ""},
        variant="create",
    ),
    Case("streams:map-detail", page(), args=slug_and("map")),
    Case("streams:map-detail", page(), args=slug_and("map", "other"), variant="other"),
    Case(
        "streams:block-add",
        only({"director": 200}),
        method="post",
        args=slug_and("map"),
        data=block_data,
        headers=HTMX,
        variant="own",
    ),
    Case(
        "streams:block-add",
        only({}),
        method="post",
        args=slug_and("map", "other"),
        data=block_data,
        headers=HTMX,
        variant="other",
    ),
    Case("streams:block-edit", only({"director": 200}), args=block_args("own")),
    Case(
        "streams:block-edit",
        only({"director": 200}),
        method="post",
        args=block_args("own"),
        data=block_data,
        headers=HTMX,
        variant="post",
    ),
    Case(
        "streams:block-edit",
        only({}),
        method="post",
        args=block_args("other"),
        data=block_data,
        headers=HTMX,
        variant="other",
    ),
    Case(
        "streams:block-move",
        only({"director": 200}),
        method="post",
        args=block_args("own"),
        data=lambda w: {"direction": "down"},
        headers=HTMX,
    ),
    Case("streams:block-delete", only({"director": 200}), method="post", args=block_args("own"), headers=HTMX),
    Case("streams:block-delete", only({}), method="post", args=block_args("other"), headers=HTMX, variant="other"),
    Case("streams:experiments", page(), args=lambda w: ["payments"]),
    Case(
        "streams:experiments",
        only({"director": GO}),
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
    Case("okrs:objective-create", only({"leader": 200, "director": 200, "owner": 200})),
    Case(
        "okrs:objective-create",
        only({"leader": 200, "director": GO, "owner": 200}),
        method="post",
        data=lambda w: {"title": "Faster refunds", "level": "stream", "period": "2026-Q4", "stream": w["payments"].pk},
        variant="stream",
    ),
    Case("okrs:objective-edit", only({"director": 200}), args=own("objective")),
    Case("okrs:objective-edit", only({}), args=other("objective"), variant="other"),
    Case("okrs:objective-edit", only({"leader": 200}), args=lambda w: [w["company"].pk], variant="company"),
    Case("okrs:key-result-create", only({"director": 200}), args=own("objective")),
    Case("okrs:key-result-edit", only({"director": 200}), args=own("key_result")),
    Case("okrs:key-result-edit", only({}), args=other("key_result"), variant="other"),
    Case(
        "okrs:check-in",
        only({"director": 200}),
        method="post",
        args=own("key_result"),
        data=lambda w: {"value": "5", "confidence": "0.6", "date": "2026-10-15"},
        headers=HTMX,
    ),
    Case(
        "okrs:check-in",
        only({}),
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
        only({"director": 200, "owner": 200}),
        method="post",
        args=own("key_result"),
        data=lambda w: {"item": w["own"]["item"].pk},
        headers=HTMX,
    ),
    Case(
        "okrs:key-result-link",
        only({}),
        method="post",
        args=other("key_result"),
        data=lambda w: {"item": w["other"]["item"].pk},
        headers=HTMX,
        variant="other",
    ),
    Case(
        "okrs:key-result-unlink",
        only({"director": 200, "owner": 200}),
        method="post",
        args=lambda w: [w["own"]["key_result"].pk, w["linked"].pk],
        headers=HTMX,
    ),
    Case("okrs:item-outcomes", page(**roles(GO, anonymous=LOGIN)), args=own("item")),
    Case("okrs:item-key-result-search", page(), args=own("item"), query={"q": "KR"}, headers=HTMX),
    Case(
        "okrs:item-link",
        only({"director": 200, "owner": 200}),
        method="post",
        args=own("item"),
        data=lambda w: {"key_result": w["own"]["key_result"].pk},
        headers=HTMX,
    ),
    Case(
        "okrs:item-unlink",
        only({"director": 200, "owner": 200}),
        method="post",
        args=lambda w: [w["linked"].pk, w["own"]["key_result"].pk],
        headers=HTMX,
    ),
    # Readiness
    Case("readiness:queue", page()),
    Case(
        "readiness:decide",
        only({"operations": 200}),
        method="post",
        args=own("check"),
        data=lambda w: {f"check-{w['own']['check'].pk}-status": "met"},
        headers=HTMX,
    ),
    Case(
        "readiness:decide",
        only({}),
        method="post",
        args=other("check"),
        data=lambda w: {f"check-{w['other']['check'].pk}-status": "met"},
        headers=HTMX,
        variant="other",
    ),
    Case("readiness:criteria", page()),
    Case("readiness:criterion-add", only({"operations": 200})),
    Case("readiness:criterion-edit", only({"operations": 200}), args=lambda w: [w["criterion"].pk]),
    Case("readiness:criterion-edit", only({}), args=lambda w: [w["other_criterion"].pk], variant="other"),
    # Imports and webhooks
    Case("imports:list", page()),
    Case("imports:job", page(), args=own("job")),
    Case("imports:retry", only({"director": GO}), method="post", args=own("job")),
    Case("imports:retry", only({}), method="post", args=other("job"), variant="other"),
    Case("hook-jira", roles(403), method="post", data=lambda w: JIRA_BODY),
    Case("hook-github", roles(403), method="post", data=lambda w: GITHUB_BODY),
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
    Case("api:schema", roles(200)),
    Case("api:docs", roles(200)),
    Case("api:redoc", roles(200)),
    Case("api:metrics-flow", api(), query={"stream": "payments"}),
    Case("api:metrics-flow-items", api(), query={"stream": "payments"}),
    Case("api:metrics-alignment", api()),
    Case("api:metrics-readiness", api()),
    Case("api:metrics-forecast", api(), query={"stream": "payments", "items": 5}),
    Case("api:metrics-delivery", api()),
    Case("api:metrics-delivery", api(**NOT_FOUND), query={"stream": "nope"}, variant="missing"),
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
        ]
        for kind in ("list", "detail", "history")
    ],
    *[
        Case(
            f"api:{name}-list",
            api_only({"director": 201, "owner": 201} if stream == "payments" else {}),
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
        api_only({"director": 201, "owner": 201}),
        method="post",
        data=lambda w: {"stream": "payments", "title": "Refunds", "flow_type": "feature"},
        json=True,
        variant="create",
    ),
    Case(
        "api:item-list",
        api_only({}),
        method="post",
        data=lambda w: {"stream": "lending", "title": "Refunds", "flow_type": "feature"},
        json=True,
        variant="create-other",
    ),
    Case(
        "api:item-detail",
        api_only({"director": 200, "owner": 200}),
        method="patch",
        args=own("item"),
        data=lambda w: {"title": "Renamed"},
        json=True,
        variant="patch",
    ),
    Case(
        "api:item-detail",
        api_only({}),
        method="patch",
        args=other("item"),
        data=lambda w: {"title": "Renamed"},
        json=True,
        variant="patch-other",
    ),
    Case(
        "api:item-transition",
        api_only({"director": 201, "owner": 201}),
        method="post",
        args=own("item"),
        data=lambda w: {"state": state(w["payments"], "In progress").pk},
        json=True,
    ),
    Case(
        "api:item-transition",
        api_only({}),
        method="post",
        args=other("item"),
        data=lambda w: {"state": state(w["lending"], "In progress").pk},
        json=True,
        variant="other",
    ),
    Case(
        "api:readiness-check-decide",
        api_only({"operations": 200}),
        method="post",
        args=own("check"),
        data=lambda w: {"status": "met"},
        json=True,
    ),
    Case(
        "api:readiness-check-decide",
        api_only({}),
        method="post",
        args=other("check"),
        data=lambda w: {"status": "met"},
        json=True,
        variant="other",
    ),
    Case(
        "api:key-result-link",
        api_only({"director": 201, "owner": 201}),
        method="post",
        args=own("key_result"),
        data=lambda w: {"item": w["own"]["item"].pk},
        json=True,
    ),
    Case(
        "api:key-result-unlink",
        api_only({"director": 204, "owner": 204}),
        method="delete",
        args=lambda w: [w["own"]["key_result"].pk, w["linked"].pk],
    ),
    Case(
        "api:check-in-list",
        api_only({"director": 201}),
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
        api_only({}),
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


def resolver_names() -> set[str]:
    """Every named URL outside the admin, with its namespace."""

    def walk(patterns, namespace):
        for p in patterns:
            if isinstance(p, URLResolver):
                inner = ":".join(filter(None, [namespace, p.namespace]))
                if p.namespace != "admin":
                    yield from walk(p.url_patterns, inner)
            elif isinstance(p, URLPattern) and p.name:
                yield f"{namespace}:{p.name}" if namespace else p.name

    return set(walk(get_resolver().url_patterns, ""))


def outcome(response) -> object:
    if response.status_code in (301, 302, 303):
        return LOGIN if response["Location"].startswith(reverse("login")) else GO
    return response.status_code


def run(case: Case, w, user) -> object:
    client = Client()
    if user is not None:
        client.force_login(user)
    url = reverse(case.name, args=case.args(w) if case.args else None)
    body = case.data(w) if case.data else {}
    with transaction.atomic():
        if case.method == "get":
            response = client.get(url, case.query, headers=case.headers)
        elif case.json:
            response = getattr(client, case.method)(
                url, json.dumps(body), content_type="application/json", headers=case.headers
            )
        elif isinstance(body, bytes):
            response = client.post(
                url,
                body,
                content_type="application/json",
                headers=case.headers(body) if callable(case.headers) else case.headers,
            )
        else:
            response = getattr(client, case.method)(url, body, headers=case.headers)
        transaction.set_rollback(True)
    return outcome(response)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_the_outcome_the_matrix_names(world, role):
    user = world["users"].get(role)
    wrong = []
    for case in CASES:
        got = run(case, world, user)
        if got != case.expect[role]:
            wrong.append(f"{case.id}: expected {case.expect[role]}, got {got}")
    assert not wrong, "\n".join(wrong)


def test_every_url_name_is_in_the_matrix():
    missing = resolver_names() - {case.name for case in CASES}
    assert not missing, f"URL names with no row in the matrix: {sorted(missing)}"

    print(f"{len(CASES)} cases × {len(ROLES)} roles = {len(CASES) * len(ROLES)} (URL, role) pairs")
