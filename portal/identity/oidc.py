"""The OpenID Connect client: Authlib, configured from the settings, one per process.

Authlib does the protocol: the discovery document, the authorisation code flow with PKCE
(S256), state and nonce kept in the session, and the ID token's checks (signature by the
provider's JWKS, fetched again when a key rotates; `iss`, `aud`, `exp`, `iat`, `nonce`). This
module adds what Authlib leaves to the application: the discovery document must name the
issuer it was asked for (OpenID Connect Discovery 1.0, 4.3), unsigned tokens ("none") are never
accepted, and every failure becomes a sentence (`SignInRefused`)."""

from __future__ import annotations

from authlib.integrations.django_client import OAuth
from django.conf import settings
import requests


class SignInRefused(Exception):
    """A sign-in that cannot go on, with what the person (or the administrator) should know."""


_clients: dict[tuple, object] = {}


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER and settings.OIDC_CLIENT_ID)


def client():
    """The provider's client, its metadata loaded and checked (SignInRefused otherwise)."""
    key = (settings.OIDC_ISSUER, settings.OIDC_CLIENT_ID, settings.OIDC_CLIENT_SECRET, settings.OIDC_SCOPES)
    if key not in _clients:
        oauth = OAuth()
        oauth.register(
            "idp",
            client_id=settings.OIDC_CLIENT_ID,
            client_secret=settings.OIDC_CLIENT_SECRET or None,
            server_metadata_url=f"{settings.OIDC_ISSUER}/.well-known/openid-configuration",
            client_kwargs={
                "scope": settings.OIDC_SCOPES,
                "code_challenge_method": "S256",
                "default_timeout": settings.OIDC_TIMEOUT_SECONDS,
            },
        )
        _clients.clear()
        _clients[key] = oauth.idp
    idp = _clients[key]
    _check_metadata(idp)
    return idp


def _check_metadata(idp) -> None:
    try:
        metadata = idp.load_server_metadata()
    except requests.RequestException as error:
        idp.server_metadata.clear()
        raise SignInRefused(
            f"The identity provider at {settings.OIDC_ISSUER} could not be reached ({type(error).__name__}). "
            "Try again in a moment; if it lasts, tell your administrator."
        ) from None
    except ValueError:
        idp.server_metadata.clear()
        raise SignInRefused(
            f"{settings.OIDC_ISSUER} did not answer with an OpenID Connect discovery document: check OIDC_ISSUER."
        ) from None
    if metadata.get("issuer") != settings.OIDC_ISSUER:
        named = metadata.get("issuer")
        idp.server_metadata.clear()
        raise SignInRefused(
            f"The identity provider names itself {named!r}, not {settings.OIDC_ISSUER!r} as OIDC_ISSUER says: "
            "the issuer is wrong (or the answer is not the provider's)."
        )
    algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    metadata["id_token_signing_alg_values_supported"] = [alg for alg in algorithms if alg.lower() != "none"]


def forget() -> None:
    """Drop the cached clients and metadata (tests; a changed configuration)."""
    _clients.clear()
