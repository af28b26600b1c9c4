"""Errors as JSON: a sentence for people, a code for programs, and messages by field.

    {"detail": "...", "code": "invalid", "errors": {"field": ["message", ...]}}

Every refusal of a business rule (`core.errors.DomainError`), every bad input and every
database constraint becomes a 4xx with this shape; nothing the client sends is a 500.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import PERMISSION_DENIED, DomainError, integrity_message

# Refusals that are about the item's situation, not the request's shape.
CONFLICT_CODES = {"release_gate", "no_change", "conflict"}


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field" or "field.sub" or "items.0.field": [messages]}."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = "non_field_errors" if key in ("non_field_errors", "__all__") and not prefix else f"{prefix}{key}"
            out.update(_flatten(value, f"{name}."))
        return out
    if isinstance(detail, list) and detail and all(isinstance(d, (dict, list)) for d in detail):
        out = {}
        for index, value in enumerate(detail):
            out.update(_flatten(value, f"{prefix}{index}."))
        return out
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix.rstrip(".") or "non_field_errors": [str(m) for m in messages]}


def _body(detail: str, code: str, errors: dict | None = None) -> dict:
    body = {"detail": detail, "code": code}
    if errors:
        body["errors"] = errors
    return body


def domain_error_response(error: DomainError) -> Response:
    if error.code == PERMISSION_DENIED:
        status_code = status.HTTP_403_FORBIDDEN
    elif error.code in CONFLICT_CODES:
        status_code = status.HTTP_409_CONFLICT
    else:
        status_code = status.HTTP_400_BAD_REQUEST
    errors = {error.field: [error.message]} if error.field else None
    body = _body(error.message, error.code, errors)
    unmet = getattr(error, "unmet", None)
    if unmet is not None:
        body["unmet_criteria"] = [
            {"id": c.pk, "name": c.name, "owner_team": c.owner_team.slug, "owner_team_name": c.owner_team.name}
            for c in unmet
        ]
    return Response(body, status=status_code)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, DjangoValidationError):
        errors = _flatten(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
        exc = exceptions.ValidationError(errors)
    elif isinstance(exc, IntegrityError):
        # A uniqueness or reference rule of the database caught what validation did not.
        return Response(_body(integrity_message(exc), "conflict"), status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, DataError):
        # A value the database cannot hold (a NUL character, a number out of range).
        return Response(
            _body(
                "A value in the request cannot be stored or compared (a NUL character or a number out of range).",
                "invalid",
            ),
            status=status.HTTP_400_BAD_REQUEST,
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        fields = ", ".join(sorted(errors))
        response.data = _body(f"The request is not valid: see {fields}.", "invalid", errors)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = _body(str(detail), code if isinstance(code, str) else "error")
    return response


# --- Django's own 404 and 500 pages, for URLs under /api/ --------------------------------------


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def page_not_found(request, exception=None):
    """A URL no route matches: JSON under /api/ (a client reads the code), the HTML page elsewhere."""
    from django.http import JsonResponse
    from django.views import defaults

    if _is_api(request):
        return JsonResponse(_body("No such URL or object.", "not_found"), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    from django.http import JsonResponse
    from django.views import defaults

    if _is_api(request):
        return JsonResponse(_body("The server failed; the error is logged.", "server_error"), status=500)
    return defaults.server_error(request)
