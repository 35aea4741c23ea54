"""Unmasking a complainant's personal data: only with a stated reason, and every unmasking is
written to the console's hash-chained audit log (shared.audit, table ``audit_log`` in the console's
schema) before anything is shown. Routing keeps the data sealed (shared.pii) and hands the sealed
fields only to the case's assignee and the office; the console opens them with the PII keys
(``SHUANGDA_CONSOLE_PII_KEYS``, or ``SHUANGDA_PII_KEYS``; the development key in dev mode) and, for
values sealed with the complainant's own data key, that key read from the key store (shared.vault,
one read per unmasking, nothing cached). A person erased (``shuangda pii erase`` destroyed the key)
shows ``[erased]`` in place of each field and ``erased: true``. The clear values are shown once, on
that response (``no-store``), never kept."""
from __future__ import annotations

from typing import Any, Literal

import asyncpg

from shared.clock import Clock
from shared.contracts.cases import Sealed
from shared import vault
from shared.pii import ERASED, Keyring, PiiError

from services.console.adapters import postgres as db
from services.console.adapters.routing import RoutingClient
from services.console.domain.cases import unmask_reason

FIELDS = ("name", "phone", "id_number")
Outcome = Literal["ok", "no_reason", "not_found", "unavailable"]


class Unmasking:
    def __init__(self, routing: RoutingClient, pool: asyncpg.Pool, keyring: Keyring | None, clock: Clock,
                 vault_schema: str = vault.SCHEMA) -> None:
        self.vault_schema = vault_schema
        self.routing = routing
        self.pool = pool
        self.keyring = keyring
        self.clock = clock

    @property
    def available(self) -> bool:
        return self.keyring is not None

    async def unmask(self, *, key: str, username: str, principal_id: str, case_id: str,
                     reason_text: str | None) -> tuple[Outcome, dict[str, Any] | None]:
        reason = unmask_reason(reason_text)
        if reason is None:
            return "no_reason", None
        if self.keyring is None:
            return "unavailable", None
        answer = await self.routing.sealed_complainant(key, case_id)
        if not answer.ok:
            return "not_found", None
        sealed = {f: answer.body.get(f) for f in FIELDS if answer.body.get(f)}
        if not sealed:
            return "not_found", None
        try:
            values = {f: Sealed.model_validate(v) for f, v in sealed.items()}
            opener = await vault.opener(self.pool, self.keyring, list(values.values()), schema=self.vault_schema)
            opened = {f: opener.reveal(v, field=f) for f, v in values.items()}
        except (PiiError, ValueError):
            return "unavailable", None
        erased = any(v == ERASED for v in opened.values())
        seq = await db.audit_unmask(self.pool, case_id=case_id, username=username, principal_id=principal_id,
                                    reason=reason, fields=sorted(opened), at=self.clock.now())
        return "ok", {**opened, "audit_seq": seq, "reason": reason, "erased": erased}
