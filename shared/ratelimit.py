"""Rate limits for public and sign-in endpoints: token buckets per API key and per client address.

A request to a limited path takes one token from its address's bucket and, when it carries a
credential (``Authorization`` or ``X-API-Key``), one from that credential's bucket; either empty →
429 problem document with ``Retry-After``, before authentication or the body is read. Buckets
live in a bounded LRU (a flood of random credentials or addresses evicts the oldest buckets and
cannot grow memory), one per instance: N instances behind a balancer allow N× the rate, which
the settings' figures are sized for (docs/operations.md). The time source is the monotonic
clock: a rate limit is infrastructure, not business time.

A relay — a front end that calls for many people through its one key (the console's public
reader) — names each person's address in ``X-Client-Address`` (:data:`CLIENT_ADDRESS_HEADER`).
When ``RateLimits.relay`` says the request's credential belongs to a trusted relay, the address
bucket is that forwarded address's (``relayed:<address>``, in the same bounded LRU) and the key's
own bucket is not taken: each person gets their own budget. From any other caller the header is
ignored (its peer address and key are limited as usual), as is a value that is not an IP address.
Whether a credential is a relay's is asked only of a request its peer address's budget let through
(then remembered for ``RELAY_TTL_SECONDS``), so made-up credentials cannot become identity lookups.
"""
from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
import ipaddress
from typing import Any, Awaitable, Callable, Sequence

from prometheus_client import Counter

RATE_LIMITED = Counter("shuangda_http_rate_limited_total", "requests refused with 429 by a rate limit",
                       ["service", "limit"])

#: most buckets kept per limit; beyond it the least recently used go (a fresh bucket is full, so
#: eviction can only ever let a request through that a full bucket would — never refuse one wrongly)
DEFAULT_MAX_KEYS = 20_000
#: the header a trusted relay names the address of the person it calls for in
CLIENT_ADDRESS_HEADER = "X-Client-Address"
_CLIENT_ADDRESS = CLIENT_ADDRESS_HEADER.lower().encode()
#: how long a credential found to be a trusted relay's is believed (a revoked relay key's requests
#: are still counted per forwarded address at most this long; authentication refuses them anyway),
#: and how many are remembered
RELAY_TTL_SECONDS = 30.0
MAX_RELAYS = 64


@dataclass(frozen=True)
class Rate:
    """``per_second`` tokens refill each second up to ``burst``."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate needs per_second > 0 and burst >= 1")


class TokenBuckets:
    """Token buckets by key in a bounded LRU."""

    def __init__(self, rate: Rate, *, max_keys: int = DEFAULT_MAX_KEYS,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self._now = now
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, at)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Take one token for *key*: 0.0 when allowed, else the seconds until a token is back."""
        now = self._now()
        tokens, at = self._buckets.pop(key, (float(self.rate.burst), now))
        tokens = min(float(self.rate.burst), tokens + (now - at) * self.rate.per_second)
        if tokens >= 1.0:
            wait, tokens = 0.0, tokens - 1.0
        else:
            wait = (1.0 - tokens) / self.rate.per_second
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


@dataclass(frozen=True)
class RateLimits:
    """Which paths are limited and how: ``paths`` are prefixes (``/v1/disclosures``); ``per_address``
    applies to every request to them, ``per_key`` to each credential presented. ``relay``, given a
    credential (the ``Authorization`` or ``X-API-Key`` value), says whether it is a trusted relay's,
    whose ``X-Client-Address`` is then honoured (asked only of requests that carry that header)."""

    paths: Sequence[str]
    per_address: Rate | None = None
    per_key: Rate | None = None
    max_keys: int = DEFAULT_MAX_KEYS
    relay: Callable[[str], Awaitable[bool]] | None = None

    def applies(self, path: str) -> bool:
        return any(path.startswith(p) for p in self.paths)


def _credential(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name in (b"authorization", b"x-api-key") and value:
            return value
    return None


def _forwarded(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The ``X-Client-Address`` value when it is one IP address (canonical form), else None."""
    for name, value in headers:
        if name == _CLIENT_ADDRESS:
            try:
                return str(ipaddress.ip_address(value.decode("ascii").strip()))
            except (UnicodeDecodeError, ValueError):
                return None
    return None


class RateLimit:
    """ASGI middleware enforcing :class:`RateLimits` (``shared.http.create_app(rate_limits=…)``)."""

    def __init__(self, app: Any, *, service: str, limits: RateLimits,
                 refuse: Callable[[float, str], Any]) -> None:
        self.app = app
        self.service = service
        self.limits = limits
        self.refuse = refuse  # (retry_after_seconds, which) -> an ASGI response
        self.by_address = TokenBuckets(limits.per_address, max_keys=limits.max_keys) if limits.per_address else None
        self.by_key = TokenBuckets(limits.per_key, max_keys=limits.max_keys) if limits.per_key else None
        self._relays: OrderedDict[str, float] = OrderedDict()  # credential digest → when found trusted

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.limits.applies(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        wait, which = 0.0, ""
        headers = scope.get("headers") or []
        credential = _credential(headers)
        digest = hashlib.sha256(credential).hexdigest()[:32] if credential is not None else None
        forwarded = _forwarded(headers) if self.limits.relay is not None and digest is not None else None
        relayed = forwarded is not None and self._known_relay(digest)
        if not relayed:
            if self.by_address is not None:
                client = scope.get("client") or ("unknown", 0)
                wait, which = self.by_address.take(str(client[0])), "address"
            # only a request the caller's own budget lets through asks whether it is a relay's, so a
            # flood of made-up credentials cannot turn into identity lookups
            if not wait and forwarded is not None and await self._ask_relay(credential, digest):
                relayed = True
        if relayed:
            if self.by_address is not None:
                wait, which = self.by_address.take("relayed:" + str(forwarded)), "address"
        elif not wait and self.by_key is not None and digest is not None:
            # a digest, so no credential is kept in memory in clear
            wait, which = self.by_key.take(digest), "key"
        if wait:
            RATE_LIMITED.labels(self.service, which).inc()
            await self.refuse(max(1, math.ceil(wait)), which)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _known_relay(self, digest: str | None) -> bool:
        at = self._relays.get(digest) if digest is not None else None
        if at is None or time.monotonic() - at > RELAY_TTL_SECONDS:
            return False
        return True

    async def _ask_relay(self, credential: bytes | None, digest: str | None) -> bool:
        assert self.limits.relay is not None and credential is not None and digest is not None
        try:
            trusted = await self.limits.relay(credential.decode("latin-1"))
        except Exception:  # the identity store unreachable: limit as an ordinary caller
            return False
        if trusted:
            self._relays.pop(digest, None)
            self._relays[digest] = time.monotonic()
            while len(self._relays) > MAX_RELAYS:
                self._relays.popitem(last=False)
        return bool(trusted)
