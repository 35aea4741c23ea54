"""An appraisal principal registered before `appraisals:report` existed gets it from the identity
migration; one whose scopes an operator named otherwise keeps them."""
from __future__ import annotations

import pytest

from shared.db import connect
from shared.identity import store
from tests.support import identity, stack

pytestmark = pytest.mark.stack


async def test_an_old_appraisal_principal_gains_the_report_scope_and_a_chosen_one_keeps_its_own(unique: str) -> None:
    schema = await identity.identity_schema(unique)
    conn = await connect(stack.dsn(), schema)
    try:
        await store.create_principal(conn, f"centre-{unique}", "appraisal", scopes=("cases:read",))
        await store.create_principal(conn, f"viewer-{unique}", "appraisal", scopes=("cases:read", "credit:read"))
        sql = (store.MIGRATIONS / "0002_appraisal_report_scope.sql").read_text(encoding="utf-8")
        async with conn.transaction():
            await conn.execute(sql)          # what `shuangda migrate` applied to a store that had them already
        rows = {r["principal_id"]: list(r["scopes"]) for r in await conn.fetch("SELECT principal_id, scopes FROM principals")}
    finally:
        await conn.close()
    assert rows == {f"centre-{unique}": ["cases:read", "appraisals:report"],
                    f"viewer-{unique}": ["cases:read", "credit:read"]}
