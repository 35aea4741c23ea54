"""The simulated bureaus' webhook gateway and the SMS gateway, on loopback.

Notify delivers to ``POST /hooks/<endpoint>`` (one endpoint per bureau type,
plus the office) with Standard Webhooks signatures; the gateway verifies each
request with the endpoint's secret (`shared.webhooks.verify`), answers at
once, drops re-deliveries by ``webhook-id`` (notify retries with the same id)
and hands the notice to the back ends. Now and then — a seeded share — it
answers ``503`` with ``Retry-After`` the first time, as a busy gateway does,
so notify's retries are exercised too.

``POST /sms`` is the SMS gateway complainants' messages go through; each is handed to
``on_sms`` (the complainants read their closing SMS: `sim.reporters`).
"""
from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.webhooks import WebhookVerificationError, verify
from sim.scenario import stable_random

Handler = Callable[[str, dict[str, Any]], None]
SmsHandler = Callable[[dict[str, Any]], None]


@dataclass
class Arrival:
    """One accepted webhook (kept only when the receiver is asked to keep them)."""

    endpoint: str
    webhook_id: str
    type: str
    recipient: str | None
    case_id: str | None
    arrived: float                     # time.time()
    body: dict[str, Any]


@dataclass
class ReceiverStats:
    webhooks: int = 0
    duplicates: int = 0
    rejected_signatures: int = 0
    busy_answers: int = 0
    sms: int = 0
    by_type: Counter = field(default_factory=Counter)


class Receiver:
    def __init__(self, *, secrets: dict[str, str], on_webhook: Handler | None = None, busy_share: float = 0.0,
                 seed: int = 0, keep: bool = False) -> None:
        self.secrets = secrets
        self.on_webhook = on_webhook
        self.on_sms: SmsHandler | None = None
        self.busy_share = busy_share
        self.seed = seed
        self.keep = keep
        self.arrivals: list[Arrival] = []
        self.sms_messages: list[dict[str, Any]] = []
        self.stats = ReceiverStats()
        self._seen: set[str] = set()
        self._busy_once: set[str] = set()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0
        self.app = Starlette(routes=[
            Route("/hooks/{endpoint}", self._hook, methods=["POST"]),
            Route("/sms", self._sms, methods=["POST"]),
            Route("/healthz", lambda r: JSONResponse({"ok": True}), methods=["GET"]),
        ])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _hook(self, request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        secret = self.secrets.get(endpoint)
        body = await request.body()
        if secret is None:
            return JSONResponse({"error": f"no endpoint {endpoint}"}, status_code=404)
        try:
            msg_id = verify(secret, request.headers, body)
        except WebhookVerificationError as exc:
            self.stats.rejected_signatures += 1
            return JSONResponse({"error": str(exc)}, status_code=401)
        if msg_id in self._seen:
            self.stats.duplicates += 1
            return Response(status_code=204)
        if self.busy_share and msg_id not in self._busy_once and stable_random("busy", self.seed, msg_id).random() < self.busy_share:
            self._busy_once.add(msg_id)
            self.stats.busy_answers += 1
            return Response(status_code=503, headers={"retry-after": "1"})
        self._seen.add(msg_id)
        try:
            payload = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "not JSON"}, status_code=400)
        self.stats.webhooks += 1
        etype = str(payload.get("type", ""))
        self.stats.by_type[etype] += 1
        data = payload.get("data") or {}
        if self.keep:
            self.arrivals.append(Arrival(endpoint, msg_id, etype, data.get("recipient"), data.get("case_id"),
                                         time.time(), payload))
        if self.on_webhook is not None:
            try:
                self.on_webhook(endpoint, payload)
            except Exception:  # a back end's bug must not make notify retry forever
                import logging

                logging.getLogger(__name__).exception("webhook handler failed")
        return Response(status_code=204)

    async def _sms(self, request: Request) -> Response:
        body = await request.json()
        self.stats.sms += 1
        if self.keep:
            self.sms_messages.append({"message_id": body.get("message_id"), "text": body.get("text"),
                                      "arrived": time.time()})
        if self.on_sms is not None:
            try:
                self.on_sms(body)
            except Exception:  # a simulated reader's bug must not make notify resend
                import logging

                logging.getLogger(__name__).exception("SMS handler failed")
        return JSONResponse({"accepted": True})

    async def start(self, port: int = 0, *, tls_certfile: str | None = None, tls_keyfile: str | None = None) -> int:
        """Serve on 127.0.0.1:`port` (0: any free one); with `tls_certfile`/`tls_keyfile`, over HTTPS."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_keep_alive=30, backlog=512, ssl_certfile=tls_certfile, ssl_keyfile=tls_keyfile)
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        for _ in range(100):
            if self._server.started:
                break
            await asyncio.sleep(0.05)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except asyncio.TimeoutError:
                self._task.cancel()
