"""Passwords, unless they are switched off (LOCAL_LOGIN=false): then only a superuser, the
break-glass administrator, signs in with one. Every password login (the login page, the admin's)
goes through this backend, so no door is left open."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class LocalPasswordBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and not settings.LOCAL_LOGIN and not user.is_superuser:
            return None
        return user
