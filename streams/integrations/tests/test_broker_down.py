"""The job queue down: pages keep working, the import waits with a clear note, and once Redis is
back the periodic sweep sends it to a real worker, which runs it."""

import json
import os
from pathlib import Path
import subprocess
import sys
import uuid

from django.db import connection
import pytest

from portal.celery import app as celery_app
from portal.tests.test_celery_worker import start_worker
from streams.integrations.jobs import WAITING_FOR_QUEUE
from streams.integrations.tasks import resend_waiting_jobs, run_import
from streams.integrations.tests.test_import_worker import wait_for
from streams.integrations.tests.test_imports import ITEMS, STATES, TRANSITIONS
from streams.models import BacklogItem, ImportJob
from teams.tests.factories import TeamFactory, UserFactory

ROOT = Path(__file__).resolve().parents[3]
DEAD_BROKER = "redis://127.0.0.1:6391/0"  # nothing listens there: the broker is down

# Runs in a process of its own whose Celery app points at the dead broker.
UPLOAD = """
import json, time
import django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from portal.celery import app
app.conf.task_always_eager = False  # send to the (dead) broker, as production does
client = Client()
from django.contrib.auth import get_user_model
client.force_login(get_user_model().objects.get(username="root"))
files = {role: SimpleUploadedFile(role + ".csv", text.encode()) for role, text in json.loads(%r).items()}
started = time.monotonic()
upload = client.post("/imports/", {"source": "csv", "stream": "payments", "stream_name": "Payments", **files})
seconds = time.monotonic() - started
job_page = client.get(upload["Location"])
print(json.dumps({
    "upload": upload.status_code, "location": upload["Location"], "seconds": seconds,
    "job_page": job_page.status_code, "job_html": job_page.content.decode(),
    "home": client.get("/").status_code, "imports": client.get("/imports/").status_code,
}))
"""


def csv(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines())


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_pages_work_and_the_import_runs_once_it_is_back(settings):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    TeamFactory(name="Checkout", slug="checkout")
    files = json.dumps({"states": csv(STATES), "items": csv(ITEMS), "transitions": csv(TRANSITIONS)})
    db = connection.settings_dict
    down = subprocess.run(
        [sys.executable, "-c", UPLOAD % files],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings_test",
            "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "TEST_CELERY_BROKER_URL": DEAD_BROKER,
            "TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert down.returncode == 0, down.stderr[-3000:]
    pages = json.loads(down.stdout.strip().splitlines()[-1])
    # The upload is accepted and every page answers; the job says what it waits for.
    assert pages["upload"] == 302 and pages["job_page"] == 200
    assert pages["home"] == 200 and pages["imports"] == 200
    assert WAITING_FOR_QUEUE in pages["job_html"]
    print(f"upload with the broker down answered in {pages['seconds']:.2f} s")
    job = ImportJob.objects.get()
    assert (job.status, job.sent_at) == ("queued", None)
    assert "unreachable" in down.stderr  # and the log says so
    assert not BacklogItem.objects.exists()

    # Redis is back: the sweep (beat, every minute) sends the job and a real worker imports it.
    queue = f"test-{uuid.uuid4().hex[:12]}"
    worker = start_worker(queue)
    eager, routes = celery_app.conf.task_always_eager, celery_app.conf.task_routes
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_routes = {run_import.name: {"queue": queue}}
    celery_app.amqp.flush_routes()
    celery_app.amqp.__dict__.pop("router", None)
    try:
        assert resend_waiting_jobs() == 1
        wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == "succeeded", 90, "the import to succeed")
        assert BacklogItem.objects.filter(stream__slug="payments").count() == 4
        assert resend_waiting_jobs() == 0  # sent once; nothing waits any more
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_routes = eager, routes
        celery_app.amqp.flush_routes()
        celery_app.amqp.__dict__.pop("router", None)
        worker.terminate()
        print(worker.communicate(timeout=30)[0])
