"""The whole single sign-on in chromium: the portal's login page, the provider's own login and
consent pages, back signed in with the role the provider's groups give, and out of both."""

import pytest

from core import access
from portal.identity.tests.conftest import Provider  # noqa: F401 (the fixture's type)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_leader_signs_in_through_the_identity_provider_and_out_again(live_server, page, provider, screenshot):
    provider.account("lena", email="lena@acme.example", name="Lena Lead", groups=["pom-leaders"])
    page.goto(f"{live_server.url}/okrs/")
    page.wait_for_url(f"{live_server.url}/login/?next=/okrs/")
    screenshot("sso-login-page")
    page.get_by_test_id("sso").click()
    page.wait_for_url(f"{provider.issuer}/interaction/**")
    page.locator('input[name="login"]').fill("lena")
    page.locator('input[name="password"]').fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()  # the provider's consent page
    page.wait_for_url(f"{live_server.url}/okrs/")
    assert "Lena Lead" in page.locator(".who").first.inner_text()
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(email="lena@acme.example")
    assert set(user.groups.values_list("name", flat=True)) == {access.LEADER}
    screenshot("sso-signed-in")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{provider.issuer}/session/end**")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{live_server.url}/login/?state=*")  # back on the portal's login page
    page.goto(f"{live_server.url}/")
    page.wait_for_url(f"{live_server.url}/login/?next=/")
