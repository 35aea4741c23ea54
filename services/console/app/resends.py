"""Ops resending from notify's message log: one delivery, or an endpoint's deliveries that did not
arrive since a time. Notify decides (its ``notify:resend`` scope, its states) and records the
principal that asked; the console also writes who (the person, their principal) resent what to its
own hash-chained audit log (shared.audit) once notify accepted — a replayed answer (the same form
submitted twice, one Idempotency-Key) is not audited again."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from shared.clock import Clock

from services.console.adapters import postgres as db
from services.console.adapters.api import Answer
from services.console.adapters.notify import NotifyClient


class Resends:
    def __init__(self, notify: NotifyClient, pool: asyncpg.Pool, clock: Clock) -> None:
        self.notify = notify
        self.pool = pool
        self.clock = clock

    async def resend(self, *, key: str, username: str, principal_id: str, ref: str, idempotency_key: str) -> Answer:
        answer = await self.notify.resend(key, ref, idempotency_key=idempotency_key)
        if answer.ok and not answer.replayed:
            body: dict[str, Any] = answer.body
            await db.audit_action(self.pool, "console.message-resent", str(body.get("message_id", ref)),
                                  {"principal": principal_id, "delivery": body.get("id"), "series": body.get("series")},
                                  actor=username, at=self.clock.now())
        return answer

    async def recover(self, *, key: str, username: str, principal_id: str, endpoint_id: str, since: datetime,
                      idempotency_key: str) -> Answer:
        answer = await self.notify.recover(key, endpoint_id, since, idempotency_key=idempotency_key)
        if answer.ok and not answer.replayed:
            await db.audit_action(self.pool, "console.endpoint-recovered", endpoint_id,
                                  {"principal": principal_id, "since": since.isoformat(),
                                   "resent": answer.body.get("resent")},
                                  actor=username, at=self.clock.now())
        return answer
