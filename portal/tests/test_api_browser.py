"""In a real browser: create an API token on its page, use it from a script, revoke it; and
read the API documentation, whose Swagger UI comes from our own static files (no CDN)."""

import json
import urllib.error
import urllib.request

import pytest

from portal.tests.browser import log_in
from streams.tests.factories import ValueStreamFactory
from teams.tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def get_streams(live_server, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{live_server.url}/api/v1/streams/", headers={"Authorization": f"Token {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_a_user_creates_uses_and_revokes_a_token(live_server, page, screenshot):
    UserFactory(username="rita", roles=["viewer"])
    ValueStreamFactory(name="Retail Payments", slug="retail-payments")
    log_in(page, live_server, "rita")
    page.goto(f"{live_server.url}/api/tokens/")
    page.get_by_label("What will use it").fill("weekly flow report")
    page.get_by_role("button", name="Create token").click()
    key = page.get_by_test_id("new-key").inner_text()
    assert len(key) >= 40
    row = page.get_by_role("row", name="weekly flow report")
    assert key[:8] in row.inner_text() and "Active" in row.inner_text()
    screenshot("api-token-created")

    status, body = get_streams(live_server, key)
    assert status == 200 and [s["slug"] for s in body["results"]] == ["retail-payments"]

    page.reload()
    assert page.get_by_test_id("new-key").count() == 0  # the key is shown once
    page.get_by_role("row", name="weekly flow report").get_by_role("button", name="Revoke").click()
    page.wait_for_load_state()
    assert "Revoked" in page.get_by_role("row", name="weekly flow report").inner_text()
    screenshot("api-token-revoked")
    status, body = get_streams(live_server, key)
    assert status == 401 and "revoked" in body["detail"]


def test_the_api_docs_render_from_local_static_files(live_server, page, screenshot):
    UserFactory(username="rita", roles=["viewer"])
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".opblock-tag").first.wait_for(timeout=15_000)
    tags = page.locator(".opblock-tag").all_inner_texts()
    assert any("items" in tag for tag in tags) and any("metrics" in tag for tag in tags)
    screenshot("api-docs")
    assert outside == []  # nothing fetched from anywhere else
