"""Schema post-processing: every operation documents the errors it can answer, in their shape.

drf-spectacular describes successful responses from the views; the error answers come from
`core.api.errors` for every view alike, so they are added here once: 400 (bad parameters or
body), 401 (no or bad credentials), 403 (not allowed), 404 (unknown id, slug or cursor), 414
(a URL longer than gunicorn reads), 429 (throttled), and 409 (a refused change: the release gate, no change) on writes.
"""

ERROR_SCHEMA = {
    "type": "object",
    "required": ["detail", "code"],
    "properties": {
        "detail": {"type": "string", "description": "What is wrong, as a sentence for people."},
        "code": {"type": "string", "description": "A stable code for programs, e.g. invalid, release_gate."},
        "errors": {
            "type": "object",
            "description": "Messages by field or parameter.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "unmet_criteria": {
            "type": "array",
            "description": "With code release_gate: the readiness criteria still pending.",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "owner_team": {"type": "string"},
                    "owner_team_name": {"type": "string"},
                },
            },
        },
    },
}
ERRORS = {
    "400": "The parameters or the body are not valid; `errors` names each one.",
    "401": "No credentials, or a token that is unknown or revoked.",
    "403": "You may not do this (your role or the object's owner says so).",
    "404": "No such object, slug or page cursor.",
    "414": "The URL is longer than the server reads (gunicorn: 4 KB request line).",
    "429": "Too many requests; retry after the number of seconds in Retry-After.",
}
WRITE_ERRORS = {"409": "The change was refused as things stand (for example by the release gate)."}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def add_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    body = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            errors = {**ERRORS, **(WRITE_ERRORS if method in WRITE_METHODS else {})}
            responses = operation.setdefault("responses", {})
            for code, description in errors.items():
                content = {"application/json": {"schema": body}, "text/csv": {"schema": {"type": "string"}}}
                if code == "414":  # answered by gunicorn before Django sees the request
                    content = {"text/html": {"schema": {"type": "string"}}}
                responses.setdefault(code, {"description": description, "content": content})
    return result
