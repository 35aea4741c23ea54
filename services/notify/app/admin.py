"""What an operator (a `notify:admin` key) may ask of notify over HTTP: the
delivery state — counts by channel and state, deliveries newest first, one
delivery with its attempts, the endpoints taken out of service — and the
recipient directory in force, which it may have re-read from its file.

Nothing here shows a delivery's content or address (mailboxes, phones, a sealed
phone): only ids, states, results and times. Reads only, except the reload,
which changes nothing when the file is invalid."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from services.notify.adapters import postgres as repo
from services.notify.domain.directory import Directory


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


class Admin:
    def __init__(self, *, pool: asyncpg.Pool, directory: DirectoryHolder) -> None:
        self.pool = pool
        self.directory = directory

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
        return {**dict(row), "event_ids": list(row["event_ids"]), "attempt_log": [dict(a) for a in attempts]}

    async def endpoints(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return [dict(r) for r in await repo.list_endpoints(conn)]

    def directory_state(self) -> DirectoryState:
        current = self.directory.current
        return DirectoryState(current.version, len(current.entries), current.complainant_channel is not None)

    def reload_directory(self) -> Reload:
        """Re-read the directory file now (as SIGHUP does); an invalid file is refused and the one in force stays."""
        loaded = self.directory.reload()
        return Reload(loaded, self.directory_state(), None if loaded else self.directory.last_error)
