"""Every page needs a login, except the API, which answers 401/403 in JSON itself; a database
rule that refuses a page's write is answered with a clear message."""

import logging
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth import middleware
from django.db import IntegrityError
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from core.errors import integrity_message

logger = logging.getLogger(__name__)

# The API authenticates tokens as well as sessions, and must answer a script with JSON,
# not redirect it to the login page. Its views require authentication (DRF's IsAuthenticated);
# the schema and its documentation describe the API and hold no data.
API_PREFIXES = ("/api/v1/", "/api/schema/", "/api/docs/", "/api/redoc/")


class LoginRequiredMiddleware(middleware.LoginRequiredMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(API_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class IntegrityErrorMiddleware:
    """A database rule that stops a page's write (two people saving the same name at once, a row
    deleted meanwhile) becomes a 409 that says which rule and what to do, not a server error.

    The view's transaction has already rolled back when the exception gets here, so nothing of
    the change is stored. htmx requests get the message at the top of the page; the API has its
    own handler (JSON, the same sentence)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, IntegrityError) or request.path_info.startswith(API_PREFIXES):
            return None
        message = integrity_message(exception)
        logger.warning("Integrity violation on %s %s: %s", request.method, request.path_info, exception)
        if request.headers.get("HX-Request"):
            response = render(request, "partials/_conflict.html", {"message": message}, status=409)
            response["HX-Retarget"] = "#main"
            response["HX-Reswap"] = "afterbegin"
            return response
        referer = request.headers.get("Referer", "")
        safe = url_has_allowed_host_and_scheme(referer, {request.get_host()}, request.is_secure())
        return render(request, "conflict.html", {"message": message, "back": referer if safe else "/"}, status=409)


class PortalCSPMiddleware(CSPMiddleware):
    """The Content-Security-Policy of the settings, and, with single sign-on configured, the
    identity provider's origin in `form-action`: the logout button's form is redirected to the
    provider's end-session page, which browsers check against the form's page's policy."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if settings.OIDC_ISSUER and not report_only:
            issuer = urlsplit(settings.OIDC_ISSUER)
            update = dict(parts.update or {})
            update["form-action"] = [*update.get("form-action", []), f"{issuer.scheme}://{issuer.netloc}"]
            parts.update = update
        return parts
