"""What the system says happened, read from Postgres (the live view's figures).

Everything is scoped to one run: its cases are those opened by reports whose
source id starts with the run id (`Scope`). Reads go across the services'
schemas — this is an observer's tool, like the assessment report, not a
service.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg


def ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a schema name: {name!r}")
    return f'"{name}"'


@dataclass(frozen=True)
class Schemas:
    intake: str = "intake"
    routing: str = "routing"
    notify: str = "notify"
    credit: str = "credit"
    #: the one identity store's schema (shared.identity), which every service authenticates through
    identity: str = "identity"
    #: issue 15's services, read by the assessment's sections when their schemas exist (sim/sections.py)
    custody: str = "custody"
    appraisal: str = "appraisal"
    inspection: str = "inspection"

    def all(self) -> tuple[str, ...]:
        """The services' schemas, in the order of `sim.stackenv.SERVICES` (the identity store's is apart)."""
        return (self.intake, self.routing, self.notify, self.credit, self.custody, self.appraisal, self.inspection)


@dataclass(frozen=True)
class Scope:
    run_id: str
    schemas: Schemas
    #: the run's Kafka ingress clients (their dead letters are the run's)
    kafka_clients: tuple[str, ...] = ()

    @property
    def like(self) -> str:
        return self.run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"

    def run_cases(self) -> str:
        """SQL (with $1 = `like`) selecting the run's case ids."""
        return f"SELECT DISTINCT case_id FROM {ident(self.schemas.intake)}.reports WHERE source_id LIKE $1"


@dataclass
class Snapshot:
    taken: float = field(default_factory=time.monotonic)
    reports: int = 0
    #: cases intake opened for the run (routing has `cases` of them so far)
    opened: int = 0
    cases: int = 0
    cases_by_state: dict[str, int] = field(default_factory=dict)
    breaches: int = 0
    referrals_by_state: dict[str, int] = field(default_factory=dict)
    penalties: int = 0
    blacklisted: int = 0
    events_emitted: int = 0
    deliveries_by_state: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0

    @property
    def referrals(self) -> int:
        return sum(self.referrals_by_state.values())


class Observer:
    def __init__(self, dsn: str, scope: Scope) -> None:
        self.dsn = dsn
        self.scope = scope
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.dsn, timeout=10)
        return self._conn

    async def close(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    async def snapshot(self) -> Snapshot:
        async with self._lock:
            return await self._snapshot()

    async def _snapshot(self) -> Snapshot:
        conn = await self._connection()
        s = self.scope.schemas
        run = self.scope.run_cases()
        like = self.scope.like
        snap = Snapshot()
        snap.reports = await conn.fetchval(
            f"SELECT count(*) FROM {ident(s.intake)}.reports WHERE source_id LIKE $1", like)
        snap.opened = await conn.fetchval(f"WITH run AS ({run}) SELECT count(*) FROM run", like)
        rows = await conn.fetch(
            f"WITH run AS ({run}) SELECT c.state, count(*) AS n FROM {ident(s.routing)}.cases c JOIN run USING (case_id)"
            " GROUP BY c.state", like)
        snap.cases_by_state = {r["state"]: r["n"] for r in rows}
        snap.cases = sum(snap.cases_by_state.values())
        snap.breaches = await conn.fetchval(
            f"WITH run AS ({run}) SELECT count(*) FROM {ident(s.routing)}.deadlines d JOIN run USING (case_id)"
            " WHERE d.breached_sent", like)
        rows = await conn.fetch(
            f"WITH run AS ({run}) SELECT r.state, count(*) AS n FROM {ident(s.routing)}.referrals r JOIN run USING (case_id)"
            " GROUP BY r.state", like)
        snap.referrals_by_state = {r["state"]: r["n"] for r in rows}
        snap.penalties = await conn.fetchval(
            f"WITH run AS ({run}) SELECT count(*) FROM {ident(s.credit)}.records r JOIN run USING (case_id)"
            " WHERE r.kind = 'penalty'", like)
        snap.blacklisted = await conn.fetchval(
            f"WITH run AS ({run}), ents AS (SELECT DISTINCT entity_id FROM {ident(s.credit)}.records JOIN run USING (case_id))"
            f" SELECT count(DISTINCT l.entity_id) FROM {ident(s.credit)}.listings l JOIN ents USING (entity_id)", like)
        rows = await conn.fetch(
            f"WITH run AS ({run}) SELECT d.state, count(*) AS n FROM {ident(s.notify)}.deliveries d JOIN run USING (case_id)"
            " GROUP BY d.state", like)
        snap.deliveries_by_state = {r["state"]: r["n"] for r in rows}
        total = 0
        for schema in s.all():
            table = f"{ident(schema)}.outbox"
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
                seq = await conn.fetchval("SELECT pg_get_serial_sequence($1, 'id')", table)
                if seq:
                    total += int(await conn.fetchval(f"SELECT last_value FROM {seq}") or 0)
        snap.events_emitted = total
        if self.scope.kafka_clients:
            snap.dead_letters = await conn.fetchval(
                f"SELECT count(*) FROM {ident(s.intake)}.dead_letters WHERE topic = ANY($1::text[])",
                [f"ingress.{c}" for c in self.scope.kafka_clients])
        return snap


async def fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()
