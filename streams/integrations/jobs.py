"""Imports as background jobs: upload, map, run, report; the commands share the same steps.

A job moves through: scanning (reading the names a Jira or GitHub file uses) → mapping (the
user confirms how statuses, types and labels land) → queued → running → succeeded, refused
(the file has problems, listed by issue or row) or failed (something broke; retry it).

All-or-nothing: the file is read and checked completely first, then everything is written in
one transaction together with the job's "succeeded", so a worker killed at any moment leaves
either the whole import or nothing, and the job delivered again (acks_late) or retried from
the page starts over and completes. Running a finished job again does nothing.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import asdict
import datetime as dt
import io
import logging
import threading
import time
from typing import IO
import uuid

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify

from core import access
from core.errors import PERMISSION_DENIED, DomainError, ImportRefused, RowError
from core.queue import send
from streams.integrations.toolchain import Found, Mapping, mapping_for, mapping_remember, parse, scan
from streams.integrations.writer import ImportResult, collector_paused, flow_csv_import, write_parsed
from streams.models import ImportJob, ImportSource, ValueStream

logger = logging.getLogger(__name__)
Status = ImportJob.Status
CSV_ROLES = ("states", "items", "transitions")
PROGRESS_SECONDS = 0.5  # at most two progress writes a second


def toolchain_import(
    *,
    source: str,
    stream_slug: str,
    file: IO[bytes],
    mapping: Mapping | None = None,
    stream_name: str = "",
    progress=None,
    on_write=None,
    on_commit_of=None,
) -> ImportResult:
    """Import a Jira or GitHub export into the stream (created if missing); all or nothing.

    `mapping` (default: the stream's remembered one) is completed with defaults as names turn
    up; a status with neither is refused by name. The mapping used is remembered with the
    import. Raises `ImportRefused` listing every problem before anything is written.
    `on_write(parsed)` runs when reading is done; `on_commit_of(result)` inside the transaction.
    """
    started = time.monotonic()
    _check_slug(stream_slug)
    stream = ValueStream.objects.filter(slug=stream_slug).first()
    if mapping is None:
        mapping = mapping_for(stream, source)
    elif stream is not None:
        mapping.existing = mapping_for(stream, source).existing
    # As for CSV files: the export's histories are a million objects and no cycles, which the garbage
    # collector went over 4,700 times while a large export was read (1.6 s), 300 times while it was written.
    with collector_paused():
        parsed = parse(source, file, mapping, progress)
        if on_write:
            on_write(parsed)
        with transaction.atomic():
            result = write_parsed(stream, stream_slug, stream_name, parsed)
            mapping_remember(stream=result.stream, source=source, mapping=mapping)
            result.seconds = time.monotonic() - started
            if on_commit_of:
                on_commit_of(result)
    return result


def _check_slug(slug: str) -> None:
    if not slug or slugify(slug) != slug:
        raise ImportRefused(
            [RowError("--stream", 0, "", f"{slug!r} is not a slug (lowercase letters, digits, hyphens).")]
        )


# --- Jobs -------------------------------------------------------------------------------------


def may_import(user, stream: ValueStream | None) -> bool:
    """Importing writes a stream's workflow and backlog: its leadership (or an administrator);
    creating a stream by import is an administrator's decision, as creating one anywhere."""
    if stream is None:
        return access.may(user, access.ADD, ValueStream)
    return access.may(user, access.CHANGE, stream)


@transaction.atomic
def import_job_create(*, user, source: str, stream_slug: str, stream_name: str = "", uploads: dict) -> ImportJob:
    """Store the uploaded file(s) and queue the job. `uploads` maps a role ("export", or "states",
    "items" and "transitions" for CSV) to an uploaded file. Raises DomainError naming the field."""
    if source not in ImportSource.values:
        raise DomainError(f"{source!r} is not a source this portal imports from.", field="source")
    _check_slug_field(stream_slug)
    stream = ValueStream.objects.filter(slug=stream_slug).first()
    if not may_import(user, stream):
        raise DomainError(
            "Only the stream's product director or an administrator may import into it."
            if stream
            else "Only an administrator may create a value stream by importing into a new slug.",
            field="stream",
            code=PERMISSION_DENIED,
        )
    roles = CSV_ROLES if source == ImportSource.CSV else ("export",)
    missing = [role for role in roles if not uploads.get(role)]
    if missing:
        raise DomainError(f"Choose the {', '.join(missing)} file{'s' if len(missing) > 1 else ''}.", field=missing[0])
    folder = f"imports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"
    files, names = {}, []
    for role in roles:
        upload = uploads[role]
        suffix = ".csv" if source == ImportSource.CSV else ".json"
        files[role] = default_storage.save(f"{folder}/{role}{suffix}", upload)
        names.append(getattr(upload, "name", role))
    job = ImportJob.objects.create(
        source=source,
        stream=stream,
        stream_slug=stream_slug,
        stream_name=stream_name,
        files=files,
        file_names=", ".join(names)[:500],
        status=Status.QUEUED if source == ImportSource.CSV else Status.SCANNING,
        progress_total=sum(default_storage.size(name) for name in files.values()),
        created_by=user,
    )
    _enqueue(job)
    return job


def _check_slug_field(slug: str) -> None:
    if not slug or slugify(slug) != slug:
        raise DomainError(f"{slug!r} is not a slug (lowercase letters, digits, hyphens).", field="stream")


WAITING_FOR_QUEUE = "Waiting for the job queue, which is unreachable: the job starts as soon as it is back"


def _enqueue(job: ImportJob) -> None:
    """Send the job once the transaction commits; if the broker is down, say so on the job and
    let `import_jobs_resend` send it later (the job's row is the record that it must run)."""
    transaction.on_commit(lambda: _send(job.pk))


def _send(job_id: int) -> bool:
    if send("streams.run_import", job_id):
        ImportJob.objects.filter(pk=job_id).update(sent_at=timezone.now())
        return True
    waiting = ImportJob.objects.filter(pk=job_id, status__in=[Status.QUEUED, Status.SCANNING])
    waiting.update(sent_at=None, phase=WAITING_FOR_QUEUE)
    return False


def import_jobs_resend(*, lost_after: dt.timedelta | None = None) -> int:
    """Send again the jobs waiting to start whose message never reached the broker, or was lost
    with it (sent longer ago than the broker's redelivery timeout and never picked up).
    Returns how many were sent. A job sent twice is safe: a finished job is left alone and only
    one delivery's import can commit."""
    lost_after = lost_after or dt.timedelta(seconds=settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"])
    not_picked_up = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=F("sent_at"))
    waiting = ImportJob.objects.filter(status__in=[Status.QUEUED, Status.SCANNING]).filter(
        Q(sent_at__isnull=True) | (Q(sent_at__lt=timezone.now() - lost_after) & not_picked_up)
    )
    return sum(_send(pk) for pk in waiting.values_list("pk", flat=True))


@transaction.atomic
def import_job_confirm_mapping(*, job: ImportJob, user, mapping: Mapping) -> ImportJob:
    """The user's mapping for a scanned job: store it on the job and queue the import."""
    locked = ImportJob.objects.select_for_update().get(pk=job.pk)
    if locked.status != Status.MAPPING:
        raise DomainError(
            f"This import is {locked.get_status_display().lower()}; its mapping is settled.", code="conflict"
        )
    if not may_import(user, locked.stream):
        raise DomainError(
            "Only the stream's product director or an administrator may import into it.", code=PERMISSION_DENIED
        )
    unmapped = [status for status in Found.from_dict(locked.found).statuses if status not in mapping.statuses]
    if unmapped:
        raise DomainError(f"Map every status; these have no state yet: {', '.join(unmapped)}.", field="statuses")
    locked.mapping = mapping.as_dict()
    locked.status = Status.QUEUED
    locked.save(update_fields=["mapping", "status"])
    _enqueue(locked)
    return locked


@transaction.atomic
def import_job_retry(*, job: ImportJob, user) -> ImportJob:
    """Run a failed or stalled job again from the start (its file is kept until it succeeds)."""
    locked = ImportJob.objects.select_for_update().get(pk=job.pk)
    if not (locked.status == Status.FAILED or import_job_stalled(locked)):
        raise DomainError(
            f"This import is {locked.get_status_display().lower()}; only a failed or stalled one is retried.",
            code="conflict",
        )
    if not may_import(user, locked.stream):
        raise DomainError(
            "Only the stream's product director or an administrator may import into it.", code=PERMISSION_DENIED
        )
    locked.status = Status.QUEUED if locked.mapping or locked.source == ImportSource.CSV else Status.SCANNING
    locked.errors, locked.errors_more, locked.phase = [], 0, "Queued again"
    locked.heartbeat_at, locked.interrupted = None, 0  # not picked up yet: neither running nor stalled
    locked.save(update_fields=["status", "errors", "errors_more", "phase", "heartbeat_at", "interrupted"])
    _enqueue(locked)
    return locked


def import_job_stalled(job: ImportJob) -> bool:
    """A job a worker picked up and has not been heard of for IMPORT_STALLED_AFTER seconds: the
    worker died (its heartbeat thread beats every IMPORT_HEARTBEAT_SECONDS while it lives)."""
    if job.status not in (Status.RUNNING, Status.SCANNING) or job.heartbeat_at is None:
        return False
    return (timezone.now() - job.heartbeat_at).total_seconds() > settings.IMPORT_STALLED_AFTER


def import_job_run(*, job_id: int) -> ImportJob:
    """The background job's body: scan or import, whichever the job waits for; else nothing.

    The job runs at most once at a time: a delivery that finds it running elsewhere (its lock
    held) leaves it alone. While it runs, a heartbeat shows it alive."""
    job = ImportJob.objects.get(pk=job_id)
    if job.status not in (Status.SCANNING, Status.QUEUED, Status.RUNNING):  # finished, or waiting for its mapping
        return job
    try:
        with JobHeartbeat(job.pk):
            job.refresh_from_db()  # as it is now that this run holds it
            if job.status in (Status.SCANNING, Status.RUNNING) and job.heartbeat_at is not None:
                # A run picked it up, and nobody holds it now: that run's worker died.
                job.interrupted += 1
                ImportJob.objects.filter(pk=job.pk).update(interrupted=job.interrupted)
                if job.interrupted >= MAX_INTERRUPTED:
                    return _finish(job, Status.FAILED, errors=[_interrupted(job)])
            if job.status == Status.SCANNING:
                return _scan(job)
            if job.status in (Status.QUEUED, Status.RUNNING):
                return _run(job)
            return job
    except RunningElsewhere:
        logger.info("Import job %s is running in another worker; this delivery leaves it alone", job.pk)
        return ImportJob.objects.get(pk=job.pk)


# A job whose worker died this many times is not run again by itself: one bad file must not
# take down worker after worker. A retry from the page starts the count again.
MAX_INTERRUPTED = 2


def _interrupted(job: ImportJob) -> RowError:
    return RowError(
        "the job",
        0,
        "",
        f"its worker stopped {job.interrupted} times while running it (last seen: {job.phase or 'starting'}), so "
        "it is not run again by itself; nothing was written. Run it again once the cause is known.",
    )


class RunningElsewhere(Exception):
    """Another worker holds the job's lock: it is running there now."""


# pg_try_advisory_lock(class, id): the class keeps these locks apart from any other use.
JOB_LOCK_CLASS = 7223


class JobHeartbeat:
    """While a job runs: a thread with a database connection of its own that records a heartbeat
    every IMPORT_HEARTBEAT_SECONDS (seen even while the import writes in one long transaction)
    and, on PostgreSQL, holds the job's advisory lock, so a second delivery of the job cannot
    run it at the same time. Both end with the process: a killed worker's connection closes,
    which frees the lock, and its heartbeat stops, so the job shows as stalled."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.ready, self.stop = threading.Event(), threading.Event()
        self.locked = False
        self.thread = threading.Thread(target=self._beat, name=f"import-job-{job_id}-heartbeat", daemon=True)

    def __enter__(self) -> JobHeartbeat:
        self.thread.start()
        self.ready.wait(timeout=60)
        if not self.locked:
            self.stop.set()
            self.thread.join(timeout=60)
            raise RunningElsewhere
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.thread.join(timeout=60)

    def _beat(self) -> None:
        try:
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [JOB_LOCK_CLASS, self.job_id])
                    self.locked = bool(cursor.fetchone()[0])
            else:
                self.locked = True  # SQLite has one writer: a second run could never commit beside the first
            self.ready.set()
            while self.locked and not self.stop.wait(settings.IMPORT_HEARTBEAT_SECONDS):
                try:
                    ImportJob.objects.filter(pk=self.job_id).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    logger.warning("Import job %s: heartbeat not recorded", self.job_id, exc_info=True)
        except Exception:
            logger.exception("Import job %s: heartbeat thread failed", self.job_id)
        finally:
            self.ready.set()
            connection.close()  # ends the session, and with it the advisory lock


class _Progress:
    """Writes the job's progress (at most every PROGRESS_SECONDS) outside any transaction."""

    def __init__(self, job: ImportJob, verb: str):
        self.job, self.verb, self.last = job, verb, 0.0

    def __call__(self, issues: int, done: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_SECONDS:
            return
        self.last = now
        ImportJob.objects.filter(pk=self.job.pk).update(
            progress_done=done, phase=f"{self.verb} {issues:,} issues", heartbeat_at=timezone.now()
        )


def _begin(job: ImportJob, status: str, phase: str) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        status=status,
        phase=phase,
        progress_done=0,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        attempts=F("attempts") + 1,
    )


def _scan(job: ImportJob) -> ImportJob:
    _begin(job, Status.SCANNING, "Reading the statuses, types and labels")
    try:
        with default_storage.open(job.files["export"], "rb") as file:
            found = scan(job.source, file, _Progress(job, "Read"))
    except ImportRefused as refused:
        return _finish(job, Status.REFUSED, errors=refused.errors, more=refused.more)
    except Exception as error:
        logger.exception("Import job %s failed while scanning", job.pk)
        return _finish(job, Status.FAILED, errors=[_failure(error)])
    stream = ValueStream.objects.filter(slug=job.stream_slug).first()
    mapping = mapping_for(stream, job.source, found)
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.MAPPING,
        found=found.as_dict(),
        mapping=mapping.as_dict(),
        phase=f"Found {found.issues:,} issues; confirm the mapping",
        progress_done=F("progress_total"),
        heartbeat_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def _run(job: ImportJob) -> ImportJob:
    _begin(job, Status.RUNNING, "Reading the file")
    progress = _Progress(job, "Read and checked")

    def writing(parsed) -> None:
        moves = sum(len(history) for history in parsed.histories.values())
        ImportJob.objects.filter(pk=job.pk).update(
            phase=f"Writing {len(parsed.items):,} items and {moves:,} moves in one transaction",
            progress_done=F("progress_total"),
            heartbeat_at=timezone.now(),
        )

    def succeed(result: ImportResult) -> None:
        """Inside the import's transaction: the job is done exactly when its writes are."""
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status == Status.SUCCEEDED:
            raise _AlreadyDone  # another delivery of the job finished it meanwhile: roll back
        _finish(job, Status.SUCCEEDED, result=result)

    try:
        with ExitStack() as files:
            opened = {role: files.enter_context(default_storage.open(name, "rb")) for role, name in job.files.items()}
            _import(job, opened, progress, writing, succeed)
    except _AlreadyDone:
        return ImportJob.objects.get(pk=job.pk)
    except ImportRefused as refused:
        return _finish(job, Status.REFUSED, errors=refused.errors, more=refused.more)
    except DomainError as refused:
        return _finish(job, Status.REFUSED, errors=[RowError("the import", 0, refused.field or "", refused.message)])
    except Exception as error:
        logger.exception("Import job %s failed", job.pk)
        return _finish(job, Status.FAILED, errors=[_failure(error)])
    _discard_files(job)
    job.refresh_from_db()
    return job


def _failure(error: Exception) -> RowError:
    """What broke, for the job's page: never an empty reason."""
    if isinstance(error, MemoryError):
        limit = settings.WORKER_MEMORY_LIMIT_MB
        return RowError(
            "the job",
            0,
            "",
            "ran out of memory"
            + (f" (a worker may use {limit:,} MB, WORKER_MEMORY_LIMIT_MB)" if limit else "")
            + "; nothing was written. Split the file, or raise the limit.",
        )
    return RowError("the job", 0, "", f"stopped unexpectedly: {type(error).__name__}: {error}".rstrip(": "))


class _AlreadyDone(Exception):
    pass


def _import(job: ImportJob, opened: dict, progress, writing, succeed) -> ImportResult:
    """Read (outside any transaction, so progress is seen), then write in one transaction."""
    if job.source == ImportSource.CSV:
        texts = {role: io.TextIOWrapper(opened[role], encoding="utf-8-sig", newline="") for role in CSV_ROLES}
        return flow_csv_import(
            stream_slug=job.stream_slug,
            stream_name=job.stream_name,
            states_file=texts["states"],
            items_file=texts["items"],
            transitions_file=texts["transitions"],
            on_commit_of=succeed,
        )
    mapping = Mapping.from_dict(job.mapping) if job.mapping else None
    return toolchain_import(
        source=job.source,
        stream_slug=job.stream_slug,
        stream_name=job.stream_name,
        file=opened["export"],
        mapping=mapping,
        progress=progress,
        on_write=writing,
        on_commit_of=succeed,
    )


def _finish(job: ImportJob, status: str, *, result: ImportResult | None = None, errors=(), more: int = 0) -> ImportJob:
    values = {
        "status": status,
        "finished_at": timezone.now(),
        "heartbeat_at": timezone.now(),
        "errors": [asdict(error) for error in errors],
        "errors_more": more,
        "phase": {Status.SUCCEEDED: "Done", Status.REFUSED: "Refused", Status.FAILED: "Failed"}[status],
    }
    if result is not None:
        values.update(result=result.as_dict(), stream=result.stream, progress_done=F("progress_total"))
    ImportJob.objects.filter(pk=job.pk).update(**values)
    if status == Status.REFUSED:
        _discard_files(job)  # a refused file is fixed and uploaded again, never retried
    job.refresh_from_db()
    return job


def _discard_files(job: ImportJob) -> None:
    for name in job.files.values():
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("Could not delete the upload %s of import job %s", name, job.pk)
