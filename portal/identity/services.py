"""Users from an identity provider's claims: created at their first sign-in, matched to the
organisation's Person by email, their roles taken from the provider's groups at every sign-in
(removed from a group, they lose its role at the next one). Without OIDC_ROLE_GROUPS (a provider
that sends no groups, such as Google) roles are given in the portal's admin and kept; a new user
starts as a viewer."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from core import access
from portal.identity.models import Identity
from portal.identity.oidc import SignInRefused
from teams.models import Person


def role_groups() -> dict[str, set[str]]:
    """OIDC_ROLE_GROUPS as {group: roles}: "leader=pom-leaders,product director=pom-directors"
    (a role may name several groups, a group several roles)."""
    mapping: dict[str, set[str]] = {}
    for pair in filter(None, (part.strip() for part in settings.OIDC_ROLE_GROUPS.split(","))):
        role, _, group = pair.partition("=")
        role = role.strip().replace("_", " ").lower()
        if role not in access.ROLES or not group.strip():
            raise ImproperlyConfigured(
                f"OIDC_ROLE_GROUPS: {pair!r} is not role=group with a role among {', '.join(access.ROLES)}."
            )
        mapping.setdefault(group.strip(), set()).add(role)
    return mapping


def roles_for(groups) -> set[str]:
    mapping = role_groups()
    return {role for group in groups for role in mapping.get(group, ())}


def _groups(claims: dict) -> list[str]:
    value = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = [value]
    return [str(group) for group in value if isinstance(group, str | int)]


@transaction.atomic
def sign_in(claims: dict, *, issuer: str):
    """The portal user the claims name, created or updated, with the roles their groups give;
    SignInRefused when they may not come in."""
    subject, email = str(claims.get("sub") or ""), str(claims.get("email") or "").strip()
    if not subject:
        raise SignInRefused("The identity provider's answer names nobody (no `sub` claim).")
    if not email:
        raise SignInRefused(
            "The identity provider sent no email address for you, and the portal knows people by it. Ask your "
            "administrator to release the email claim (scope `email`) to the portal."
        )
    if claims.get("email_verified") is False:
        raise SignInRefused(f"The identity provider has not verified {email}; verify it there first.")
    groups = _groups(claims)
    managed = bool(role_groups())  # no OIDC_ROLE_GROUPS: roles are given in the portal, not by groups
    roles = roles_for(groups)
    if not roles and managed:
        if settings.OIDC_UNMAPPED == "refuse":
            raise SignInRefused(
                f"{email} is in none of the groups that give access to the portal. Ask your administrator to add "
                "you to one of them."
            )
        roles = {access.VIEWER}
    identity = Identity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    person = Person.objects.filter(email__iexact=email).select_related("user").first()
    User = get_user_model()
    user = identity.user if identity else (person.user if person and person.user else None)
    if user is None:
        user = User.objects.filter(email__iexact=email).first() or User(username=_username(email))
        if user.pk is None:
            user.set_unusable_password()
    if not user.is_active:
        raise SignInRefused(f"The portal account of {email} is disabled. Ask an administrator if it should not be.")
    user.email = email
    user.first_name = str(claims.get("given_name") or user.first_name or "")[:150]
    user.last_name = str(claims.get("family_name") or user.last_name or "")[:150]
    if not (user.first_name or user.last_name) and claims.get("name"):
        user.first_name = str(claims["name"])[:150]
    user.last_login = timezone.now()
    user.save()
    if person is not None and person.user_id is None:
        person.user = user
        person.save(update_fields=["user"])
    if managed or not user.groups.filter(name__in=access.ROLES).exists():
        roles = roles or {access.VIEWER}
        wanted = list(Group.objects.filter(name__in=roles))
        wanted += [Group.objects.create(name=name) for name in roles - {group.name for group in wanted}]
        user.groups.remove(*Group.objects.filter(name__in=access.ROLES).exclude(name__in=roles))
        user.groups.add(*wanted)
    Identity.objects.update_or_create(
        issuer=issuer, subject=subject, defaults={"user": user, "last_login_at": timezone.now(), "groups": groups}
    )
    return user


def _username(email: str) -> str:
    """A free username from the email's local part (usernames are the portal's, not the provider's)."""
    User = get_user_model()
    base = slugify(email.split("@")[0]).replace("-", ".")[:140] or "user"
    name, n = base, 1
    while User.objects.filter(username=name).exists():
        n += 1
        name = f"{base}{n}"
    return name
