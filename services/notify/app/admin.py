"""What an operator (a `notify:admin` key) may ask of notify over HTTP: the
delivery state — counts by channel and state, deliveries newest first, one
delivery with its attempts, the endpoints taken out of service — and the
recipient directory in force, which it may have re-read from its file.

Nothing here shows a delivery's content or address (mailboxes, phones, a sealed
phone): only ids, states, results and times. Reads only, except the reload,
which changes nothing when the file is invalid, and the resends (issue 16 §6,
after Svix's message log and recover), which an `ops` key with ``notify:resend``
may ask for:

- resend one finished delivery (delivered, failed, disabled): the SAME row starts
  a new attempt series — same message id (webhook-id), same body, hence the same
  signature inputs — so a receiver that already has it deduplicates, and one that
  lost it gets it; the retry schedule starts over;
- recover an endpoint since a time: every delivery to it created since then that
  did not arrive (failed, disabled) is resent that way, in one statement.

Each command records who asked (table ``resends``) in the transaction that
re-queues; the HTTP adapter binds an Idempotency-Key to the command.

Circuit state is the answering process's breakers (they live in the dispatcher's
memory: each notify process judges endpoints by its own sends)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg

from services.notify.adapters import postgres as repo
from services.notify.domain.directory import Directory, endpoint_id
from services.notify.domain.policy import Breakers, RetryPolicy
from shared.clock import WallClock


class DirectoryHolder(Protocol):
    """The directory in force and its file (adapters.directory_file.DirectoryFile)."""

    current: Directory
    last_error: str | None

    def reload(self) -> bool: ...


@dataclass(frozen=True)
class DirectoryState:
    version: str
    entries: int
    complainants_told: bool


@dataclass(frozen=True)
class Reload:
    """A reload's outcome: `loaded` False means the file was refused (`error` says why) and the directory in
    force stayed."""

    loaded: bool
    directory: DirectoryState
    error: str | None = None


class Refused(Exception):
    """A resend the delivery's state does not allow (it is still queued, in flight or on standby)."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


class Admin:
    def __init__(self, *, pool: asyncpg.Pool, directory: DirectoryHolder, breakers: Breakers | None = None,
                 policy: RetryPolicy | None = None, wall: WallClock | None = None) -> None:
        self.pool = pool
        self.directory = directory
        self.breakers = breakers or Breakers()
        self.policy = policy or RetryPolicy((0,))
        self.wall = wall or WallClock()

    def give_up_seconds(self) -> float:
        """A resent series' window: the whole retry schedule at its longest, plus a minute (as `notify retry`)."""
        return self.policy.window() + 60

    async def status(self) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            rows = await repo.status_summary(conn)
            endpoints = await repo.list_endpoints(conn)
        return {
            "deliveries": [{"channel": r["channel"], "state": r["state"], "count": int(r["n"]), "oldest": r["oldest"]}
                           for r in rows],
            "disabled_endpoints": sum(1 for e in endpoints if e["disabled_at"] is not None),
            "directory": self.directory_state(),
        }

    async def deliveries(self, *, state: str | None, recipient: str | None, limit: int) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return [dict(r) for r in await repo.list_deliveries(conn, state=state, recipient=recipient, limit=limit)]

    async def delivery(self, ref: str) -> dict[str, Any] | None:
        """One delivery (by id or message id) with its attempts, or None."""
        async with self.pool.acquire() as conn:
            row = await repo.delivery(conn, ref)
            if row is None:
                return None
            attempts = await repo.attempts_of(conn, row["id"])
            resends = await repo.resends_of(conn, row["id"])
        return {**dict(row), "event_ids": list(row["event_ids"]), "attempt_log": [dict(a) for a in attempts],
                "endpoint_id": endpoint_id(row["endpoint"]), "resends": [dict(r) for r in resends]}

    async def endpoints(self) -> list[dict[str, Any]]:
        """Every endpoint with its deliveries by state, whether a 410 disabled it, and its circuit."""
        async with self.pool.acquire() as conn:
            rows = await repo.endpoint_overview(conn)
        now, wall = time.monotonic(), self.wall.now()
        return [{**dict(r), "id": endpoint_id(r["endpoint"]), "circuit": self._circuit(r["endpoint"], now, wall)}
                for r in rows]

    def _circuit(self, endpoint: str, now: float, wall: datetime) -> dict[str, Any]:
        breaker = self.breakers.by_endpoint.get(endpoint)
        if breaker is None:
            return {"state": "closed", "failures": 0, "since": None, "trial_at": None, "paused_until": None}
        seen = breaker.view(now)

        def at(seconds: float | None, sign: int) -> datetime | None:
            return None if seconds is None else wall + timedelta(seconds=sign * seconds)

        return {"state": seen["state"], "failures": seen["failures"], "since": at(seen["opened_seconds_ago"], -1),
                "trial_at": at(seen["trial_in_seconds"], 1), "paused_until": at(seen["paused_seconds"], 1)}

    async def endpoint_key(self, conn: asyncpg.Connection, ref: str) -> str | None:
        """The endpoint (its key) whose id is `ref`, or None."""
        for row in await repo.endpoint_overview(conn):
            if endpoint_id(row["endpoint"]) == ref:
                return str(row["endpoint"])
        return None

    async def resend(self, conn: asyncpg.Connection, ref: str, *, actor: str) -> dict[str, Any] | None:
        """Resend one finished delivery as a new attempt series (inside the caller's transaction); None if there
        is no such delivery, Refused if it is not finished."""
        row = await repo.resend(conn, ref, give_up_seconds=self.give_up_seconds(), actor=actor)
        if row is None:
            return None
        if not row["resent"]:
            raise Refused(row["state_before"])
        return {"id": row["id"], "message_id": row["message_id"], "state_before": row["state_before"],
                "series": row["series"], "state": "pending"}

    async def recover(self, conn: asyncpg.Connection, ref: str, since: datetime, *, actor: str) -> dict[str, Any] | None:
        """Resend every delivery to the endpoint since `since` that did not arrive; None if no such endpoint."""
        endpoint = await self.endpoint_key(conn, ref)
        if endpoint is None:
            return None
        n = await repo.recover(conn, endpoint, since, give_up_seconds=self.give_up_seconds(), actor=actor)
        return {"endpoint_id": ref, "endpoint": endpoint, "since": since, "resent": n}

    def directory_state(self) -> DirectoryState:
        current = self.directory.current
        return DirectoryState(current.version, len(current.entries), current.complainant_channel is not None)

    def reload_directory(self) -> Reload:
        """Re-read the directory file now (as SIGHUP does); an invalid file is refused and the one in force stays."""
        loaded = self.directory.reload()
        return Reload(loaded, self.directory_state(), None if loaded else self.directory.last_error)
