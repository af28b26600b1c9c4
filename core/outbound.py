"""Addresses the portal may call out to (connectors, channel webhooks).

Only http and https, and only public addresses: a URL whose host is, or resolves to, a
loopback, private, link-local, multicast or reserved address is refused, so that a user who may
configure a connection cannot make the portal probe its own network (server-side request
forgery). `OUTBOUND_ALLOW_PRIVATE` (a setting) lifts the address rule for on-premises tools,
such as a Jira Data Center inside the company network, and for the tests' local servers.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class AddressRefused(ValueError):
    """A URL the portal will not call, with the reason in words."""


def check_url(url: str, *, resolve: bool = True, query: bool = False) -> str:
    """The URL without a trailing slash, or AddressRefused saying what is wrong with it.
    `query=True` lets a query through (a Teams workflow's URL carries its signature in one)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise AddressRefused(f"{url!r} is not a URL ({error}).") from None
    if parts.scheme not in ("http", "https"):
        raise AddressRefused(f"{url!r} must start with https:// (or http://).")
    if not parts.hostname:
        raise AddressRefused(f"{url!r} names no host.")
    if parts.username or parts.password:
        raise AddressRefused("put credentials in their own fields, not in the URL.")
    if (parts.query and not query) or parts.fragment:
        raise AddressRefused(f"{url!r} must not carry a query or a fragment.")
    if resolve and not settings.OUTBOUND_ALLOW_PRIVATE:
        for address in _addresses(parts.hostname, port or (443 if parts.scheme == "https" else 80)):
            if not address.is_global:
                raise AddressRefused(
                    f"{parts.hostname} is a private or local address ({address}); the portal calls only public "
                    "addresses unless OUTBOUND_ALLOW_PRIVATE is set (for tools inside your network)."
                )
    return url.strip().rstrip("/")


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"{host} cannot be found ({error}).") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
