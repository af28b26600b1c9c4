"""API tokens: a user creates keys for their scripts and revokes them; the key is shown once."""

import secrets

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import PERMISSION_DENIED, DomainError

from .models import KEY_BYTES, PREFIX_LENGTH, ApiToken, hash_key

MAX_ACTIVE_TOKENS = 20


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=80, label="What will use it", help_text="For example “weekly flow report” or “Jira sync”."
    )


@transaction.atomic
def token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns it with its key, which is stored only as a digest."""
    name = name.strip()
    if not name:
        raise DomainError("Name the token after what will use it.", field="name")
    if ApiToken.objects.active().filter(user=user).count() >= MAX_ACTIVE_TOKENS:
        raise DomainError(
            f"You have {MAX_ACTIVE_TOKENS} active tokens already; revoke one you no longer use first.", field="name"
        )
    key = secrets.token_urlsafe(KEY_BYTES)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:PREFIX_LENGTH], key_hash=hash_key(key))
    return token, key


def token_revoke(*, token: ApiToken, actor) -> bool:
    """Revoke a token (its owner or an administrator); False if it was revoked already."""
    if token.user_id != actor.pk and not actor.is_superuser:
        raise DomainError("You may revoke only your own tokens.", code=PERMISSION_DENIED)
    return bool(ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()))


NEW_KEY_SESSION = "api_token_new_key"


@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The user's own API tokens: create one (its key is shown once), see when each was last used, revoke.

    A created key goes through the session to the page the browser is redirected to, and is
    dropped from it there: reloading that page neither shows it again nor creates another token.
    """
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, key = token_create(user=request.user, name=form.cleaned_data["name"])
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            request.session[NEW_KEY_SESSION] = key
            messages.success(request, f"Token “{token.name}” created. Copy its key now: it is not shown again.")
            return redirect("api-tokens")
    new_key = request.session.pop(NEW_KEY_SESSION, None) if request.method == "GET" else None
    status = 422 if form.errors else 200
    tokens = ApiToken.objects.filter(user=request.user)
    context = {"form": form, "tokens": tokens, "new_key": new_key, "max_tokens": MAX_ACTIVE_TOKENS}
    response = render(request, "portal/api_tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the key must not stay in a cache
    return response


@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    if token_revoke(token=token, actor=request.user):
        messages.success(request, f"Token “{token.name}” revoked: requests with its key are refused from now on.")
    return redirect("api-tokens")
