"""Appraisal for one test: its own schema, topics, group and identity schema, the service built by
its wiring with the consumer, the outbox relay and the deadline watch running, and an HTTP client."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

import httpx

from services.appraisal.settings import AppraisalSettings
from services.appraisal.wiring import build, prepare
from shared.clock import Clock
from shared.db import create_pool
from tests.support import identity


class AppraisalWorld:
    def __init__(self, unique: str, *, custody_topic: str | None = None, identity_schema: str | None = None) -> None:
        self.unique = unique
        self.division = str(100000 + int(unique[:8], 16) % 900000)
        self.identity_schema = identity_schema or f"identity_{unique}"
        self.settings = AppraisalSettings(
            dev=True, schema=f"appraisal_{unique}", appraisal_topic=f"test.appraisal.{unique}",
            custody_topic=custody_topic or f"test.custody.{unique}", consumer_group=f"appraisal-{unique}",
            identity_schema=self.identity_schema, identity_cache_seconds=0, relay_poll_seconds=0.2,
            deadline_watch_seconds=0.2)

    async def create(self, *, with_identity: bool = True) -> None:
        await prepare(self.settings)
        if with_identity:
            await identity.identity_schema(self.unique)

    def bureau(self, bureau_type: str = "market_regulation") -> str:
        return f"{bureau_type}@{self.division}"

    async def key(self, kind: str, bureau_type: str | None = None, principal_id: str | None = None,
                  **options: Any) -> dict[str, str]:
        """An Authorization header for a new principal of `kind` (a bureau kind acts for `bureau_type@division`)."""
        bureau = self.bureau(bureau_type) if bureau_type else None
        token = await identity.issue_key(self.identity_schema, principal_id or bureau or f"{kind}-{self.unique}", kind,
                                         bureau=bureau, **options)
        return {"authorization": f"Bearer {token}"}

    @contextlib.asynccontextmanager
    async def running(self, clock: Clock | None = None) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
        pool = await create_pool(self.settings.dsn, self.settings.schema, max_size=4)
        parts = await build(self.settings, pool, clock=clock)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(loop.run(stop)) for loop in (parts.consumer, parts.relay, parts.watch)]
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=parts.app), base_url="http://appraisal") as http:
                yield http, parts
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            for close in reversed(parts.closers):
                await close()
            await pool.close()
