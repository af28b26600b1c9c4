"""Every CSV the portal writes is formula-safe (security issue 23, finding 4).

A spreadsheet runs a cell that starts with = + - @, a tab or a carriage return (OWASP "CSV
injection"). Every CSV goes through `core.csv`'s writers, which quote such text with a `'`.
The walk below finds the CSV endpoints itself: it requests every URL of the URL conf with
`?format=csv` as an administrator, after writing hostile text into every free-text field of
every model, and reads every CSV that comes back.
"""

import csv
import datetime as dt
from decimal import Decimal
import io
import itertools
import re

from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
import pytest

from core.csv import SafeDictWriter, SafeWriter, spreadsheet_safe
from okrs.models import KeyResult, Objective
from okrs.selectors import current_period
from okrs.tests.factories import CheckInFactory, KeyResultFactory, ObjectiveFactory
from portal.models import ApiToken
from portal.notifications.services import unsubscribe_token
from portal.scenarios.models import Scenario
from portal.tokens import token_create
from streams.backlog.services import item_change_state, item_create
from streams.flow.rollups import rollups_refresh
from streams.models import (
    BacklogItem,
    BlockedPeriod,
    Connection,
    Dependency,
    Deployment,
    DeploymentItem,
    ImportJob,
    ImprovementExperiment,
    Incident,
    ProcessBlock,
    ReadinessCheck,
    ReadinessCriterion,
    SyncRun,
    TargetMix,
    ValueStream,
    ValueStreamMap,
)
from streams.tests.factories import (
    LeadershipAssignmentFactory,
    ReadinessCriterionFactory,
    ValueStreamFactory,
    state,
)
from teams.models import Team
from teams.tests.factories import DisciplineFactory, MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

# OWASP's list, and the full-width forms some spreadsheets also run.
FORMULA_CHARACTERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
HOSTILE = (
    '=HYPERLINK("http://evil.example","x")',
    "+1+2",
    "-1+1",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+2",
    "\r=1+2",
    "\uff1d1+2",
)
# Text fields that hold a code the application parses, not text a person writes.
STRUCTURED = {
    "okrs.objective.period",
    "streams.targetmix.period",
    "teams.datageneration.epoch",
    "portal.apitoken.prefix",
    "portal.apitoken.key_hash",
}
# URL keyword → the model whose row fills it; `pk` is found from the viewset or the path segment.
KWARG_MODELS = {"block_pk": ProcessBlock, "item_pk": BacklogItem, "key_result_pk": KeyResult, "objective_pk": Objective}
SEGMENT_MODELS = {
    "items": BacklogItem,
    "streams": ValueStream,
    "maps": ValueStreamMap,
    "experiments": ImprovementExperiment,
    "objectives": Objective,
    "key-results": KeyResult,
    "checks": ReadinessCheck,
    "criteria": ReadinessCriterion,
    "imports": ImportJob,
    "tokens": ApiToken,
    "connections": Connection,
    "scenarios": Scenario,
}
# At the time of writing the walk reads 119 CSVs (200 OK): the two pages that offer one, the 23
# API resources' lists and rows and the API root, each as `?format=csv` and as `.csv`, and the 6
# metrics endpoints in each scope. Fewer than this means it stopped finding them.
MIN_CSV_ENDPOINTS = 110


def runs_as_formula(cell: str) -> bool:
    return cell[:1] in FORMULA_CHARACTERS and not PLAIN_NUMBER.fullmatch(cell)


def cells_of(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


# --- the writer -----------------------------------------------------------------------------------


def test_text_a_spreadsheet_would_run_is_quoted_and_numbers_stay_numbers():
    for text in HOSTILE + ("-1+1", "+", "-", "@", "-1 ", "\uff0d1"):
        assert spreadsheet_safe(text) == "'" + text
    for value in ("Payments", "", "1+1", " =1", "'=1", "-1.50", "+3", "-1e5", ".5", -3, -1.5, Decimal("-2.00"), None):
        assert spreadsheet_safe(value) == value
    assert spreadsheet_safe(float("-inf")) == "'-inf"


def test_the_writers_quote_every_cell_the_header_included():
    out = io.StringIO()
    SafeWriter(out, lineterminator="\n").writerow(["=1+2", -1, Decimal("-0.50"), "-1+1", 3.5, None])
    dict_writer = SafeDictWriter(out, fieldnames=["@name", "n"], lineterminator="\n")
    dict_writer.writeheader()
    dict_writer.writerow({"@name": "+cmd", "n": -2})
    assert out.getvalue() == "'=1+2,-1,-0.50,'-1+1,3.5,\n'@name,n\n'+cmd,-2\n"


def test_a_line_break_inside_a_cell_cannot_start_a_row_whatever_the_line_terminator():
    for terminator in ("\n", "\r\n"):
        out = io.StringIO()
        SafeWriter(out, lineterminator=terminator).writerow(["note\r=1+2", "a\nb", "c"])
        assert list(csv.reader(io.StringIO(out.getvalue(), newline=""))) == [["note\r=1+2", "a\nb", "c"]]
        assert out.getvalue().endswith("c" + terminator)


# --- the portfolio (the finding) ------------------------------------------------------------------


def test_the_portfolio_csv_quotes_a_streams_industry_that_a_spreadsheet_would_run(admin_client):
    ValueStreamFactory(name="=1+2", industry='=HYPERLINK("http://evil.example","x")', description="@SUM(A1)")
    response = admin_client.get(reverse("home"), {"format": "csv"})
    cells = cells_of(response.content.decode())
    assert not [cell for cell in cells if runs_as_formula(cell)]
    assert '\'=HYPERLINK("http://evil.example","x")' in cells and "'=1+2" in cells


# --- every CSV endpoint ---------------------------------------------------------------------------


def _free_text_fields(model) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, (models.CharField, models.TextField))
        and not f.choices
        and not f.primary_key
        and not isinstance(f, models.SlugField)
        and f"{model._meta.app_label}.{model._meta.model_name}.{f.name}" not in STRUCTURED
    ]


def _hostile_value(field: models.Field, n: int, pk: int) -> str:
    if isinstance(field, models.EmailField):
        return f"{'=+-'[n % 3]}1+2.{pk}@example.com"  # a valid address that a spreadsheet would run
    text = HOSTILE[n % len(HOSTILE)]
    if field.unique:
        text = f"{text} {pk}"
    return text[: field.max_length] if field.max_length else text


def _write_hostile_text_everywhere(user) -> int:
    """Every free-text field of every row of the portal's models, saved so the change history
    (by a user whose username a spreadsheet would also run) records it too."""
    counter = itertools.count()
    written = 0
    for app in ("teams", "streams", "okrs", "portal"):
        for model in apps.get_app_config(app).get_models():
            if model.__name__.startswith("Historical"):
                continue
            fields = _free_text_fields(model)
            if not fields:
                continue
            for obj in model.objects.all():
                for field in fields:
                    setattr(obj, field.attname, _hostile_value(field, next(counter), obj.pk))
                obj._history_user = user
                obj._change_reason = "=1+2"
                obj.save(update_fields=[f.name for f in fields])
                written += len(fields)
    return written


@pytest.fixture
def hostile_world(admin_user):
    """A stream with finished and running work, and a row in every model a CSV can show."""
    now = timezone.now()
    hostile_user = UserFactory(username="-2+3")
    team = TeamFactory()
    desk = TeamFactory(type=Team.Type.BUSINESS_OPERATIONS)
    stream = ValueStreamFactory()
    stream.teams.add(team)
    discipline = DisciplineFactory()
    stream.required_disciplines.add(discipline)
    person = PersonFactory(user=hostile_user)
    person.disciplines.add(discipline)
    MembershipFactory(person=person, team=team)
    LeadershipAssignmentFactory(person=person, stream=stream, kind="dedicated")
    items = []
    for n, (start, done) in enumerate([(20, 5), (15, 2), (6, None)]):
        if done is None:  # the running item has a readiness check still pending
            ReadinessCriterionFactory(owner_team=desk)
        item = item_create(
            stream_id=stream.pk,
            title=f"Item {n}",
            flow_type="feature",
            created_at=now - dt.timedelta(days=30),
            team=team,
        )
        item_change_state(item=item, to_state=state(stream, "In progress"), at=now - dt.timedelta(days=start))
        if done:
            item_change_state(item=item, to_state=state(stream, "Done"), at=now - dt.timedelta(days=done))
        items.append(item)
    BlockedPeriod.objects.create(item=items[2], started_at=now - dt.timedelta(days=3))
    Dependency.objects.create(item=items[2], blocked_by=items[1], created_at=now)
    period = current_period()
    TargetMix.objects.create(stream=stream, period=period.label, flow_type="feature", percent=50)
    vsm = ValueStreamMap.objects.create(stream=stream, name="Now", kind="current", as_of=dt.date(2026, 3, 1))
    ProcessBlock.objects.create(
        map=vsm, order=1, activity="Build", process_time_hours=2, lead_time_hours=8, percent_complete_accurate=90
    )
    ImprovementExperiment.objects.create(
        stream=stream,
        title="Pairing",
        hypothesis="h",
        change="c",
        start_date=dt.date(2026, 3, 9),
        review_date=dt.date(2026, 3, 30),
    )
    deployment = Deployment.objects.create(
        stream=stream, service="api", environment="production", version="1", started_at=now, finished_at=now
    )
    DeploymentItem.objects.create(deployment=deployment, item=items[0], first_commit_at=now - dt.timedelta(days=6))
    incident = Incident.objects.create(stream=stream, title="Down", opened_at=now, caused_by=deployment)
    incident.items.add(items[0])
    objective = ObjectiveFactory(level="stream", stream=stream, period=period.label)
    key_result = KeyResultFactory(objective=objective, start_value=Decimal("-5"))
    key_result.items.add(items[1], items[2])
    CheckInFactory(key_result=key_result, author=hostile_user)
    ImportJob.objects.create(source="csv", stream=stream, stream_slug=stream.slug, created_by=hostile_user)
    token_create(user=admin_user, name="reports")
    connection = Connection.objects.create(stream=stream, tool="azure_devops", base_url="https://dev.azure.com/contoso")
    SyncRun.objects.create(connection=connection, kind="backfill", status="failed")
    Scenario.objects.create(name="=cmd|' /C calc'!A0", stream=stream, as_of=period.start, created_by=hostile_user)
    written = _write_hostile_text_everywhere(hostile_user)
    assert written > 40
    rollups_refresh()
    return {"stream": stream, "team": team, "person": person}


def _patterns(resolvers, prefix="", namespace=""):
    """(route, full name, callback, keyword names) of every URL pattern; the admin has no CSV."""
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace or namespace
            yield from _patterns(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}".lstrip(":")
            yield prefix + str(entry.pattern), name, entry.callback, list(entry.pattern.regex.groupindex)


def _pk_model(route: str, callback):
    viewset = getattr(callback, "cls", None)
    if viewset is not None and getattr(viewset, "queryset", None) is not None:
        return viewset.queryset.model
    segments = [s for s in re.split(r"[/^$\\]", route.split("(?P<pk>")[0].split("<int:pk>")[0]) if s]
    if segments and segments[-1] in SEGMENT_MODELS:
        return SEGMENT_MODELS[segments[-1]]
    pytest.fail(f"{route}: the walk does not know which row fills <pk>; add its path segment to SEGMENT_MODELS.")


def _kwargs(route: str, callback, names: list[str], world) -> dict:
    values = {}
    for name in names:
        if name == "format":
            values[name] = "csv"
        elif name == "slug":
            values[name] = world["stream"].slug
        elif name == "token":  # an email's unsubscribe link
            values[name] = unsubscribe_token(world["person"], "aging")
        elif name in KWARG_MODELS or name == "pk":
            model = KWARG_MODELS.get(name) or _pk_model(route, callback)
            row = model.objects.order_by("pk").first()
            assert row is not None, f"{route}: the world has no {model.__name__} for <{name}>"
            values[name] = row.pk
        else:
            pytest.fail(f"{route}: the walk does not know how to fill <{name}>; teach _kwargs.")
    return values


def _queries(callback, world) -> list[dict]:
    """`?format=csv`, and for the metrics endpoints each scope (whose label is a name)."""
    if callback.__module__ != "portal.api.metrics":
        return [{"format": "csv"}]
    return [
        {"format": "csv", "items": 5, **scope}  # `items`: the forecast's question; the others ignore it
        for scope in (
            {},
            {"stream": world["stream"].slug},
            {"team": world["team"].slug},
            {"director": world["person"].pk},
        )
    ]


def _is_csv(response) -> bool:
    return "csv" in response.get("Content-Type", "") or ".csv" in response.get("Content-Disposition", "")


def test_no_csv_endpoint_writes_a_cell_a_spreadsheet_would_run(admin_client, hostile_world):
    covered, names, failures, quoted = [], set(), [], set()
    for route, name, callback, keywords in _patterns(get_resolver().url_patterns):
        url = reverse(name, kwargs=_kwargs(route, callback, keywords, hostile_world))
        for query in _queries(callback, hostile_world):
            response = admin_client.get(url, query)
            if not _is_csv(response):
                continue
            body = b"".join(response.streaming_content) if response.streaming else response.content
            cells = cells_of(body.decode())
            failures += [(url, query, cell) for cell in cells if runs_as_formula(cell)]
            quoted.update(cell for cell in cells if cell[:1] == "'")
            if response.status_code == 200:
                covered.append(f"{url}?{'&'.join(f'{k}={v}' for k, v in query.items())}")
                names.add(name)
    print(f"{len(covered)} CSV endpoints read:", *covered, sep="\n  ")
    assert not failures, failures[:20]
    assert len(covered) >= MIN_CSV_ENDPOINTS, covered
    # The pages that offer CSV, every API list, and every metrics endpoint were among them.
    api_lists = {
        n for _, n, _, _ in _patterns(get_resolver().url_patterns) if n.startswith("api:") and n.endswith("-list")
    }
    metrics = {n for _, n, _, _ in _patterns(get_resolver().url_patterns) if n.startswith("api:metrics-")}
    assert len(api_lists) >= 20 and len(metrics) >= 6
    assert {"home", "streams:stream-flow-csv"} | api_lists | metrics <= names
    # The hostile text did reach the CSVs (quoted), and negative numbers stayed numbers.
    assert {"'" + text for text in HOSTILE} <= quoted


def test_the_flow_metrics_command_csv_quotes_names_and_titles(hostile_world):
    out = io.StringIO()
    call_command("flow_metrics", "--stream", hostile_world["stream"].slug, "--format", "csv", stdout=out)
    cells = cells_of(out.getvalue())
    assert not [cell for cell in cells if runs_as_formula(cell)]
    assert any(cell.startswith("'") for cell in cells)
    titles = set(BacklogItem.objects.values_list("title", flat=True))
    assert {"'" + title for title in titles} <= set(cells)


def test_the_api_writes_a_negative_decimal_as_a_number(admin_client, hostile_world):
    response = admin_client.get("/api/v1/key-results/", {"format": "csv"})
    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert row["start_value"] == "-5.00"
    assert row["title"].startswith("'")
