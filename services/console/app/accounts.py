"""Accounts, sign-in and sessions.

An account is a person; the principal ``console.<username>`` of the identity store acts for them,
and the console keeps that principal's API key (sealed) to call the services on their behalf.
Failed sign-ins in a row lock the account (`domain.accounts.Lockout`); every attempt is logged."""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg

from shared.clock import Clock
from shared.identity import store as identity

from services.console.adapters import crypto
from services.console.adapters.oidc import OidcClient, OidcRefused
from services.console.adapters import postgres as db
from services.console.domain.accounts import (
    Lockout, Role, check_password, check_subject, check_username, principal_id_for, role_from_stored,
)

PUBLIC_READER = "public"
PUBLIC_PRINCIPAL = "console.public"
#: the console's public lookup calls routing's POST /v1/status, nothing else (cases:read without a
#: bureau lists and reads no case); clients:relay has routing limit each citizen's forwarded address
PUBLIC_SCOPES = ("cases:read", "clients:relay")
SURVEY_READER = "survey"
SURVEY_PRINCIPAL = "console.survey"
#: the public survey form records a complainant's answer at intake (complaints:write), and intake
#: limits failed second-factor checks per citizen's forwarded address (clients:relay); kept apart
#: from console.public so the status lookup's key cannot file or answer anything
SURVEY_SCOPES = ("complaints:write", "clients:relay")
#: the console's own principals: (its name in service_principals, principal id, scopes, display name)
SERVICE_PRINCIPALS = ((PUBLIC_READER, PUBLIC_PRINCIPAL, PUBLIC_SCOPES, "console public lookup"),
                      (SURVEY_READER, SURVEY_PRINCIPAL, SURVEY_SCOPES, "console public survey"))


@dataclass(frozen=True)
class Person:
    """A signed-in person: who, as what, and the key their principal calls the services with."""

    username: str
    role: Role
    display_name: str
    api_key: str
    csrf: str


#: the password hash of an account that signs in only through the identity provider (never verifies)
NO_PASSWORD = "!oidc-only"


async def create_account(console: asyncpg.Connection, identity_conn: asyncpg.Connection, seal: crypto.KeySeal, *,
                         username: str, password: str | None, role: Role, display_name: str = "",
                         oidc_subject: str | None = None) -> str:
    """Register the principal and the account; returns the principal id. With `oidc_subject` the
    password may be None: the person signs in only through the city's identity provider."""
    check_username(username)
    if oidc_subject is not None:
        check_subject(oidc_subject)
    if password is not None or oidc_subject is None:
        check_password(password or "")
    if await db.account(console, username) is not None:
        raise ValueError(f"account {username} exists")
    if oidc_subject is not None and await db.account_by_subject(console, oidc_subject) is not None:
        raise ValueError(f"another account has the OIDC subject {oidc_subject}")
    principal_id = principal_id_for(username)
    issued = await identity.create_principal(identity_conn, principal_id, role.principal_kind, bureau=role.bureau,
                                             display_name=display_name or username, label="console")
    created = await db.insert_account(console, username=username, role=role.name, bureau=role.bureau,
                                      display_name=display_name,
                                      password_hash=await crypto.hash_password(password) if password else NO_PASSWORD,
                                      principal_id=principal_id, api_key_enc=seal.seal(issued.token))
    if not created:  # raced with another create: leave no principal without an account
        await identity.revoke_principal(identity_conn, principal_id)
        raise ValueError(f"account {username} exists")
    if oidc_subject is not None:
        await db.link_subject(console, username, oidc_subject)
    await ensure_public_reader(console, identity_conn, seal)
    return principal_id


async def ensure_account(console: asyncpg.Connection, identity_conn: asyncpg.Connection, seal: crypto.KeySeal, *,
                         username: str, password: str, role: Role, display_name: str = "") -> tuple[str, bool]:
    """The account with this role, signing in with `password` from now on: created (with its principal)
    when missing, else given the new password and unlocked. Returns (principal id, created). An account
    of that name with another role is refused, never changed (what ``shuangda demo`` calls each run)."""
    check_username(username)
    check_password(password)
    row = await db.account(console, username)
    if row is None:
        return await create_account(console, identity_conn, seal, username=username, password=password, role=role,
                                    display_name=display_name), True
    if (row["role"], row["bureau"]) != (role.name, role.bureau):
        raise ValueError(f"account {username} exists with the role {role_from_stored(row['role'], row['bureau']).label},"
                         f" not {role.label}")
    await db.set_password(console, username, await crypto.hash_password(password))
    return str(row["principal_id"]), False


async def ensure_public_reader(console: asyncpg.Connection, identity_conn: asyncpg.Connection,
                               seal: crypto.KeySeal) -> None:
    """The console's own principals for the public pages — the status lookup's and the survey's
    (each created once; its key rotated if lost)."""
    for name, principal_id, scopes, display_name in SERVICE_PRINCIPALS:
        if await db.service_key(console, name) is not None:
            continue
        try:
            issued = await identity.create_principal(identity_conn, principal_id, "public_api", scopes=scopes,
                                                     display_name=display_name, label="console")
        except identity.PrincipalExists:
            issued = await identity.rotate_key(identity_conn, principal_id, label="console")  # type: ignore[assignment]
            if issued is None:
                raise RuntimeError(f"{principal_id} is revoked in the identity store") from None
        await db.put_service_key(console, name, principal_id, seal.seal(issued.token))


SignIn = Literal["ok", "bad", "locked"]


class Accounts:
    def __init__(self, pool: asyncpg.Pool, seal: crypto.KeySeal, clock: Clock, lockout: Lockout,
                 session_hours: float, *, oidc: OidcClient | None = None, oidc_flow_minutes: float = 10.0) -> None:
        self.pool = pool
        self.oidc = oidc
        self.oidc_flow = timedelta(minutes=oidc_flow_minutes)
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
        return "ok", await self._open_session(username, address, "ok", now)

    async def _open_session(self, username: str, address: str, outcome: str, now: datetime) -> str:
        token = crypto.new_token()
        async with self.pool.acquire() as conn, conn.transaction():
            await db.record_success(conn, username, now)
            await db.log_attempt(conn, username, address, outcome, now)
            await db.insert_session(conn, crypto.token_hash(token), username, secrets.token_urlsafe(24), now,
                                    now + self.session_length)
        return token

    # -- OpenID Connect (adapters/oidc.py) --

    async def begin_oidc(self, next_path: str | None) -> tuple[str, str]:
        """A sign-in at the identity provider: (state for the browser's cookie, the provider's URL)."""
        assert self.oidc is not None
        started = await self.oidc.start()
        now = self.clock.now()
        await db.insert_flow(self.pool, crypto.token_hash(started.state), started.nonce, started.code_verifier,
                             next_path, now, now + self.oidc_flow)
        return started.state, started.url

    async def finish_oidc(self, *, state: str, cookie_state: str | None, code: str,
                          address: str) -> tuple[str, str | None]:
        """The provider sent the person back: (session cookie value, the page they asked for), or
        `OidcRefused` — logged in login_attempts as ``oidc_<reason>``. The flow is used once whatever
        the outcome; the account's lockout holds as for a password sign-in; an unknown subject is
        refused, never provisioned."""
        assert self.oidc is not None
        now = self.clock.now()
        subject = ""
        try:
            if not state or not cookie_state or len(state) > 128 or not hmac.compare_digest(state, cookie_state):
                raise OidcRefused("bad_state", "the state is not the one this browser started")
            flow = await db.take_flow(self.pool, crypto.token_hash(state))
            if flow is None:
                raise OidcRefused("bad_state", "no sign-in was started with this state (or it was used)")
            if flow["expires_at"] <= now:
                raise OidcRefused("expired_flow", "the sign-in took too long")
            if not code or len(code) > 2048:
                raise OidcRefused("token_exchange", "no authorization code")
            subject = await self.oidc.verify(await self.oidc.exchange(code, flow["code_verifier"]), flow["nonce"])
            row = await db.account_by_subject(self.pool, subject)
            if row is None:
                raise OidcRefused("unknown_subject", "no console account has this subject")
            if row["disabled"]:
                raise OidcRefused("disabled", "the account is disabled")
            if self.lockout.locked(row["locked_until"], now):
                raise OidcRefused("locked", "the account is locked")
        except OidcRefused as refused:
            await db.log_attempt(self.pool, f"oidc:{subject}" if subject else "oidc:", address,
                                 f"oidc_{refused.reason}", now)
            raise
        return await self._open_session(row["username"], address, "oidc_ok", now), flow["next_path"]

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
        return await self._service_key(PUBLIC_READER)

    async def survey_key(self) -> str | None:
        return await self._service_key(SURVEY_READER)

    async def _service_key(self, name: str) -> str | None:
        row = await db.service_key(self.pool, name)
        return self.seal.open(row["api_key_enc"]) if row is not None else None


def describe(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(row).items()}
