"""The portal calls only public http(s) addresses unless told otherwise (server-side request forgery)."""

import pytest

from core.outbound import AddressRefused, check_url


@pytest.fixture
def public_only(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False


@pytest.mark.parametrize(
    "url, why",
    [
        ("ftp://example.com/x", "must start with https://"),
        ("file:///etc/passwd", "must start with https://"),
        ("https://", "names no host"),
        ("https://user:pw@dev.azure.com/org", "credentials in their own fields"),
        ("https://dev.azure.com/org?x=1", "query or a fragment"),
        ("http://127.0.0.1:8000/", "private or local address (127.0.0.1)"),
        ("http://localhost/", "private or local address"),
        ("http://10.1.2.3/", "private or local address"),
        ("http://169.254.169.254/latest/meta-data/", "private or local address"),  # cloud metadata
        ("http://[::1]/", "private or local address (::1)"),
        ("http://[fd00::1]/", "private or local address"),
    ],
)
def test_unsafe_or_broken_addresses_are_refused_with_the_reason(public_only, url, why):
    with pytest.raises(AddressRefused, match=why.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        check_url(url)


def test_a_public_address_literal_passes_and_loses_its_trailing_slash(public_only):
    assert check_url(" https://93.184.215.14/org/ ") == "https://93.184.215.14/org"


def test_the_setting_allows_private_addresses_for_tools_inside_the_network(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    assert check_url("http://10.1.2.3:8080/tfs/DefaultCollection") == "http://10.1.2.3:8080/tfs/DefaultCollection"
    with pytest.raises(AddressRefused):
        check_url("gopher://10.1.2.3/")
