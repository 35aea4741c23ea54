"""The one identity store on the real database: keys, rotation, revocation within the cache's bound,
and keys issued by the three stores it replaced still working after the import."""
from __future__ import annotations

import hashlib
import secrets
import time

import pytest

from shared.db import connect, create_pool, migrate
from shared.identity import store
from tests.support import stack

pytestmark = pytest.mark.stack


async def _schema(unique: str) -> str:
    schema = f"identity_{unique}"
    await migrate(stack.dsn(), schema, store.MIGRATIONS, runtime=False)
    return schema


async def test_a_created_key_authenticates_its_principal_with_its_scopes(unique: str) -> None:
    schema = await _schema(unique)
    conn = await connect(stack.dsn(), schema)
    pool = await create_pool(stack.dsn(), schema, max_size=2)
    try:
        issued = await store.create_principal(conn, f"hotline-{unique}", "hotline")
        directory = store.IdentityDirectory(pool, ttl=0.5)
        principal = await directory.authenticate(issued.token)
        assert principal is not None and principal.principal_id == f"hotline-{unique}"
        assert principal.can("complaints:write") and not principal.can("cases:act")
        assert await directory.authenticate(issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")) is None
    finally:
        await pool.close()
        await conn.close()


async def test_a_revoked_or_rotated_key_stops_working_within_the_cache_bound(unique: str) -> None:
    schema = await _schema(unique)
    conn = await connect(stack.dsn(), schema)
    pool = await create_pool(stack.dsn(), schema, max_size=2)
    ttl = 1.0
    try:
        directory = store.IdentityDirectory(pool, ttl=ttl)
        bureau = "market_regulation@610402"
        issued = await store.create_principal(conn, bureau, "bureau", bureau=bureau)
        assert await directory.authenticate(issued.token) is not None
        rotated = await store.rotate_key(conn, bureau)
        assert rotated is not None
        revoked_at = time.monotonic()
        old_works = await stack.eventually(lambda: directory.authenticate(issued.token), until=lambda p: p is None,
                                           timeout=ttl + 2, what="the rotated-out key refused")
        assert old_works is None and time.monotonic() - revoked_at <= ttl + 0.5
        assert await directory.authenticate(rotated.token) is not None
        assert await store.revoke_principal(conn, bureau)
        revoked_at = time.monotonic()
        await stack.eventually(lambda: directory.authenticate(rotated.token), until=lambda p: p is None,
                               timeout=ttl + 2, what="the revoked principal refused")
        assert time.monotonic() - revoked_at <= ttl + 0.5
    finally:
        await pool.close()
        await conn.close()


async def test_keys_issued_by_the_old_intake_routing_and_credit_stores_keep_working_after_the_import(unique: str) -> None:
    schema = await _schema(unique)
    legacy = f"legacy_{unique}"
    conn = await connect(stack.dsn(), schema)
    pool = await create_pool(stack.dsn(), schema, max_size=2)
    intake_key = "sdk_abcdefghijkm_" + secrets.token_urlsafe(32)
    routing_secret, credit_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    try:
        await conn.execute(f'CREATE SCHEMA "{legacy}"')
        # the three old tables, as their migrations made them (the columns the import reads)
        await conn.execute(f'''
            CREATE TABLE "{legacy}".clients_intake (client_id text, kind text, scopes text[], key_id text, key_hash bytea,
                                                    created_at timestamptz DEFAULT now(), revoked_at timestamptz);
            CREATE TABLE "{legacy}".bureau_keys (key_id text, bureau text, secret_hash bytea, label text DEFAULT '',
                                                 created_at timestamptz DEFAULT now(), revoked_at timestamptz);
            CREATE SCHEMA "{legacy}_c";
            CREATE TABLE "{legacy}_c".clients (client_id text, role text, bureau_type text, division text, name text,
                                               key_hash text, created_at timestamptz DEFAULT now(), disabled_at timestamptz);
            CREATE SCHEMA "{legacy}_i";
            CREATE TABLE "{legacy}_i".clients (LIKE "{legacy}".clients_intake INCLUDING DEFAULTS);''')
        await conn.execute(f'INSERT INTO "{legacy}_i".clients (client_id, kind, scopes, key_id, key_hash) VALUES'
                           " ('hotline-old', 'hotline', '{complaints:write}', 'abcdefghijkm', $1)",
                           hashlib.sha256(intake_key.encode()).digest())
        await conn.execute(f'INSERT INTO "{legacy}".bureau_keys (key_id, bureau, secret_hash) VALUES'
                           " ('0123456789abcdef', 'market_regulation@610402', $1)", hashlib.sha256(routing_secret.encode()).digest())
        await conn.execute(f'INSERT INTO "{legacy}_c".clients (client_id, role, bureau_type, division, name, key_hash) VALUES'
                           " ('mr-610402', 'bureau', 'market_regulation', '610402', 'MR', $1)",
                           hashlib.sha256(credit_secret.encode()).hexdigest())
        schemas = {"intake": f"{legacy}_i", "routing": legacy, "credit": f"{legacy}_c"}
        assert await store.import_legacy_keys(conn, schemas) == {"intake": 1, "routing": 1, "credit": 1}
        assert await store.import_legacy_keys(conn, schemas) == {"intake": 0, "routing": 0, "credit": 0}, "idempotent"
        directory = store.IdentityDirectory(pool)
        hotline = await directory.authenticate(intake_key)
        bureau = await directory.authenticate(f"sdk_0123456789abcdef_{routing_secret}")
        same_bureau = await directory.authenticate(f"mr-610402.{credit_secret}")
        assert hotline is not None and hotline.principal_id == "hotline-old" and hotline.can("complaints:write")
        assert bureau is not None and same_bureau is not None
        assert bureau.principal_id == same_bureau.principal_id == "market_regulation@610402", \
            "a bureau registered with routing and credit is one principal"
        assert same_bureau.can("penalties:write") and same_bureau.can("cases:act")
        assert await directory.authenticate(f"mr-610402.{secrets.token_urlsafe(32)}") is None
    finally:
        await pool.close()
        await conn.close()
