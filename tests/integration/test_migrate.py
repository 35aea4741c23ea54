"""`shuangda migrate` (deploy/setup_stack.migrate_all): every service's own wiring.prepare, then the
import of the former key stores — so a key issued before the identity store keeps working."""
from __future__ import annotations

import hashlib
import secrets

import pytest

from deploy.setup_stack import migrate_all
from shared.config import StackSettings
from shared.db import connect
from shared.identity.store import open_directory
from tests.support.stack import bootstrap, dsn

SERVICES = ("intake", "routing", "notify", "credit")


@pytest.fixture
def schemas(unique: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    names = {s: f"{s}_mig_{unique}" for s in SERVICES} | {"identity": f"identity_mig_{unique}"}
    for service, schema in names.items():
        monkeypatch.setenv(f"SHUANGDA_{service.upper()}_SCHEMA", schema)
    return names


async def test_migrate_prepares_every_service_once_and_a_former_routing_key_then_authenticates(
        schemas: dict[str, str]) -> None:
    first = await migrate_all(dsn(), bootstrap(), SERVICES)
    assert all(first.applied[s] for s in SERVICES), first.applied
    assert first.applied[schemas["identity"]], "the identity store's schema is migrated first"

    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    conn = await connect(dsn(), schemas["routing"])
    try:
        await conn.execute("INSERT INTO bureau_keys (key_id, bureau, secret_hash, label) VALUES ($1, $2, $3, 'legacy')",
                           key_id, "market_regulation@610402", hashlib.sha256(secret.encode()).digest())
    finally:
        await conn.close()

    again = await migrate_all(dsn(), bootstrap(), SERVICES)
    assert all(not versions for versions in again.applied.values()), "idempotent"
    assert again.legacy_keys_imported == {"intake": 0, "routing": 1, "credit": 0}

    directory = await open_directory(StackSettings(pg_dsn=dsn(), kafka_bootstrap=bootstrap(), dev=True))
    try:
        principal = await directory.authenticate(f"sdk_{key_id}_{secret}")
    finally:
        await directory.close()
    assert principal is not None and principal.principal_id == "market_regulation@610402"
    assert principal.can("cases:act")
