"""JSON request bodies for the API, bounded in size and nesting, refused in the API's error shape.

DRF's `JSONParser` parses with `json.load` and catches only `ValueError`, so a deeply nested
body raised `RecursionError` and answered 500; and DRF 3.18 reads the body of any `JSONParser`
(subclasses included) through `request.body` before the parser runs, so a body over Django's
DATA_UPLOAD_MAX_MEMORY_SIZE raised `RequestDataTooBig`, an HTML 400.

`BoundedJSONParser` is therefore a parser of its own (same media type and renderer as
`JSONParser`): DRF hands it the request's stream, of which it reads at most
DATA_UPLOAD_MAX_MEMORY_SIZE bytes (413 `too_large` over it, by the Content-Length or by what
arrives), and it parses with `core.safejson` (400 `parse_error` for nesting deeper than 64,
NaN, Infinity or numbers out of range). Active through REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"].
"""

from django.conf import settings
from rest_framework import exceptions, renderers, status
from rest_framework.parsers import BaseParser

from core import safejson


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


class BoundedJSONParser(BaseParser):
    """JSON bodies of at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes, nested at most `max_depth` deep."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer
    max_depth = safejson.MAX_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = parser_context.get("request")
        declared = str(request.META.get("CONTENT_LENGTH") or "") if request is not None else ""
        if limit is not None and declared.isdigit() and int(declared) > limit:
            raise self._too_large(limit)
        body = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(body) > limit:
            raise self._too_large(limit)
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
                body = body.decode(encoding)
            return safejson.loads(body, max_depth=self.max_depth)
        except (ValueError, LookupError) as error:  # LookupError: a charset Python does not know
            raise exceptions.ParseError(f"JSON parse error - {error}") from error

    @staticmethod
    def _too_large(limit: int) -> RequestTooLarge:
        return RequestTooLarge(
            f"The request body is larger than {_megabytes(limit)}, the most the API reads; send less at a time."
        )
