"""Inspection for one test: its own schema, topics and identity schema, the service built by its
wiring with the outbox relay and the deadline watch running, and an HTTP client on the app."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

import httpx

from services.inspection.settings import InspectionSettings
from services.inspection.wiring import build, prepare
from shared.clock import Clock
from shared.db import create_pool
from shared.identifiers import uscc_check_character
from tests.support import identity


def credit_code(division: str, n: int) -> str:
    """A valid unified social credit code registered in `division`."""
    first = f"91{division}MA{n:07d}"
    return first + uscc_check_character(first)


class InspectionWorld:
    def __init__(self, unique: str, **overrides: Any) -> None:
        self.unique = unique
        self.division = str(100000 + int(unique[:8], 16) % 900000)
        self.identity_schema = f"identity_{unique}"
        self.settings = InspectionSettings(**{
            "dev": True, "schema": f"inspection_{unique}", "inspection_topic": f"test.inspection.{unique}",
            "lead_topic": f"test.ingress-inspection.{unique}", "identity_schema": self.identity_schema,
            "identity_cache_seconds": 0, "relay_poll_seconds": 0.2, "deadline_watch_seconds": 0.2, **overrides})

    async def create(self) -> None:
        await prepare(self.settings)
        await identity.identity_schema(self.unique)

    def bureau(self, bureau_type: str = "forestry") -> str:
        return f"{bureau_type}@{self.division}"

    async def key(self, kind: str, bureau_type: str | None = None, principal_id: str | None = None) -> dict[str, str]:
        bureau = self.bureau(bureau_type) if bureau_type else None
        token = await identity.issue_key(self.identity_schema, principal_id or bureau or f"{kind}-{self.unique}", kind,
                                         bureau=bureau)
        return {"authorization": f"Bearer {token}"}

    @contextlib.asynccontextmanager
    async def running(self, clock: Clock | None = None) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
        pool = await create_pool(self.settings.dsn, self.settings.schema, max_size=4)
        parts = await build(self.settings, pool, clock=clock)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(loop.run(stop)) for loop in (parts.relay, parts.watch)]
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=parts.app), base_url="http://inspection") as http:
                yield http, parts
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            for close in reversed(parts.closers):
                await close()
            await pool.close()
