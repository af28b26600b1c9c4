"""Hostile files through every import door (issue 23): nested, oversized, wrong encodings, far-past
dates. Each is refused with a message that names the problem and where it is, and nothing is
written: the row counts before and after are equal.

The nesting case once drove `import_jira` to about 22 GB; its command test runs in a child
process with a 1.5 GB address-space ceiling so that, on code without the bound, it fails with
a MemoryError instead of taking the machine down.
"""

import io
import json
import os
from pathlib import Path
import random
import resource
import subprocess
import sys

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
import pytest

from core.bounded_input import BoundedJson, InputTooLarge, bounded_lines
from core.errors import ImportRefused
from streams.integrations.jobs import import_job_run
from streams.integrations.tests.test_import_pages import upload
from streams.integrations.tests.test_imports import ITEMS, STATES, TRANSITIONS
from streams.integrations.tests.test_toolchain import as_file, issue, jira
from streams.integrations.toolchain import Mapping, parse, scan
from streams.integrations.writer import flow_csv_import
from streams.models import BacklogItem, ImportJob, StateTransition, ValueStream, WorkflowState
from teams.tests.factories import TeamFactory

ROOT = Path(__file__).resolve().parents[3]
NESTED = b'{"issues": [' + b"[" * 200_000 + b"]" * 200_000 + b"]}"  # the reviewer's 400 KB file
# In this process, a shallower file: without the bound the parser's cost grows with the square of
# the depth, and 200,000 levels would take the test run down rather than fail one test.
NESTED_HERE = b'{"issues": [' + b"[" * 2_000 + b"]" * 2_000 + b"]}"


def counts() -> tuple[int, int, int, int]:
    return (
        ValueStream.objects.count(),
        WorkflowState.objects.count(),
        BacklogItem.objects.count(),
        StateTransition.objects.count(),
    )


def csv_file(text: str) -> io.StringIO:
    return io.StringIO("\n".join(line.strip() for line in text.splitlines()))


# --- The bounded reader itself ----------------------------------------------------------------


def _read_all(data: bytes, chunk: int, **bounds) -> BoundedJson:
    limits = {"max_depth": 64, "max_item_bytes": 10**9, "max_bytes": 10**10, "item_depth": 2, **bounds}
    reader = BoundedJson(io.BytesIO(data), **limits)
    while reader.read(chunk):
        pass
    return reader


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 65536])
def test_brackets_and_escaped_quotes_inside_strings_do_not_count(chunk):
    text = ["[[[{", '\\"[[[', "a\\\\", '\\\\\\"{{', "]]]}}}", "\\\\"]
    data = json.dumps({"issues": [{"summary": t, "labels": [t, {"x": t}]} for t in text]}).encode()
    reader = _read_all(data, chunk, max_depth=5)  # the document itself nests 5 deep
    assert (reader.depth, reader.in_string, reader.item_start) == (0, False, None)
    with pytest.raises(InputTooLarge, match="nests deeper than 4 levels"):
        _read_all(data, chunk, max_depth=4)


def _walked(data: bytes) -> tuple[int, bool, int]:
    """(depth at the end, inside a string at the end, deepest nesting) of JSON text, byte by byte."""
    depth = deepest = 0
    in_string = escape = False
    for byte in data:
        if in_string:
            if escape:
                escape = False
            elif byte == ord("\\"):
                escape = True
            elif byte == ord('"'):
                in_string = False
        elif byte == ord('"'):
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return depth, in_string, deepest


@pytest.mark.parametrize("seed", range(40))
def test_the_bounded_reader_counts_nesting_as_a_byte_by_byte_walk_does(seed):
    """Runs of backslashes of every length, escaped quotes and brackets in strings, chunks cut
    anywhere (inside a run too), and the file cut short inside a string."""
    rng = random.Random(seed)
    pieces = ["\\", '"', "[", "]", "{", "}", "a", "\\\\"]

    def text() -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 30)))

    def value(level: int):
        if level > 5 or rng.random() < 0.3:
            return text()
        if rng.random() < 0.5:
            return [value(level + 1) for _ in range(rng.randrange(0, 4))]
        return {text(): value(level + 1) for _ in range(rng.randrange(0, 4))}

    data = json.dumps({"issues": [value(2) for _ in range(rng.randrange(1, 6))]}).encode()
    if seed % 4 == 3:
        data = data[: rng.randrange(1, len(data))]  # a file cut short, perhaps inside a string
    depth, in_string, deepest = _walked(data)
    for chunk in (1, 2, rng.randrange(3, 40), 65536):
        reader = _read_all(data, chunk, max_depth=deepest)
        assert (reader.depth, reader.in_string) == (depth, in_string)
        with pytest.raises(InputTooLarge, match=f"nests deeper than {deepest - 1} levels"):
            _read_all(data, chunk, max_depth=deepest - 1)


def test_nesting_beyond_the_bound_is_refused_with_its_byte_offset():
    with pytest.raises(InputTooLarge, match=r"nests deeper than 64 levels at byte 74"):
        _read_all(NESTED, 65536)  # the bound alone: no parser behind it


def test_one_item_beyond_the_bound_is_refused_with_where_it_starts():
    data = json.dumps({"issues": [{"key": "A-1"}, {"key": "A-2", "summary": "x" * 5000}]}).encode()
    start = data.index(b'{"key": "A-2"')
    with pytest.raises(InputTooLarge, match=rf"one item, starting at byte {start}, is larger than 4 KB"):
        _read_all(data, 100, max_item_bytes=4096)
    _read_all(data, 100, max_item_bytes=8192)


def test_a_csv_line_beyond_the_bound_is_refused_by_number():
    lines = bounded_lines(io.StringIO("a,b\n1,2\n" + "x" * 5000), max_line=1024, name="items.csv")
    assert next(lines) == "a,b\n" and next(lines) == "1,2\n"
    with pytest.raises(InputTooLarge, match="items.csv line 3 is longer than 1,024 characters"):
        next(lines)


# --- Jira and GitHub files: parse and scan ----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("read", [scan, lambda source, file: parse(source, file, Mapping())])
def test_a_deeply_nested_export_is_refused_while_reading(read):
    with pytest.raises(ImportRefused) as refused:
        read("jira", io.BytesIO(NESTED_HERE))
    assert "nests deeper than 64 levels at byte 74" in str(refused.value)


@pytest.mark.django_db
def test_a_nested_github_export_is_refused_too():
    data = b"[" + b"[" * 100 + b"]" * 100 + b"]"
    with pytest.raises(ImportRefused, match="nests deeper than 64 levels"):
        scan("github", io.BytesIO(data))


@pytest.mark.django_db
def test_an_issue_larger_than_the_bound_is_refused(settings):
    settings.IMPORT_MAX_ISSUE_MB = 1
    data = jira()
    issue(data, "PAY-3")["fields"]["description"] = "x" * (2 * 1024 * 1024)
    with pytest.raises(ImportRefused) as refused:
        scan("jira", as_file(data))
    assert "is larger than 1 MB (IMPORT_MAX_ISSUE_MB)" in str(refused.value)
    assert "after issue 2" in str(refused.value)


@pytest.mark.django_db
def test_a_file_larger_than_the_upload_bound_is_refused_by_the_reader(settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    data = jira()
    data["padding"] = "x" * (2 * 1024 * 1024)
    with pytest.raises(ImportRefused, match="larger than 1 MB, the most an import takes"):
        scan("jira", as_file(data))


@pytest.mark.django_db
def test_a_utf16_export_is_refused_not_failed(tmp_path):
    before = counts()
    with pytest.raises(CommandError, match="not valid JSON|ends early"):
        path = tmp_path / "utf16.json"
        path.write_bytes(json.dumps(jira()).encode("utf-16"))
        call_command("import_jira", str(path), "--stream", "payments")
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("when", ["0001-01-01T00:00:00.000+0000", "1999-12-31T23:59:59.000+0000"])
def test_jira_dates_before_2000_are_refused(when, tmp_path):
    data = jira()
    issue(data, "PAY-2")["fields"]["created"] = when
    before = counts()
    with pytest.raises(CommandError, match=r"issue PAY-2.*fields.created.*before 2000-01-01"):
        path = tmp_path / "old.json"
        path.write_text(json.dumps(data))
        call_command("import_jira", str(path), "--stream", "payments")
    assert counts() == before


@pytest.mark.django_db
def test_github_timeline_dates_before_2000_are_refused():
    from streams.integrations.tests.test_toolchain import github

    data = github()
    data[1]["timeline"].append({"event": "closed", "created_at": "0001-01-01T00:00:00Z"})
    with pytest.raises(ImportRefused, match="before 2000-01-01"):
        parse("github", as_file(data), Mapping())


# --- The command in a child process with a memory ceiling -------------------------------------


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 * 1024, resource.RLIM_INFINITY))


@pytest.mark.django_db(transaction=True)
def test_import_jira_refuses_a_nested_file_within_a_memory_ceiling(tmp_path):
    path = tmp_path / "nested.json"
    path.write_bytes(NESTED)
    db = connection.settings_dict
    before = counts()
    done = subprocess.run(
        [sys.executable, "manage.py", "import_jira", str(path), "--stream", "payments"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings_test",
            "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        },
        preexec_fn=_limit_memory,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "MemoryError" not in done.stderr
    assert "nests deeper than 64 levels at byte 74" in done.stderr
    assert counts() == before


# --- CSV ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_csv_dates_before_2000_are_refused_by_line():
    TeamFactory(name="Checkout", slug="checkout")
    transitions = TRANSITIONS.replace("2026-03-03T00:00:00+00:00", "0001-03-03T00:00:00+00:00", 1)
    before = counts()
    with pytest.raises(ImportRefused) as refused:
        flow_csv_import(
            stream_slug="payments",
            states_file=csv_file(STATES),
            items_file=csv_file(ITEMS),
            transitions_file=csv_file(transitions),
        )
    error = refused.value.errors[0]
    assert (error.file, error.line) == ("transitions.csv", 3)
    assert error.message == "0001-03-03 is before 2000-01-01; the portal takes dates from 2000 on."
    assert counts() == before


@pytest.mark.django_db
def test_a_csv_file_that_is_not_utf8_is_refused_with_the_file_named():
    items = io.TextIOWrapper(io.BytesIO(ITEMS.replace("Refund bug", "Réfund bug").encode("latin-1")), "utf-8")
    before = counts()
    with pytest.raises(ImportRefused) as refused:
        flow_csv_import(
            stream_slug="payments",
            states_file=csv_file(STATES),
            items_file=items,
            transitions_file=csv_file(TRANSITIONS),
        )
    assert any(e.file == "items.csv" and "not UTF-8 text (byte 0xe9" in e.message for e in refused.value.errors)
    assert counts() == before


@pytest.mark.django_db
def test_a_csv_line_without_end_is_refused(settings):
    settings.IMPORT_MAX_CSV_LINE = 1024
    items = ITEMS + "PAY-9," + "x" * 5000
    with pytest.raises(ImportRefused) as refused:
        flow_csv_import(
            stream_slug="payments",
            states_file=csv_file(STATES),
            items_file=csv_file(items),
            transitions_file=csv_file(TRANSITIONS),
        )
    assert any("longer than 1,024 characters" in e.message for e in refused.value.errors)
    assert not ValueStream.objects.exists()


# --- The upload page and its jobs -------------------------------------------------------------


@pytest.mark.django_db
def test_a_nested_upload_ends_refused_with_the_position(admin_client, django_capture_on_commit_callbacks):
    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, export=SimpleUploadedFile("nested.json", NESTED_HERE))
    job = ImportJob.objects.get()
    assert job.status == "refused", job.errors
    assert "nests deeper than 64 levels at byte 74" in job.errors[0]["message"]
    page = admin_client.get(f"/imports/{job.pk}/").content.decode()
    assert "nests deeper than 64 levels" in page and "Nothing was written" in page
    assert counts() == before


@pytest.mark.django_db
def test_an_upload_beyond_the_limit_is_dropped_and_the_form_says_why(admin_client, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    response = upload(admin_client, export=SimpleUploadedFile("huge.json", b" " * (2 * 1024 * 1024)))
    assert response.status_code == 422
    assert "huge.json is larger than 1 MB" in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_a_far_past_date_in_an_upload_ends_refused(admin_client, django_capture_on_commit_callbacks):
    data = jira()
    issue(data, "PAY-4")["fields"]["created"] = "0001-01-01T00:00:00.000+0000"
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, export=SimpleUploadedFile("old.json", json.dumps(data).encode()))
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status="queued")  # the suggested mapping, confirmed
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "refused"
    assert job.errors[0]["file"] == "issue PAY-4" and "before 2000-01-01" in job.errors[0]["message"]
    assert not BacklogItem.objects.exists()


@pytest.mark.django_db
def test_a_job_that_breaks_says_what_broke(admin_client, django_capture_on_commit_callbacks, monkeypatch):
    """An unexpected error is named, never an empty reason (a MemoryError's text is empty)."""
    from streams.integrations import jobs as import_jobs

    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client)
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status="queued")

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(import_jobs, "toolchain_import", out_of_memory)
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert "ran out of memory" in job.errors[0]["message"] and "WORKER_MEMORY_LIMIT_MB" in job.errors[0]["message"]
