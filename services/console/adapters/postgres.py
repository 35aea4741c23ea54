"""The console's own tables (accounts, sessions, sign-in attempts); its schema only."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from shared import audit

Conn = asyncpg.Connection | asyncpg.Pool


async def insert_account(conn: Conn, *, username: str, role: str, bureau: str | None, display_name: str,
                         password_hash: str, principal_id: str, api_key_enc: bytes) -> bool:
    done = await conn.fetchval(
        "INSERT INTO accounts (username, role, bureau, display_name, password_hash, principal_id, api_key_enc)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING true",
        username, role, bureau, display_name, password_hash, principal_id, api_key_enc)
    return bool(done)


async def account(conn: Conn, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM accounts WHERE username = $1", username)


async def account_by_subject(conn: Conn, subject: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM accounts WHERE oidc_subject = $1", subject)


async def link_subject(conn: Conn, username: str, subject: str | None) -> bool:
    return bool(await conn.fetchval("UPDATE accounts SET oidc_subject = $2 WHERE username = $1 RETURNING true",
                                    username, subject))


async def insert_flow(conn: Conn, state_hash: bytes, nonce: str, code_verifier: str, next_path: str | None,
                      created_at: datetime, expires_at: datetime) -> None:
    await conn.execute("INSERT INTO oidc_flows (state_hash, nonce, code_verifier, next_path, created_at, expires_at)"
                       " VALUES ($1, $2, $3, $4, $5, $6)", state_hash, nonce, code_verifier, next_path, created_at,
                       expires_at)


async def take_flow(conn: Conn, state_hash: bytes) -> asyncpg.Record | None:
    """The started sign-in of this state, once: it is deleted as it is read."""
    return await conn.fetchrow("DELETE FROM oidc_flows WHERE state_hash = $1 RETURNING *", state_hash)


async def list_accounts(conn: Conn) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT username, role, bureau, principal_id, oidc_subject, locked_until, disabled,"
                            " created_at, last_login_at FROM accounts ORDER BY username")


async def record_failure(conn: Conn, username: str, failed_count: int, locked_until: datetime | None) -> None:
    await conn.execute("UPDATE accounts SET failed_count = $2, locked_until = $3 WHERE username = $1",
                       username, failed_count, locked_until)


async def record_success(conn: Conn, username: str, at: datetime) -> None:
    await conn.execute("UPDATE accounts SET failed_count = 0, locked_until = NULL, last_login_at = $2"
                       " WHERE username = $1", username, at)


async def set_password(conn: Conn, username: str, password_hash: str) -> bool:
    """A new password for the account; a lockout and the failures counted towards one are cleared."""
    return bool(await conn.fetchval("UPDATE accounts SET password_hash = $2, failed_count = 0, locked_until = NULL"
                                    " WHERE username = $1 RETURNING true", username, password_hash))


async def unlock(conn: Conn, username: str) -> bool:
    return bool(await conn.fetchval("UPDATE accounts SET failed_count = 0, locked_until = NULL WHERE username = $1"
                                    " RETURNING true", username))


async def log_attempt(conn: Conn, username: str, address: str, outcome: str, at: datetime) -> None:
    await conn.execute("INSERT INTO login_attempts (username, address, outcome, at) VALUES ($1, $2, $3, $4)",
                       username[:64], address[:64], outcome, at)


async def insert_session(conn: Conn, session_hash: bytes, username: str, csrf: str, created_at: datetime,
                         expires_at: datetime) -> None:
    await conn.execute("INSERT INTO sessions (session_hash, username, csrf_token, created_at, expires_at)"
                       " VALUES ($1, $2, $3, $4, $5)", session_hash, username, csrf, created_at, expires_at)


async def session(conn: Conn, session_hash: bytes, now: datetime) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT s.csrf_token, s.expires_at, a.* FROM sessions s JOIN accounts a USING (username)"
        " WHERE s.session_hash = $1 AND s.expires_at > $2 AND NOT a.disabled", session_hash, now)


async def delete_session(conn: Conn, session_hash: bytes) -> None:
    await conn.execute("DELETE FROM sessions WHERE session_hash = $1", session_hash)


async def prune_sessions(conn: Conn, now: datetime) -> int:
    status = await conn.execute("DELETE FROM sessions WHERE expires_at <= $1", now)
    await conn.execute("DELETE FROM oidc_flows WHERE expires_at <= $1", now)
    return int(status.split()[-1])


async def service_key(conn: Conn, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM service_principals WHERE name = $1", name)


async def put_service_key(conn: Conn, name: str, principal_id: str, api_key_enc: bytes) -> None:
    await conn.execute("INSERT INTO service_principals (name, principal_id, api_key_enc) VALUES ($1, $2, $3)"
                       " ON CONFLICT (name) DO UPDATE SET principal_id = EXCLUDED.principal_id,"
                       " api_key_enc = EXCLUDED.api_key_enc", name, principal_id, api_key_enc)


def as_dict(row: Any) -> dict[str, Any]:
    return dict(row) if row is not None else {}


async def audit_unmask(pool: asyncpg.Pool, *, case_id: str, username: str, principal_id: str, reason: str,
                       fields: list[str], at: datetime) -> int:
    """Write one unmasking to the console's hash-chained audit log (shared.audit); its sequence number."""
    async with pool.acquire() as conn, conn.transaction():
        entry = await audit.append(conn, "console.pii-unmasked", case_id,
                                   {"reason": reason, "fields": fields, "principal": principal_id},
                                   actor=username, at=at)
    return entry.seq


async def audit_action(pool: asyncpg.Pool, kind: str, subject: str, body: dict[str, Any], *, actor: str,
                       at: datetime) -> int:
    """Write one person's action (e.g. a resend through notify) to the console's audit log; its sequence number."""
    async with pool.acquire() as conn, conn.transaction():
        entry = await audit.append(conn, kind, subject, body, actor=actor, at=at)
    return entry.seq
