"""The guard in front of a client-given URL (shared/guarded_fetch.py): which addresses count as
public, and the refusals decided before any byte is sent."""
from __future__ import annotations

import pytest

from shared.guarded_fetch import FetchPolicy, FetchRefused, GuardedFetcher, public_address


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1",
                                     "::ffff:127.0.0.1", "::ffff:10.0.0.1"])
def test_loopback_private_link_local_shared_and_mapped_addresses_are_not_public(address: str) -> None:
    assert not public_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_ordinary_internet_addresses_are_public(address: str) -> None:
    assert public_address(address)


async def refusal(url: str, **policy: object) -> str:
    with pytest.raises(FetchRefused) as caught:
        await GuardedFetcher(FetchPolicy(**policy)).fetch(url)  # type: ignore[arg-type]
    return caught.value.reason


async def test_only_https_is_fetched_unless_http_is_allowed() -> None:
    assert await refusal("http://photos.example.com/a.jpg") == "scheme"
    assert await refusal("file:///etc/passwd", allow_http=True) == "scheme"
    assert await refusal("gopher://127.0.0.1:70/") == "scheme"


async def test_a_host_off_the_allow_list_and_credentials_in_the_url_are_refused() -> None:
    assert await refusal("https://evil.example.net/a.jpg", allowed_hosts=frozenset({"photos.example.com"})) == "host_not_allowed"
    assert await refusal("https://user:pw@photos.example.com/a.jpg") == "host_not_allowed"


async def test_a_name_resolving_to_loopback_is_refused_unless_allow_listed() -> None:
    assert await refusal("https://localhost/a.jpg") == "private_address"
    assert await refusal("https://127.0.0.1:1/a.jpg") == "private_address"
    # allow-listed: the guard lets it through, and the closed port is then merely unreachable
    assert await refusal("https://127.0.0.1:1/a.jpg", allowed_hosts=frozenset({"127.0.0.1"})) == "unreachable"
