"""Keeps the name search's tables (migrations 0005, 0006) in step with the entities.

Each refresh re-indexes the entities changed since the stored *horizon* whose indexed version
is not theirs: the start of the oldest transaction that was still open when the previous refresh
began (or its start time). A row that refresh could not see yet was written by such a
transaction, so its `changed_at` (taken when written, not when committed) is later than the
horizon and this refresh finds it. The work goes in chunks of `CHUNK` entities, one transaction
each (a chunk is idempotent: it compares versions again under the lock), with the event loop
free between chunks; refreshes of every instance are serialised by an advisory lock, and the
horizon only moves forward, so replicas share one index and a restarted process resumes where
the index is instead of reading a province's registry again.

The postings live in Postgres, not in this process: at 1M entities the in-memory index of
earlier versions held 600-780 MB per process (issue 11). What a process does keep is `GramCounts`:
how many names hold each bigram (~17,000 bigrams at 1M entities, about 2 MB), which a query's plan
needs before its one statement. The refresher reloads them after each refresh when the stored
`grams_version` is no longer the one it holds (a refresh of any instance that changed a count moved
it), so they are never older than one refresh interval, like the index itself.
"""
from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from shared.runtime.backoff import sleep_or_stop

from services.credit import metrics
from services.credit.adapters.postgres import entities as db
from services.credit.adapters.postgres import name_search as store
from services.credit.domain.search import IndexedName, NameIndex

log = logging.getLogger(__name__)

CHUNK = 5_000
#: a refresh that indexed more entities than this vacuums the tables it wrote
VACUUM_AFTER = 10_000


class GramCounts:
    """This process's copy of the bigram counts and the number of indexed entities, as of `version`
    (None: not loaded yet, a query asks Postgres instead)."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.entities = 0
        self.names: dict[str, int] = {}

    async def reload(self, conn: asyncpg.Connection) -> None:
        self.version, self.entities, self.names = await store.gram_counts(conn)


class IndexRefresher:
    def __init__(self, pool: asyncpg.Pool, index: NameIndex, interval: float) -> None:
        self.pool, self.index, self.interval = pool, index, interval
        self.loaded = False
        self.lock = asyncio.Lock()
        self.counts = GramCounts()

    async def refresh(self) -> int:
        """Index what changed; returns how many entities were (re)indexed."""
        async with self.lock, self.pool.acquire() as conn:
            horizon = await db.change_horizon(conn)
            since = (await store.state(conn))["horizon"]
            count, after = 0, ""
            while True:
                async with conn.transaction():
                    await store.lock_refresh(conn)
                    stale = await store.stale_entities(conn, since, after, CHUNK)
                    if not stale:
                        break
                    rows: list[IndexedName] = []
                    for r in stale:
                        names = zip(r["names"] or (), r["kinds"] or ())
                        rows.extend(self.index.rows(r["entity_id"], r["credit_code"], names))
                    await store.replace(conn, [r["entity_id"] for r in stale],
                                        {r["entity_id"]: r["version"] for r in stale}, rows)
                count += sum(1 for r in stale if r["kind"] != "natural_person")
                after = stale[-1]["entity_id"]
                await asyncio.sleep(0)
            async with conn.transaction():
                await store.lock_refresh(conn)
                await store.set_horizon(conn, horizon)
                now = await store.state(conn)
                entities = now["entities"]
            if now["grams_version"] != self.counts.version:
                await self.counts.reload(conn)
            if count > VACUUM_AFTER:
                # the new postings all-visible now, so queries read them by index-only scans (best
                # effort: a role that does not own the tables leaves it to autovacuum)
                try:
                    await store.vacuum(conn)
                except asyncpg.PostgresError as exc:
                    log.info("name index: vacuum left to autovacuum (%s)", exc)
        self.loaded = True
        metrics.INDEX_ENTITIES.set(entities)
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
