"""Webhooks: a JSON POST signed per Standard Webhooks (shared.webhooks).

Each attempt carries the delivery's ``webhook-id`` (the same on every retry),
the attempt's ``webhook-timestamp`` and its signature. Redirects are not
followed (a 3xx is a failure), proxies from the environment are ignored, and
the whole attempt — connect, send, answer — is bounded by the endpoint's
timeout (15 s by default).

Each endpoint has its own connection pool, sized to its concurrency limit: a
hanging endpoint can only ever hold its own connections, and a pool stays
small however many endpoints there are. Connections are kept alive (HTTP/1.1)
and reused.

The client is `adapters.http1`, a small keep-alive HTTP/1.1 client on
httptools' parser: at 双11 rates the HTTP client was notify's largest cost
(httpx spent about 0.9 ms of CPU per request here; aiohttp, which replaced it,
still about a third of the burst's CPU), and every delivery is one request.
"""
from __future__ import annotations

import asyncio
import functools
import ssl

from services.notify.adapters.http1 import OriginPool, origin_of
from services.notify.domain.policy import AttemptResult, classify_http, timed_out, unreachable
from shared.clock import Clock, WallClock
from shared.webhooks import parse_secret, sign_headers

USER_AGENT = "shuangda-notify/1"
_FIXED_HEADERS = f"user-agent: {USER_AGENT}\r\ncontent-type: application/json\r\n"


@functools.lru_cache(maxsize=1024)
def _key(secret: str) -> bytes:
    """The HMAC key of a secret, decoded once (not per attempt)."""
    return parse_secret(secret)


class WebhookSender:
    channel = "webhook"

    def __init__(self, *, timeout: float = 15.0, connections_per_endpoint: int = 4, clock: Clock | None = None) -> None:
        self.timeout = timeout
        self.clock = clock or WallClock()
        self.connections_per_endpoint = connections_per_endpoint
        #: (endpoint, origin) → its pool; a directory change of an endpoint's URL to another origin gets a new one
        self.pools: dict[tuple[str, str, str, int], OriginPool] = {}
        self._tls: ssl.SSLContext | None = None  # one context for every pool (building one reads the CA bundle)

    def _pool(self, endpoint: str, url: str, connections: int | None) -> tuple[OriginPool, str]:
        origin = origin_of(url)
        key = (endpoint, origin.scheme, origin.host, origin.port)
        pool = self.pools.get(key)
        if pool is None:
            tls = None
            if origin.scheme == "https":
                if self._tls is None:
                    self._tls = ssl.create_default_context()
                tls = self._tls
            pool = self.pools[key] = OriginPool(origin, connections or self.connections_per_endpoint, tls)
        return pool, origin.target

    async def send(self, *, msg_id: str, url: str, secret: str, body: bytes, timeout: float | None = None,
                   endpoint: str | None = None, connections: int | None = None) -> AttemptResult:
        seconds = timeout or self.timeout
        try:
            pool, target = self._pool(endpoint or url, url, connections)
        except ValueError as exc:
            return unreachable(f"InvalidURL: {exc}")
        signed = sign_headers(_key(secret), msg_id, body)
        headers = (f"{_FIXED_HEADERS}webhook-id: {signed['webhook-id']}\r\n"
                   f"webhook-timestamp: {signed['webhook-timestamp']}\r\n"
                   f"webhook-signature: {signed['webhook-signature']}\r\n")
        try:
            async with asyncio.timeout(seconds):
                answer = await pool.post(target, headers, body)
        except (TimeoutError, asyncio.TimeoutError):
            return timed_out(f"no answer within {seconds:g} s")
        except OSError as exc:  # refused, reset, TLS, DNS, a broken answer (http1.ProtocolError)
            return unreachable(type(exc).__name__)
        return classify_http(answer.status, answer.retry_after, now=self.clock.now())

    async def close(self) -> None:
        pools, self.pools = list(self.pools.values()), {}
        for pool in pools:
            pool.close()
