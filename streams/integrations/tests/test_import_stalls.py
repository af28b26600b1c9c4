"""A job whose worker died is seen within minutes, can be retried from its page, and never runs
twice at once (issue 23, finding 8). Transactional: the heartbeat and the lock live on a
database connection of their own, which sees only committed rows."""

import datetime as dt
import time

from django.utils import timezone
import pytest

from streams.integrations.jobs import JobHeartbeat, RunningElsewhere, import_job_run, import_job_stalled
from streams.integrations.tests.test_import_pages import upload
from streams.models import BacklogItem, ImportJob

pytestmark = pytest.mark.django_db(transaction=True)


def _running(heartbeat_ago: dt.timedelta) -> ImportJob:
    return ImportJob.objects.create(
        source="jira",
        stream_slug="payments",
        status=ImportJob.Status.RUNNING,
        heartbeat_at=timezone.now() - heartbeat_ago,
        mapping={"statuses": {}},
    )


def test_a_running_job_beats_on_its_own_connection(settings):
    settings.IMPORT_HEARTBEAT_SECONDS = 1
    job = _running(dt.timedelta(minutes=10))
    with JobHeartbeat(job.pk):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if timezone.now() - job.heartbeat_at < dt.timedelta(seconds=5):
                break
            time.sleep(0.1)
    assert timezone.now() - job.heartbeat_at < dt.timedelta(seconds=5)
    assert not import_job_stalled(job)


def test_a_job_runs_at_most_once_at_a_time():
    job = _running(dt.timedelta(seconds=1))
    with JobHeartbeat(job.pk):
        with pytest.raises(RunningElsewhere):
            JobHeartbeat(job.pk).__enter__()
        # A second delivery of the job, meanwhile, leaves it alone: it is still running here.
        assert import_job_run(job_id=job.pk).status == ImportJob.Status.RUNNING
        job.refresh_from_db()
        assert job.attempts == 0
    with JobHeartbeat(job.pk):  # the lock went with the run
        pass


def test_a_job_not_heard_of_for_minutes_is_stalled_and_retried_from_its_page(
    admin_client, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_STALLED_AFTER = 120
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client)
    job = ImportJob.objects.get()
    # Its worker died three minutes ago, mid-import (nothing of the import committed).
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.RUNNING, heartbeat_at=timezone.now() - dt.timedelta(minutes=3), attempts=1
    )
    job.refresh_from_db()
    assert import_job_stalled(job)
    page = admin_client.get(f"/imports/{job.pk}/").content.decode()
    assert "it probably stopped" in page and "Run it again" in page
    assert "hx-trigger" not in page  # a stalled job is not polled forever
    listing = admin_client.get("/imports/").content.decode()
    assert "Stalled" in listing
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/imports/{job.pk}/retry/")
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 2
    assert BacklogItem.objects.count() == 13


def test_a_job_heard_of_a_minute_ago_is_not_stalled(settings):
    settings.IMPORT_STALLED_AFTER = 120
    assert not import_job_stalled(_running(dt.timedelta(minutes=1)))
    assert import_job_stalled(_running(dt.timedelta(minutes=3)))


def test_a_job_whose_worker_died_twice_is_not_run_again_by_itself(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client)
    job = ImportJob.objects.get()
    picked_up = {"status": ImportJob.Status.RUNNING, "heartbeat_at": timezone.now(), "phase": "Writing 13 items"}
    # Its worker died mid-import, and so did the next one the broker handed it to (a single death
    # is delivered again and completes: test_import_worker). The next delivery stops it.
    ImportJob.objects.filter(pk=job.pk).update(**picked_up, attempts=2, interrupted=1)
    job = import_job_run(job_id=job.pk)
    assert job.status == "failed" and job.interrupted == 2
    assert "stopped 2 times while running it (last seen: Writing 13 items)" in job.errors[0]["message"]
    assert not BacklogItem.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/imports/{job.pk}/retry/")  # a person decides to try again
    job.refresh_from_db()
    assert job.status == "succeeded" and job.interrupted == 0
