"""Digests: non-critical notices for recipients with a digest interval wait in
``digest_items`` for the end of their window (aligned to the interval); then
one delivery per channel carries them all. Critical notices (referrals,
deadlines) never come here.

Assembly is one transaction per (recipient, window): the items are locked
(``SKIP LOCKED``: several processes can run this loop), the digest deliveries
are inserted and the items marked with the digest's id; the digest counter
moves after that commit. The digest's id is
derived from the recipient and the window, so a repeated assembly inserts
nothing new.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import asyncpg

from services.notify.adapters import postgres as repo
from services.notify.adapters.directory_file import DirectoryFile
from services.notify.domain.notices import DIGEST_TYPE
from services.notify.domain.planning import Render, digest_event_id, plan_digest
from services.notify.domain.policy import RetryPolicy
from services.notify.metrics import NOTICES
from shared.runtime import UnitOfWork, unit_of_work
from shared.runtime.backoff import sleep_or_stop

log = logging.getLogger(__name__)


class DigestAssembler:
    def __init__(self, *, pool: asyncpg.Pool, directory: DirectoryFile, render: Render, policy: RetryPolicy,
                 interval: float = 5.0, source: str = "/shuangda/notify") -> None:
        self.pool = pool
        self.source = source
        self.directory = directory
        self.render = render
        self.policy = policy
        self.interval = interval

    async def run(self, stop: asyncio.Event) -> None:
        while not await sleep_or_stop(stop, self.interval):
            try:
                await self.assemble_due()
            except Exception as exc:  # the next round tries again; nothing was half-done
                log.warning("digest assembly failed: %s: %s", type(exc).__name__, exc)

    async def assemble_due(self) -> int:
        """Send every digest whose window has ended; return how many were assembled."""
        async with self.pool.acquire() as conn:
            windows = await repo.due_digest_windows(conn)
        done = 0
        for recipient, window_start, window_end in windows:
            async with unit_of_work(self.pool, source=self.source) as uow:
                if await self._assemble(uow, recipient, window_start, window_end):
                    done += 1
        return done

    async def _assemble(self, uow: UnitOfWork, recipient: str, window_start: datetime, window_end: datetime) -> bool:
        """One (recipient, window) in the caller's transaction; True when a digest was assembled."""
        conn = uow.conn
        items = await repo.take_digest_items(conn, recipient, window_start)
        if not items:
            return False
        digest_id = digest_event_id(recipient, window_start)
        entry = self.directory.current.recipient_entry(recipient)
        if entry is None:
            log.warning("digest for %s dropped: no directory entry serves it any more", recipient,
                        extra={"items": len(items)})
            await repo.mark_digested(conn, [i for i, _ in items], "dropped:" + digest_id)
            return False
        deliveries = plan_digest(recipient=recipient, entry=entry, window_start=window_start,
                                 window_end=window_end, items=[item for _, item in items], render=self.render)
        inserted = await repo.insert_deliveries(conn, deliveries, first_delay=self.policy.first_delay(),
                                                give_up_seconds=self.policy.window() + 60)
        await repo.mark_digested(conn, [i for i, _ in items], digest_id)
        uow.after_commit(lambda: NOTICES.labels(DIGEST_TYPE, "delivery").inc(len(inserted)))
        return True
