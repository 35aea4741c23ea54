"""The deadline watch: one leader per schema (a session advisory lock on its own
connection) emits ``deadline.approaching`` and ``deadline.breached`` exactly once
per deadline, and re-evaluates provisional deadlines against the holiday data.

Exactly once: each event has a deterministic id (derived from the deadline id),
and the deadline's ``approaching_sent`` / ``breached_sent`` flag is set in the
same transaction that writes the event to the outbox. A process killed at any
point either committed both (the flag stops a second emission) or neither (the
next leader emits it); a re-sent outbox row keeps its id, which consumers
deduplicate.

Also here: the gauges every instance refreshes (open cases, calendar coverage,
provisional deadlines), and `recheck_provisional`, shared with the CLI.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Callable, Iterable

import asyncpg

from shared.contracts.routing import CaseDeadlineRevised, DeadlineApproaching, DeadlineBreached
from shared.envelope import deterministic_event_id
from shared.runtime import UnitOfWork
from shared.runtime.backoff import sleep_or_stop
from shared.runtime.faults import crash_point
from shared.runtime.leader import Leadership
from shared.workdays import SHANGHAI, WorkdayCalendar
from services.routing.adapters import postgres as repo
from services.routing.adapters.rules_file import build_calendar
from services.routing.app.router import Router
from services.routing.domain import deadlines as domain_deadlines
from services.routing.domain.bureaus import bureau_type_of
from services.routing.domain.case import Emission
from services.routing.metrics import (
    CALENDAR_COVERED_DAYS,
    DEADLINE_BREACHES,
    DEADLINES_APPROACHING,
    DEADLINES_REVISED,
    OPEN_CASES,
    PROVISIONAL_DEADLINES,
    WATCH_LEADER,
)

log = logging.getLogger(__name__)

CalendarFactory = Callable[[], WorkdayCalendar]


class DeadlineWatch:
    def __init__(self, *, router: Router, dsn: str, schema: str, interval: float = 5.0, batch_size: int = 200,
                 recheck_interval: float = 3600.0, calendar_factory: CalendarFactory | None = None,
                 crash_at: str | None = None) -> None:
        self.router = router
        self.dsn = dsn
        self.schema = schema
        self.interval = interval
        self.batch_size = batch_size
        self.recheck_interval = recheck_interval
        self.calendar_factory = calendar_factory
        self.crash_at = crash_at
        self._leadership = Leadership(service="routing", name="deadline-watch", dsn=dsn, schema=schema,
                                      on_change=lambda v: WATCH_LEADER.set(1 if v else 0))
        self._last_recheck = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        await self._leadership.run(stop, self._lead)

    @property
    def is_leader(self) -> bool:
        return self._leadership.is_leader

    async def _lead(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            while await self.tick(conn) >= self.batch_size and not stop.is_set():
                pass
            if self.recheck_interval > 0 and self.calendar_factory is not None \
                    and loop.time() - self._last_recheck >= self.recheck_interval:
                self._last_recheck = loop.time()
                calendar = await asyncio.to_thread(self.calendar_factory)
                await recheck_provisional(conn, self.router, calendar)
            if await sleep_or_stop(stop, self.interval):
                return

    async def tick(self, conn: asyncpg.Connection) -> int:
        """One pass: breaches first, then warnings; returns the larger batch handled."""
        breached = await self._emit(conn, "breached")
        approaching = await self._emit(conn, "approaching")
        return max(breached, approaching)

    async def _emit(self, conn: asyncpg.Connection, what: str) -> int:
        return await self.router.outside_transaction(lambda: self._emit_once(conn, what))

    async def _emit_once(self, conn: asyncpg.Connection, what: str) -> int:
        now = self.router.clock.now()
        office = self.router.office
        # the case rows are locked too: every writer of a case's events serialises on its row,
        # which keeps one case's events in order on the topics (a busy case is picked up next pass)
        if what == "breached":
            sql = ("SELECT d.*, c.priority_lane FROM deadlines d JOIN cases c USING (case_id)"
                   " WHERE d.state = 'open' AND NOT d.breached_sent AND d.due_at < $1"
                   " ORDER BY d.due_at LIMIT $2 FOR UPDATE OF d, c SKIP LOCKED")
        else:
            sql = ("SELECT d.*, c.priority_lane FROM deadlines d JOIN cases c USING (case_id)"
                   " WHERE d.state = 'open' AND NOT d.approaching_sent AND d.warn_at <= $1 AND d.due_at >= $1"
                   " ORDER BY d.warn_at LIMIT $2 FOR UPDATE OF d, c SKIP LOCKED")
        async with conn.transaction():
            rows = await conn.fetch(sql, now, self.batch_size)
            if not rows:
                return 0
            uow = UnitOfWork(conn, source=self.router.source, actor="routing")
            emissions: list[Emission] = []
            ids: list[str | None] = []
            for row in rows:
                info = repo.spec_from(row).info()
                if what == "breached":
                    payload = DeadlineBreached(case_id=row["case_id"], deadline=info, escalated_to=office, detected_at=now)
                    emissions.append(Emission("case", payload, (row["bureau"], office)))
                else:
                    payload = DeadlineApproaching(case_id=row["case_id"], deadline=info, detected_at=now)  # type: ignore[assignment]
                    emissions.append(Emission("case", payload, (row["bureau"],)))
                ids.append(deterministic_event_id(f"deadline.{what}", row["deadline_id"]))
            self.router.publish(uow, emissions, event_ids=ids,
                                on_lane={r["case_id"] for r in rows if r["priority_lane"]})
            flag = "breached_sent = true, approaching_sent = true" if what == "breached" else "approaching_sent = true"
            await conn.execute(f"UPDATE deadlines SET {flag} WHERE deadline_id = ANY($1::text[])",
                               [r["deadline_id"] for r in rows])
            await uow.flush()
        crash_point("watch.after_commit", self.crash_at)
        counter = DEADLINE_BREACHES if what == "breached" else DEADLINES_APPROACHING
        for row in rows:
            counter.labels(row["kind"], bureau_type_of(row["bureau"])).inc()
        log.info("deadline watch: %d %s", len(rows), what)
        return len(rows)


async def recheck_provisional(conn: asyncpg.Connection, router: Router, calendar: WorkdayCalendar,
                              *, batch_size: int = 500) -> list[str]:
    """Recompute every open provisional deadline with `calendar`; save and announce
    (``case.deadline-revised``) those whose due instant or provisional flag changed.
    New deadlines use `calendar` from now on. Returns the revised deadline ids."""
    router.use_calendar(calendar)
    revised: list[str] = []
    after = ""
    while True:
        page_revised: list[str] = []
        more = await router.outside_transaction(
            lambda start=after, out=page_revised: _recheck_page(conn, router, start, batch_size, out))  # type: ignore[misc]
        if more is None:
            break
        after = more
        revised.extend(page_revised)
    if revised:
        log.info("revised %d provisional deadline(s)", len(revised))
    return revised


async def _recheck_page(conn: asyncpg.Connection, router: Router, after: str, batch_size: int,
                        revised: list[str]) -> str | None:
    """One page of `recheck_provisional` in one transaction; the last deadline id of the page, None when done."""
    ref, rules = router.ref, router.rules
    revised.clear()
    counted: list[str] = []
    async with conn.transaction():
        page = await conn.fetch(
            "SELECT deadline_id, case_id FROM deadlines WHERE state = 'open' AND provisional AND deadline_id > $1"
            " ORDER BY deadline_id LIMIT $2", after, batch_size,
        )
        if not page:
            return None
        after = page[-1]["deadline_id"]
        # cases first, then deadlines: the order every other writer locks them in
        locked = await conn.fetch("SELECT case_id, priority_lane FROM cases WHERE case_id = ANY($1::text[])"
                                  " ORDER BY case_id FOR UPDATE", sorted({r["case_id"] for r in page}))
        rows = await conn.fetch(
            "SELECT * FROM deadlines WHERE deadline_id = ANY($1::text[]) AND state = 'open' AND provisional"
            " ORDER BY deadline_id FOR UPDATE", [r["deadline_id"] for r in page],
        )
        uow = UnitOfWork(conn, source=router.source, actor="routing")
        now = router.clock.now()
        emissions, ids = [], []
        for row in rows:
            old = repo.spec_from(row)
            new = domain_deadlines.recompute(old, ref, rules)
            if new.due_at == old.due_at and new.provisional == old.provisional:
                continue
            revision = row["revisions"] + 1
            await conn.execute(
                "UPDATE deadlines SET due_at = $2, due_date_local = $3, warn_at = $4, provisional = $5, revisions = $6"
                " WHERE deadline_id = $1",
                new.deadline_id, new.due_at, new.due_date_local, new.warn_at, new.provisional, revision,
            )
            if new.kind == "acknowledgement":
                await conn.execute("UPDATE cases SET ack_due_at = $2 WHERE case_id = $1 AND ack_due_at = $3",
                                   new.case_id, new.due_at, old.due_at)
            emissions.append(Emission("case", CaseDeadlineRevised(
                case_id=new.case_id, previous_due_at=old.due_at, previous_provisional=old.provisional,
                deadline=new.info(), revised_at=now,
            ), (new.bureau,)))
            ids.append(deterministic_event_id("case.deadline-revised", new.deadline_id, str(revision)))
            revised.append(new.deadline_id)
            counted.append(new.kind)
        router.publish(uow, emissions, event_ids=ids, on_lane={r["case_id"] for r in locked if r["priority_lane"]})
        await uow.flush()
    for kind in counted:
        DEADLINES_REVISED.labels(kind).inc()
    return after


def calendar_covered_days(calendar: WorkdayCalendar, now: dt.datetime) -> int:
    """Days from today (Asia/Shanghai) to the last day the holiday data covers (negative once past it)."""
    try:
        until = calendar.covered_until()
    except LookupError:
        return 0
    return (until - now.astimezone(SHANGHAI).date()).days


class Gauges:
    """Refreshes the open-cases, calendar and provisional gauges from the database (every instance)."""

    def __init__(self, *, pool: asyncpg.Pool, router: Router, interval: float = 15.0,
                 calendar_factory: CalendarFactory | None = None, calendar_interval: float = 3600.0) -> None:
        self.pool = pool
        self.router = router
        self.interval = interval
        self.calendar_factory = calendar_factory
        self.calendar_interval = calendar_interval
        self._calendar_loaded: float | None = None  # the calendar built at start counts as loaded

    async def refresh(self) -> None:
        loop = asyncio.get_running_loop()
        if self._calendar_loaded is None:
            self._calendar_loaded = loop.time()
        if self.calendar_factory is not None and self.calendar_interval > 0 \
                and loop.time() - self._calendar_loaded >= self.calendar_interval:
            # every instance picks up newly added holiday data for the deadlines it computes
            self.router.use_calendar(await asyncio.to_thread(self.calendar_factory))
            self._calendar_loaded = loop.time()
        CALENDAR_COVERED_DAYS.set(calendar_covered_days(self.router.ref.calendar, self.router.clock.now()))
        rows = await repo.open_case_counts(self.pool)
        OPEN_CASES.clear()
        for r in rows:
            OPEN_CASES.labels(r["bureau"], r["county"], r["state"]).set(r["n"])
        PROVISIONAL_DEADLINES.set(await repo.provisional_count(self.pool))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception as exc:  # a gauge refresh never stops the service
                log.warning("gauge refresh failed: %s: %s", type(exc).__name__, exc)
            if await sleep_or_stop(stop, self.interval):
                return


def calendar_factory(holidays_dirs: Iterable[Path]) -> CalendarFactory:
    dirs = list(holidays_dirs)
    return lambda: build_calendar(dirs)


__all__ = ["DeadlineWatch", "Gauges", "calendar_covered_days", "calendar_factory", "recheck_provisional"]
