"""A real HTTP server on 127.0.0.1 (aiohttp) serving files for Open311's media_url: each path
answers its bytes (or a status, or after a delay); every request is recorded."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from tests.support.notify import free_port


@dataclass
class Served:
    body: bytes = b""
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] | None = None


class MediaServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.files: dict[str, Served] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._runner: Any = None

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def serve(self, path: str, body: bytes = b"", *, status: int = 200, delay: float = 0.0,
              headers: dict[str, str] | None = None) -> str:
        self.files[path] = Served(body, status, delay, headers)
        return self.url(path)

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        self.requests.append((request.path, {k.lower(): v for k, v in request.headers.items()}))
        served = self.files.get(request.path, Served(b"not here", 404))
        if served.delay:
            await asyncio.sleep(served.delay)
        return web.Response(body=served.body, status=served.status, headers=served.headers,
                            content_type="application/octet-stream")

    async def __aenter__(self) -> "MediaServer":
        from aiohttp import web

        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._runner.cleanup()
