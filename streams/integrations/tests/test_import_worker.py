"""An import in a real Celery worker on Redis: killed mid-write it leaves nothing; redelivered, it completes."""

import datetime as dt
import io
import json
from pathlib import Path
import signal
import time
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
import psycopg
import pytest

from portal.celery import app as celery_app
from portal.tests.test_celery_worker import start_worker
from streams.integrations.jobs import import_job_stalled
from streams.integrations.tasks import run_import
from streams.models import BacklogItem, ImportJob, StateTransition, ValueStream

ROOT = Path(__file__).resolve().parents[3]
ISSUES = 6000
STATUSES = ["To Do", "In Progress", "In Review", "In Progress", "Waiting for QA", "Done"]


def export(issues: int) -> bytes:
    """A Jira search export: every issue walks the whole workflow, an hour per step."""
    out = io.StringIO()
    out.write(f'{{"startAt": 0, "total": {issues}, "issues": [')
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    for n in range(1, issues + 1):
        created = start + dt.timedelta(minutes=n)
        histories = [
            {
                "created": (created + dt.timedelta(hours=step)).isoformat(),
                "items": [{"field": "status", "fromString": STATUSES[step - 1], "toString": STATUSES[step]}],
            }
            for step in range(1, len(STATUSES))
        ]
        issue = {
            "key": f"BULK-{n}",
            "fields": {
                "summary": f"Issue {n}",
                "issuetype": {"name": "Story"},
                "status": {"name": "Done"},
                "created": created.isoformat(),
                "labels": [],
            },
            "changelog": {"histories": histories},
        }
        out.write(("," if n > 1 else "") + json.dumps(issue))
    out.write("]}")
    return out.getvalue().encode()


def table_held(model):
    """A connection of the test's own holding the model's table in SHARE mode: the import's writes
    to it wait (inside the import's transaction) until the lock goes, however fast the machine."""
    db = connection.settings_dict
    held = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432, password=db["PASSWORD"] or None
    )
    held.execute(f"LOCK TABLE {model._meta.db_table} IN SHARE MODE")
    return held


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_import_leaves_nothing_and_the_redelivery_completes(settings):
    settings.IMPORT_STALLED_AFTER = 5
    name = default_storage.save(f"imports/test/{uuid.uuid4().hex}/export.json", ContentFile(export(ISSUES)))
    job = ImportJob.objects.create(
        source="jira", stream_slug="bulk", files={"export": name}, status=ImportJob.Status.QUEUED
    )
    queue = f"test-{uuid.uuid4().hex[:12]}"
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    first = start_worker(queue, IMPORT_HEARTBEAT_SECONDS="1")
    second = None
    held = table_held(StateTransition)  # the write cannot finish before the kill
    try:
        run_import.apply_async(args=[job.pk], queue=queue)
        # The job says it is writing once the file is read and checked: kill the worker then.
        wait_for(
            lambda: ImportJob.objects.filter(pk=job.pk, phase__startswith="Writing").exists(), 120, "the write phase"
        )
        # The heartbeat goes on while the import writes in its one long transaction.
        beat = ImportJob.objects.get(pk=job.pk).heartbeat_at
        wait_for(lambda: ImportJob.objects.get(pk=job.pk).heartbeat_at > beat, 10, "a heartbeat while writing")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        held.close()
        job.refresh_from_db()
        assert job.status == "running" and job.attempts == 1
        # With its worker dead, the job is seen as stalled once the heartbeat is IMPORT_STALLED_AFTER old.
        wait_for(lambda: import_job_stalled(ImportJob.objects.get(pk=job.pk)), 30, "the job to show as stalled")
        # The transaction died with the worker: not one row of the import is left.
        assert not ValueStream.objects.filter(slug="bulk").exists()
        assert not BacklogItem.objects.exists() and not StateTransition.objects.exists()

        # Unacknowledged (acks_late), the task goes back to the queue after the visibility timeout.
        second = start_worker(queue, CELERY_VISIBILITY_TIMEOUT="1")
        wait_for(
            lambda: ImportJob.objects.filter(pk=job.pk, status__in=["succeeded", "failed", "refused"]).exists(),
            120,
            "the redelivered job",
        )
        job.refresh_from_db()
        assert job.status == "succeeded", job.errors
        assert job.attempts == 2
        assert BacklogItem.objects.filter(stream__slug="bulk").count() == ISSUES
        assert StateTransition.objects.count() == ISSUES * len(STATUSES)
    finally:
        held.close()
        celery_app.conf.task_always_eager = eager
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                print(worker.communicate(timeout=30)[0])


def _address_space_limit(pid: int) -> int | None:
    """The soft 'Max address space' of a process, from /proc (None while unlimited)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max address space"):
            soft = line.split()[3]
            return None if soft == "unlimited" else int(soft)
    return None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_caps_its_memory_and_refuses_a_hostile_file_without_dying():
    nested = b'{"issues": [' + b"[" * 200_000 + b"]" * 200_000 + b"]}"
    name = default_storage.save(f"imports/test/{uuid.uuid4().hex}/export.json", ContentFile(nested))
    job = ImportJob.objects.create(source="jira", stream_slug="bulk", files={"export": name}, status="scanning")
    queue = f"test-{uuid.uuid4().hex[:12]}"
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    worker = start_worker(queue, WORKER_MEMORY_LIMIT_MB="3000")
    try:
        limit = wait_for(lambda: _address_space_limit(worker.pid), 60, "the worker's memory ceiling")
        assert limit == 3000 * 1024 * 1024
        run_import.apply_async(args=[job.pk], queue=queue)
        wait_for(lambda: ImportJob.objects.filter(pk=job.pk, status__in=["refused", "failed"]).exists(), 60, "the job")
        job.refresh_from_db()
        assert job.status == "refused" and "nests deeper than 64 levels at byte 74" in job.errors[0]["message"]
        assert worker.poll() is None  # the worker lives on for the next job
        assert not ValueStream.objects.exists() and not BacklogItem.objects.exists()
    finally:
        celery_app.conf.task_always_eager = eager
        worker.terminate()
        print(worker.communicate(timeout=30)[0])
