"""Webhooks: Jira and GitHub tell the portal about changes as they happen.

`/hooks/jira/` and `/hooks/github/` verify the HMAC-SHA256 signature of the body with the
shared secret (settings JIRA_WEBHOOK_SECRET, GITHUB_WEBHOOK_SECRET); a bad or missing one is
answered 403 and nothing is read further. A verified delivery is applied through the services
every other door uses: a status change through `item_change_state(via="webhook")` dated when
it happened in the tool (the release gate holds there too), a new issue through `item_create`
in the stream its project was imported into, a new title through `item_update`.

GitHub `deployment` and `deployment_status` events record deployments
(`streams.delivery.records`, idempotent by the GitHub deployment id): the repository's stream is the
one its issues were imported into, or the one named by `stream` in the deployment's payload;
`items` in that payload lists the keys of the items it ships.

Bodies are read up to 5 MB (MAX_BODY, whatever Django's DATA_UPLOAD_MAX_MEMORY_SIZE) and parsed
by `core.safejson` (nesting, NaN and Infinity bounded); every value read is checked for its
type first, and every date must lie between 2000-01-01 (`core.dates`) and now.

Replays: a delivery id seen before (Jira's `X-Atlassian-Webhook-Identifier`, GitHub's
`X-GitHub-Delivery`, kept in `WebhookDelivery` in the transaction that applied it) changes
nothing. An event older than the newest one applied to the item from its tool
(`BacklogItem.source_updated_at`) does not overwrite the title, and a move dated before the
item's last change is not made: both are answered 200 and kept as they are.

Answers, always JSON `{"detail": ..., "code": ...}`: 200 applied (or already applied, a
duplicate delivery, or older than what the portal holds: deliveries are retried, so applying
one twice changes nothing), 202 not tracked here (an issue or project never imported; an event
we do not use), 400 unreadable or malformed (the detail names the JSON path at fault), 403
signature, 409 refused by the portal's rules (the message says why), 413 larger than 5 MB,
422 a status with no mapping into the stream.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core import safejson
from core.dates import too_early
from core.errors import DomainError, integrity_message
from streams.backlog.services import CLOCK_SKEW, StateChangeError, item_change_state, item_create, item_update
from streams.delivery.records import DeploymentInput, deployment_record
from streams.integrations.github import GITHUB_CLOSED, GITHUB_NOT_PLANNED, GITHUB_OPEN, github_key, github_labels
from streams.integrations.toolchain import mapping_for
from streams.models import (
    BacklogItem,
    DeliverySource,
    Deployment,
    ImportProject,
    ImportSource,
    ValueStream,
    WebhookDelivery,
    WorkflowState,
)

logger = logging.getLogger(__name__)
MAX_BODY = 5 * 1024 * 1024  # the documented limit; Jira and GitHub deliveries are far smaller
MAX_DEPTH = 128  # Jira's rich text (descriptions, comments) nests objects and lists a few dozen deep
KEPT = "is older than what the portal holds; kept."


class HookAnswer(Exception):
    def __init__(self, status: int, detail: str, code: str = ""):
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    """`header` is `sha256=<hex of HMAC-SHA256(secret, body)>`; compared in constant time."""
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


def _answer(request: HttpRequest, answer: HookAnswer) -> JsonResponse:
    if answer.status >= 400:
        logger.info("Webhook %s refused (%s): %s", request.path, answer.status, answer.detail)
    return JsonResponse({"detail": answer.detail, "code": answer.code}, status=answer.status)


def _read(request: HttpRequest) -> bytes:
    """The body, read at most MAX_BODY + 1 bytes: a 413 when its Content-Length or what arrives is larger.

    Read here rather than through `request.body`, whose DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by
    default) would refuse with an HTML page what this limit allows."""
    too_large = HookAnswer(
        413, f"The delivery is larger than {MAX_BODY // (1024 * 1024)} MB, the most this portal reads.", "too_large"
    )
    length = request.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise too_large
    body = request.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise too_large
    if not body:
        raise HookAnswer(400, "The delivery is empty.", "invalid")
    return body


def _seen(source: str, delivery: str) -> bool:
    return WebhookDelivery.objects.filter(source=source, delivery_id=delivery).exists()


def _duplicate(delivery: str) -> JsonResponse:
    return JsonResponse(
        {"detail": f"Delivery {delivery} was applied before; nothing changed.", "code": "duplicate"}, status=200
    )


def _receive(
    request: HttpRequest, *, source: str, secret: str, header: str, apply, delivery_header: str = ""
) -> JsonResponse:
    try:
        body = _read(request)
    except HookAnswer as answer:
        return _answer(request, answer)
    if not signature_valid(secret, body, request.headers.get(header, "")):
        detail = (
            "This portal has no secret for this webhook; set it in the settings first."
            if not secret
            else f"The {header} signature is missing or does not match the body."
        )
        return JsonResponse({"detail": detail, "code": "bad_signature"}, status=403)
    try:
        payload = safejson.loads(body, max_depth=MAX_DEPTH)
        if not isinstance(payload, dict):
            raise ValueError("not a JSON object")
        delivery = _text(request.headers.get(delivery_header), delivery_header, max_length=200).strip()
    except ValueError as error:
        detail = f"The body is not a JSON object the portal reads: {str(error).rstrip('.')}."
        return _answer(request, HookAnswer(400, detail, "invalid"))
    except HookAnswer as answer:
        return _answer(request, answer)
    if delivery and _seen(source, delivery):
        return _duplicate(delivery)
    refusal = None
    try:
        with transaction.atomic():
            try:
                detail = apply(request, payload)
            except HookAnswer as answer:
                # Nothing is marked seen, so the tool's retry is applied. What a service keeps
                # when it refuses (work held by the release gate waits on readiness) is kept.
                refusal = answer
            else:
                if delivery:
                    WebhookDelivery.objects.create(source=source, delivery_id=delivery, status=200)
    except IntegrityError as error:
        if delivery and _seen(source, delivery):  # the same delivery, applied meanwhile by another worker
            return _duplicate(delivery)
        return _answer(request, HookAnswer(409, integrity_message(error), "conflict"))
    if refusal is not None:
        return _answer(request, refusal)
    return JsonResponse({"detail": detail, "code": "applied"}, status=200)


@csrf_exempt
@login_not_required
@require_POST
def jira_hook(request: HttpRequest) -> JsonResponse:
    return _receive(
        request,
        source=ImportSource.JIRA,
        secret=settings.JIRA_WEBHOOK_SECRET,
        header="X-Hub-Signature",
        delivery_header="X-Atlassian-Webhook-Identifier",
        apply=_apply_jira,
    )


@csrf_exempt
@login_not_required
@require_POST
def github_hook(request: HttpRequest) -> JsonResponse:
    secret, header = settings.GITHUB_WEBHOOK_SECRET, "X-Hub-Signature-256"
    if request.headers.get("X-GitHub-Event", "") == "ping":
        return _receive(request, source=ImportSource.GITHUB, secret=secret, header=header, apply=lambda r, p: "pong")
    return _receive(
        request,
        source=ImportSource.GITHUB,
        secret=secret,
        header=header,
        delivery_header="X-GitHub-Delivery",
        apply=_apply_github,
    )


# --- Reading a payload: every value checked for its type, named by its JSON path -------------


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _wrong(path: str, expected: str, value) -> HookAnswer:
    return HookAnswer(400, f"{path} must be {expected}, not {_kind(value)}.", "invalid")


def _object(value, path: str, *, required: bool = False) -> dict:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _wrong(path, "an object", value)
    return value


def _list(value, path: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong(path, "a list", value)
    return value


def _text(value, path: str, *, max_length: int | None = None, required: bool = False) -> str:
    """A string the database can hold ("" for null unless `required`)."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _wrong(path, "a string", value)
    if "\x00" in value:
        raise HookAnswer(400, f"{path} must not contain NUL characters.", "invalid")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise HookAnswer(400, f"{path} must be Unicode text (it holds a lone surrogate).", "invalid") from None
    if max_length is not None and len(value) > max_length:
        raise HookAnswer(400, f"{path} must be at most {max_length} characters long.", "invalid")
    return value


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _when(value, path: str, *, milliseconds: bool = False) -> dt.datetime:
    """A tool's date and time, from 2000-01-01 (`core.dates`) to now: ISO 8601 text with a UTC
    offset, or for Jira's `timestamp` milliseconds since 1970."""
    if value is None:
        raise HookAnswer(400, f"{path} is missing; it must be a date and time.", "invalid")
    if milliseconds:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong(path, "a number of milliseconds since 1970", value)
        try:
            parsed = dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
        except (OverflowError, ValueError, OSError):  # NaN, or beyond the years 1 to 9999
            raise HookAnswer(
                400,
                f"{path} must be milliseconds since 1970 of a date from 2000 to now, not {_shown(value)}.",
                "invalid",
            ) from None
    else:
        if not isinstance(value, str):
            raise _wrong(path, "a date and time in ISO 8601 text", value)
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise HookAnswer(
                400, f"{path} must be a date and time with a UTC offset (ISO 8601), not {_shown(value)}.", "invalid"
            )
    if reason := too_early(parsed):
        raise HookAnswer(400, f"{path}: {reason}", "invalid")
    if parsed > timezone.now() + CLOCK_SKEW:
        raise HookAnswer(
            400,
            f"{path} is in the future ({parsed.isoformat()}); the portal records changes when they happen.",
            "invalid",
        )
    return parsed.astimezone(dt.UTC)


def _when_given(value, path: str) -> dt.datetime | None:
    return None if value is None else _when(value, path)


def _stamp(at: dt.datetime) -> str:
    return f"{at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


# --- Applying ---------------------------------------------------------------------------------


def _state(stream: ValueStream, source: str, status: str) -> WorkflowState:
    target = mapping_for(stream, source).status(status)
    state = WorkflowState.objects.filter(stream=stream, name=target[0]).first() if target else None
    if state is None:
        raise HookAnswer(
            422,
            f"The status {status!r} has no workflow state in {stream.name}; map it by importing the project once "
            "(the import page remembers the mapping).",
            "unmapped_status",
        )
    return state


def _locked_item(source: str, key: str) -> BacklogItem | None:
    """The tool's item, its row locked until the delivery's transaction ends (no join: see `_change_state`)."""
    return BacklogItem.objects.select_for_update().filter(source=source, external_key=key).order_by("pk").first()


def _remove(source: str, key: str, at: dt.datetime) -> str:
    """An issue deleted in the tool ends in its stream's removed state (the history stays)."""
    item = _locked_item(source, key)
    if item is None:
        return f"{key} is not known here; nothing to remove."
    removed = item.stream.states.filter(category=WorkflowState.Category.REMOVED).order_by("order", "pk").first()
    if removed is None:
        raise HookAnswer(
            422,
            f"{item.stream.name} has no workflow state of the category removed to put the deleted {key} in; add one.",
            "no_removed_state",
        )
    return _move(item, removed, at)


def _move(item: BacklogItem, state: WorkflowState, at: dt.datetime) -> str:
    if state.pk == item.state_id:
        return f"{item.key} is already in {state.name}."
    last_at = item.transitions.order_by("-at").values_list("at", flat=True).first()
    if last_at is not None and at < last_at:  # a replayed or late event: the item has moved on since
        return f"{item.key}: the move to {state.name} dated {_stamp(at)} {KEPT}"
    try:
        item_change_state(item=item, to_state=state, at=at, via="webhook")
    except StateChangeError as error:
        if error.code == "no_change":
            return f"{item.key} is already in {state.name}."
        raise HookAnswer(409, error.message, error.code or "refused") from error
    return f"{item.key} moved to {state.name}."


def _update(item: BacklogItem, source: str, at: dt.datetime, *, title: str = "", statuses: tuple = ()) -> str:
    """Apply a tool's event of `at` to its item: the title unless an event already applied is
    newer, each move unless the item changed after `at`."""
    targets = [_state(item.stream, source, status) for status in statuses]  # unmapped: refused before any write
    older = item.source_updated_at is not None and at < item.source_updated_at
    if not older and item.source_updated_at != at:
        # Written before the changes, so the versions they record carry it.
        BacklogItem.objects.filter(pk=item.pk).update(source_updated_at=at)
        item.source_updated_at = at
    messages = []
    title = title.strip()[:300]
    if title and title != item.title:
        if older:
            messages.append(f"{item.key}: the title of this event, dated {_stamp(at)}, {KEPT}")
        else:
            try:
                item_update(item=item, title=title)
            except DomainError as error:
                raise HookAnswer(422, error.message, error.code or "invalid") from error
            messages.append(f"{item.key} retitled.")
    for state in targets:
        messages.append(_move(item, state, at))
    return " ".join(messages) or f"{item.key}: nothing that the portal tracks changed."


def _stream_of(source: str, project: str) -> ValueStream:
    link = ImportProject.objects.filter(source=source, project=project).select_related("stream").first()
    if link is None:
        raise HookAnswer(202, f"The project {project!r} was never imported; nothing to do.", "not_tracked")
    return link.stream


def _create(stream, source, key, *, title, status, flow_type, created, at, parent_key="") -> str:
    state = _state(stream, source, status)
    parent = (
        BacklogItem.objects.filter(stream=stream, source=source, external_key=parent_key).first()
        if parent_key
        else None
    )
    try:
        item_create(
            stream_id=stream.pk,
            title=(title.strip() or key)[:300],
            flow_type=flow_type,
            state=state,
            created_at=created,
            via="webhook",
            source=source,
            external_key=key,
            parent=parent,
            source_updated_at=at,
        )
    except DomainError as error:
        raise HookAnswer(409, error.message, error.code or "refused") from error
    except ValidationError as error:
        raise HookAnswer(422, " ".join(error.messages), "invalid") from error
    return f"{key} created in {stream.name}."


JIRA_EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted")


def _apply_jira(request, payload: dict) -> str:
    event = _text(payload.get("webhookEvent"), "webhookEvent")
    if event not in JIRA_EVENTS:
        raise HookAnswer(202, f"The event {event!r} is not used here.", "ignored")
    issue = _object(payload.get("issue"), "issue")
    key = _text(issue.get("key"), "issue.key", max_length=100).strip()
    if not key:
        raise HookAnswer(400, "The delivery names no issue key (issue.key).", "invalid")
    at = _when(payload.get("timestamp"), "timestamp", milliseconds=True)
    if event == "jira:issue_deleted":
        return _remove(ImportSource.JIRA, key, at)
    fields = _object(issue.get("fields"), "issue.fields")
    title = _text(fields.get("summary"), "issue.fields.summary")
    status = _text(_object(fields.get("status"), "issue.fields.status").get("name"), "issue.fields.status.name")
    issue_type = _text(
        _object(fields.get("issuetype"), "issue.fields.issuetype").get("name"), "issue.fields.issuetype.name"
    )
    labels = [
        _text(label, f"issue.fields.labels[{index}]", required=True)
        for index, label in enumerate(_list(fields.get("labels"), "issue.fields.labels"))
    ]
    created = _when_given(fields.get("created"), "issue.fields.created") or at
    parent_key = _text(
        _object(fields.get("parent"), "issue.fields.parent").get("key"), "issue.fields.parent.key", max_length=100
    )
    statuses = []
    changelog = _object(payload.get("changelog"), "changelog")
    for index, change in enumerate(_list(changelog.get("items"), "changelog.items")):
        path = f"changelog.items[{index}]"
        change = _object(change, path, required=True)
        names = (_text(change.get("field"), f"{path}.field"), _text(change.get("fieldId"), f"{path}.fieldId"))
        if "status" in names:
            to = _text(change.get("toString"), f"{path}.toString").strip()
            if not to:
                raise HookAnswer(400, f"{path}.toString must name the status the issue moved to.", "invalid")
            statuses.append(to)

    item = _locked_item(ImportSource.JIRA, key)
    if item is None:
        stream = _stream_of(ImportSource.JIRA, key.rpartition("-")[0])
        flow_type = mapping_for(stream, ImportSource.JIRA).flow_type(issue_type, labels)
        return _create(
            stream,
            ImportSource.JIRA,
            key,
            title=title,
            status=status,
            flow_type=flow_type,
            created=created,
            at=at,
            parent_key=parent_key.strip(),
        )
    return _update(item, ImportSource.JIRA, at, title=title, statuses=tuple(statuses))


def _apply_github(request, payload: dict) -> str:
    event = request.headers.get("X-GitHub-Event", "")
    if event in ("deployment", "deployment_status"):
        return _apply_github_deployment(event, payload)
    if event != "issues":
        raise HookAnswer(202, f"The event {event!r} is not used here.", "ignored")
    action = _text(payload.get("action"), "action")
    issue = _object(payload.get("issue"), "issue", required=True)
    if "pull_request" in issue:
        raise HookAnswer(202, "Pull requests are not backlog items.", "ignored")
    repository = _object(payload.get("repository"), "repository")
    _text(issue.get("html_url"), "issue.html_url")
    if not _text(issue.get("repository_url"), "issue.repository_url"):
        issue = {**issue, "repository_url": _text(repository.get("url"), "repository.url")}
    key, repo = github_key(issue)
    if not key:
        raise HookAnswer(400, "The delivery names no issue number (issue.number).", "invalid")
    if len(key) > 100:
        raise HookAnswer(400, "issue.repository_url names a repository too long for an item key.", "invalid")
    title = _text(issue.get("title"), "issue.title")
    issue_type = _text(_object(issue.get("type"), "issue.type").get("name"), "issue.type.name")
    for index, label in enumerate(_list(issue.get("labels"), "issue.labels")):
        path = f"issue.labels[{index}]"
        if isinstance(label, str):
            _text(label, path)
        else:
            _text(_object(label, path, required=True).get("name"), f"{path}.name")
    state_reason = _text(issue.get("state_reason"), "issue.state_reason")
    created = _when_given(issue.get("created_at"), "issue.created_at")
    updated = _when_given(issue.get("updated_at"), "issue.updated_at")
    closed = _when_given(issue.get("closed_at"), "issue.closed_at")

    item = _locked_item(ImportSource.GITHUB, key)
    if item is None:
        stream = _stream_of(ImportSource.GITHUB, repo)
        if created is None:
            raise HookAnswer(400, "issue.created_at is missing; it must be a date and time.", "invalid")
        flow_type = mapping_for(stream, ImportSource.GITHUB).flow_type(issue_type, github_labels(issue))
        return _create(
            stream,
            ImportSource.GITHUB,
            key,
            title=title,
            status=GITHUB_OPEN,
            flow_type=flow_type,
            created=created,
            at=max(created, updated or created),
        )
    if action == "edited":
        if updated is None:
            raise HookAnswer(400, "issue.updated_at is missing; it must be a date and time.", "invalid")
        return _update(item, ImportSource.GITHUB, updated, title=title)
    if action == "closed":
        if closed is None:
            raise HookAnswer(400, "issue.closed_at is missing; it must be a date and time.", "invalid")
        status = GITHUB_NOT_PLANNED if state_reason == "not_planned" else GITHUB_CLOSED
        return _update(item, ImportSource.GITHUB, closed, statuses=(status,))
    if action == "reopened":
        if updated is None:
            raise HookAnswer(400, "issue.updated_at is missing; it must be a date and time.", "invalid")
        return _update(item, ImportSource.GITHUB, updated, statuses=(GITHUB_OPEN,))
    raise HookAnswer(202, f"The action {action!r} does not change flow.", "ignored")


# --- GitHub deployments -----------------------------------------------------------------------

# deployment_status.state → our status; `inactive` (superseded by a later deployment) changes nothing.
GITHUB_DEPLOYMENT_STATES = {
    "success": Deployment.Status.SUCCESS,
    "failure": Deployment.Status.FAILURE,
    "error": Deployment.Status.FAILURE,
    "pending": Deployment.Status.IN_PROGRESS,
    "queued": Deployment.Status.IN_PROGRESS,
    "in_progress": Deployment.Status.IN_PROGRESS,
}


def _deployment_payload(deployment: dict) -> dict:
    """The free-form `payload` the deployment was created with: an object, JSON text of one, or
    other text (GitHub's default is "") that says nothing to the portal."""
    extra = deployment.get("payload")
    if isinstance(extra, str):
        _text(extra, "deployment.payload")
        if not extra.strip().startswith("{"):
            return {}
        try:
            extra = safejson.loads(extra, max_depth=MAX_DEPTH)
        except ValueError as error:
            detail = f"deployment.payload is not a JSON object the portal reads: {str(error).rstrip('.')}."
            raise HookAnswer(400, detail, "invalid") from error
    return _object(extra, "deployment.payload")


def _deployment_stream(repo: str, slug: str) -> ValueStream:
    if slug:
        stream = ValueStream.objects.filter(slug=slug).first()
        if stream is None:
            raise HookAnswer(
                422, f"The deployment's payload names the stream {slug!r}, which does not exist.", "invalid"
            )
        return stream
    link = ImportProject.objects.filter(source=ImportSource.GITHUB, project=repo).select_related("stream").first()
    if link is None:
        raise HookAnswer(
            202,
            f"The repository {repo!r} is not linked to a value stream: import its issues once, or name the stream "
            'in the deployment\'s payload ({"stream": "<slug>"}).',
            "not_tracked",
        )
    return link.stream


def _apply_github_deployment(event: str, payload: dict) -> str:
    deployment = _object(payload.get("deployment"), "deployment")
    repository = _object(payload.get("repository"), "repository")
    repo = _text(repository.get("full_name"), "repository.full_name", max_length=200).strip()
    deployment_id = deployment.get("id")
    if isinstance(deployment_id, bool) or not isinstance(deployment_id, int) or not repo:
        raise HookAnswer(400, "The delivery names no deployment (deployment.id) or repository.", "invalid")
    sha = _text(deployment.get("sha"), "deployment.sha")
    ref = _text(deployment.get("ref"), "deployment.ref")
    environment = _text(deployment.get("environment"), "deployment.environment").strip() or "production"
    started = _when(deployment.get("created_at"), "deployment.created_at")
    extra = _deployment_payload(deployment)
    slug = _text(extra.get("stream"), "deployment.payload.stream").strip()
    service = _text(extra.get("service"), "deployment.payload.service").strip() or repo.rpartition("/")[2]
    shipped = None
    if extra.get("items") is not None:
        shipped = [
            _text(key, f"deployment.payload.items[{index}]", required=True)
            for index, key in enumerate(_list(extra.get("items"), "deployment.payload.items"))
        ]
    status, finished = Deployment.Status.IN_PROGRESS, None
    if event == "deployment_status":
        report = _object(payload.get("deployment_status"), "deployment_status")
        state = _text(report.get("state"), "deployment_status.state")
        if state == "inactive":
            raise HookAnswer(202, "An inactive status only says a later deployment replaced this one.", "ignored")
        if state not in GITHUB_DEPLOYMENT_STATES:
            raise HookAnswer(400, f"The deployment status {state!r} is not one GitHub sends.", "invalid")
        status = GITHUB_DEPLOYMENT_STATES[state]
        if status != Deployment.Status.IN_PROGRESS:
            field = "created_at" if report.get("created_at") is not None else "updated_at"
            finished = _when(report.get(field), f"deployment_status.{field}")

    external_id = str(deployment_id)
    earlier = Deployment.objects.filter(source=DeliverySource.GITHUB, external_id=external_id).first()
    if earlier is not None and earlier.status != Deployment.Status.IN_PROGRESS:
        # Deliveries arrive out of order: a finished deployment does not go back to running, and
        # only a later outcome replaces an earlier one.
        if finished is None or finished < earlier.finished_at:
            return f"Deployment {external_id} already {earlier.get_status_display().lower()}; kept."
    stream = _deployment_stream(repo, slug)
    if finished is not None and finished < started:
        finished = started  # GitHub stamps in seconds; a status can carry its deployment's second
    data = {
        "stream": stream.slug,
        "service": service[:120],
        "environment": environment[:60],
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat() if finished else None,
        "status": status,
        "version": (ref if ref and ref != sha else sha[:12])[:120],
        "external_id": external_id,
    }
    if shipped is not None:
        data["items"] = [{"item": key} for key in shipped]
    checked = DeploymentInput(data=data, context={"source": DeliverySource.GITHUB})
    if not checked.is_valid():
        problems = "; ".join(f"{field}: {' '.join(map(str, errors))}" for field, errors in checked.errors.items())
        raise HookAnswer(422, f"The deployment cannot be recorded: {problems}", "invalid")
    outcome = deployment_record(data=checked.validated_data, source=DeliverySource.GITHUB)
    record = outcome.record
    verb = "recorded" if outcome.created else "updated" if outcome.changed else "already recorded"
    return (
        f"Deployment {external_id} of {data['service']} to {data['environment']} {verb}: {record.get_status_display()}."
    )


# --- Retention --------------------------------------------------------------------------------

DELIVERIES_KEPT = dt.timedelta(days=30)  # tools retry for hours; GitHub lets people redeliver for 3 days


def webhook_deliveries_prune(*, now: dt.datetime | None = None) -> int:
    """Delete the record of deliveries received more than DELIVERIES_KEPT ago; returns how many.

    The records only catch replays, which come within days; an older event replayed later
    still overwrites nothing newer (`BacklogItem.source_updated_at`)."""
    cutoff = (now or timezone.now()) - DELIVERIES_KEPT
    deleted, _ = WebhookDelivery.objects.filter(received_at__lt=cutoff).delete()
    return deleted
