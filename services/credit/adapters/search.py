"""Keeps this process's in-memory name index in step with Postgres.

Each refresh reads the (id, version) of the entities changed since the
previous refresh's *horizon*: the start of the oldest transaction that was
still open when that refresh began (or its start time). A row that refresh
could not see yet was written by such a transaction, so its `changed_at` (taken
when written, not when committed) is later than the horizon and this refresh
finds it. Only entities whose version the index does not hold yet are re-read
with their names.
Indexing yields to the event loop between chunks, so a large refresh never
stalls the API.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import time

import asyncpg

from shared.runtime.backoff import sleep_or_stop

from services.credit import metrics
from services.credit.adapters.postgres import entities as db
from services.credit.domain.search import NameIndex

log = logging.getLogger(__name__)

CHUNK = 5_000


class IndexRefresher:
    def __init__(self, pool: asyncpg.Pool, index: NameIndex, interval: float) -> None:
        self.pool, self.index, self.interval = pool, index, interval
        self.loaded = False
        self._horizon: dt.datetime | None = None
        self._versions: dict[str, int] = {}
        self.lock = asyncio.Lock()

    async def refresh(self) -> int:
        """Index what changed; returns how many entities were (re)indexed."""
        async with self.lock:
            async with self.pool.acquire() as conn:
                horizon = await db.change_horizon(conn)
                changed = await db.changed_entity_versions(conn, self._horizon)
                stale = [r["entity_id"] for r in changed if self._versions.get(r["entity_id"]) != r["version"]]
                count = 0
                for start in range(0, len(stale), CHUNK):
                    rows = await db.entities_with_names(conn, stale[start:start + CHUNK])
                    for r in rows:
                        self._versions[r["entity_id"]] = r["version"]
                        if r["kind"] == "natural_person":
                            continue  # persons are not searched by name
                        self.index.upsert(r["entity_id"], r["credit_code"], list(zip(r["names"], r["kinds"])))
                        count += 1
                    await asyncio.sleep(0)
            self._horizon = horizon
            if not self.loaded or count > 10_000:
                # the index is hundreds of thousands of long-lived objects: keep them out of the
                # cyclic collector's full passes, which would otherwise stall requests for 100+ ms
                gc.collect()
                gc.freeze()
            self.loaded = True
            metrics.INDEX_ENTITIES.set(len(self.index))
            return count

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                n = await self.refresh()
                if n > 1000:
                    log.info("name index: %d entities (re)indexed in %.1fs", n, time.monotonic() - started)
            except Exception as exc:
                log.warning("name index refresh failed: %s", exc)
            if await sleep_or_stop(stop, self.interval):
                return
