"""A task goes end to end through a real `celery worker` process on the Redis broker."""

import datetime as dt
import os
from pathlib import Path
import subprocess
import sys
import uuid

from django.conf import settings
from django.db import connection
import pytest

from portal.celery import app as celery_app
from streams.backlog.services import item_change_state, item_create
from streams.backlog.tasks import refresh_flow_dates
from streams.models import BacklogItem
from streams.tests.factories import ValueStreamFactory, state

ROOT = Path(__file__).resolve().parents[2]


def start_worker(queue: str, **env) -> subprocess.Popen:
    """A real `celery worker` process on the test database and broker, consuming `queue` only
    (so parallel test runs never steal each other's tasks); `env` adds settings."""
    db = connection.settings_dict
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings_test",
            "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "TEST_CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def worker_queue():
    """Start a worker on a queue of its own."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    worker = start_worker(queue)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield queue
    finally:
        celery_app.conf.task_always_eager = eager
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
        print(output)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_task_runs_in_a_real_worker_on_redis(worker_queue):
    stream = ValueStreamFactory()
    item = item_create(
        stream_id=stream.pk,
        title="Through the broker",
        flow_type="feature",
        created_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    )
    item_change_state(item=item, to_state=state(stream, "In progress"), at=dt.datetime(2026, 1, 6, tzinfo=dt.UTC))
    BacklogItem.objects.filter(pk=item.pk).update(started_at=None)  # damage the derived date

    result = refresh_flow_dates.apply_async(args=[stream.pk], queue=worker_queue, ignore_result=False)
    assert result.get(timeout=60) == 1
    assert result.successful()
    item.refresh_from_db()
    assert item.started_at == dt.datetime(2026, 1, 6, tzinfo=dt.UTC)
