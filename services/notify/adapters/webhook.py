"""Webhooks: a JSON POST signed per Standard Webhooks (shared.webhooks).

Each attempt carries the delivery's ``webhook-id`` (the same on every retry),
the attempt's ``webhook-timestamp`` and its signature. Redirects are not
followed (a 3xx is a failure), proxies from the environment are ignored, and
the whole attempt — connect, send, answer — is bounded by the endpoint's
timeout (15 s by default).

Each endpoint has its own connection pool, sized to its concurrency limit: a
hanging endpoint can only ever hold its own connections, and a pool stays
small however many endpoints there are.

The client is aiohttp's: at 双11 rates the HTTP client was notify's largest
cost (httpx spent about 0.9 ms of CPU per request here, several times
aiohttp's), and every delivery is one request.
"""
from __future__ import annotations

import asyncio
import ssl

import aiohttp

from services.notify.domain.policy import AttemptResult, classify_http, timed_out, unreachable
from shared.clock import Clock, WallClock
from shared.webhooks import sign_headers

USER_AGENT = "shuangda-notify/1"
_NO_TIMER = aiohttp.ClientTimeout(total=None, connect=None, sock_read=None, sock_connect=None)


class WebhookSender:
    channel = "webhook"

    def __init__(self, *, timeout: float = 15.0, connections_per_endpoint: int = 4, clock: Clock | None = None) -> None:
        self.timeout = timeout
        self.clock = clock or WallClock()
        self.connections_per_endpoint = connections_per_endpoint
        self.clients: dict[str, aiohttp.ClientSession] = {}
        self._tls: ssl.SSLContext | None = None  # one context for every pool (building one reads the CA bundle)

    def _client(self, endpoint: str, connections: int | None) -> aiohttp.ClientSession:
        client = self.clients.get(endpoint)
        if client is None:
            n = connections or self.connections_per_endpoint
            if self._tls is None:
                self._tls = ssl.create_default_context()
            connector = aiohttp.TCPConnector(limit=n, limit_per_host=n, ssl=self._tls, ttl_dns_cache=300)
            # no aiohttp timer: `send` bounds the whole attempt with one asyncio.timeout (two timers per
            # request were 5 % of notify's CPU at 双11 rates)
            client = self.clients[endpoint] = aiohttp.ClientSession(
                connector=connector, trust_env=False, headers={"user-agent": USER_AGENT},
                auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(), timeout=_NO_TIMER,
            )
        return client

    async def send(self, *, msg_id: str, url: str, secret: str, body: bytes, timeout: float | None = None,
                   endpoint: str | None = None, connections: int | None = None) -> AttemptResult:
        seconds = timeout or self.timeout
        headers = {**sign_headers(secret, msg_id, body), "content-type": "application/json"}
        client = self._client(endpoint or url, connections)
        try:
            async with asyncio.timeout(seconds):
                async with client.post(url, data=body, headers=headers, allow_redirects=False) as response:
                    await response.read()  # the connection goes back to the pool for the next request
                    status, retry_after = response.status, response.headers.get("retry-after")
        except (TimeoutError, asyncio.TimeoutError):
            return timed_out(f"no answer within {seconds:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            return unreachable(type(exc).__name__)
        return classify_http(status, retry_after, now=self.clock.now())

    async def close(self) -> None:
        clients, self.clients = list(self.clients.values()), {}
        for client in clients:
            await client.close()
