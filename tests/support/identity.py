"""Keys for tests, from the one identity store (shared.identity) on the real database.

Each test that needs callers makes an identity schema of its own (``identity_<unique>``) and
points the service's settings at it (``identity_schema=...``), so principals such as
``market_regulation@610402`` never collide between tests and nothing needs cleaning up."""
from __future__ import annotations

from typing import Any

from shared.db import connect, migrate
from shared.identity import store
from tests.support import stack


async def identity_schema(unique: str) -> str:
    """A fresh, migrated identity schema for one test."""
    schema = f"identity_{unique}"
    await migrate(stack.dsn(), schema, store.MIGRATIONS, runtime=False)
    return schema


async def issue_key(schema: str, principal_id: str, kind: str, **options: Any) -> str:
    """Register a principal (scopes default to its kind's) and return its token."""
    conn = await connect(stack.dsn(), schema)
    try:
        return (await store.create_principal(conn, principal_id, kind, **options)).token
    finally:
        await conn.close()


async def revoke(schema: str, principal_id: str) -> bool:
    conn = await connect(stack.dsn(), schema)
    try:
        return await store.revoke_principal(conn, principal_id)
    finally:
        await conn.close()
