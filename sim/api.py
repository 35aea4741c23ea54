"""HTTP calls of the simulated outside world, with the retry a real back end would do.

Connection failures and 5xx/429 answers are retried with the same
``Idempotency-Key`` (so a retried command is applied once); any other answer
is returned to the caller, which counts it.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

RETRIABLE = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Answer:
    status: int                  # 0: no answer after the retries
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def reason(self) -> str:
        if isinstance(self.body, dict):
            if self.body.get("reason"):
                return str(self.body["reason"])
            errors = self.body.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                return str(errors[0].get("reason") or errors[0].get("type") or "invalid")
        return f"http_{self.status}" if self.status else "unreachable"


def client(base_url: str, *, connections: int = 32, timeout: float = 30.0, ca_file: str | None = None) -> httpx.AsyncClient:
    """`ca_file`: the CA the service's HTTPS certificate is checked against (the secure profile's own)."""
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    return httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=httpx.Timeout(timeout), verify=verify,
                             limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections))


async def call(http: httpx.AsyncClient, method: str, path: str, *, token: str, json: Any = None,
               idempotency_key: str | None = None, attempts: int = 6, content: bytes | None = None,
               headers: dict[str, str] | None = None) -> Answer:
    """`content` (with its ``content-type`` in `headers`): a body that is not JSON, e.g. a file."""
    headers = {**(headers or {}), "authorization": f"Bearer {token}"}
    if idempotency_key:
        headers["idempotency-key"] = idempotency_key
    delay = 0.2
    last = Answer(0, None)
    for attempt in range(attempts):
        try:
            response = await http.request(method, path, json=json, content=content, headers=headers)
        except httpx.HTTPError as exc:
            log.debug("%s %s: %s (attempt %d)", method, path, type(exc).__name__, attempt + 1)
            last = Answer(0, {"error": type(exc).__name__})
        else:
            try:
                body = response.json() if response.content else None
            except ValueError:
                body = response.text
            last = Answer(response.status_code, body)
            if response.status_code not in RETRIABLE:
                return last
        await asyncio.sleep(delay)
        delay = min(delay * 2, 3.0)
    return last
