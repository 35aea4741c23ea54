"""SMS through a generic HTTP gateway: a JSON POST to a configured URL with an API key.

    POST <gateway url>
    Authorization: Bearer <api key>
    Idempotency-Key: <delivery id>
    {"message_id": "<delivery id>", "to": ["13800138000"], "text": "【双打办】…"}

2xx is accepted; 429/503 with ``Retry-After`` are honoured; other 4xx are a
permanent rejection of the message (a bad number); 5xx, timeouts and refused
connections are retried. Numbers are never logged.
"""
from __future__ import annotations

import asyncio

import httpx

from services.notify.domain.policy import AttemptResult, Verdict, classify_http, timed_out, unreachable
from shared.clock import Clock, WallClock


class SmsGateway:
    channel = "sms"

    def __init__(self, *, url: str | None, api_key: str | None, timeout: float = 15.0, clock: Clock | None = None) -> None:
        self.url = url
        self.clock = clock or WallClock()
        self.api_key = api_key
        self.timeout = timeout
        self.client = httpx.AsyncClient(follow_redirects=False, trust_env=False)

    @property
    def configured(self) -> bool:
        return bool(self.url)

    async def send(self, *, msg_id: str, to: list[str], text: str) -> AttemptResult:
        if not self.url:
            return AttemptResult(Verdict.REJECTED, "rejected", detail="no SMS gateway configured")
        headers = {"idempotency-key": msg_id, "content-type": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.post(self.url, json={"message_id": msg_id, "to": to, "text": text},
                                                  headers=headers, timeout=httpx.Timeout(self.timeout))
        except (TimeoutError, httpx.TimeoutException):
            return timed_out(f"SMS gateway: no answer within {self.timeout:g} s")
        except httpx.TransportError as exc:
            return unreachable(f"SMS gateway: {type(exc).__name__}")
        result = classify_http(response.status_code, response.headers.get("retry-after"), now=self.clock.now())
        status = response.status_code
        if 400 <= status < 500 and status not in (408, 429):
            return AttemptResult(Verdict.REJECTED, "rejected" if status != 410 else "410", status,
                                 detail=f"SMS gateway HTTP {status}")
        return result

    async def close(self) -> None:
        await self.client.aclose()
