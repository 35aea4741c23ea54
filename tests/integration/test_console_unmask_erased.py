"""The console's unmasking after an erasure (issue 12 §4): a complainant sealed with their own data key
opens through the key store (shared.vault) while the key stands; once ``shuangda pii erase`` destroyed
it, the unmasking shows ``[erased]`` for each field (and ``erased: true``), never the value, never a
500 — on the real Postgres (the audit log and the key store); routing's answer is a stand-in."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from services.console.adapters.routing import Answer
from services.console.app.unmask import Unmasking
from shared import vault
from shared.clock import WallClock
from shared.db import connect, create_pool, migrate
from shared.pii import ERASED, Keyring, new_data_key
from tests.support import stack

pytestmark = pytest.mark.stack

CONSOLE_MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "console" / "migrations"


class _Routing:
    """Routing's GET /v1/cases/{id}/complainant: the sealed fields of each case."""

    def __init__(self, cases: dict[str, dict[str, Any]]) -> None:
        self.cases = cases

    async def sealed_complainant(self, key: str, case_id: str) -> Answer:
        return Answer(200, self.cases[case_id])


async def test_an_erased_complainant_unmasks_as_erased_while_another_still_opens(unique: str) -> None:
    ring = Keyring.development()
    schema, vault_schema = f"console_{unique}", f"vault_{unique}"
    await migrate(stack.dsn(), schema, CONSOLE_MIGRATIONS)
    await vault.prepare(stack.dsn(), vault_schema)
    kept, kept_wrapped = new_data_key(ring)
    gone, gone_wrapped = new_data_key(ring)
    conn = await connect(stack.dsn(), vault_schema)
    try:
        await vault.store(conn, [(kept.id, kept_wrapped), (gone.id, gone_wrapped)], schema=vault_schema)
    finally:
        await conn.close()
    routing = _Routing({
        "C-kept": {"name": kept.seal("李四", field="name").model_dump(), "phone": kept.seal("13833334444", field="phone").model_dump()},
        "C-gone": {"name": gone.seal("张三", field="name").model_dump(), "phone": gone.seal("13911112222", field="phone").model_dump()},
    })
    pool = await create_pool(stack.dsn(), schema)
    try:
        unmasking = Unmasking(routing, pool, ring, WallClock(), vault_schema=vault_schema)  # type: ignore[arg-type]
        ask = dict(key="k", username="officer", principal_id="p-1", reason_text="核实举报人身份")
        outcome, before = await unmasking.unmask(case_id="C-gone", **ask)
        assert outcome == "ok" and before is not None and before["phone"] == "13911112222" and not before["erased"]
        async with pool.acquire() as c:
            assert await vault.erase(c, [gone.id], at=dt.datetime.now(dt.timezone.utc), why="PIPL art. 47",
                                     schema=vault_schema) == 1
        outcome, after = await unmasking.unmask(case_id="C-gone", **ask)
        assert outcome == "ok" and after is not None
        assert after["name"] == after["phone"] == ERASED and after["erased"] is True
        outcome, other = await unmasking.unmask(case_id="C-kept", **ask)
        assert outcome == "ok" and other is not None and other["name"] == "李四" and not other["erased"]
    finally:
        await pool.close()
