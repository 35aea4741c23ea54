"""The identity schema's SQL, and the directory services authenticate through.

`IdentityDirectory.authenticate(token)` finds the active principal holding a
key. Lookups are cached for `ttl` seconds in a bounded LRU (unknown key ids
too, so guessing keys does not reach the database on every try): a revoked key
or principal stops working within `ttl` seconds in every service.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Mapping, TypeVar

import asyncpg

from shared.identity import tokens
from shared.identity.model import DEFAULT_SCOPES, Principal, check_new_principal

SCHEMA = "identity"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: how long a lookup is trusted: the bound on how late a revocation takes effect
DEFAULT_TTL_SECONDS = 5.0

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A bounded LRU whose entries expire `ttl` seconds after they were stored."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> tuple[bool, V | None]:
        hit = self._entries.get(key)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        self._entries.move_to_end(key)
        return True, hit[1]

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (time.monotonic() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class PrincipalExists(Exception):
    pass


def _principal(row: Mapping[str, Any]) -> Principal:
    return Principal(row["principal_id"], row["kind"], frozenset(row["scopes"]), frozenset(row["roles"]),
                     row["bureau"], row["display_name"], row["created_at"], row["revoked_at"])


_COLUMNS = "p.principal_id, p.kind, p.scopes, p.roles, p.bureau, p.display_name, p.created_at, p.revoked_at"


@dataclass(frozen=True)
class IssuedKey:
    principal: Principal
    key_id: str
    token: str  # shown once


async def create_principal(conn: asyncpg.Connection, principal_id: str, kind: str, *, scopes: tuple[str, ...] | None = None,
                           bureau: str | None = None, roles: tuple[str, ...] = (), display_name: str = "",
                           label: str = "") -> IssuedKey:
    """Register a principal and issue its first key (the token is returned once; only a hash is kept)."""
    chosen = tuple(scopes) if scopes else DEFAULT_SCOPES[kind]
    check_new_principal(principal_id, kind, chosen, bureau)
    key = tokens.new_key()
    async with conn.transaction():
        try:
            row = await conn.fetchrow(
                "INSERT INTO principals (principal_id, kind, bureau, roles, scopes, display_name)"
                " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                principal_id, kind, bureau, list(roles), list(chosen), display_name,
            )
        except asyncpg.UniqueViolationError:
            raise PrincipalExists(principal_id) from None
        await conn.execute("INSERT INTO api_keys (key_id, principal_id, scheme, secret_hash, label) VALUES ($1, $2, 'v1', $3, $4)",
                           key.key_id, principal_id, key.secret_hash, label)
    assert row is not None
    return IssuedKey(_principal(row), key.key_id, key.token)


async def ensure_keyless_principal(conn: asyncpg.Connection, principal_id: str, kind: str, scopes: tuple[str, ...],
                                   display_name: str = "") -> bool:
    """Register a principal that acts only through Kafka (its own SCRAM principal and topic ACLs
    authenticate it) and so holds no API key, e.g. the inspection service, which writes leads on
    ``ingress.inspection``. Idempotent: one that exists (active or revoked by an operator) is left as
    it is. True when this call registered it."""
    check_new_principal(principal_id, kind, tuple(scopes), None)
    done = await conn.fetchval(
        "INSERT INTO principals (principal_id, kind, bureau, roles, scopes, display_name)"
        " VALUES ($1, $2, NULL, '{}', $3, $4) ON CONFLICT (principal_id) DO NOTHING RETURNING true",
        principal_id, kind, list(scopes), display_name)
    return bool(done)


async def rotate_key(conn: asyncpg.Connection, principal_id: str, label: str = "") -> IssuedKey | None:
    """A new key for an active principal; every earlier key of it is revoked. None if there is no such active principal."""
    key = tokens.new_key()
    async with conn.transaction():
        row = await conn.fetchrow("SELECT * FROM principals WHERE principal_id = $1 AND revoked_at IS NULL FOR UPDATE",
                                  principal_id)
        if row is None:
            return None
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE principal_id = $1 AND revoked_at IS NULL", principal_id)
        await conn.execute("INSERT INTO api_keys (key_id, principal_id, scheme, secret_hash, label) VALUES ($1, $2, 'v1', $3, $4)",
                           key.key_id, principal_id, key.secret_hash, label)
    return IssuedKey(_principal(row), key.key_id, key.token)


async def revoke_principal(conn: asyncpg.Connection, principal_id: str) -> bool:
    """Revoke a principal and every key it holds."""
    async with conn.transaction():
        done = await conn.fetchval(
            "UPDATE principals SET revoked_at = now() WHERE principal_id = $1 AND revoked_at IS NULL RETURNING true",
            principal_id)
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE principal_id = $1 AND revoked_at IS NULL", principal_id)
    return bool(done)


async def list_principals(conn: asyncpg.Connection | asyncpg.Pool) -> list[tuple[Principal, int]]:
    """Every principal with the number of active keys it holds."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS}, count(k.key_id) FILTER (WHERE k.revoked_at IS NULL) AS keys"
        " FROM principals p LEFT JOIN api_keys k USING (principal_id) GROUP BY p.principal_id ORDER BY p.principal_id")
    return [(_principal(r), int(r["keys"])) for r in rows]


async def principal_by_id(conn: asyncpg.Connection | asyncpg.Pool, principal_id: str) -> Principal | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM principals p WHERE p.principal_id = $1", principal_id)
    return _principal(row) if row is not None else None


async def open_directory(settings: Any, *, max_size: int = 3) -> "IdentityDirectory":
    """The directory a service authenticates with: its own small pool on the identity schema
    (``settings.identity_schema``), cached for ``settings.identity_cache_seconds``. Close it on the way out."""
    from shared.db import create_pool

    pool = await create_pool(settings.dsn, settings.identity_schema, min_size=1, max_size=max_size)
    return IdentityDirectory(pool, ttl=getattr(settings, "identity_cache_seconds", DEFAULT_TTL_SECONDS))


class IdentityDirectory:
    """Authenticates tokens and looks principals up, through a bounded cache of `ttl` seconds."""

    def __init__(self, pool: asyncpg.Pool, ttl: float = DEFAULT_TTL_SECONDS, max_entries: int = 10_000) -> None:
        self.pool = pool
        self.ttl = ttl
        self._keys: TtlCache[str, tuple[str, bytes, Principal] | None] = TtlCache(ttl, max_entries)
        self._principals: TtlCache[str, Principal | None] = TtlCache(ttl, max_entries)

    async def authenticate(self, token: str | None) -> Principal | None:
        """The active principal holding this token's key, or None (malformed, unknown, wrong secret, revoked)."""
        presented = tokens.parse(token or "")
        if presented is None:
            return None
        found, entry = self._keys.get(presented.key_id)
        if not found:
            row = await self.pool.fetchrow(
                f"SELECT k.scheme, k.secret_hash, {_COLUMNS} FROM api_keys k JOIN principals p USING (principal_id)"
                " WHERE k.key_id = $1 AND k.revoked_at IS NULL AND p.revoked_at IS NULL", presented.key_id)
            entry = (row["scheme"], bytes(row["secret_hash"]), _principal(row)) if row is not None else None
            self._keys.put(presented.key_id, entry)
        if entry is None:
            tokens.matches(presented, "v1", bytes(32))  # the same work either way
            return None
        scheme, stored, principal = entry
        return principal if tokens.matches(presented, scheme, stored) else None

    async def close(self) -> None:
        await self.pool.close()

    async def principal(self, principal_id: str) -> Principal | None:
        """An active principal by id (e.g. the owner of an ``ingress.<client>`` topic), or None."""
        found, principal = self._principals.get(principal_id)
        if not found:
            principal = await principal_by_id(self.pool, principal_id)
            self._principals.put(principal_id, principal)
        return principal if principal is not None and principal.active else None


async def import_legacy_keys(conn: asyncpg.Connection, schemas: Mapping[str, str]) -> dict[str, int]:
    """Copy the keys of the three stores this one replaced into it, so keys issued before keep working.

    `schemas` maps ``intake``/``routing``/``credit`` to the schema holding that service's old table.
    Idempotent (a principal or key already here is left as it is); returns the keys imported per store."""
    imported: dict[str, int] = {}

    async def has_table(schema: str, table: str) -> bool:
        return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.{table}"))

    async with conn.transaction():
        if (s := schemas.get("intake")) and await has_table(s, "clients"):
            await conn.execute(f"""
                INSERT INTO principals (principal_id, kind, scopes, display_name, created_at, revoked_at)
                SELECT client_id, kind, scopes, client_id, created_at, revoked_at FROM "{s}".clients
                ON CONFLICT (principal_id) DO NOTHING""")
            status = await conn.execute(f"""
                INSERT INTO api_keys (key_id, principal_id, scheme, secret_hash, label, created_at, revoked_at)
                SELECT 'intake:' || key_id, client_id, 'intake-v0', key_hash, 'imported from intake', created_at, revoked_at
                FROM "{s}".clients ON CONFLICT (key_id) DO NOTHING""")
            imported["intake"] = int(status.split()[-1])
        if (s := schemas.get("routing")) and await has_table(s, "bureau_keys"):
            await conn.execute(f"""
                INSERT INTO principals (principal_id, kind, bureau, scopes, display_name)
                SELECT DISTINCT bureau, 'bureau', bureau, $1::text[], bureau FROM "{s}".bureau_keys
                ON CONFLICT (principal_id) DO NOTHING""", list(DEFAULT_SCOPES["bureau"]))
            status = await conn.execute(f"""
                INSERT INTO api_keys (key_id, principal_id, scheme, secret_hash, label, created_at, revoked_at)
                SELECT 'routing:' || key_id, bureau, 'routing-v0', secret_hash, label, created_at, revoked_at
                FROM "{s}".bureau_keys ON CONFLICT (key_id) DO NOTHING""")
            imported["routing"] = int(status.split()[-1])
        if (s := schemas.get("credit")) and await has_table(s, "clients"):
            # credit's roles: bureau (one bureau@division: the same principal as routing's key for that
            # bureau, whose scopes it joins), office, department, portal, platform
            mapped = f"""
                SELECT c.*, CASE WHEN c.role = 'bureau' THEN c.bureau_type || '@' || c.division
                                 ELSE 'credit-' || c.client_id END AS pid,
                       CASE c.role WHEN 'bureau' THEN ARRAY['penalties:write', 'credit:read']
                                   WHEN 'office' THEN ARRAY['credit:read', 'credit:manage']
                                   WHEN 'portal' THEN ARRAY['credit:public']
                                   ELSE ARRAY['credit:read'] END AS grant_scopes
                FROM "{s}".clients c"""
            await conn.execute(f"""
                INSERT INTO principals (principal_id, kind, bureau, roles, scopes, display_name, created_at, revoked_at)
                SELECT DISTINCT ON (pid) pid,
                       CASE role WHEN 'bureau' THEN 'bureau' WHEN 'office' THEN 'office' WHEN 'portal' THEN 'public_api'
                                 ELSE 'platform' END,
                       CASE WHEN role IN ('bureau', 'office') AND division IS NOT NULL THEN bureau_type || '@' || division END,
                       ARRAY['credit:' || role], grant_scopes, name, created_at, disabled_at
                FROM ({mapped}) m ORDER BY pid, created_at
                ON CONFLICT (principal_id) DO UPDATE SET
                    scopes = ARRAY(SELECT DISTINCT unnest(principals.scopes || EXCLUDED.scopes) ORDER BY 1),
                    roles = ARRAY(SELECT DISTINCT unnest(principals.roles || EXCLUDED.roles) ORDER BY 1)""")
            status = await conn.execute(f"""
                INSERT INTO api_keys (key_id, principal_id, scheme, secret_hash, label, created_at, revoked_at)
                SELECT 'credit:' || client_id, pid, 'credit-v0', decode(key_hash, 'hex'), 'imported from credit',
                       created_at, disabled_at
                FROM ({mapped}) m ON CONFLICT (key_id) DO NOTHING""")
            imported["credit"] = int(status.split()[-1])
    return imported
