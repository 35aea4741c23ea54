"""`shuangda migrate` registers the principals of services that submit to intake on Kafka
(deploy/setup_stack.KAFKA_SUBMITTERS): the inspection service's leads on ``ingress.inspection`` are
accepted without an operator's ``shuangda keys create inspection`` on any profile or in compose."""
from __future__ import annotations

import pytest

from deploy.setup_stack import migrate_all
from shared.db import connect
from shared.identity.store import list_principals, principal_by_id, revoke_principal
from tests.support.stack import bootstrap, dsn


@pytest.fixture
def identity_schema(unique: str, monkeypatch: pytest.MonkeyPatch) -> str:
    schema = f"identity_sp_{unique}"
    monkeypatch.setenv("SHUANGDA_IDENTITY_SCHEMA", schema)
    monkeypatch.setenv("SHUANGDA_INSPECTION_SCHEMA", f"inspection_sp_{unique}")
    return schema


async def test_migrate_registers_the_inspection_service_as_a_keyless_platform_once_and_keeps_a_revocation(
        identity_schema: str) -> None:
    first = await migrate_all(dsn(), bootstrap(), ("inspection",))
    assert first.principals_registered == ("inspection",)
    conn = await connect(dsn(), identity_schema)
    try:
        principal = await principal_by_id(conn, "inspection")
        assert principal is not None and principal.kind == "platform" and principal.revoked_at is None
        assert principal.can("leads:write") and not principal.can("complaints:write")
        keys = {p.principal_id: n for p, n in await list_principals(conn)}
        assert keys == {"inspection": 0}, "it acts on Kafka only: no API key is issued"
        assert await revoke_principal(conn, "inspection")
    finally:
        await conn.close()

    again = await migrate_all(dsn(), bootstrap(), ("inspection",))
    assert again.principals_registered == ()
    conn = await connect(dsn(), identity_schema)
    try:
        after = await principal_by_id(conn, "inspection")
    finally:
        await conn.close()
    assert after is not None and after.revoked_at is not None, "an operator's revocation is not undone"
