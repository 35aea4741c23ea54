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

`WatchedDeadline` and `warn_at` (when "approaching" is due) are pure and live in
`shared.watched_deadline`, which a service's domain/ imports; they are re-exported here. The
service's event for a deadline is built by `event_factory`, its count by `counted`, and its HTTP
read-out by `deadline_view` — one each for the three services.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

from pydantic import BaseModel

from shared.clock import Clock
from shared.envelope import deterministic_event_id
from shared.watched_deadline import WatchedDeadline, warn_at

if TYPE_CHECKING:
    import asyncpg
    from prometheus_client import Counter

__all__ = ["MIGRATION_SQL", "WatchedDeadline", "warn_at", "open_deadlines", "close_deadlines", "close_each",
           "close_ids", "deadlines_of", "deadline_view", "event_factory", "counted", "DeadlineWatch"]

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
    """Close the open deadlines of `kinds` on `subjects`, all at `at`; returns the ids closed."""
    return await close_each(conn, {s: at for s in subjects}, kinds, state=state)


async def close_each(conn: asyncpg.Connection, closes: Mapping[str, dt.datetime], kinds: list[str], *,
                     state: Literal["met", "cancelled"] = "met") -> list[str]:
    """Close the open deadlines of `kinds`, each subject at its own time (`closes`: subject → when
    the act that meets it happened), in one statement; returns the ids closed."""
    if not closes:
        return []
    rows = await conn.fetch(
        "UPDATE deadlines d SET state = $3, closed_at = u.at FROM unnest($1::text[], $2::timestamptz[]) AS u(subject, at)"
        " WHERE d.state = 'open' AND d.subject = u.subject AND d.kind = ANY($4::text[]) RETURNING d.deadline_id",
        list(closes), list(closes.values()), state, kinds)
    return [r["deadline_id"] for r in rows]


async def close_ids(conn: asyncpg.Connection, deadline_ids: list[str], at: dt.datetime, *,
                    state: Literal["met", "cancelled"] = "met") -> list[str]:
    """Close these open deadlines (by id) at `at`; returns the ids closed."""
    rows = await conn.fetch("UPDATE deadlines SET state = $2, closed_at = $3 WHERE state = 'open'"
                            " AND deadline_id = ANY($1::text[]) RETURNING deadline_id", deadline_ids, state, at)
    return [r["deadline_id"] for r in rows]


async def deadlines_of(conn: asyncpg.Connection, subjects: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM deadlines WHERE subject = ANY($1::text[]) ORDER BY due_at, deadline_id",
                            subjects)
    return [dict(r) for r in rows]


def deadline_view(d: Mapping[str, Any]) -> dict[str, Any]:
    """One row of `deadlines_of` as the services' HTTP read-outs show it."""
    return {"deadline_id": d["deadline_id"], "kind": d["kind"], "party": d["party"], "state": d["state"],
            "due_at": d["due_at"].isoformat(),
            "closed_at": d["closed_at"].isoformat() if d["closed_at"] else None,
            "rule_id": d["rule_id"], "rule_version": d["rule_version"], "citation": d["citation"],
            "local_policy": d["local_policy"], "provisional": d["provisional"],
            "approaching_sent": d["approaching_sent"], "breached_sent": d["breached_sent"]}


def from_row(row: asyncpg.Record) -> WatchedDeadline:
    return WatchedDeadline(**{f: row[f] for f in WatchedDeadline.__dataclass_fields__})


#: builds the event for one deadline: (what, deadline, now) -> payload; the watch emits it on `topic`
EventFactory = Callable[[Literal["approaching", "breached"], WatchedDeadline, dt.datetime], BaseModel]


def event_factory(approaching: type[BaseModel], breached: type[BaseModel], *, subject_field: str,
                  fields: Callable[[WatchedDeadline], dict[str, Any]] | None = None) -> EventFactory:
    """The service's event for one deadline: `subject_field` carries the deadline's subject (the
    lot, appraisal or plan), plus ``case_id`` when the event has one, the deadline and the time
    it was detected; `fields` adds what else the event names."""
    def make(what: Literal["approaching", "breached"], d: WatchedDeadline, now: dt.datetime) -> BaseModel:
        from shared.contracts.deadlines import ServiceDeadline

        cls = breached if what == "breached" else approaching
        extra = {"case_id": d.case_id} if "case_id" in cls.model_fields else {}
        return cls(**{subject_field: d.subject, **extra, **(fields(d) if fields else {}),
                      "deadline": ServiceDeadline.of(d), "detected_at": now})
    return make


def counted(metric: "Counter", *labels: Literal["kind", "what"]) -> Callable[[str, WatchedDeadline], None]:
    """The watch's `on_emitted` that counts each event in `metric` (labels: the deadline's kind
    and/or what was emitted; the watch calls it once its transaction committed)."""
    chosen = labels or ("kind", "what")

    def count(what: str, d: WatchedDeadline) -> None:
        metric.labels(*[d.kind if label == "kind" else what for label in chosen]).inc()
    return count


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
