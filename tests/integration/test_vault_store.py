"""The key store of persons' data keys on the real Postgres (shared.vault): keys stored in one statement
open their person's values; erasing a key makes that person's values give the erased marker at once,
while another person's still open."""
from __future__ import annotations

import datetime as dt

import pytest

from shared import vault
from shared.db import connect
from shared.pii import ERASED, Keyring, new_data_key
from tests.support import stack

pytestmark = pytest.mark.stack


async def test_erasing_a_person_s_key_in_the_store_makes_their_values_unreadable_and_keeps_others(unique: str) -> None:
    schema = f"vault_{unique}"
    await vault.prepare(stack.dsn(), schema)
    ring = Keyring.development()
    (a, a_wrapped), (b, b_wrapped) = new_data_key(ring), new_data_key(ring)
    va, vb = a.seal("13987654321", field="phone"), b.seal("13712345678", field="phone")
    conn = await connect(stack.dsn(), schema)
    try:
        await vault.store(conn, [(a.id, a_wrapped), (b.id, b_wrapped)], schema=schema)
        before = await vault.opener(conn, ring, [va, vb], schema=schema)
        assert before.open(va, field="phone") == "13987654321"
        assert await vault.erase(conn, [a.id], at=dt.datetime.now(dt.timezone.utc), why="PIPL 47", schema=schema) == 1
        after = await vault.opener(conn, ring, [va.model_dump(), vb], schema=schema)
        assert after.reveal(va, field="phone") == ERASED
        assert after.open(vb, field="phone") == "13712345678"
        [row] = await conn.fetch(f"SELECT wrapped, erased_why FROM {schema}.person_keys WHERE key_id = $1", a.id)
        assert row["wrapped"] is None and row["erased_why"] == "PIPL 47"
    finally:
        await conn.close()
