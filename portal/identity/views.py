"""Signing in through the identity provider, the login page that offers it, and logging out of
both the portal and (where the provider supports it) the provider's session."""

from __future__ import annotations

import logging

from authlib.integrations.base_client import MismatchingStateError, OAuthError
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from joserfc.errors import JoseError
import requests

from portal.identity import oidc
from portal.identity.services import sign_in

logger = logging.getLogger(__name__)

NEXT, ID_TOKEN = "oidc_next", "oidc_id_token"
BACKEND = "portal.identity.backends.LocalPasswordBackend"  # the session's backend: it checks is_active


class PortalLoginForm(AuthenticationForm):
    """The password form; with LOCAL_LOGIN off it says so instead of "wrong password"."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if not settings.LOCAL_LOGIN:
                raise ValidationError(
                    f"Signing in with a password is switched off: use “Sign in with {settings.OIDC_NAME}”. "
                    "(Only the break-glass administrator signs in with a password.)",
                    code="local_login_off",
                ) from None
            raise


class PortalLoginView(auth_views.LoginView):
    authentication_form = PortalLoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            **kwargs, oidc_enabled=oidc.enabled(), oidc_name=settings.OIDC_NAME, local_login=settings.LOCAL_LOGIN
        )


def _refused(request: HttpRequest, message: str, status: int = 403) -> HttpResponse:
    logger.warning("Single sign-on refused: %s", message)
    return render(
        request,
        "registration/sign_in_refused.html",
        {"message": message, "oidc_name": settings.OIDC_NAME},
        status=status,
    )


@login_not_required
@require_GET
def oidc_start(request: HttpRequest) -> HttpResponse:
    if not oidc.enabled():
        raise Http404("Single sign-on is not configured.")
    wanted = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(wanted, {request.get_host()}, request.is_secure())
    request.session[NEXT] = wanted if safe and wanted else reverse(settings.LOGIN_REDIRECT_URL)
    try:
        idp = oidc.client()
        return idp.authorize_redirect(request, request.build_absolute_uri(reverse("oidc-callback")))
    except oidc.SignInRefused as refused:
        return _refused(request, str(refused), status=502)


@login_not_required
@require_GET
def oidc_callback(request: HttpRequest) -> HttpResponse:
    if not oidc.enabled():
        raise Http404("Single sign-on is not configured.")
    try:
        idp = oidc.client()
        token = idp.authorize_access_token(request)
        claims = token.get("userinfo")
        if not claims or "id_token" not in token:
            raise oidc.SignInRefused("The identity provider answered without an ID token; nothing proves who you are.")
        claims = dict(claims)
        if idp.server_metadata.get("userinfo_endpoint"):
            more = dict(idp.userinfo(token=token))
            if more.get("sub") != claims.get("sub"):
                raise oidc.SignInRefused("The provider's user information names someone else than its ID token.")
            claims = more | claims
        user = sign_in(claims, issuer=idp.server_metadata["issuer"])
    except oidc.SignInRefused as refused:
        return _refused(request, str(refused))
    except MismatchingStateError:
        return _refused(
            request,
            "The sign-in could not be completed: it does not match one this browser started (an old, reused or "
            "forged link). Start again.",
            status=400,
        )
    except OAuthError as error:
        said = error.description or error.error
        return _refused(request, f"The identity provider did not sign you in: {said}.")
    except JoseError as error:
        return _refused(
            request, f"The identity provider's token was refused ({error.error}: {error.description or error})."
        )
    except requests.RequestException as error:
        return _refused(
            request,
            f"The identity provider could not be reached to finish the sign-in ({type(error).__name__}). Try again.",
            status=502,
        )
    next_url = request.session.pop(NEXT, None) or reverse(settings.LOGIN_REDIRECT_URL)
    auth.login(request, user, backend=BACKEND)
    request.session[ID_TOKEN] = token["id_token"]
    return HttpResponseRedirect(next_url)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """End the portal session; signed in through the provider, also its session (RP-initiated
    logout) where its discovery document names an end_session_endpoint."""
    id_token = request.session.get(ID_TOKEN)
    auth.logout(request)
    back = reverse(settings.LOGOUT_REDIRECT_URL)
    if id_token and oidc.enabled():
        try:
            idp = oidc.client()
            if idp.server_metadata.get("end_session_endpoint"):
                return idp.logout_redirect(
                    request, post_logout_redirect_uri=request.build_absolute_uri(back), id_token_hint=id_token
                )
        except oidc.SignInRefused:
            pass  # the portal's session is over; the provider's ends when it expires
    return HttpResponseRedirect(back)
