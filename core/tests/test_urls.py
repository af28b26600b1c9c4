"""Addresses built from one `reverse` per name equal what `reverse` gives, for every argument."""

from django.urls import reverse
import pytest

from core.urls import fast_reverse


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("okrs:key-result-detail", [7]),
        ("okrs:key-result-detail", [987650000001]),
        ("okrs:check-in", [12]),
        ("streams:stream-detail", ["payments-eu"]),
        ("streams:stream-detail", ["zq-stand-in-1-zq"]),
        ("streams:map-detail", ["cards", 3]),
        ("item-detail", [123456]),
    ],
)
def test_fast_reverse_is_reverse(name, args):
    assert fast_reverse(name, *args) == reverse(name, args=args)
