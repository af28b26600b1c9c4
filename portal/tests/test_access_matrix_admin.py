"""The admin × every role, for every registered model: its list (and bulk delete), add form,
change form, delete page, history and history version, each posted as a browser would.

The admin is for staff: here every role user is staff (`test_access_matrix.py` checks that users
who are not are sent to its login). Its answers must follow `core.access`, as the pages and the
API do: a product director changes only their own stream's rows, a product owner only the backlog
rows of the streams their team serves, an operations member only their team's criteria and
checks, a leader company objectives; nobody but a superuser edits people, teams, memberships,
leadership or users, and nobody edits the history only services write.

A form is posted with what its GET holds (`test_admin.form_data`, inlines included) plus one
edit whose effect is checked after the request: a refused write that wrote shows as
"<status>+written", an accepted answer that wrote nothing as NOOP. A role whose GET is refused
posts the edit alone (the admin refuses it before reading the form). Rows: the own stream's
(Payments) and the other's (Lending) for models that belong to a stream, else the world's one.
"""

import pytest

from streams.models import BacklogItem

from .access_matrix_helpers import (
    ADMIN_LOGIN,
    GO,
    LOGIN,
    NOOP,
    ROLES,
    VIEW_ONLY,
    Case,
    admin_models,
    admin_name,
    admin_row,
    admin_site_urls,
    admin_urls,
    build_world,
    check_role,
    has_history_form,
    quiet_refusals,  # noqa: F401 (a fixture)
    scoped,
)

pytestmark = pytest.mark.django_db

STAFF = ROLES[1:]  # every role but the visitor
WHICH = ("own", "other")

# --- the rules, per model -------------------------------------------------------------------------
# label → action → role → the rows ("own"/"other") that role may write. The superuser may write
# every row, except in READ_ONLY. `form` lists the roles offered the add form (the right to write
# *some* row: OKR models offer it to leaders and product owners, whose own rows are not here).

DIRECTOR_OWN = {"director": ("own",)}
BACKLOG_OWN = {"director": ("own",), "owner": ("own",)}


def _same(rows: dict) -> dict:
    return {"add": rows, "change": rows, "delete": rows}


RULES = {
    "streams.valuestream": {"add": {}, "change": DIRECTOR_OWN, "delete": {}},
    "streams.targetmix": _same(DIRECTOR_OWN),
    "streams.workflowstate": _same(DIRECTOR_OWN),
    "streams.valuestreammap": _same(DIRECTOR_OWN),
    "streams.processblock": _same(DIRECTOR_OWN),
    "streams.improvementexperiment": _same(DIRECTOR_OWN),
    "streams.backlogitem": _same(BACKLOG_OWN),
    "streams.blockedperiod": _same(BACKLOG_OWN),
    "streams.dependency": _same(BACKLOG_OWN),
    "streams.deployment": _same(BACKLOG_OWN),
    "streams.deploymentitem": _same(BACKLOG_OWN),
    "streams.incident": _same(BACKLOG_OWN),
    "streams.connection": _same(DIRECTOR_OWN),
    "streams.readinesscriterion": _same({"operations": ("own",)}),
    # Checks are created and removed by the services; their owning team signs them off.
    "streams.readinesscheck": {"add": {}, "change": {"operations": ("own",)}, "delete": {}},
    "okrs.objective": _same({"director": ("own",), "leader": ("company",)}),
    "okrs.keyresult": _same(DIRECTOR_OWN),
    "okrs.checkin": _same(DIRECTOR_OWN),
}
FORM = {
    "okrs.objective": ("leader", "director", "owner"),
    "okrs.keyresult": ("leader", "director", "owner"),
    "okrs.checkin": ("leader", "director", "owner"),
    "streams.readinesscheck": ("operations",),
}
READ_ONLY = {"streams.statetransition", "streams.flowsnapshot"}  # written by services and jobs only
# django-axes' records: read by superusers only (Django's model permissions), never added.
AXES = {"axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"}
DJANGO_PERMISSIONS = AXES | {"auth.user", "auth.group"}  # admins not routed through core.access


def may(label: str, action: str, role: str, which: str) -> bool:
    if role == "superuser":
        return label not in READ_ONLY and not (label in AXES and action == "add")
    return which in RULES.get(label, {}).get(action, {}).get(role, ())


# Deleting these rows takes their readiness checks with them, and no role but a superuser may
# delete a check (the services create and remove them): Django's admin then refuses the whole
# delete with 403, though the rules let these roles delete the row itself. A refusal, not a
# leak; reported, and asserted as it is until decided.
CASCADE_REFUSED = {"streams.backlogitem": ("director", "owner"), "streams.readinesscriterion": ("operations",)}


def deletes(label: str, role: str, which: str) -> bool:
    """Whether the admin deletes the row for the role: the rule, less CASCADE_REFUSED."""
    return may(label, "delete", role, which) and role not in CASCADE_REFUSED.get(label, ())


def offered(label: str, action: str, role: str) -> bool:
    """Whether the role has the right to `action` *some* row: the admin then offers the form or
    the bulk action, and refuses a row the role may not touch with 403."""
    if role == "superuser":
        return may(label, action, role, "own")
    if label in FORM:
        return role in FORM[label] and not (label == "streams.readinesscheck" and action != "change")
    return role in RULES.get(label, {}).get(action, {})


def may_view(label: str, role: str) -> bool:
    return role == "superuser" or label not in DJANGO_PERMISSIONS


# --- what each form gets: an edit over the GET's data, and how to see that it stuck ---------------


def _stamp(prefix: str, when: str = "2026-11-02 09:00") -> dict:
    day, time = when.split()
    return {f"{prefix}_0": day, f"{prefix}_1": time}


def _stream(w, which):
    return w[which]["stream"]


# label → (w, which) → the fields an add posts; the effect is a row with ADD_MARK's values.
ADD = {
    "auth.group": lambda w, which: {"name": "auditors"},
    "auth.user": lambda w, which: {
        "username": "newbie",
        "usable_password": "true",
        "password1": "a-long-pass-phrase-42",
        "password2": "a-long-pass-phrase-42",
    },
    "teams.discipline": lambda w, which: {"name": "Research", "slug": "research"},
    "portal.chatchannel": lambda w, which: {
        "name": "#refunds",
        "service": "teams",
        "team": w["checkout"].pk,
        "url": "https://example.webhook.office.com/webhookb2/refunds",
        "active": "on",
    },
    "teams.person": lambda w, which: {"name": "Nia", "email": "nia@example.com"},
    "teams.team": lambda w, which: {"name": "Refunds", "slug": "refunds", "type": "stream_aligned"},
    "teams.membership": lambda w, which: {
        "person": w["other"]["assignment"].person.pk,
        "team": w["desk"].pk,
        "role": "member",
        "allocation_percent": "50",
    },
    "streams.valuestream": lambda w, which: {"name": "Savings", "slug": "savings"},
    "streams.targetmix": lambda w, which: {
        "stream": _stream(w, which).pk,
        "period": "2027-Q1",
        "flow_type": "feature",
        "percent": "40",
    },
    "streams.leadershipassignment": lambda w, which: {
        "person": w["users"]["owner"].person.pk,
        "stream": _stream(w, which).pk,
        "role": "value_stream_manager",
        "start_date": "2026-01-05",
    },
    "streams.workflowstate": lambda w, which: {
        "stream": _stream(w, which).pk,
        "name": "Security review",
        "category": "waiting",
        "order": "9",
    },
    "streams.readinesscriterion": lambda w, which: {
        "name": "Runbook written",
        "owner_team": (w["desk"] if which == "own" else w["other_criterion"].owner_team).pk,
        "all_streams": "on",
        "flow_types": ["feature"],
        "active": "on",
    },
    "streams.readinesscheck": lambda w, which: {
        "item": w[which]["item"].pk,
        "criterion": w["defect_criterion"].pk,
        "status": "pending",
    },
    # The other stream's item names the caller's own team: the stream decides, not the team.
    "streams.backlogitem": lambda w, which: {
        "stream": _stream(w, which).pk,
        "title": "Refunds",
        "flow_type": "feature",
        "rank": "0",
        "team": w["checkout"].pk,
    },
    "streams.statetransition": lambda w, which: {},
    **{label: (lambda w, which: {}) for label in AXES},
    "streams.blockedperiod": lambda w, which: {
        "item": w[which]["item"].pk,
        "reason": "approval",
        "note": "Waiting for sign-off",
        **_stamp("started_at"),
    },
    "streams.dependency": lambda w, which: {
        "item": w[which]["item"].pk,
        "blocked_by": w["linked"].pk,
        "note": "Needs the API",
        **_stamp("created_at"),
    },
    "streams.valuestreammap": lambda w, which: {
        "stream": _stream(w, which).pk,
        "name": "Tomorrow",
        "kind": "future",
        "as_of": "2026-04-01",
    },
    "streams.processblock": lambda w, which: {
        "map": w[which]["map"].pk,
        "activity": "Deploy",
        "order": "2",
        "people": "1",
        "process_time_hours": "1",
        "lead_time_hours": "2",
        "queue_before": "0",
        "percent_complete_accurate": "90",
    },
    "streams.improvementexperiment": lambda w, which: {
        "stream": _stream(w, which).pk,
        "title": "WIP limit",
        "hypothesis": "If we limit WIP, flow time falls.",
        "change": "WIP limit of 5",
        "start_date": "2026-03-09",
        "review_date": "2026-03-30",
    },
    "streams.flowsnapshot": lambda w, which: {},
    "streams.deployment": lambda w, which: {
        "stream": _stream(w, which).pk,
        "service": "web",
        "environment": "production",
        "status": "success",
        "source": "manual",
        **_stamp("started_at"),
        **_stamp("finished_at", "2026-11-02 09:10"),
    },
    # Shipping another stream's item: the item's stream decides.
    "streams.deploymentitem": lambda w, which: {
        "deployment": w["own"]["deployment"].pk,
        "item": (w["linked"] if which == "own" else w["other"]["item"]).pk,
    },
    "streams.connection": lambda w, which: {
        "stream": _stream(w, which).pk,
        "tool": "azure_devops",
        "base_url": "http://127.0.0.1:9/added",
        "token": "pat",
        "scope": '{"project": "P"}',
        "rate": "5",
        "status": "new",
    },
    "streams.incident": lambda w, which: {
        "stream": _stream(w, which).pk,
        "title": "Slow",
        "severity": "sev3",
        "source": "manual",
        **_stamp("opened_at"),
    },
    "okrs.objective": lambda w, which: (
        {"title": f"{which.title()} grows more", "period": "2026-Q4"}
        | ({"level": "company"} if which == "company" else {"level": "stream", "stream": _stream(w, which).pk})
    ),
    "okrs.keyresult": lambda w, which: {
        "objective": w[which]["objective"].pk,
        "title": "New KR",
        "kind": "outcome",
        "source": "typed",
        "measure_weeks": "12",
        "start_value": "0",
        "target_value": "5",
        "current_value": "0",
        "weight": "1",
        "order": "2",
    },
    "okrs.checkin": lambda w, which: {
        "key_result": w[which]["key_result"].pk,
        "value": "3",
        "confidence": "0.5",
        "date": "2026-10-20",
    },
}
# The fields that identify the added row (a subset of ADD's).
ADD_MARK = {
    "auth.group": ("name",),
    "auth.user": ("username",),
    "teams.discipline": ("slug",),
    "portal.chatchannel": ("name",),
    "teams.person": ("email",),
    "teams.team": ("slug",),
    "teams.membership": ("person", "team"),
    "streams.valuestream": ("slug",),
    "streams.targetmix": ("stream", "period"),
    "streams.leadershipassignment": ("person", "stream"),
    "streams.workflowstate": ("stream", "name"),
    "streams.readinesscriterion": ("name",),
    "streams.readinesscheck": ("item", "criterion"),
    "streams.backlogitem": ("stream", "title"),
    "streams.blockedperiod": ("item", "note"),
    "streams.dependency": ("item", "blocked_by"),
    "streams.valuestreammap": ("stream", "name"),
    "streams.processblock": ("map", "activity"),
    "streams.improvementexperiment": ("stream", "title"),
    "streams.deployment": ("stream", "service"),
    "streams.deploymentitem": ("deployment", "item"),
    "streams.incident": ("stream", "title"),
    "streams.connection": ("stream", "base_url"),
    "okrs.objective": ("title",),
    "okrs.keyresult": ("objective", "title"),
    "okrs.checkin": ("key_result", "date"),
}
# label → (w, which) → one field's new value on the change form (None: nothing to edit).
CHANGE = {
    "auth.group": lambda w, which: {"name": "readers"},
    "auth.user": lambda w, which: {"first_name": "Victor"},
    "teams.discipline": lambda w, which: {"name": "Design ops"},
    "portal.chatchannel": lambda w, which: {"name": "#checkout-team"},
    "teams.person": lambda w, which: {"title": "Lead"},
    "teams.team": lambda w, which: {"wip_limit": 9},
    "teams.membership": lambda w, which: {"allocation_percent": 60},
    "streams.valuestream": lambda w, which: {"industry": "Insurance"},
    "streams.targetmix": lambda w, which: {"percent": 55},
    "streams.leadershipassignment": lambda w, which: {"time_share_percent": 40},
    "streams.workflowstate": lambda w, which: {"wip_limit": 3},
    "streams.readinesscriterion": lambda w, which: {"description": "Changed"},
    "streams.readinesscheck": lambda w, which: {"status": "met"},
    # The other stream's item: giving it the caller's own team is still a change to that stream.
    "streams.backlogitem": lambda w, which: {"title": "Renamed"} if which == "own" else {"team": w["checkout"].pk},
    "streams.blockedperiod": lambda w, which: {"note": "Waiting on a vendor"},
    "streams.dependency": lambda w, which: {"note": "Vendor"},
    "streams.valuestreammap": lambda w, which: {"name": "Today, redrawn"},
    "streams.processblock": lambda w, which: {"activity": "Build and test"},
    "streams.improvementexperiment": lambda w, which: {"title": "Pairing daily"},
    "streams.deployment": lambda w, which: {"version": "1.2.3"},
    "streams.incident": lambda w, which: {"title": "Down hard"},
    "streams.connection": lambda w, which: {"rate": 7.0},
    "okrs.objective": lambda w, which: {"title": "Grows fast"},
    "okrs.keyresult": lambda w, which: {"title": "KR, v2"},
    "okrs.checkin": lambda w, which: {"note": "Recounted"},
}


def _added(label: str, which: str):
    def effect(w):
        values = ADD[label](w, which)
        model = next(m for m in admin_models() if m._meta.label_lower == label)
        lookups = {
            f"{name}_id" if model._meta.get_field(name).is_relation else name: values[name] for name in ADD_MARK[label]
        }
        return model._default_manager.filter(**lookups).exists()

    return effect


def _changed(model, which: str):
    label = model._meta.label_lower

    def effect(w):
        row = admin_row(w, model, which)
        values = {
            f"{name}_id" if model._meta.get_field(name).is_relation else name: value
            for name, value in CHANGE[label](w, which).items()
        }
        return model._default_manager.filter(pk=row.pk, **values).exists()

    return effect


def _versioned(model, which: str):
    """A version of the row was recorded after the world was built: the row was saved."""
    return lambda w: admin_row(w, model, which).history.filter(history_date__gt=w["built_at"]).exists()


def _deleted(model, which: str):
    return lambda w: not model._default_manager.filter(pk=admin_row(w, model, which).pk).exists()


# --- the cases ------------------------------------------------------------------------------------

# Reading is one right for every signed-in role (`access.may(user, VIEW, ...)`): the pages that
# only read (a list, a row's history, the link to a row) are checked for the least and the most
# privileged, and the visitor. Writes are checked for every role on the own row (the superuser's
# right to every stream shows there); on the other stream's row for the roles that write some row
# of the model, the only ones for whom that row's answer can differ from the own row's.
READERS = ("anonymous", "viewer", "superuser")
# Bulk delete (the list's delete_selected action) runs the delete page's checks on a selection:
# asked where each role has rows to delete, and of the models only a superuser deletes.
BULK_DELETE = {
    "streams.backlogitem",
    "streams.incident",
    "streams.workflowstate",
    "streams.readinesscriterion",
    "okrs.objective",
    "teams.team",
    "streams.statetransition",
}
# Where the roles that write rows also post a past version's form (the others: READERS).
HISTORY_FORM_WRITERS = {"streams.backlogitem", "streams.statetransition", "streams.readinesscheck", "okrs.objective"}


def _roles(outcome_of, roles=ROLES) -> dict:
    """The visitor meets the portal's login first; each staff role gets outcome_of(role)."""
    return {role: LOGIN if role == "anonymous" else outcome_of(role) for role in roles}


# A read-only admin over rows `core.access` lets these roles change (the history of their
# backlog): the admin alone keeps them from writing it.
READ_ONLY_FOR = {"streams.statetransition": ("director", "owner")}


def _writers(label: str) -> tuple[str, ...]:
    """The roles but the superuser that may write some row of the model (or would, but for a
    read-only admin)."""
    return tuple(
        role
        for role in STAFF[:-1]
        if role in READ_ONLY_FOR.get(label, ()) or any(offered(label, a, role) for a in ("add", "change", "delete"))
    )


def _rows(model) -> tuple[str, ...]:
    if model._meta.label_lower == "okrs.objective":
        return ("own", "other", "company")
    return WHICH if scoped(model) else ("own",)


def _url(model, view, which):
    return lambda w: admin_urls(w, model, which)[view]


def _form_page(label: str, action: str, which: str):
    """role → the GET of a change form (or a past version's): editable, shown, or refused."""

    def outcome(role):
        if not may_view(label, role):
            return 403
        return 200 if may(label, action, role, which) else VIEW_ONLY

    return outcome


def _bulk_delete(label: str, which: str):
    """role → the changelist's delete_selected: done, refused (403: the action is offered, the
    row is not the role's), or not offered at all (the list comes back, nothing deleted)."""

    def outcome(role):
        if not may_view(label, role):
            return 403
        if deletes(label, role, which):
            return GO
        return 403 if offered(label, "delete", role) else NOOP

    return outcome


def row_cases(model, which: str, roles: tuple[str, ...]) -> list[Case]:
    """Add (a row in `which` stream), change, delete and bulk delete of `which` row."""
    label = model._meta.label_lower

    def wrote(action):
        return lambda role: GO if may(label, action, role, which) else 403

    cases = [
        Case(
            admin_name(model, "add"),
            _roles(wrote("add"), roles),
            method="post",
            path=_url(model, "add", "own"),
            data=lambda w: ADD[label](w, which),
            prefill=True,
            expect_get=_roles(lambda role: 200 if offered(label, "add", role) else 403, roles),
            effect=_added(label, which) if label in ADD_MARK else None,
            variant=which,
        ),
        Case(
            admin_name(model, "change"),
            _roles(wrote("change"), roles),
            method="post",
            path=_url(model, "change", which),
            data=(lambda w: CHANGE[label](w, which)) if label in CHANGE else None,
            prefill=True,
            expect_get=_roles(_form_page(label, "change", which), roles),
            effect=_changed(model, which) if label in CHANGE else None,
            variant=which,
        ),
        Case(
            admin_name(model, "delete"),
            _roles(lambda role: 200 if may(label, "delete", role, which) else 403, roles),
            path=_url(model, "delete", which),
            variant=which,
        ),
        Case(
            admin_name(model, "delete"),
            _roles(lambda role: GO if deletes(label, role, which) else 403, roles),
            method="post",
            path=_url(model, "delete", which),
            data=lambda w: {"post": "yes"},
            effect=_deleted(model, which),
            variant=f"{which}-post",
        ),
    ]
    if label in BULK_DELETE:
        cases.append(
            Case(
                admin_name(model, "changelist"),
                _roles(_bulk_delete(label, which), roles),
                method="post",
                path=_url(model, "changelist", which),
                data=lambda w: {
                    "action": "delete_selected",
                    "_selected_action": [admin_row(w, model, which).pk],
                    "post": "yes",
                },
                effect=_deleted(model, which),
                variant=f"delete_selected-{which}",
            )
        )
    return cases


def model_cases(model) -> list[Case]:
    label = model._meta.label_lower
    writers = _writers(label)

    def read(ok):
        return lambda role: ok if may_view(label, role) else 403

    cases = [
        Case(admin_name(model, "changelist"), _roles(read(200), READERS), path=_url(model, "changelist", "own")),
        # The link to a row redirects to its change page, which decides.
        Case(
            admin_name(model, "changelist"),
            _roles(lambda role: GO, READERS),
            path=_url(model, "redirect", "own"),
            variant="row",
        ),
        Case(admin_name(model, "history"), _roles(read(200), READERS), path=_url(model, "history", "own")),
    ]
    for which in _rows(model):
        roles = ROLES if which == "own" else writers
        if roles:
            cases += row_cases(model, which, roles)
    if has_history_form(model):
        # A past version is shown read-only; reverting is off (SIMPLE_HISTORY_REVERT_DISABLED: it
        # would write past the services), so posting its form must change nothing, for anyone.
        # The page is one view for every model: the roles that write rows are asked on a few.
        history_roles = (*READERS, *writers) if label in HISTORY_FORM_WRITERS else READERS
        cases.append(
            Case(
                admin_name(model, "simple_history"),
                _roles(lambda role: 403, history_roles),
                method="post",
                path=_url(model, "history_form", "own"),
                data=(lambda w: CHANGE[label](w, "own")) if label in CHANGE else None,
                prefill=True,
                expect_get=_roles(_form_page(label, "change", "own"), history_roles),
                effect=_versioned(model, "own"),
            )
        )
    if label == "auth.user":
        cases.append(
            Case(
                "admin:auth_user_password_change",
                _roles(lambda role: GO if role == "superuser" else 403),
                method="post",
                path=_url(model, "password", "own"),
                data=lambda w: {"password1": "another-long-phrase-7", "password2": "another-long-phrase-7"},
                prefill=True,
                expect_get=_roles(lambda role: 200 if role == "superuser" else 403),
            )
        )
    if label == "streams.backlogitem":
        # The fields tools own are shown, not editable: posted anyway, they are not saved.
        cases.append(
            Case(
                admin_name(model, "change"),
                _roles(lambda role: NOOP if may(label, "change", role, "own") else 403, (*READERS, *writers)),
                method="post",
                path=_url(model, "change", "own"),
                data=lambda w: {"source": "jira", "external_key": "PAY-99"},
                prefill=True,
                effect=lambda w: BacklogItem.objects.filter(pk=w["own"]["item"].pk, external_key="PAY-99").exists(),
                variant="tool-fields",
            )
        )
    return cases


def site_cases() -> list[Case]:
    """The admin's own pages, for staff: its index, each app, sign-in and out, password, lookups."""
    url = lambda name: lambda w: admin_site_urls(w)[name]  # noqa: E731
    staff = lambda outcome: {"anonymous": ADMIN_LOGIN} | {role: outcome for role in READERS[1:]}  # noqa: E731
    cases = [
        Case("admin:index", staff(200), path=url("index")),
        Case("admin:jsi18n", staff(200), path=url("jsi18n")),
        Case("admin:autocomplete", staff(200), path=url("autocomplete")),
        Case("admin:view_on_site", staff(GO), path=url("view_on_site")),
        Case("admin:password_change", staff(200), path=url("password_change")),
        Case("admin:password_change_done", staff(200), path=url("password_change_done")),
        # An empty form is refused in place (nothing changes); a real change is each user's own.
        Case("admin:password_change", staff(200), method="post", path=url("password_change"), variant="empty"),
        Case("admin", staff(404), path=url("catch_all"), variant="catch-all"),
        Case("admin", staff(404), method="post", path=url("catch_all"), variant="catch-all"),
        # A signed-in member of staff is sent to the index; the form signs a visitor in.
        Case("admin:login", {"anonymous": 200} | {role: GO for role in STAFF}, path=url("login")),
        Case(
            "admin:login",
            {"anonymous": GO} | {role: GO for role in STAFF},
            method="post",
            path=url("login"),
            data=lambda w: {"username": "dan", "password": "pw-for-tests-1"},
        ),
        Case(
            "admin:logout",
            {"anonymous": ADMIN_LOGIN} | {role: LOGIN for role in STAFF},
            method="post",
            path=url("logout"),
        ),
    ]
    # An app's page lists the models a user may see: none of Django's own for the roles.
    for app in ("auth", "axes", "teams", "streams", "okrs"):
        outcome = lambda role, app=app: 200 if role == "superuser" or app not in ("auth", "axes") else 404  # noqa: E731
        cases.append(
            Case(
                "admin:app_list",
                {"anonymous": ADMIN_LOGIN} | {r: outcome(r) for r in READERS[1:]},
                path=url(f"app_list:{app}"),
                variant=app,
            )
        )
    return cases


def admin_cases() -> list[Case]:
    return [case for model in admin_models() for case in model_cases(model)] + site_cases()


@pytest.fixture
def staff_world(settings):
    return build_world(settings, staff=True)


@pytest.mark.parametrize("role", ROLES)
def test_each_staff_role_gets_exactly_the_outcome_the_admin_matrix_names(staff_world, role):
    wrong = check_role(admin_cases(), staff_world, role)
    assert not wrong, f"{len(wrong)} cells differ:\n" + "\n".join(wrong)
