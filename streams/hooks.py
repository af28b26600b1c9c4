"""Webhooks: Jira and GitHub tell the portal about changes as they happen.

`/hooks/jira/` and `/hooks/github/` verify the HMAC-SHA256 signature of the body with the
shared secret (settings JIRA_WEBHOOK_SECRET, GITHUB_WEBHOOK_SECRET); a bad or missing one is
answered 403 and nothing is read further. A verified delivery is applied through the services
every other door uses: a status change through `item_change_state(via="webhook")` dated when
it happened in the tool (the release gate holds there too), a new issue through `item_create`
in the stream its project was imported into, a new title through `item_update`.

GitHub `deployment` and `deployment_status` events record deployments
(`streams.deliveries`, idempotent by the GitHub deployment id): the repository's stream is the
one its issues were imported into, or the one named by `stream` in the deployment's payload;
`items` in that payload lists the keys of the items it ships.

Answers: 200 applied (or already applied: deliveries are retried, so applying one twice
changes nothing), 202 not tracked here (an issue or project never imported; an event we do
not use), 400 unreadable, 403 signature, 409 refused by the portal's rules (the message says
why), 422 a status with no mapping into the stream.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from teams.errors import DomainError

from .deliveries import DeploymentInput, deployment_record
from .models import BacklogItem, DeliverySource, Deployment, ImportProject, ImportSource, ValueStream, WorkflowState
from .services import StateChangeError, item_change_state, item_create, item_update
from .toolchain import GITHUB_CLOSED, GITHUB_NOT_PLANNED, GITHUB_OPEN, _github_key, _github_labels, mapping_for

logger = logging.getLogger(__name__)
MAX_BODY = 5 * 1024 * 1024  # Jira and GitHub deliveries are far smaller


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


def _receive(request: HttpRequest, secret: str, header: str, apply) -> JsonResponse:
    length = request.headers.get("Content-Length") or "0"
    body = request.body if length.isdigit() and int(length) <= MAX_BODY else b""
    if not body:
        return JsonResponse({"detail": "The delivery is empty or larger than 5 MB.", "code": "invalid"}, status=400)
    if not signature_valid(secret, body, request.headers.get(header, "")):
        detail = (
            "This portal has no secret for this webhook; set it in the settings first."
            if not secret
            else f"The {header} signature is missing or does not match the body."
        )
        return JsonResponse({"detail": detail, "code": "bad_signature"}, status=403)
    try:
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("not a JSON object")
    except ValueError as error:
        return JsonResponse({"detail": f"The body is not a JSON object ({error}).", "code": "invalid"}, status=400)
    try:
        detail = apply(request, payload)
    except HookAnswer as answer:
        if answer.status >= 400:
            logger.info("Webhook %s refused (%s): %s", request.path, answer.status, answer.detail)
        return JsonResponse({"detail": answer.detail, "code": answer.code}, status=answer.status)
    return JsonResponse({"detail": detail, "code": "applied"}, status=200)


@csrf_exempt
@login_not_required
@require_POST
def jira_hook(request: HttpRequest) -> JsonResponse:
    return _receive(request, settings.JIRA_WEBHOOK_SECRET, "X-Hub-Signature", _apply_jira)


@csrf_exempt
@login_not_required
@require_POST
def github_hook(request: HttpRequest) -> JsonResponse:
    event = request.headers.get("X-GitHub-Event", "")
    if event == "ping":
        return _receive(request, settings.GITHUB_WEBHOOK_SECRET, "X-Hub-Signature-256", lambda r, p: "pong")
    return _receive(request, settings.GITHUB_WEBHOOK_SECRET, "X-Hub-Signature-256", _apply_github)


# --- Applying ---------------------------------------------------------------------------------


def _when(value) -> dt.datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):  # Jira: milliseconds since 1970
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise HookAnswer(400, f"{value!r} is not a date and time with a UTC offset.", "invalid")
    return parsed


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


def _move(item: BacklogItem, state: WorkflowState, at: dt.datetime) -> str:
    try:
        item_change_state(item=item, to_state=state, at=at, via="webhook")
    except StateChangeError as error:
        if error.code == "no_change":
            return f"{item.key} is already in {state.name}."
        raise HookAnswer(409, error.message, error.code or "refused") from error
    return f"{item.key} moved to {state.name}."


def _stream_of(source: str, project: str) -> ValueStream:
    link = ImportProject.objects.filter(source=source, project=project).select_related("stream").first()
    if link is None:
        raise HookAnswer(202, f"The project {project!r} was never imported; nothing to do.", "not_tracked")
    return link.stream


def _create(stream, source, key, title, status, flow_type, created, parent_key="") -> str:
    state = _state(stream, source, status)
    parent = (
        BacklogItem.objects.filter(stream=stream, source=source, external_key=parent_key).first()
        if parent_key
        else None
    )
    try:
        item_create(
            stream_id=stream.pk,
            title=(title or key)[:300],
            flow_type=flow_type,
            state=state,
            created_at=created,
            via="webhook",
            source=source,
            external_key=key,
            parent=parent,
        )
    except DomainError as error:
        raise HookAnswer(409, error.message, error.code or "refused") from error
    return f"{key} created in {stream.name}."


def _retitle(item: BacklogItem, title: str) -> None:
    if title and title[:300] != item.title:
        item_update(item=item, title=title[:300])


def _apply_jira(request, payload: dict) -> str:
    event = payload.get("webhookEvent", "")
    issue = payload.get("issue") if isinstance(payload.get("issue"), dict) else {}
    fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
    key = issue.get("key") if isinstance(issue.get("key"), str) else ""
    if event not in ("jira:issue_created", "jira:issue_updated"):
        raise HookAnswer(202, f"The event {event!r} is not used here.", "ignored")
    if not key:
        raise HookAnswer(400, "The delivery names no issue key (issue.key).", "invalid")
    item = BacklogItem.objects.filter(source=ImportSource.JIRA, external_key=key).first()
    at = _when(payload.get("timestamp"))
    if item is None:
        stream = _stream_of(ImportSource.JIRA, key.rpartition("-")[0])
        status = (fields.get("status") or {}).get("name") or ""
        mapping = mapping_for(stream, ImportSource.JIRA)
        flow_type = mapping.flow_type((fields.get("issuetype") or {}).get("name") or "", fields.get("labels") or [])
        created = _when(fields["created"]) if fields.get("created") else at
        return _create(
            stream,
            ImportSource.JIRA,
            key,
            fields.get("summary") or "",
            status,
            flow_type,
            created,
            (fields.get("parent") or {}).get("key") or "",
        )
    messages = []
    if isinstance(fields.get("summary"), str):
        _retitle(item, fields["summary"].strip())
    changes = (payload.get("changelog") or {}).get("items") or []
    for change in changes:
        if isinstance(change, dict) and (change.get("field") == "status" or change.get("fieldId") == "status"):
            state = _state(item.stream, ImportSource.JIRA, change.get("toString") or "")
            messages.append(_move(item, state, at))
    return " ".join(messages) or f"{key}: nothing that the portal tracks changed."


def _apply_github(request, payload: dict) -> str:
    event = request.headers.get("X-GitHub-Event", "")
    if event in ("deployment", "deployment_status"):
        return _apply_github_deployment(event, payload)
    action = payload.get("action", "")
    issue = payload.get("issue") if isinstance(payload.get("issue"), dict) else None
    if event != "issues" or issue is None:
        raise HookAnswer(202, f"The event {event!r} is not used here.", "ignored")
    if "pull_request" in issue:
        raise HookAnswer(202, "Pull requests are not backlog items.", "ignored")
    if not issue.get("repository_url") and isinstance(payload.get("repository"), dict):
        issue = {**issue, "repository_url": payload["repository"].get("url", "")}
    key, repo = _github_key(issue)
    if not key:
        raise HookAnswer(400, "The delivery names no issue number (issue.number).", "invalid")
    item = BacklogItem.objects.filter(source=ImportSource.GITHUB, external_key=key).first()
    if item is None:
        stream = _stream_of(ImportSource.GITHUB, repo)
        flow_type = mapping_for(stream, ImportSource.GITHUB).flow_type(
            (issue.get("type") or {}).get("name") or "", _github_labels(issue)
        )
        return _create(
            stream,
            ImportSource.GITHUB,
            key,
            issue.get("title") or "",
            GITHUB_OPEN,
            flow_type,
            _when(issue.get("created_at")),
        )
    if action == "edited":
        _retitle(item, (issue.get("title") or "").strip())
        return f"{key} updated."
    if action == "closed":
        status = GITHUB_NOT_PLANNED if issue.get("state_reason") == "not_planned" else GITHUB_CLOSED
        return _move(item, _state(item.stream, ImportSource.GITHUB, status), _when(issue.get("closed_at")))
    if action == "reopened":
        return _move(item, _state(item.stream, ImportSource.GITHUB, GITHUB_OPEN), _when(issue.get("updated_at")))
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
    """The free-form `payload` the deployment was created with: an object or JSON text."""
    extra = deployment.get("payload")
    if isinstance(extra, str) and extra.strip().startswith("{"):
        try:
            extra = json.loads(extra)
        except ValueError:
            extra = None
    return extra if isinstance(extra, dict) else {}


def _deployment_stream(repo: str, extra: dict) -> ValueStream:
    slug = extra.get("stream")
    if isinstance(slug, str) and slug:
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
    deployment = payload.get("deployment") if isinstance(payload.get("deployment"), dict) else None
    repository = payload.get("repository") if isinstance(payload.get("repository"), dict) else {}
    repo = repository.get("full_name") if isinstance(repository.get("full_name"), str) else ""
    if deployment is None or not isinstance(deployment.get("id"), int) or not repo:
        raise HookAnswer(400, "The delivery names no deployment (deployment.id) or repository.", "invalid")
    external_id = str(deployment["id"])
    earlier = Deployment.objects.filter(source=DeliverySource.GITHUB, external_id=external_id).first()
    status, finished = Deployment.Status.IN_PROGRESS, None
    if event == "deployment_status":
        report = payload.get("deployment_status") if isinstance(payload.get("deployment_status"), dict) else {}
        state = report.get("state", "")
        if state == "inactive":
            raise HookAnswer(202, "An inactive status only says a later deployment replaced this one.", "ignored")
        if state not in GITHUB_DEPLOYMENT_STATES:
            raise HookAnswer(400, f"The deployment status {state!r} is not one GitHub sends.", "invalid")
        status = GITHUB_DEPLOYMENT_STATES[state]
        if status != Deployment.Status.IN_PROGRESS:
            finished = _when(report.get("created_at") or report.get("updated_at"))
    if earlier is not None and earlier.status != Deployment.Status.IN_PROGRESS:
        # Deliveries arrive out of order: a finished deployment does not go back to running, and
        # only a later outcome replaces an earlier one.
        if finished is None or finished < earlier.finished_at:
            return f"Deployment {external_id} already {earlier.get_status_display().lower()}; kept."
    extra = _deployment_payload(deployment)
    stream = _deployment_stream(repo, extra)
    started = _when(deployment.get("created_at"))
    if finished is not None and finished < started:
        finished = started  # GitHub stamps in seconds; a status can carry its deployment's second
    sha = deployment.get("sha") if isinstance(deployment.get("sha"), str) else ""
    ref = deployment.get("ref") if isinstance(deployment.get("ref"), str) else ""
    data = {
        "stream": stream.slug,
        "service": str(extra.get("service") or repo.rpartition("/")[2])[:120],
        "environment": str(deployment.get("environment") or "production")[:60],
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat() if finished else None,
        "status": status,
        "version": (ref if ref and ref != sha else sha[:12])[:120],
        "external_id": external_id,
    }
    items = extra.get("items")
    if isinstance(items, list) and all(isinstance(key, str) for key in items):
        data["items"] = [{"item": key} for key in items]
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
