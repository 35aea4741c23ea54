"""One leader per service for a background job, by Postgres advisory lock.

`Leadership.run(stop, body)` opens a dedicated connection, waits until it holds
the session-level advisory lock `key`, then runs ``body(conn, stop)`` — the lock
lives and dies with that connection, so a crashed or partitioned leader loses
it and another process takes over. Any fault (database down, broker down, a
bug in `body`) drops leadership, backs off and campaigns again; nothing is
skipped, because `body` works from durable state. The outbox relay, routing's
deadline watch and credit's scheduler all lead this way.

The leader's connection names itself ``<service>/<instance>/<job>`` (Postgres
``application_name``; the instance from ``SHUANGDA_INSTANCE``, which the launcher sets
per instance, default ``0``), so ``shuangda status`` can tell which instance leads
each job by joining ``pg_locks`` (advisory, granted) with ``pg_stat_activity``.
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Awaitable, Callable

import asyncpg

from shared.db import connect
from shared.metrics import TRANSIENT_RETRIES
from shared.runtime.backoff import Backoff, sleep_or_stop
from shared.runtime.errors import is_transient

log = logging.getLogger(__name__)

Body = Callable[[asyncpg.Connection, asyncio.Event], Awaitable[None]]


class Leadership:
    def __init__(
        self,
        *,
        service: str,
        name: str,
        dsn: str,
        schema: str,
        campaign_interval: float = 2.0,
        on_change: Callable[[bool], None] | None = None,
        instance: str | None = None,
    ) -> None:
        self.service = service
        self.name = name
        self.dsn = dsn
        self.schema = schema
        self.key = f"{name}:{schema}"
        self.campaign_interval = campaign_interval
        self.on_change = on_change
        self.is_leader = False
        self.instance = instance if instance is not None else (os.environ.get("SHUANGDA_INSTANCE") or "0")
        #: what the campaigning connection calls itself in pg_stat_activity (63 bytes at most)
        self.application_name = f"{service}/{self.instance}/{name}"[:63]

    def _set(self, value: bool) -> None:
        if value != self.is_leader:
            self.is_leader = value
            if self.on_change is not None:
                self.on_change(value)

    async def run(self, stop: asyncio.Event, body: Body) -> None:
        """Campaign and lead until `stop` is set."""
        backoff = Backoff(initial=0.5)
        while not stop.is_set():
            try:
                await self._term(stop, body)
                backoff.reset()
            except Exception as exc:
                self._set(False)
                TRANSIENT_RETRIES.labels(self.service, self.name).inc()
                if not is_transient(exc):
                    log.exception("%s failed; campaigning again", self.name)
                delay = backoff.next()
                log.warning("%s: %s: %s; retrying in %.1fs", self.name, type(exc).__name__, exc, delay)
                await sleep_or_stop(stop, delay)

    async def _term(self, stop: asyncio.Event, body: Body) -> None:
        conn = await connect(self.dsn, self.schema)
        try:
            await conn.execute("SELECT set_config('application_name', $1, false)", self.application_name)
            while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self.key):
                self._set(False)
                if await sleep_or_stop(stop, self.campaign_interval):
                    return
            self._set(True)
            log.info("%s leading for schema %s", self.name, self.schema)
            await body(conn, stop)
        finally:
            self._set(False)
            await conn.close()  # releases the advisory lock
