"""Intake's SQL: clients, merge slots, cases, reports, submissions and
idempotency keys. Every function takes the connection of the open
transaction (``uow.conn``) or the pool for reads outside one."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Mapping, Sequence

import asyncpg

from services.intake.domain.apikeys import key_hash, key_id_of, new_api_key, verify
from services.intake.domain.model import CaseState, Suspect

# -- clients -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    client_id: str
    kind: Literal["hotline", "platform", "bureau"]
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def can(self, scope: str) -> bool:
        return self.active and scope in self.scopes


def _client(row: Mapping[str, Any]) -> Client:
    return Client(row["client_id"], row["kind"], tuple(row["scopes"]), row["created_at"], row["revoked_at"])


class ClientExists(Exception):
    pass


async def create_client(conn: asyncpg.Connection, client_id: str, kind: str, scopes: Sequence[str]) -> str:
    """Register a client; returns its API key (shown once; only a hash is kept)."""
    key_id, key = new_api_key()
    try:
        await conn.execute(
            "INSERT INTO clients (client_id, kind, scopes, key_id, key_hash) VALUES ($1, $2, $3, $4, $5)",
            client_id, kind, list(scopes), key_id, key_hash(key),
        )
    except asyncpg.UniqueViolationError:
        raise ClientExists(client_id) from None
    return key


async def rotate_client_key(conn: asyncpg.Connection, client_id: str) -> str | None:
    """A new key for an active client (the old one stops working); None if there is no such active client."""
    key_id, key = new_api_key()
    done = await conn.fetchval(
        "UPDATE clients SET key_id = $2, key_hash = $3, rotated_at = now()"
        " WHERE client_id = $1 AND revoked_at IS NULL RETURNING true",
        client_id, key_id, key_hash(key),
    )
    return key if done else None


async def revoke_client(conn: asyncpg.Connection, client_id: str) -> bool:
    return bool(await conn.fetchval(
        "UPDATE clients SET revoked_at = now() WHERE client_id = $1 AND revoked_at IS NULL RETURNING true", client_id
    ))


async def list_clients(conn: asyncpg.Connection) -> list[Client]:
    rows = await conn.fetch("SELECT client_id, kind, scopes, created_at, revoked_at FROM clients ORDER BY client_id")
    return [_client(r) for r in rows]


class ClientDirectory:
    """Looks callers up by API key or client id, with a short cache (a revocation
    takes effect within `ttl` seconds). Unknown keys are cached too, so guessing
    keys does not reach the database on every try."""

    def __init__(self, pool: asyncpg.Pool, ttl: float = 5.0) -> None:
        self.pool = pool
        self.ttl = ttl
        self._by_key_id: dict[str, tuple[float, tuple[Client, bytes] | None]] = {}
        self._by_id: dict[str, tuple[float, Client | None]] = {}

    async def authenticate(self, presented: str) -> Client | None:
        """The active client holding this key, or None."""
        key_id = key_id_of(presented)
        if key_id is None:
            return None
        now = time.monotonic()
        hit = self._by_key_id.get(key_id)
        if hit is None or hit[0] < now:
            row = await self.pool.fetchrow(
                "SELECT client_id, kind, scopes, created_at, revoked_at, key_hash FROM clients WHERE key_id = $1", key_id
            )
            entry = (_client(row), bytes(row["key_hash"])) if row is not None else None
            self._remember(self._by_key_id, key_id, (now + self.ttl, entry))
            hit = self._by_key_id[key_id]
        entry = hit[1]
        if entry is None or not verify(presented, entry[1]) or not entry[0].active:
            return None
        return entry[0]

    async def by_id(self, client_id: str) -> Client | None:
        now = time.monotonic()
        hit = self._by_id.get(client_id)
        if hit is None or hit[0] < now:
            row = await self.pool.fetchrow(
                "SELECT client_id, kind, scopes, created_at, revoked_at FROM clients WHERE client_id = $1", client_id
            )
            self._remember(self._by_id, client_id, (now + self.ttl, _client(row) if row is not None else None))
            hit = self._by_id[client_id]
        return hit[1]

    @staticmethod
    def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
        if len(cache) > 10_000:  # bounded: guessing keys cannot grow it without limit
            cache.clear()
        cache[key] = value


# -- cases and reports -------------------------------------------------------------------


def merge_digest(category: str, merge_key: str) -> bytes:
    return hashlib.sha256(f"{category}\x00{merge_key}".encode("utf-8")).digest()


def _figures_json(figures: Mapping[str, Decimal]) -> str:
    return json.dumps({k: str(v) for k, v in figures.items()}, sort_keys=True)


def _figures(raw: str | Mapping[str, Any]) -> dict[str, Decimal]:
    data = json.loads(raw) if isinstance(raw, str) else raw
    return {k: Decimal(v) for k, v in data.items()}


_SUSPECT_FIELDS = tuple(f.name for f in fields(Suspect))


def _suspect_json(s: Suspect) -> str:
    return json.dumps({k: v for k in _SUSPECT_FIELDS if (v := getattr(s, k)) is not None}, ensure_ascii=False, sort_keys=True)


def _suspect(raw: str | Mapping[str, Any]) -> Suspect:
    data = json.loads(raw) if isinstance(raw, str) else raw
    return Suspect(**data)


@dataclass(frozen=True)
class StoredReport:
    report_id: str
    case_id: str
    outcome: Literal["opened", "merged"]
    origin: str
    channel: str
    client_id: str
    source_id: str | None
    tracking_no: str | None
    category: str
    county: str
    summary: str
    complainant: dict[str, Any] | None
    received_at: datetime
    reports_count: int  # the case's count now


_REPORT_COLUMNS = """r.report_id, r.case_id, r.outcome, r.origin, r.channel, r.client_id, r.source_id, r.tracking_no,
                     r.category, r.county, r.summary, r.complainant, r.received_at, c.reports_count"""


def _report(row: Mapping[str, Any]) -> StoredReport:
    complainant = row["complainant"]
    return StoredReport(
        row["report_id"], row["case_id"], row["outcome"], row["origin"], row["channel"], row["client_id"],
        row["source_id"], row["tracking_no"], row["category"], row["county"], row["summary"],
        json.loads(complainant) if isinstance(complainant, str) else complainant, row["received_at"], row["reports_count"],
    )


def _case(row: Mapping[str, Any]) -> CaseState:
    return CaseState(
        case_id=row["case_id"], merge_key=row["merge_key"], category=row["category"], county=row["county"],
        counties=tuple(row["counties"]), suspect=_suspect(row["suspect"]), figures=_figures(row["figures"]),
        reports_count=row["reports_count"], opened_at=row["opened_at"], last_report_at=row["last_report_at"],
    )


@dataclass(frozen=True)
class Claim:
    """What `claim_and_lock` found: the earlier report if (client, source id) was seen before,
    else the open case of the suspect's merge slot (None if there is none)."""

    earlier: StoredReport | None
    current: CaseState | None


async def claim_and_lock(conn: asyncpg.Connection, *, client_id: str, source_id: str | None, report_id: str,
                         category: str, merge_key: str) -> Claim:
    """In one round trip: claim (client, source id) for a new report, lock the merge slot of
    (category, merge key) — creating it if new — and lock and read the case it points at.

    The locks are held to the end of the transaction, so reports about one suspect serialise here
    (as do concurrent re-submissions of one source id). ``FOR UPDATE`` on the case returns its
    newest committed version even when this statement waited for the slot behind a transaction
    that changed the case; a case *created* by that transaction is invisible to this statement's
    snapshot and is read by a second query."""
    row = await conn.fetchrow(
        """
        WITH claim AS (
            INSERT INTO submissions (client_id, source_id, report_id)
            SELECT $4, $5, $6 WHERE $5::text IS NOT NULL
            ON CONFLICT DO NOTHING
            RETURNING true AS claimed
        ), slot AS (
            INSERT INTO merge_slots (merge_digest, category, merge_key) VALUES ($1, $2, $3)
            ON CONFLICT (merge_digest) DO UPDATE SET case_id = merge_slots.case_id
            RETURNING case_id
        )
        SELECT (SELECT claimed FROM claim) AS claimed, slot.case_id AS slot_case_id, c.*
        FROM slot LEFT JOIN LATERAL (SELECT * FROM cases WHERE cases.case_id = slot.case_id FOR UPDATE) c ON true
        """,
        merge_digest(category, merge_key), category, merge_key, client_id, source_id, report_id,
    )
    assert row is not None
    if source_id is not None and not row["claimed"]:
        earlier = await conn.fetchrow(
            f"SELECT {_REPORT_COLUMNS} FROM submissions s JOIN reports r USING (report_id)"
            " JOIN cases c ON c.case_id = r.case_id WHERE s.client_id = $1 AND s.source_id = $2",
            client_id, source_id,
        )
        if earlier is None:  # claimed earlier in this very transaction and not yet written: a bug, not input
            raise RuntimeError("submission claimed without a report")
        return Claim(_report(earlier), None)
    slot_case_id = row["slot_case_id"]
    if slot_case_id is None:
        return Claim(None, None)
    if row["case_id"] is not None:
        return Claim(None, _case(row))
    fresh = await conn.fetchrow("SELECT * FROM cases WHERE case_id = $1 FOR UPDATE", slot_case_id)
    return Claim(None, _case(fresh) if fresh is not None else None)


async def load_case(conn: asyncpg.Connection | asyncpg.Pool, case_id: str) -> CaseState | None:
    row = await conn.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)
    return _case(row) if row is not None else None


@dataclass(frozen=True)
class ReportRow:
    """A report as stored (personal data sealed, or absent)."""

    report_id: str
    case_id: str
    outcome: str
    origin: str
    channel: str
    client_id: str
    source_id: str | None
    tracking_no: str | None
    category: str
    county: str
    suspect: Suspect
    figures: Mapping[str, Decimal]
    summary: str
    complainant: dict[str, Any] | None
    occurred_on: Any
    observed_at: datetime | None
    evidence_urls: Sequence[str]
    received_at: datetime

    def params(self) -> list[Any]:
        return [
            self.report_id, self.case_id, self.outcome, self.origin, self.channel, self.client_id, self.source_id,
            self.tracking_no, self.category, self.county, _suspect_json(self.suspect), _figures_json(self.figures),
            self.summary, json.dumps(self.complainant, ensure_ascii=False) if self.complainant is not None else None,
            self.occurred_on, self.observed_at, list(self.evidence_urls), self.received_at,
        ]


_INSERT_REPORT = """
    INSERT INTO reports (report_id, case_id, outcome, origin, channel, client_id, source_id, tracking_no, category,
                         county, suspect, figures, summary, complainant, occurred_on, observed_at, evidence_urls, received_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13, $14::jsonb, $15, $16, $17, $18)
"""


def _case_params(case: CaseState) -> list[Any]:
    return [case.case_id, case.merge_key, case.category, case.county, list(case.counties), _suspect_json(case.suspect),
            _figures_json(case.figures), case.reports_count, case.opened_at, case.last_report_at]


async def save_opened(conn: asyncpg.Connection, case: CaseState, report: ReportRow) -> None:
    """The new case, the slot pointing at it, and the report that opened it: one statement."""
    await conn.execute(
        f"""
        WITH new_case AS (
            INSERT INTO cases (case_id, merge_key, category, county, counties, suspect, figures, reports_count,
                               opened_at, last_report_at)
            VALUES ($19, $20, $21, $22, $23, $24::jsonb, $25::jsonb, $26, $27, $28)
        ), slot AS (
            UPDATE merge_slots SET case_id = $19 WHERE merge_digest = $29
        )
        {_INSERT_REPORT}
        """,
        *report.params(), *_case_params(case), merge_digest(case.category, case.merge_key),
    )


async def save_merged(conn: asyncpg.Connection, case: CaseState, report: ReportRow) -> None:
    """The case's new totals and the report that joined it: one statement."""
    await conn.execute(
        f"""
        WITH merged AS (
            UPDATE cases SET counties = $20, suspect = $21::jsonb, figures = $22::jsonb, reports_count = $23,
                             last_report_at = $24
            WHERE case_id = $19
        )
        {_INSERT_REPORT}
        """,
        *report.params(), case.case_id, list(case.counties), _suspect_json(case.suspect), _figures_json(case.figures),
        case.reports_count, case.last_report_at,
    )


async def report_by_tracking_no(conn: asyncpg.Connection | asyncpg.Pool, tracking_no: str) -> StoredReport | None:
    row = await conn.fetchrow(
        f"SELECT {_REPORT_COLUMNS} FROM reports r JOIN cases c ON c.case_id = r.case_id WHERE r.tracking_no = $1", tracking_no
    )
    return _report(row) if row is not None else None


# -- idempotency keys --------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    status: int
    body: str  # the JSON text first sent


def render_json(body: Any) -> str:
    """JSON text exactly as the HTTP layer sends it (so a replay is byte-identical)."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class IdempotencyConflict(Exception):
    """The key was used before with another request."""


async def claim_idempotency_key(conn: asyncpg.Connection, client_id: str, key: str, fingerprint: bytes) -> Replay | None:
    """Claim the key for this request (None), or the stored response of the same earlier request.

    Raises `IdempotencyConflict` when the key was used with a different request. A concurrent
    request with the same key waits here until the first commits."""
    claimed = await conn.fetchval(
        "INSERT INTO idempotency_keys (client_id, idem_key, fingerprint) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        client_id, key, fingerprint,
    )
    if claimed:
        return None
    row = await conn.fetchrow(
        "SELECT fingerprint, status, response FROM idempotency_keys WHERE client_id = $1 AND idem_key = $2", client_id, key
    )
    if row is None or bytes(row["fingerprint"]) != fingerprint or row["status"] is None:
        raise IdempotencyConflict(key)
    return Replay(row["status"], row["response"])


async def store_idempotent_response(conn: asyncpg.Connection, client_id: str, key: str, status: int, body: str) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, response = $4 WHERE client_id = $1 AND idem_key = $2",
        client_id, key, status, body,
    )


async def prune_idempotency_keys(conn: asyncpg.Connection | asyncpg.Pool, older_than_seconds: float) -> int:
    status = await conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)", float(older_than_seconds)
    )
    return int(status.split()[-1])
