"""Writes of connections: create, change, map, pause and resume. The page, the admin and the
commands all come through here, so the rules (public addresses only, a valid scope, the
mapping confirmed before the first sync) hold whatever the door."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from core.crypto import SecretUnreadable
from core.outbound import AddressRefused, check_url
from streams.integrations.connectors.azure import AzureScope
from streams.integrations.connectors.github_api import GitHubScope
from streams.integrations.connectors.http import ToolError
from streams.integrations.connectors.jira_api import JiraScope
from streams.integrations.connectors.sync import http_for, tool_client
from streams.integrations.toolchain import CATEGORY_RANK, Mapping, default_type, mapping_for, mapping_remember
from streams.integrations.writer import state_key
from streams.models import Connection, FlowType, HeldItem, ImportMapping, ValueStream, WorkflowState

SCOPES = {
    Connection.Tool.AZURE_DEVOPS: AzureScope,
    Connection.Tool.JIRA_CLOUD: JiraScope,
    Connection.Tool.JIRA_DATA_CENTER: JiraScope,
    Connection.Tool.GITHUB: GitHubScope,
}


def connection_clean(connection: Connection) -> None:
    """Raise ValidationError (per field) unless the connection can be called."""
    errors = {}
    try:
        connection.base_url = check_url(connection.base_url)
    except AddressRefused as error:
        errors["base_url"] = str(error)
    scope = SCOPES.get(connection.tool)
    if scope is None:
        errors["tool"] = f"{connection.get_tool_display()} connections are not available yet."
    else:
        try:
            scope.from_dict(connection.scope or {})
        except ValueError as error:
            errors["scope"] = str(error)
    if not connection.token_encrypted:
        errors["token"] = "enter the token the portal reads with (read-only access is enough)."
    if connection.tool == Connection.Tool.JIRA_CLOUD and "@" not in connection.username:
        errors["username"] = "Jira Cloud needs the email of the account whose API token this is."
    if not 0 < connection.rate <= 100:
        errors["rate"] = "between 0 and 100 requests per second."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def connection_create(
    *,
    stream: ValueStream,
    tool: str,
    base_url: str,
    token: str,
    scope: dict,
    username: str = "",
    rate: float = 5.0,
    actor=None,
) -> Connection:
    connection = Connection(
        stream=stream, tool=tool, base_url=base_url, username=username, scope=scope, rate=rate, created_by=actor
    )
    connection.token = token
    connection_clean(connection)
    connection.save()
    return connection


@transaction.atomic
def connection_update(*, connection: Connection, token: str = "", **fields) -> Connection:
    """Change a connection; an empty `token` keeps the stored one. A stopped connection whose
    credentials or address change is active again (its next sync tries them)."""
    for name, value in fields.items():
        setattr(connection, name, value)
    if token:
        connection.token = token
    connection_clean(connection)
    if connection.status == Connection.Status.STOPPED and (token or "base_url" in fields or "username" in fields):
        connection.status = Connection.Status.ACTIVE
        connection.status_message = ""
    connection.save()
    return connection


@transaction.atomic
def connection_mapping_save(*, connection: Connection, mapping: Mapping) -> None:
    """Remember how the tool's statuses and types land in the stream and create the states it
    names that the stream lacks (in the tool's order, with their WIP limits); a connection
    waiting for its mapping starts syncing. Items held back for a name now mapped come in at
    the next sync."""
    bad = [name for name, (state, category) in mapping.statuses.items() if category not in CATEGORY_RANK or not state]
    bad_types = {name: value for name, value in mapping.types.items() if value not in FlowType.values}
    if bad or bad_types:
        raise ValidationError(
            [f"status {name!r}: a state name and a category are needed" for name in bad]
            + [f"type {name!r}: {value!r} is not a flow type" for name, value in bad_types.items()]
        )
    stream = connection.stream
    mapping_remember(stream=stream, source=connection.source, mapping=mapping)
    existing = {state.name: state for state in WorkflowState.objects.filter(stream=stream)}
    order = max((state.order for state in existing.values()), default=-1) + 1
    for state_name, category in mapping.statuses.values():
        if state_name not in existing:
            existing[state_name] = WorkflowState.objects.create(
                stream=stream,
                name=state_name,
                category=category,
                order=order,
                wip_limit=mapping.wip_limits.get(state_name),
            )
            order += 1
        elif state_name in mapping.wip_limits and existing[state_name].wip_limit != mapping.wip_limits[state_name]:
            existing[state_name].wip_limit = mapping.wip_limits[state_name]
            existing[state_name].save(update_fields=["wip_limit"])
    if connection.status == Connection.Status.NEW:
        connection.status = Connection.Status.ACTIVE
        connection.save(update_fields=["status"])


def connection_set_paused(*, connection: Connection, paused: bool) -> None:
    """Pause a connection (no sync runs), or resume it: active again if its mapping is known."""
    if paused:
        Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.PAUSED)
        connection.status = Connection.Status.PAUSED
        return
    if connection.status in (Connection.Status.PAUSED, Connection.Status.STOPPED):
        mapped = ImportMapping.objects.filter(stream=connection.stream, source=connection.source).exists()
        connection.status = Connection.Status.ACTIVE if mapped else Connection.Status.NEW
        connection.status_message = ""
        connection.save(update_fields=["status", "status_message"])


@dataclass
class Suggestion:
    found: dict = field(default_factory=dict)  # the shape ImportMappingForm reads: names per kind
    mapping: dict = field(default_factory=dict)  # remembered, else suggested: state and category per status
    error: str = ""


def mapping_suggestion(connection: Connection) -> Suggestion:
    """The tool's statuses and types, read from it now (and those items are held back for),
    each with its remembered meaning, else the stream's state of that name, else the tool's own
    category of it as a suggestion."""
    try:
        with http_for(connection) as http:
            statuses, types = tool_client(connection, http).statuses()
    except (ToolError, SecretUnreadable, ValueError) as error:
        return Suggestion(error=f"The tool could not be read: {getattr(error, 'message', error)}")
    for kind, value in HeldItem.objects.filter(connection=connection).values_list("kind", "value").distinct():
        (types.append(value) if kind == HeldItem.Kind.TYPE and value not in types else statuses.setdefault(value, ""))
    remembered = mapping_for(connection.stream, connection.source)
    same_name = {state_key(name): (name, category) for name, category in remembered.existing.items()}
    mapping = {"statuses": {}, "types": {}}
    for status, category in statuses.items():
        target = remembered.statuses.get(status) or same_name.get(state_key(status)) or (status[:60], category)
        mapping["statuses"][status] = list(target)
    for name in types:
        mapping["types"][name] = remembered.types.get(name) or default_type(name) or FlowType.FEATURE
    found = {"statuses": dict.fromkeys(statuses, 0), "types": dict.fromkeys(types, 0), "labels": {}}
    return Suggestion(found=found, mapping=mapping)


def held_names(connection: Connection) -> dict[tuple[str, str], int]:
    """(kind, name) → items held back for it."""
    counts: dict[tuple[str, str], int] = {}
    for kind, value in HeldItem.objects.filter(connection=connection).values_list("kind", "value"):
        counts[(kind, value)] = counts.get((kind, value), 0) + 1
    return counts
