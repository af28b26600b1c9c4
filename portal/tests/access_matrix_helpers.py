"""The machinery of the access matrix: roles, the world, cases, how a case is sent, and which URL
patterns and methods the cases exercise.

`test_access_matrix.py` (pages, fragments, hooks, API) and `test_access_matrix_admin.py` (every
admin screen) share it. A case names a URL (by name, or by path for unnamed patterns) and the
exact outcome each role must get; it is sent in a savepoint that is rolled back, so every cell
starts from the same world.

Outcomes: an HTTP status, or LOGIN / ADMIN_LOGIN for a redirect to the (admin) login page, GO
for any other redirect (a successful form post), VIEW_ONLY for an admin change form shown
without the right to save it, NOOP for a success answer after which the case's `effect` is not
there, and "<status>+written" for a refusal after which it is (a refused write that wrote).

Every request carries the CSRF cookie; page writes send its token (the `X-CSRFToken` header,
as htmx does) unless the case is the token-less twin that must be refused with 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
import datetime as dt
import hashlib
import hmac
from http.cookies import SimpleCookie
import json
from types import SimpleNamespace
from urllib.parse import urlencode, urlsplit

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
import pytest

from core import access
from okrs.models import CheckIn, KeyResult, Objective
from portal.notifications.models import ChatChannel
from portal.notifications.services import chat_channel_save
from portal.scenarios.models import Scenario
from portal.tests.test_admin import form_data
from portal.tokens import token_create
from streams.backlog.services import item_change_state, item_create
from streams.integrations.connectors.services import connection_create
from streams.models import (
    BlockedPeriod,
    Dependency,
    Deployment,
    DeploymentItem,
    FlowSnapshot,
    ImportJob,
    ImprovementExperiment,
    Incident,
    LeadershipAssignment,
    ProcessBlock,
    ReadinessCheck,
    SyncRun,
    TargetMix,
    ValueStreamMap,
)
from streams.tests.factories import (
    LeadershipAssignmentFactory,
    ReadinessCriterionFactory,
    ValueStreamFactory,
    state,
)
from teams.models import Membership, Team
from teams.tests.factories import DisciplineFactory, MembershipFactory, PersonFactory, TeamFactory, UserFactory

LOGIN, ADMIN_LOGIN, GO, VIEW_ONLY, NOOP = "login", "admin-login", "go", "view-only", "no-op"
ROLES = ("anonymous", "viewer", "leader", "director", "owner", "operations", "superuser")
METHODS = ("get", "post", "put", "patch", "delete")
HTMX = {"HX-Request": "true"}
HOOK_SECRET = "matrix-secret"
CSRF_SECRET = "M" * 32  # the cookie's secret; Django accepts it unmasked as the token
API_PREFIXES = ("/api/v1/", "/api/schema/", "/api/docs/", "/api/redoc/")
HOOK_PREFIX = "/hooks/"
REFUSED = (401, 403, 404, 405, LOGIN, ADMIN_LOGIN)


# --- expectations -------------------------------------------------------------------------------


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
    """A write only the roles in `allowed` may make; the others get `denied`.

    The superuser may do everything: name its outcome in `allowed` (it is not implied, because
    a superuser's success can be another answer than a director's).
    """
    return {role: allowed.get(role, anonymous if role == "anonymous" else denied) for role in ROLES}


def api_only(allowed: dict) -> dict:
    return only(allowed, anonymous=401)


# --- the world ------------------------------------------------------------------------------------


def build_world(settings, *, staff: bool = False) -> dict:
    """Payments (led by Dan, served by Olivia's team Checkout) and Lending (someone else's), with
    one row of every kind in each, users for each role and an API key for each.

    `staff` makes the role users staff, for the admin (which is for staff only).
    """
    settings.JIRA_WEBHOOK_SECRET = settings.GITHUB_WEBHOOK_SECRET = HOOK_SECRET
    # Sessions in signed cookies: a database session costs a query on each of thousands of
    # requests, and no rule here depends on where the session is kept.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    for role in access.ROLES:
        Group.objects.get_or_create(name=role)
    checkout = TeamFactory(name="Checkout", slug="checkout")
    desk = TeamFactory(name="Service desk", slug="desk", type=Team.Type.BUSINESS_OPERATIONS)
    payments = ValueStreamFactory(name="Payments", slug="payments")
    payments.teams.add(checkout)
    lending = ValueStreamFactory(name="Lending", slug="lending")
    users = {
        "viewer": UserFactory(username="vic", roles=[access.VIEWER], is_staff=staff),
        "leader": UserFactory(username="lea", roles=[access.LEADER], is_staff=staff),
        "superuser": UserFactory(username="root", is_staff=True, is_superuser=True),
    }
    director = PersonFactory(
        name="Dan", user=UserFactory(username="dan", roles=[access.PRODUCT_DIRECTOR], is_staff=staff)
    )
    LeadershipAssignmentFactory(person=director, stream=payments)
    owner = PersonFactory(
        name="Olivia", user=UserFactory(username="olivia", roles=[access.PRODUCT_OWNER], is_staff=staff)
    )
    MembershipFactory(person=owner, team=checkout)
    clerk = PersonFactory(name="Omar", user=UserFactory(username="omar", roles=[access.OPERATIONS], is_staff=staff))
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
            "stream": stream,
            "item": item,
            "map": vsm,
            "block": block,
            "experiment": experiment,
            "objective": objective,
            "key_result": key_result,
            "check": ReadinessCheck.objects.get(item=item, criterion=criterion if key == "own" else other_criterion),
            "job": ImportJob.objects.create(source="csv", stream=stream, created_by=users["director"], status="failed"),
            "mapping_job": ImportJob.objects.create(
                source="jira",
                stream=stream,
                created_by=users["director"],
                status="mapping",
                found={"statuses": {"To Do": 3}, "issues": 3},
            ),
            # A closed local port: a probe or a read of it fails at once, and nothing leaves the machine.
            "connection": connection_create(
                stream=stream,
                tool="azure_devops",
                base_url="http://127.0.0.1:9/org",
                token="pat",
                scope={"project": "P"},
            ),
            "checkin": CheckIn.objects.create(
                key_result=key_result, value=1, confidence=0.5, date=dt.date(2026, 10, 2)
            ),
            "transition": item.transitions.get(),
            "blocked": BlockedPeriod.objects.create(item=item, started_at=timezone.now()),
            "mix": TargetMix.objects.create(stream=stream, period="2026-Q4", flow_type="feature", percent=50),
            "state": state(stream, "Ready"),
            "scenario": Scenario.objects.create(
                name=f"{stream.name} capped",
                stream=stream,
                levers={"cap_stream": str(stream.pk), "cap": "2"},
                described=[f"Cap {stream.name}'s work in progress at 2 items."],
                as_of=dt.date(2026, 10, 2),
                created_by=users["director"],
            ),
            "snapshot": FlowSnapshot.objects.create(
                stream=stream, week_start=dt.date(2026, 3, 2), throughput=3, wip=2, metrics={}
            ),
        }
        w[key]["deployment"] = Deployment.objects.create(
            stream=stream, service="api", started_at=timezone.now(), finished_at=timezone.now()
        )
        w[key]["shipped"] = DeploymentItem.objects.create(deployment=w[key]["deployment"], item=item)
        w[key]["incident"] = Incident.objects.create(stream=stream, title="Down", opened_at=timezone.now())
        w[key]["sync_run"] = SyncRun.objects.create(connection=w[key]["connection"], kind="backfill", status="failed")
    w["own"]["dependency"] = Dependency.objects.create(
        item=w["own"]["item"], blocked_by=w["other"]["item"], created_at=timezone.now()
    )
    w["other"]["dependency"] = Dependency.objects.create(
        item=w["other"]["item"], blocked_by=w["own"]["item"], created_at=timezone.now()
    )
    w["own"]["assignment"] = LeadershipAssignment.objects.get(stream=payments)
    w["other"]["assignment"] = LeadershipAssignmentFactory(person=PersonFactory(name="Lena"), stream=lending)
    w["linked"] = item_create(stream_id=payments.pk, title="Linked work", flow_type="feature")
    w["own"]["key_result"].items.add(w["linked"])
    # Finished work whose type's criteria are all met; a defect's criterion is not.
    done = item_create(stream_id=payments.pk, title="Shipped work", flow_type="feature")
    done.readiness_checks.update(status=ReadinessCheck.Status.MET, signed_off_at=timezone.now())
    item_change_state(item=done, to_state=state(payments, "Done"))
    w["done"] = done
    w["defect_criterion"] = ReadinessCriterionFactory(name="Triage noted", owner_team=desk, flow_types=["defect"])
    w["company"] = Objective.objects.create(title="Grow", level="company", period="2026-Q4")
    w["discipline"] = DisciplineFactory(name="Design")
    w["chat"] = chat_channel_save(
        channel=ChatChannel(name="#checkout", service="slack", team=w["checkout"]),
        url="https://hooks.slack.com/services/T0/B0/matrix",
    )
    w["criterion"], w["other_criterion"] = criterion, other_criterion
    w["assignment"] = w["own"]["assignment"]
    w["membership"] = Membership.objects.get(person=owner)
    w["group"] = Group.objects.get(name=access.VIEWER)
    w["token"], _ = token_create(user=users["owner"], name="reports")
    w["keys"] = {role: token_create(user=user, name="matrix")[1] for role, user in users.items()}
    where = {"ip_address": "10.0.0.1", "user_agent": "matrix", "http_accept": "text/html", "path_info": "/login/"}
    w["attempt"] = AccessAttempt.objects.create(username="mallory", failures_since_start=1, **where)
    w["access_log"] = AccessLog.objects.create(username="mallory", **where)
    w["failure_log"] = AccessFailureLog.objects.create(username="mallory", **where)
    for model in admin_models():  # rows written in bulk (readiness checks) get the version the admin shows
        if has_history_form(model):
            for which in ("own", "other") if scoped(model) else ("own",):
                row = admin_row(w, model, which)
                if not row.history.exists():
                    row.save()
    w["built_at"] = timezone.now()
    return w


# --- cases ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str  # URL name; for an unnamed pattern, what `path` reaches
    expect: dict  # role → outcome; a role left out does not send this case
    method: str = "get"
    args: Callable | None = None  # world → URL args (a list) or kwargs (a dict)
    data: Callable | None = None  # world → body (a dict, or bytes sent as JSON)
    variant: str = ""
    query: dict = field(default_factory=dict)
    json: bool = False
    headers: object = field(default_factory=dict)  # a dict, or body → dict (signed hooks)
    path: Callable | None = None  # world → path, for patterns without a name
    effect: Callable | None = None  # world → whether the write is there after the request
    token_auth: bool = False  # API: `Authorization: Token`, no session
    csrf: bool = True  # send the CSRF token with a write
    prefill: bool = False  # admin: GET the form first and post what it holds, edited by `data`
    expect_get: dict | None = None  # admin: the outcome of that GET
    mentions: str = ""  # a refusal must name this (a field, a code) in its body
    twin: bool = True  # also send a write without its CSRF token

    @property
    def id(self) -> str:
        return f"{self.name}[{self.variant}]" if self.variant else self.name

    def url(self, w) -> str:
        if self.path is not None:
            return self.path(w)
        values = self.args(w) if self.args else None
        if isinstance(values, dict):
            return reverse(self.name, kwargs=values)
        return reverse(self.name, args=values)

    def requests(self, w) -> Iterator[tuple[str, str]]:
        """The (URL, method) pairs this case sends."""
        url = self.url(w)
        if self.prefill:
            yield url, "get"
        yield url, self.method


def without_token(case: Case, url: str) -> Case | None:
    """The twin of a write that omits the CSRF token (the cookie is there, as in a forged request):
    a page refuses it with 403 for everyone; the API refuses a session's write with 403 and
    answers an anonymous script as before (401), and a token-authenticated write needs none."""
    if case.method == "get" or url.startswith(HOOK_PREFIX) or case.token_auth:
        return None
    if url.startswith(API_PREFIXES):
        expect = {role: outcome if role == "anonymous" else 403 for role, outcome in case.expect.items()}
    else:
        expect = {role: 403 for role in case.expect}
    return replace(
        case,
        csrf=False,
        expect=expect,
        prefill=False,
        expect_get=None,
        effect=None,
        mentions="",
        variant=f"{case.variant}~no-csrf",
    )


# --- sending --------------------------------------------------------------------------------------


def outcome(response) -> object:
    if response.status_code in (301, 302, 303):
        location = response["Location"]
        if location.startswith(reverse("login")):
            return LOGIN
        if location.startswith(reverse("admin:login")):
            return ADMIN_LOGIN
        return GO
    if response.status_code == 200 and getattr(response, "context", None) is not None:
        try:
            admin_form = response.context["adminform"]
            editable = response.context["has_change_permission"] or response.context["add"]
        except KeyError:
            return 200
        if admin_form is not None and not editable:
            return VIEW_ONLY
    return response.status_code


class Caller:
    """One role's browser: logged in once (a session reused by every case) with the CSRF cookie."""

    def __init__(self, w, role: str):
        self.role = role
        self.user = w["users"].get(role)
        self.key = w["keys"].get(role)
        self.session = None
        self.forms = {}  # URL → (outcome, what its form holds)
        # One client for all the role's requests: a new one would load the middleware again.
        self._client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        if self.user is not None:
            self._client.force_login(self.user)
            self.session = self._client.cookies[settings.SESSION_COOKIE_NAME].value

    def client(self, *, token_auth: bool = False) -> Client:
        """The role's client with only its session and CSRF cookies, whatever the last answer set."""
        self._client.cookies = SimpleCookie({settings.CSRF_COOKIE_NAME: CSRF_SECRET})
        if self.session and not token_auth:
            self._client.cookies[settings.SESSION_COOKIE_NAME] = self.session
        return self._client

    def send(self, case: Case, w) -> object:
        """The case's outcome for this role, in a savepoint that is rolled back."""
        url = case.url(w)
        headers = dict(case.headers) if isinstance(case.headers, dict) else {}
        if case.csrf:
            headers["X-CSRFToken"] = CSRF_SECRET
        if case.token_auth and self.key:
            headers["Authorization"] = f"Token {self.key}"
        client = self.client(token_auth=case.token_auth)
        with transaction.atomic():
            got_get = None
            body = case.data(w) if case.data else {}
            if case.prefill:
                # An add form is the same page whichever row is added next: asked once per role.
                if url not in self.forms or not url.endswith("/add/"):
                    form_page = client.get(url, headers=headers)
                    self.forms[url] = (outcome(form_page), prefilled(form_page))
                got_get, form = self.forms[url]
                body = form | body
            if case.method == "get":
                response = client.get(url, case.query, headers=headers)
            elif isinstance(body, bytes):
                signed = case.headers(body) if callable(case.headers) else {}
                response = client.post(url, body, content_type="application/json", headers=headers | signed)
            elif case.json:
                response = getattr(client, case.method)(
                    url, json.dumps(body), content_type="application/json", headers=headers
                )
            elif case.method == "post":
                response = client.post(url, body, headers=headers)
            else:  # a form-encoded PUT, PATCH or DELETE, as a browser's fetch would send it
                response = getattr(client, case.method)(
                    url, urlencode(body, doseq=True), content_type="application/x-www-form-urlencoded", headers=headers
                )
            got = outcome(response)
            if case.mentions and got in (400, 409) and case.mentions not in response.content.decode():
                got = f"{got} not naming {case.mentions}"
            if case.effect is not None:
                written = case.effect(w)
                if written and isinstance(got, int) and got >= 400:
                    got = f"{got}+written"
                elif not written and (got == GO or got in (200, 201, 204)):
                    got = NOOP
            transaction.set_rollback(True)
        return (got_get, got) if case.expect_get is not None else got


def prefilled(response) -> dict:
    """What the admin form on the page holds, as a browser submits it untouched (none: {})."""
    context = getattr(response, "context", None)
    if response.status_code != 200 or context is None:
        return {}
    try:
        form = context["adminform"]
    except KeyError:
        return {}
    try:
        inlines = context["inline_admin_formsets"]
    except KeyError:  # a past version's page and the password form have none
        inlines = []
    return form_data(SimpleNamespace(context={"adminform": form, "inline_admin_formsets": inlines}))


def expected(case: Case, role: str) -> object:
    if case.prefill and case.expect_get is not None:
        return (case.expect_get[role], case.expect[role])
    return case.expect[role]


def check_role(cases: list[Case], w, role: str) -> list[str]:
    """Send every case this role takes part in (and the token-less twin of each write it is not
    refused); the mismatches."""
    caller = Caller(w, role)
    wrong = []
    for case in cases:
        if role not in case.expect:
            continue
        twins = [case]
        # A forged write matters where the real one is not refused anyway (where it is, the
        # token-less twin's 403 would say nothing new).
        if case.csrf and case.twin and case.expect[role] not in REFUSED:
            twin = without_token(case, case.url(w))
            if twin is not None:
                twins.append(twin)
        for sent in twins:
            got = caller.send(sent, w)
            want = expected(sent, role)
            if got != want:
                wrong.append(f"{role}: {sent.id} {sent.method.upper()} {sent.url(w)}: expected {want}, got {got}")
    return wrong


# --- URL patterns and their methods -------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    route: str
    name: str | None
    callback: Callable

    @property
    def admin(self) -> bool:
        return self.route.startswith("admin/")


def url_patterns() -> list[Pattern]:
    """Every URL pattern with its full route, as `resolve()` reports it (admin included)."""

    def walk(patterns, prefix: str, namespace: str):
        for p in patterns:
            route = URLResolver._join_route(prefix, str(p.pattern))
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, route, ":".join(filter(None, [namespace, p.namespace])))
            elif isinstance(p, URLPattern):
                name = f"{namespace}:{p.name}" if namespace and p.name else p.name
                yield Pattern(route, name, p.callback)

    return list(walk(get_resolver().url_patterns, "", ""))


def route_of(url: str) -> str:
    return resolve(urlsplit(url).path).route


def declared_methods(callback) -> set[str] | None:
    """The methods a view declares it accepts, or None when it declares nothing.

    DRF viewsets map methods to actions (and may narrow them with `http_method_names`), other
    class-based views have a handler per method, and `require_http_methods` keeps its list in
    the closure of the function it returns.
    """
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:
        actions = getattr(callback, "actions", None)
        if actions:
            names = {m for m in actions if m in cls.http_method_names}
        else:
            names = {m for m in cls.http_method_names if hasattr(cls, m)}
        return {m for m in names if m in METHODS}
    view = callback
    while view is not None:
        code = getattr(view, "__code__", None)
        if code is not None and "request_method_list" in code.co_freevars:
            cell = view.__closure__[code.co_freevars.index("request_method_list")]
            return {m.lower() for m in cell.cell_contents if m.lower() in METHODS}
        view = getattr(view, "__wrapped__", None)
    return None


# --- the admin's rows and URLs --------------------------------------------------------------------

# The row each registered model is exercised with: the key of the world's own/other row, or a
# function of the world for models that belong to no stream (one row then).
ADMIN_ROWS = {
    "auth.group": lambda w: w["group"],
    "auth.user": lambda w: w["users"]["viewer"],
    "axes.accessattempt": lambda w: w["attempt"],
    "axes.accesslog": lambda w: w["access_log"],
    "axes.accessfailurelog": lambda w: w["failure_log"],
    "teams.discipline": lambda w: w["discipline"],
    "portal.chatchannel": lambda w: w["chat"],
    "teams.person": lambda w: w["users"]["owner"].person,
    "teams.team": lambda w: w["checkout"],
    "teams.membership": lambda w: w["membership"],
    "streams.valuestream": "stream",
    "streams.targetmix": "mix",
    "streams.leadershipassignment": "assignment",
    "streams.workflowstate": "state",
    "streams.readinesscriterion": "criterion",
    "streams.readinesscheck": "check",
    "streams.backlogitem": "item",
    "streams.statetransition": "transition",
    "streams.blockedperiod": "blocked",
    "streams.dependency": "dependency",
    "streams.valuestreammap": "map",
    "streams.processblock": "block",
    "streams.improvementexperiment": "experiment",
    "streams.flowsnapshot": "snapshot",
    "streams.deployment": "deployment",
    "streams.deploymentitem": "shipped",
    "streams.incident": "incident",
    "streams.connection": "connection",
    "okrs.objective": "objective",
    "okrs.keyresult": "key_result",
    "okrs.checkin": "checkin",
}


def admin_models() -> list:
    from django.contrib import admin

    return sorted(admin.site._registry, key=lambda model: model._meta.label_lower)


def scoped(model) -> bool:
    """Whether the model's rows belong to a stream (own and other rows are both exercised)."""
    return isinstance(ADMIN_ROWS[model._meta.label_lower], str)


def admin_row(w, model, which: str = "own"):
    if which == "company":  # a company objective, the leader's
        return w["company"]
    row = ADMIN_ROWS[model._meta.label_lower]
    if isinstance(row, str):
        if row == "criterion":
            return w["criterion"] if which == "own" else w["other_criterion"]
        return w[which][row]
    return row(w)


def admin_name(model, view: str) -> str:
    return f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"


def has_history_form(model) -> bool:
    from django.contrib import admin
    from simple_history.admin import SimpleHistoryAdmin

    return isinstance(admin.site._registry[model], SimpleHistoryAdmin)


def admin_urls(w, model, which: str = "own") -> dict[str, str]:
    """The URL of each of the model's admin patterns, for `which` row (kept in the world)."""
    known = w.setdefault("admin_urls", {})
    if (model, which) not in known:
        known[model, which] = _admin_urls(w, model, which)
    return known[model, which]


def _admin_urls(w, model, which: str) -> dict[str, str]:
    row = admin_row(w, model, which)
    urls = {view: reverse(admin_name(model, view), args=[row.pk]) for view in ("change", "delete", "history")}
    urls |= {view: reverse(admin_name(model, view)) for view in ("changelist", "add")}
    urls["redirect"] = reverse(admin_name(model, "changelist")) + f"{row.pk}/"
    if model._meta.label_lower == "auth.user":
        urls["password"] = reverse("admin:auth_user_password_change", args=[row.pk])
    if has_history_form(model):
        urls["history_form"] = reverse(
            admin_name(model, "simple_history"), args=[row.pk, row.history.latest().history_id]
        )
    return urls


def admin_site_urls(w) -> dict[str, str]:
    """The admin's own pages: index, each app, sign-in and out, password, lookups, the catch-all."""
    if "admin_site_urls" not in w:
        w["admin_site_urls"] = _admin_site_urls(w)
    return w["admin_site_urls"]


def _admin_site_urls(w) -> dict[str, str]:
    from django.contrib.contenttypes.models import ContentType

    item = w["own"]["item"]
    urls = {
        name: reverse(f"admin:{name}")
        for name in ("index", "login", "logout", "password_change", "password_change_done", "jsi18n")
    }
    urls["autocomplete"] = reverse("admin:autocomplete") + (
        "?app_label=streams&model_name=backlogitem&field_name=parent&term=work"
    )
    urls["view_on_site"] = reverse("admin:view_on_site", args=[ContentType.objects.get_for_model(item).pk, item.pk])
    urls |= {
        f"app_list:{app}": reverse("admin:app_list", args=[app]) for app in ("auth", "axes", "teams", "streams", "okrs")
    }
    urls["catch_all"] = "/admin/no-such-page/"
    return urls


MISSING = 999_999


def probe_admin_methods(w) -> dict[str, set[str]]:
    """For each admin pattern, the methods a superuser is not answered 405 for (with the token).

    The admin's views declare no methods, so they are asked. Each probe stops before a page is
    drawn but after any method check: object pages are asked about a missing row, lists and add
    forms with a `_to_field` the admin refuses (400).
    """
    caller = Caller(w, "superuser")
    urls = []
    for model in admin_models():
        changelist = reverse(admin_name(model, "changelist"))
        urls += [
            f"{changelist}?_to_field=nope",
            reverse(admin_name(model, "add")) + "?_to_field=nope",
            changelist + f"{MISSING}/",
            *[reverse(admin_name(model, view), args=[MISSING]) for view in ("change", "delete", "history")],
        ]
        if has_history_form(model):
            urls.append(reverse(admin_name(model, "simple_history"), args=[MISSING, MISSING]))
        if model._meta.label_lower == "auth.user":
            urls.append(reverse("admin:auth_user_password_change", args=[MISSING]))
    urls += list(admin_site_urls(w).values())
    # Every model's admin runs the same view functions (a few override one): each function is
    # asked once, at the first pattern that reaches it, and answers for all of them.
    callbacks = {p.route: p.callback for p in url_patterns()}
    answers: dict[object, set[str]] = {}
    accepted: dict[str, set[str]] = {}
    for url in urls:
        route = route_of(url)
        function = view_function(callbacks[route])
        if function not in answers:
            answers[function] = {
                method
                for method in METHODS
                if caller.send(Case("probe", {"superuser": None}, method=method, path=lambda w, url=url: url), w) != 405
            }
        accepted[route] = answers[function]
    return accepted


def view_function(callback):
    """The function a URL pattern's view finally runs, under its decorators and admin wrappers."""
    view = callback
    while hasattr(view, "__wrapped__"):
        view = view.__wrapped__
    return getattr(view, "__func__", view)


def hook_headers(body: bytes, header: str, prefix: str = "sha256=") -> dict:
    return {header: prefix + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()}


@pytest.fixture(autouse=True)
def quiet_refusals():
    """Thousands of refusals (and the 500s the cells report) are the point here: keep the log
    to what else goes wrong while the matrix runs."""
    import logging

    loggers = {name: logging.getLogger(name) for name in ("django.request", "django.security", "axes")}
    levels = {name: logger.level for name, logger in loggers.items()}
    for logger in loggers.values():
        logger.setLevel(logging.CRITICAL)
    yield
    for name, logger in loggers.items():
        logger.setLevel(levels[name])
