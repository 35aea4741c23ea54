"""Fetching a URL a client gave, without letting it reach inside (server-side request forgery).

`GuardedFetcher.fetch(url)` returns the body or raises `FetchRefused(reason, detail)`:

- ``scheme``: only ``https`` (``http`` too when `FetchPolicy.allow_http`, for local tests);
- ``host_not_allowed``: when `allowed_hosts` is not empty, only those hosts are fetched;
- ``private_address``: every address the host resolves to must be public — loopback, private,
  link-local, multicast, reserved, unspecified and shared (CGNAT) addresses are refused unless the
  host is in `allowed_hosts` (an operator's decision). The request then goes to the address that
  was checked (the ``Host`` header and TLS SNI carry the name, the certificate is verified against
  it), so a second DNS answer cannot point it elsewhere;
- ``unresolvable``, ``unreachable``, ``timeout`` (`timeout_seconds` for the whole exchange),
  ``status`` (anything but 200; redirects are not followed), ``too_large`` (more than `max_bytes`,
  by the header or while reading).

What the body is, is the caller's to judge (sniffed like an upload).
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx

REASONS = ("scheme", "host_not_allowed", "private_address", "unresolvable", "unreachable", "timeout", "status",
           "too_large")


class FetchRefused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int = 5 * 1024 * 1024
    timeout_seconds: float = 5.0
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    allow_http: bool = False


def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or ip in ipaddress.ip_network("100.64.0.0/10"))


class GuardedFetcher:
    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchRefused("unresolvable", f"{host} does not resolve ({exc})") from None
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    async def fetch(self, url: str) -> bytes:
        try:
            return await asyncio.wait_for(self._fetch(url), self.policy.timeout_seconds)
        except asyncio.TimeoutError:
            raise FetchRefused("timeout", f"no complete answer within {self.policy.timeout_seconds:g} s") from None

    async def _fetch(self, url: str) -> bytes:
        p = self.policy
        parts = urlsplit(url)
        schemes = ("https", "http") if p.allow_http else ("https",)
        if parts.scheme not in schemes:
            raise FetchRefused("scheme", f"only {' or '.join(schemes)} is fetched")
        host = (parts.hostname or "").lower()
        if not host or parts.username or parts.password:
            raise FetchRefused("host_not_allowed", "a host and no credentials")
        allowed = host in p.allowed_hosts
        if p.allowed_hosts and not allowed:
            raise FetchRefused("host_not_allowed", f"{host} is not among the hosts fetched from")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise FetchRefused("host_not_allowed", "not a valid port") from None
        addresses = await self._resolve(host, port)
        if not allowed and not all(public_address(a) for a in addresses):
            raise FetchRefused("private_address", f"{host} resolves to an address that is not public")
        address = addresses[0]
        netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "Accept": "image/jpeg, image/png, application/pdf",
                   "Accept-Encoding": "identity"}
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        try:
            async with httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=p.timeout_seconds) as client:
                async with client.stream("GET", pinned, headers=headers, extensions=extensions) as answer:
                    if answer.status_code != 200:
                        raise FetchRefused("status", f"the server answered {answer.status_code}, not 200")
                    declared = answer.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > p.max_bytes:
                        raise FetchRefused("too_large", f"more than {p.max_bytes} bytes")
                    body = bytearray()
                    async for chunk in answer.aiter_raw():
                        body += chunk
                        if len(body) > p.max_bytes:
                            raise FetchRefused("too_large", f"more than {p.max_bytes} bytes")
                    return bytes(body)
        except httpx.TimeoutException:
            raise FetchRefused("timeout", f"no complete answer within {p.timeout_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchRefused("unreachable", f"{host}: {type(exc).__name__}") from None
