"""Every page needs a login, except the API, which answers 401/403 in JSON itself."""

from django.contrib.auth import middleware

# The API authenticates tokens as well as sessions, and must answer a script with JSON,
# not redirect it to the login page. Its views require authentication (DRF's IsAuthenticated);
# the schema and its documentation describe the API and hold no data.
API_PREFIXES = ("/api/v1/", "/api/schema/", "/api/docs/", "/api/redoc/")


class LoginRequiredMiddleware(middleware.LoginRequiredMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(API_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
