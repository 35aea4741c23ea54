"""Bureau API keys: ``sdk_<key id>_<secret>``. Only a SHA-256 of the secret is stored
(the secret is 256 random bits, so a slow hash adds nothing); comparison is constant-time."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import asyncpg

from services.routing.domain.bureaus import Bureau

_TOKEN = re.compile(r"^sdk_([0-9a-f]{16})_([A-Za-z0-9_-]{32,64})$")


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    bureau: str
    token: str  # shown once, never stored


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def create_key(conn: asyncpg.Connection | asyncpg.Pool, bureau: str, label: str = "") -> IssuedKey:
    Bureau.parse(bureau)  # raises ValueError for a malformed bureau id
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO bureau_keys (key_id, bureau, secret_hash, label) VALUES ($1, $2, $3, $4)",
        key_id, bureau, _hash(secret), label,
    )
    return IssuedKey(key_id, bureau, f"sdk_{key_id}_{secret}")


async def revoke_key(conn: asyncpg.Connection | asyncpg.Pool, key_id: str) -> bool:
    status = await conn.execute("UPDATE bureau_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", key_id)
    return status.endswith(" 1")


async def list_keys(conn: asyncpg.Connection | asyncpg.Pool, bureau: str | None = None) -> list[asyncpg.Record]:
    if bureau:
        return await conn.fetch("SELECT key_id, bureau, label, created_at, revoked_at FROM bureau_keys WHERE bureau = $1"
                                " ORDER BY created_at", bureau)
    return await conn.fetch("SELECT key_id, bureau, label, created_at, revoked_at FROM bureau_keys ORDER BY bureau, created_at")


async def authenticate(conn: asyncpg.Connection | asyncpg.Pool, token: str) -> str | None:
    """The bureau a token belongs to, or None (unknown, malformed, revoked or wrong secret)."""
    m = _TOKEN.match(token or "")
    if not m:
        return None
    row = await conn.fetchrow("SELECT bureau, secret_hash, revoked_at FROM bureau_keys WHERE key_id = $1", m.group(1))
    expected = row["secret_hash"] if row else _hash("no such key")  # compare anyway: same time either way
    ok = hmac.compare_digest(bytes(expected), _hash(m.group(2)))
    if row is None or not ok or row["revoked_at"] is not None:
        return None
    return str(row["bureau"])


