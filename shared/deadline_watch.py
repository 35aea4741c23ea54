"""Deadlines of services other than routing (custody, appraisal, inspection): one table shape, one
approaching/breached watch, written once.

A service keeps its open deadlines in its own ``deadlines`` table (`MIGRATION_SQL`, copied into
the service's migration file). It opens a deadline with `open_deadlines` in the transaction of
the fact that starts it, and closes it with `close_deadlines` in the transaction of the act that
meets it. `DeadlineWatch` (one leader per schema, by advisory lock) emits the service's
"approaching" event once when ``warn_at`` passes and its "breached" event once when ``due_at``
passes with the deadline still open: each event has an id derived from the deadline id, and the
``*_sent`` flag is set in the same transaction that writes it to the outbox, so a crash at any
point neither loses nor repeats one.

`Period` is the rule as the service read it from its versioned data (a shared legal rule of
``shared/reference`` or the service's own ``local policy`` file); `warn_at` is the shared rule for
when "approaching" is due.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal

from pydantic import BaseModel

from shared.clock import Clock
from shared.envelope import deterministic_event_id

if TYPE_CHECKING:  # the dataclass and `warn_at` are pure: a service's domain/ may import them
    import asyncpg

log = logging.getLogger(__name__)

MIGRATION_SQL = """-- Deadlines watched by shared.deadline_watch (generated from shared.deadline_watch.MIGRATION_SQL; do not edit).
CREATE TABLE deadlines (
    deadline_id      text        PRIMARY KEY,
    subject          text        NOT NULL,     -- the aggregate the deadline belongs to (event key)
    case_id          text        NOT NULL,
    kind             text        NOT NULL,
    party            text        NOT NULL,     -- who must act by then
    rule_id          text        NOT NULL,
    rule_version     text        NOT NULL,
    citation         text        NOT NULL,
    local_policy     boolean     NOT NULL,
    provisional      boolean     NOT NULL DEFAULT false,
    starts_at        timestamptz NOT NULL,
    warn_at          timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    state            text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'met', 'cancelled')),
    closed_at        timestamptz,
    approaching_sent boolean     NOT NULL DEFAULT false,
    breached_sent    boolean     NOT NULL DEFAULT false
);
CREATE INDEX deadlines_open_due ON deadlines (due_at) WHERE state = 'open';
CREATE INDEX deadlines_subject ON deadlines (subject);
"""


@dataclass(frozen=True)
class WatchedDeadline:
    deadline_id: str
    subject: str
    case_id: str
    kind: str
    party: str
    rule_id: str
    rule_version: str
    citation: str
    local_policy: bool
    starts_at: dt.datetime
    warn_at: dt.datetime
    due_at: dt.datetime
    provisional: bool = False


def warn_at(starts_at: dt.datetime, due_at: dt.datetime, *, before_hours: float = 24,
            not_before_fraction: float = 0.5) -> dt.datetime:
    """When "approaching" is due: `before_hours` before the deadline, but never earlier than
    `not_before_fraction` of the period (a one-day period warns at half time, not at once)."""
    before = due_at - dt.timedelta(hours=before_hours)
    earliest = starts_at + (due_at - starts_at) * not_before_fraction
    return max(before, earliest)


async def open_deadlines(conn: asyncpg.Connection, deadlines: list[WatchedDeadline]) -> None:
    """Record the deadlines (a deadline id already known is left as it is)."""
    if not deadlines:
        return
    cols = ("deadline_id", "subject", "case_id", "kind", "party", "rule_id", "rule_version", "citation",
            "local_policy", "provisional", "starts_at", "warn_at", "due_at")
    types = ("text", "text", "text", "text", "text", "text", "text", "text", "boolean", "boolean",
             "timestamptz", "timestamptz", "timestamptz")
    await conn.execute(
        f"INSERT INTO deadlines ({', '.join(cols)}) SELECT * FROM unnest("
        + ", ".join(f"${n}::{t}[]" for n, t in enumerate(types, 1))
        + ") ON CONFLICT (deadline_id) DO NOTHING",
        *[[getattr(d, c) for d in deadlines] for c in cols])


async def close_deadlines(conn: asyncpg.Connection, subjects: list[str], kinds: list[str], at: dt.datetime, *,
                          state: Literal["met", "cancelled"] = "met") -> list[str]:
    """Close the open deadlines of `kinds` on `subjects`; returns the ids closed."""
    rows = await conn.fetch(
        "UPDATE deadlines SET state = $3, closed_at = $4 WHERE state = 'open' AND subject = ANY($1::text[])"
        " AND kind = ANY($2::text[]) RETURNING deadline_id", subjects, kinds, state, at)
    return [r["deadline_id"] for r in rows]


async def deadlines_of(conn: asyncpg.Connection, subjects: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM deadlines WHERE subject = ANY($1::text[]) ORDER BY due_at, deadline_id",
                            subjects)
    return [dict(r) for r in rows]


def from_row(row: asyncpg.Record) -> WatchedDeadline:
    return WatchedDeadline(**{f: row[f] for f in WatchedDeadline.__dataclass_fields__})


#: builds the event for one deadline: (what, deadline, now) -> payload; the watch emits it on `topic`
EventFactory = Callable[[Literal["approaching", "breached"], WatchedDeadline, dt.datetime], BaseModel]


class DeadlineWatch:
    """The leader of `service`'s deadline watch over its schema's ``deadlines`` table."""

    def __init__(self, *, service: str, schema: str, dsn: str, clock: Clock, topic: str, event: EventFactory,
                 interval: float = 5.0, batch_size: int = 200,
                 on_emitted: Callable[[str, WatchedDeadline], None] | None = None) -> None:
        self.service, self.clock, self.topic, self.event = service, clock, topic, event
        self.interval, self.batch_size, self.on_emitted = interval, batch_size, on_emitted
        from shared.runtime.leader import Leadership

        self._leadership = Leadership(service=service, name="deadline-watch", dsn=dsn, schema=schema)

    async def run(self, stop: asyncio.Event) -> None:
        await self._leadership.run(stop, self._lead)

    async def _lead(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        from shared.runtime.backoff import sleep_or_stop

        while not stop.is_set():
            while await self.tick(conn) >= self.batch_size and not stop.is_set():
                pass
            if await sleep_or_stop(stop, self.interval):
                return

    async def tick(self, conn: asyncpg.Connection) -> int:
        """One pass: breaches first, then warnings; returns the larger batch handled."""
        return max(await self._emit(conn, "breached"), await self._emit(conn, "approaching"))

    async def _emit(self, conn: asyncpg.Connection, what: Literal["approaching", "breached"]) -> int:
        from shared.runtime.uow import UnitOfWork

        now = self.clock.now()
        if what == "breached":
            sql = ("SELECT * FROM deadlines WHERE state = 'open' AND NOT breached_sent AND due_at < $1"
                   " ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED")
        else:
            sql = ("SELECT * FROM deadlines WHERE state = 'open' AND NOT approaching_sent AND warn_at <= $1"
                   " AND due_at >= $1 ORDER BY warn_at LIMIT $2 FOR UPDATE SKIP LOCKED")
        async with conn.transaction():
            rows = await conn.fetch(sql, now, self.batch_size)
            if not rows:
                return 0
            uow = UnitOfWork(conn, source=f"/{self.service}", actor=self.service)
            found = [from_row(r) for r in rows]
            for d in found:
                uow.emit(self.topic, self.event(what, d, now), key=d.subject, correlationid=d.case_id,
                         event_id=deterministic_event_id(f"{self.service}.deadline.{what}", d.deadline_id))
            flag = "breached_sent = true, approaching_sent = true" if what == "breached" else "approaching_sent = true"
            await conn.execute(f"UPDATE deadlines SET {flag} WHERE deadline_id = ANY($1::text[])",
                               [d.deadline_id for d in found])
            await uow.flush()
        if self.on_emitted is not None:
            for d in found:
                self.on_emitted(what, d)
        log.info("%s deadline watch: %d %s", self.service, len(found), what)
        return len(found)
