"""The time-driven part of credit, run by one leader per schema (advisory lock):

- records past their maximum publicity period expire (``credit.record-expired``);
- listings past their end leave the list (``credit.delisted``, reason expired);
- with auto-disclosure on, recorded penalties are published (``credit.record-disclosed``);
- 以罚代刑 alerts past their grace period are sent (``credit.penalty-substitutes-prosecution``) or withdrawn
  when a referral of their case is under way by then.

Each change is a conditional update in its own transaction together with its
outbox row, and the event id is derived from the record or listing id, so even
two leaders (a split brain during a failover) would emit each fact once.
Time comes from the service clock.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

import asyncpg

from shared import audit
from shared.clock import Clock
from shared.runtime import unit_of_work
from shared.runtime.backoff import sleep_or_stop
from shared.runtime.leader import Leadership

from services.credit import metrics
from services.credit.adapters.postgres import listings as listings_db
from services.credit.adapters.postgres import penalties as penalties_db
from services.credit.adapters.postgres import proceedings as proceedings_db
from services.credit.adapters.postgres import read_models
from services.credit.app import disclosure, listings, prosecution, records
from services.credit.app.context import Credit

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, *, pool: asyncpg.Pool, dsn: str, schema: str, credit: Credit, clock: Clock,
                 interval: float = 2.0, batch: int = 500, auto_disclose: bool = True) -> None:
        self.pool, self.dsn, self.schema, self.credit, self.clock = pool, dsn, schema, credit, clock
        self.interval, self.batch, self.auto_disclose = interval, batch, auto_disclose
        self._leadership = Leadership(
            service="credit", name="credit-scheduler", dsn=dsn, schema=schema,
            campaign_interval=max(interval, 2.0), on_change=lambda v: metrics.SCHEDULER_LEADER.set(1 if v else 0),
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self._leadership.run(stop, self._lead)

    @property
    def is_leader(self) -> bool:
        return self._leadership.is_leader

    async def _lead(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.tick()
            if await sleep_or_stop(stop, self.interval):
                return
            await conn.fetchval("SELECT 1")  # the lock lives with this connection: notice if it died

    async def tick(self) -> dict[str, int]:
        """One pass; returns how many of each change it made."""
        done = {
            "expired": await self._drain(penalties_db.due_for_expiry, records.expire_record, with_now=True),
            "delisted": await self._drain(listings_db.listings_due_to_end, listings.expire_listing, with_now=True),
            "disclosed": await self._drain(penalties_db.due_for_disclosure, disclosure.disclose, with_now=False)
            if self.auto_disclose else 0,
            "substitution_alerts": await self._release_alerts(),
        }
        if any(done.values()):
            log.info("credit scheduler: %s", done)
        return done

    async def _drain(self, select: Callable[..., Awaitable[list[asyncpg.Record]]],
                     apply: Callable[..., Awaitable[bool]], *, with_now: bool) -> int:
        total = 0
        while True:
            now = self.clock.now()
            async with unit_of_work(self.pool, source=self.credit.source, actor="credit-scheduler") as uow:
                await audit.lock(uow.conn)  # before the row locks, like every credit transaction
                rows = await (select(uow.conn, now, self.batch) if with_now else select(uow.conn, self.batch))
                for row in rows:
                    if await apply(self.credit, uow, row, now):
                        total += 1
            if len(rows) < self.batch:
                return total


    async def _release_alerts(self) -> int:
        """以罚代刑 alerts past their grace period: each is sent, or withdrawn when a referral of its case is
        under way by now — a batch at a time in a constant number of round trips, whatever its size: the
        due rows locked, one set read of their cases' referral states, one update, one audit append."""
        total = 0
        while True:
            now = self.clock.now()
            async with unit_of_work(self.pool, source=self.credit.source, actor="credit-scheduler") as uow:
                await audit.lock(uow.conn)
                rows = await uow.conn.fetch(
                    "SELECT record_id, case_id, entity_key, payload FROM substitution_alerts"
                    " WHERE state = 'pending' AND due_at <= $1 ORDER BY due_at, record_id LIMIT $2 FOR UPDATE SKIP LOCKED",
                    now, self.batch)
                states = await proceedings_db.referral_states(
                    uow.conn, sorted({r["case_id"] for r in rows if r["case_id"]}))
                total += await prosecution.release(self.credit, uow, rows, now, states)
            if len(rows) < self.batch:
                return total


async def refresh_gauges(pool: asyncpg.Pool, clock: Clock) -> None:
    async with pool.acquire() as conn:
        figures = await read_models.gauge_figures(conn, clock.now())
        steps = await proceedings_db.gauge_figures(conn, clock.now())
    metrics.RECORDS.clear()
    for kind, severity, n in figures["records"]:
        metrics.RECORDS.labels(kind, severity).set(n)
    metrics.DISCLOSURES_DUE.set(figures["disclosures_due"])
    metrics.DISCLOSURES_OVERDUE.set(figures["disclosures_overdue"])
    metrics.BLACKLISTED.set(figures["blacklisted_entities"])
    metrics.LISTINGS.clear()
    for rule, n in figures["listings"]:
        metrics.LISTINGS.labels(rule).set(n)
    metrics.APPLICATIONS.clear()
    for kind, status, n in figures["applications"]:
        metrics.APPLICATIONS.labels(kind, status).set(n)
    metrics.PROCEEDINGS.clear()
    for rule, state, n in steps["open"]:
        metrics.PROCEEDINGS.labels(rule, state).set(n)
    metrics.PROCEEDINGS_AWAITING.set(steps["awaiting_decision"])


def gauges_loop(pool: asyncpg.Pool, clock: Clock, interval: float) -> Callable[[asyncio.Event], Awaitable[None]]:
    async def run(stop: asyncio.Event) -> None:
        while True:
            try:
                await refresh_gauges(pool, clock)
            except Exception as exc:  # the next round tries again; metrics are never worth a crash
                log.warning("credit gauges not refreshed: %s", exc)
            if await sleep_or_stop(stop, interval):
                return

    return run
