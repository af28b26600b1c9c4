"""Walking the provider's own login and consent pages with an HTTP session (the browser test
does the same in chromium)."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import requests

FORM = re.compile(r'<form[^>]*action="([^"]+)"')


def provider_pages(authorize_url: str, login: str, *, session: requests.Session | None = None) -> str:
    """Sign in as `login` on the provider's pages from the authorisation URL; returns where the
    provider sends the browser back (the portal's callback, with code and state)."""
    session = session or requests.Session()
    url, body = authorize_url, None
    for _ in range(12):
        response = session.request("POST" if body else "GET", url, data=body, allow_redirects=False, timeout=10)
        body = None
        if response.is_redirect:
            target = urljoin(url, response.headers["Location"])
            if "/login/oidc/callback/" in target:
                return target
            url = target
            continue
        page = response.text
        action = FORM.search(page)
        if action is None:
            raise AssertionError(f"the provider answered {response.status_code} without a form: {page[:500]}")
        url = urljoin(url, action.group(1))
        body = (
            {"prompt": "login", "login": login, "password": "any"} if 'name="login"' in page else {"prompt": "consent"}
        )
    raise AssertionError("the provider never sent the browser back")


def sign_in(client, login: str, *, next_url: str = "") -> object:
    """The whole sign-in through the Django test client and the provider's pages; the response
    of the portal's callback."""
    start = client.get("/login/oidc/" + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302, start.content[:500]
    back = provider_pages(start["Location"], login)
    return client.get(back.removeprefix("http://testserver"))
