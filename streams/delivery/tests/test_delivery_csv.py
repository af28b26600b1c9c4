"""`manage.py import_delivery_csv`: deployments and incidents from CSV, all or nothing, and
importing the same file again changes nothing."""

from io import StringIO

from django.core.management import CommandError, call_command
import pytest

from streams.backlog.services import item_create
from streams.models import Deployment, DeploymentItem, Incident
from streams.tests.factories import ValueStreamFactory

pytestmark = pytest.mark.django_db

DEPLOYMENTS = """stream,service,environment,started_at,finished_at,status,version,external_id,items,first_commit_at
payments,checkout-api,production,2026-11-02T09:00:00Z,2026-11-02T09:12:00Z,success,1.4.0,run-1,PAY-1;PAY-2,2026-11-01T08:00:00Z
payments,checkout-api,staging,2026-11-02T08:00:00Z,2026-11-02T08:05:00Z,failure,1.4.0,run-0,,
payments,checkout-web,prod,2026-11-03T09:00:00+01:00,,in_progress,,run-2,PAY-2,
"""


@pytest.fixture
def stream():
    payments = ValueStreamFactory(name="Payments", slug="payments")
    for key in ("PAY-1", "PAY-2"):
        item_create(stream_id=payments.pk, title=key, flow_type="feature", external_key=key, via="import")
    return payments


def run(tmp_path, kind, text) -> str:
    path = tmp_path / f"{kind}.csv"
    path.write_text(text, encoding="utf-8")
    out = StringIO()
    call_command("import_delivery_csv", kind, str(path), stdout=out)
    return out.getvalue()


def test_deployments_import_and_a_second_run_changes_nothing(tmp_path, stream):
    assert "3 new, 0 changed, 0 unchanged" in run(tmp_path, "deployments", DEPLOYMENTS)
    first = Deployment.objects.get(external_id="run-1")
    assert (first.source, first.status, first.version) == ("csv", "success", "1.4.0")
    assert sorted(first.items.values_list("external_key", flat=True)) == ["PAY-1", "PAY-2"]
    assert {row.first_commit_at.isoformat() for row in DeploymentItem.objects.filter(deployment=first)} == {
        "2026-11-01T08:00:00+00:00"
    }
    running = Deployment.objects.get(external_id="run-2")
    assert running.finished_at is None and running.started_at.isoformat() == "2026-11-03T08:00:00+00:00"
    versions = Deployment.history.count()

    assert "0 new, 0 changed, 3 unchanged" in run(tmp_path, "deployments", DEPLOYMENTS)
    assert Deployment.objects.count() == 3 and Deployment.history.count() == versions

    finished = DEPLOYMENTS.replace(",,in_progress,,run-2", ",2026-11-03T08:20:00Z,success,2.0,run-2")
    assert "0 new, 1 changed, 2 unchanged" in run(tmp_path, "deployments", finished)
    running.refresh_from_db()
    assert running.status == "success" and running.version == "2.0"


def test_a_file_with_problems_is_refused_line_by_line_and_writes_nothing(tmp_path, stream):
    bad = (
        DEPLOYMENTS
        + "payments,api,production,2026-11-04T09:00:00Z,2026-11-04T08:00:00Z,success,,run-3,,\n"
        + "nowhere,api,production,2026-11-04T09:00:00Z,2026-11-04T09:10:00Z,success,,run-4,,\n"
        + "payments,api,production,2026-11-04T09:00:00Z,2026-11-04T09:10:00Z,success,,,,\n"
        + "payments,api,production,2026-11-04T09:00:00Z,2026-11-04T09:10:00Z,success,,run-5,PAY-404,\n"
    )
    with pytest.raises(CommandError) as refused:
        run(tmp_path, "deployments", bad)
    message = str(refused.value)
    assert "nothing was written: 4 problem(s)" in message
    assert "deployments.csv, line 5, field 'finished_at': A deployment cannot finish" in message
    assert "line 6, field 'stream': No value stream has the slug “nowhere”." in message
    assert "line 7, field 'external_id': every row needs one" in message
    assert "line 8, field 'items': Payments has no item PAY-404" in message
    assert not Deployment.objects.exists() and not DeploymentItem.objects.exists()


def test_incidents_name_their_cause_by_the_deployments_external_id(tmp_path, stream):
    run(tmp_path, "deployments", DEPLOYMENTS)
    incidents = (
        "stream,title,severity,opened_at,resolved_at,caused_by_external_id,external_id,items\n"
        "payments,Card payments failing,sev1,2026-11-02T10:00:00Z,2026-11-02T11:30:00Z,run-1,INC-1,PAY-1\n"
        "payments,Slow receipts,sev3,2026-11-05T10:00:00Z,,,INC-2,\n"
    )
    assert "2 new" in run(tmp_path, "incidents", incidents)
    failing = Incident.objects.get(external_id="INC-1")
    assert failing.caused_by.external_id == "run-1" and failing.severity == "sev1"
    assert list(failing.items.values_list("external_key", flat=True)) == ["PAY-1"]
    assert Incident.objects.get(external_id="INC-2").resolved_at is None
    assert "2 unchanged" in run(tmp_path, "incidents", incidents)


def test_a_missing_column_or_file_is_named(tmp_path, stream):
    with pytest.raises(CommandError, match="the header lacks the column\\(s\\) opened_at"):
        run(tmp_path, "incidents", "stream,title,external_id\npayments,Down,INC-1\n")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_delivery_csv", "incidents", str(tmp_path / "missing.csv"))
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (DEPLOYMENTS + "payments,api,production,2026-11-02T09:00:00Z,,in_progress,\x00,run-9,,\n", "line 5"),
        (DEPLOYMENTS + "payments," + "x" * 5000, "line 5 is longer than 1,024 characters"),
        (DEPLOYMENTS.replace("2026-11-02T08:00:00Z", "0001-11-02T08:00:00Z"), "before 2000-01-01"),
    ],
    ids=["nul", "endless-line", "year-1"],
)
def test_hostile_delivery_files_are_refused_by_line_and_write_nothing(tmp_path, stream, settings, text, words):
    settings.IMPORT_MAX_CSV_LINE = 1024
    with pytest.raises(CommandError, match=words):
        run(tmp_path, "deployments", text)
    assert not Deployment.objects.exists()


def test_a_delivery_file_that_is_not_utf8_is_refused(tmp_path, stream):
    path = tmp_path / "incidents.csv"
    path.write_bytes("stream,title,opened_at,external_id\npayments,Pannë,2026-11-02T09:00:00Z,i-1\n".encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_delivery_csv", "incidents", str(path))
    assert not Incident.objects.exists()


def test_a_delivery_file_whose_header_never_ends_is_refused(tmp_path, stream, settings):
    settings.IMPORT_MAX_CSV_LINE = 1024
    with pytest.raises(CommandError, match="line 1 is longer than 1,024 characters"):
        run(tmp_path, "deployments", "stream," * 1000)
