"""A stream's address is built from one `reverse`: it must equal what `reverse` gives."""

from django.urls import reverse
import pytest

from streams.models.streams import stream_url


@pytest.mark.parametrize("slug", ["payments", "payments-eu", "x", "card_services-2", "xx"])
def test_a_streams_address_is_what_reverse_gives(slug):
    assert stream_url(slug) == reverse("streams:stream-detail", args=[slug])
