"""Accounts, sign-in and sessions.

An account is a person; the principal ``console.<username>`` of the identity store acts for them,
and the console keeps that principal's API key (sealed) to call the services on their behalf.
Failed sign-ins in a row lock the account (`domain.accounts.Lockout`); every attempt is logged."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import asyncpg

from shared.clock import Clock
from shared.identity import store as identity

from services.console.adapters import crypto
from services.console.adapters import postgres as db
from services.console.domain.accounts import (
    Lockout, Role, check_password, check_username, principal_id_for, role_from_stored,
)

PUBLIC_READER = "public"
PUBLIC_PRINCIPAL = "console.public"
#: the console's public lookup calls routing's POST /v1/status, nothing else (cases:read without a
#: bureau lists and reads no case); clients:relay has routing limit each citizen's forwarded address
PUBLIC_SCOPES = ("cases:read", "clients:relay")


@dataclass(frozen=True)
class Person:
    """A signed-in person: who, as what, and the key their principal calls the services with."""

    username: str
    role: Role
    display_name: str
    api_key: str
    csrf: str


async def create_account(console: asyncpg.Connection, identity_conn: asyncpg.Connection, seal: crypto.KeySeal, *,
                         username: str, password: str, role: Role, display_name: str = "") -> str:
    """Register the principal and the account; returns the principal id."""
    check_username(username)
    check_password(password)
    if await db.account(console, username) is not None:
        raise ValueError(f"account {username} exists")
    principal_id = principal_id_for(username)
    issued = await identity.create_principal(identity_conn, principal_id, role.principal_kind, bureau=role.bureau,
                                             display_name=display_name or username, label="console")
    created = await db.insert_account(console, username=username, role=role.name, bureau=role.bureau,
                                      display_name=display_name, password_hash=await crypto.hash_password(password),
                                      principal_id=principal_id, api_key_enc=seal.seal(issued.token))
    if not created:  # raced with another create: leave no principal without an account
        await identity.revoke_principal(identity_conn, principal_id)
        raise ValueError(f"account {username} exists")
    await ensure_public_reader(console, identity_conn, seal)
    return principal_id


async def ensure_public_reader(console: asyncpg.Connection, identity_conn: asyncpg.Connection,
                               seal: crypto.KeySeal) -> None:
    """The console's own principal for the public status lookup (created once; rotated if lost)."""
    if await db.service_key(console, PUBLIC_READER) is not None:
        return
    try:
        issued = await identity.create_principal(identity_conn, PUBLIC_PRINCIPAL, "public_api", scopes=PUBLIC_SCOPES,
                                                 display_name="console public lookup", label="console")
    except identity.PrincipalExists:
        issued = await identity.rotate_key(identity_conn, PUBLIC_PRINCIPAL, label="console")  # type: ignore[assignment]
        if issued is None:
            raise RuntimeError(f"{PUBLIC_PRINCIPAL} is revoked in the identity store") from None
    await db.put_service_key(console, PUBLIC_READER, PUBLIC_PRINCIPAL, seal.seal(issued.token))


SignIn = Literal["ok", "bad", "locked"]


class Accounts:
    def __init__(self, pool: asyncpg.Pool, seal: crypto.KeySeal, clock: Clock, lockout: Lockout,
                 session_hours: float) -> None:
        self.pool = pool
        self.seal = seal
        self.clock = clock
        self.lockout = lockout
        self.session_length = timedelta(hours=session_hours)

    async def sign_in(self, username: str, password: str, address: str) -> tuple[SignIn, str | None]:
        """("ok", session cookie value) or ("bad" | "locked", None)."""
        now = self.clock.now()
        username = username.strip().lower()[:64]
        row = await db.account(self.pool, username)
        if row is not None and self.lockout.locked(row["locked_until"], now):
            await db.log_attempt(self.pool, username, address, "locked", now)
            return "locked", None
        good = await crypto.verify_password(row["password_hash"] if row is not None else None, password)
        if row is None or row["disabled"] or not good:
            outcome = "unknown" if row is None else "disabled" if row["disabled"] else "bad_password"
            async with self.pool.acquire() as conn, conn.transaction():
                await db.log_attempt(conn, username, address, outcome, now)
                if row is not None and not good:
                    fresh = await conn.fetchrow("SELECT failed_count FROM accounts WHERE username = $1 FOR UPDATE",
                                                username)
                    count, until = self.lockout.after_failure(fresh["failed_count"], now)
                    await db.record_failure(conn, username, count, until)
                    if until is not None:
                        return "locked", None
            return "bad", None
        token = crypto.new_token()
        async with self.pool.acquire() as conn, conn.transaction():
            await db.record_success(conn, username, now)
            await db.log_attempt(conn, username, address, "ok", now)
            await db.insert_session(conn, crypto.token_hash(token), username, secrets.token_urlsafe(24), now,
                                    now + self.session_length)
        return "ok", token

    async def person(self, cookie: str | None) -> Person | None:
        if not cookie or len(cookie) > 128:
            return None
        row = await db.session(self.pool, crypto.token_hash(cookie), self.clock.now())
        if row is None:
            return None
        return Person(row["username"], role_from_stored(row["role"], row["bureau"]), row["display_name"],
                      self.seal.open(row["api_key_enc"]), row["csrf_token"])

    async def sign_out(self, cookie: str | None) -> None:
        if cookie:
            await db.delete_session(self.pool, crypto.token_hash(cookie))

    async def public_key(self) -> str | None:
        row = await db.service_key(self.pool, PUBLIC_READER)
        return self.seal.open(row["api_key_enc"]) if row is not None else None


def describe(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(row).items()}
