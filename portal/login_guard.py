"""Password spraying: one address trying a password against many usernames.

django-axes locks a (username, address) pair after AXES_FAILURE_LIMIT failures, which a
sprayer never reaches: one or two tries per username, thousands of usernames. This backend
runs before every password login and refuses all of them from an address that has failed for
LOGIN_SPRAY_USERNAMES different usernames within the cool-off, read from axes' own records of
failed attempts (one per username and address). An office behind one address, where a few
people mistype, stays well under it. AxesMiddleware answers the refusal with the lockout page.
"""

from axes.helpers import get_client_ip_address
from axes.models import AccessAttempt
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone


def address_failed_usernames(ip_address: str) -> int:
    """How many usernames the address has failed to log in as within the cool-off."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    attempts = AccessAttempt.objects.filter(ip_address=ip_address, attempt_time__gte=since)
    return attempts.values("username").distinct().count()


class AddressSprayBackend:
    """Refuses password logins from an address that failed for too many usernames; logs nobody in."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or not settings.LOGIN_SPRAY_USERNAMES:
            return None
        ip_address = get_client_ip_address(request)
        if ip_address and address_failed_usernames(ip_address) >= settings.LOGIN_SPRAY_USERNAMES:
            request.axes_locked_out = True  # AxesMiddleware renders the lockout page
            request.login_address_locked = True  # which says it is the address, not the username
            raise PermissionDenied
        return None
