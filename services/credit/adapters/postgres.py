"""Repositories over the credit schema (all SQL of the service lives here).

Every function takes the connection of the caller's transaction. Rows that a
decision changes are locked (`FOR UPDATE`) first, so two decisions about the
same entity serialise on its row.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

import asyncpg

from services.credit.domain.model import Bureau, ListingFacts, RecordFacts


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def _decoded(row: asyncpg.Record | None, *columns: str) -> dict[str, Any] | None:
    """A row as a dict with its jsonb `columns` decoded (the pool has no jsonb codec: the shared
    runtime opens it, and decoding only where a column is read costs nothing elsewhere)."""
    if row is None:
        return None
    out = dict(row)
    for c in columns:
        if isinstance(out.get(c), str):
            out[c] = json.loads(out[c])
    return out


# -- clients -------------------------------------------------------------------------

@dataclass(frozen=True)
class Client:
    client_id: str
    role: str
    name: str
    bureau_type: str | None = None
    division: str | None = None

    @property
    def bureau(self) -> Bureau | None:
        if self.role != "bureau" or not self.bureau_type or not self.division:
            return None
        return Bureau(self.client_id, self.bureau_type, self.division)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_client(conn: asyncpg.Connection, *, client_id: str, role: str, name: str, secret: str,
                        bureau_type: str | None = None, division: str | None = None) -> None:
    await conn.execute(
        """
        INSERT INTO clients (client_id, role, bureau_type, division, name, key_hash) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (client_id) DO UPDATE SET role = EXCLUDED.role, bureau_type = EXCLUDED.bureau_type,
            division = EXCLUDED.division, name = EXCLUDED.name, key_hash = EXCLUDED.key_hash, disabled_at = NULL
        """,
        client_id, role, bureau_type, division, name, hash_secret(secret),
    )


async def get_client(conn: asyncpg.Connection, client_id: str) -> tuple[Client, str] | None:
    row = await conn.fetchrow(
        "SELECT client_id, role, name, bureau_type, division, key_hash FROM clients WHERE client_id = $1 AND disabled_at IS NULL",
        client_id,
    )
    if row is None:
        return None
    return Client(row["client_id"], row["role"], row["name"], row["bureau_type"], row["division"]), row["key_hash"]


def secret_matches(secret: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), key_hash)


# -- entities ------------------------------------------------------------------------

@dataclass(frozen=True)
class EntityRow:
    entity_id: str
    credit_code: str | None
    kind: str
    name: str

    @property
    def key(self) -> str:
        return self.credit_code or self.entity_id


def _entity(row: asyncpg.Record) -> EntityRow:
    return EntityRow(row["entity_id"], row["credit_code"], row["kind"], row["name"])


_ENTITY_COLS = "entity_id, credit_code, kind, name"


async def entity_by_code(conn: asyncpg.Connection, code: str, *, lock: bool = False) -> EntityRow | None:
    row = await conn.fetchrow(f"SELECT {_ENTITY_COLS} FROM entities WHERE credit_code = $1" + (" FOR UPDATE" if lock else ""), code)
    return _entity(row) if row else None


async def entity_by_person(conn: asyncpg.Connection, person_hash: str) -> EntityRow | None:
    row = await conn.fetchrow(f"SELECT {_ENTITY_COLS} FROM entities WHERE person_hash = $1 FOR UPDATE", person_hash)
    return _entity(row) if row else None


async def lock_name(conn: asyncpg.Connection, name_key: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"credit-entity-name:{name_key}")


async def codeless_entity_by_name(conn: asyncpg.Connection, name_key: str, kind: str) -> EntityRow | None:
    row = await conn.fetchrow(
        f"SELECT {_ENTITY_COLS} FROM entities WHERE credit_code IS NULL AND name_key = $1 AND kind = $2"
        " ORDER BY first_seen_at, entity_id LIMIT 1 FOR UPDATE",
        name_key, kind,
    )
    return _entity(row) if row else None


async def insert_entity(conn: asyncpg.Connection, *, entity_id: str, credit_code: str | None, kind: str, name: str,
                        name_key: str, now: dt.datetime, person_hash: str | None = None,
                        person_sealed: dict[str, Any] | None = None, person_masked: str | None = None,
                        source: str) -> EntityRow:
    await conn.execute(
        """
        INSERT INTO entities (entity_id, credit_code, kind, name, name_key, person_hash, person_sealed, person_masked,
                              first_seen_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
        """,
        entity_id, credit_code, kind, name, name_key, person_hash, person_sealed, person_masked, now,
    )
    await conn.execute(
        "INSERT INTO entity_names (entity_id, name, name_kind, valid_from, source) VALUES ($1, $2, 'registered', $3, $4)",
        entity_id, name, now, source,
    )
    return EntityRow(entity_id, credit_code, kind, name)


async def set_entity_code(conn: asyncpg.Connection, entity_id: str, code: str, now: dt.datetime) -> None:
    await conn.execute(
        "UPDATE entities SET credit_code = $2, updated_at = $3, changed_at = clock_timestamp(), version = version + 1"
        " WHERE entity_id = $1",
        entity_id, code, now,
    )


async def rename_entity(conn: asyncpg.Connection, entity: EntityRow, new_name: str, name_key: str, now: dt.datetime,
                        source: str) -> None:
    """The registered name changed: the old one becomes a former name (name history)."""
    await conn.execute(
        "UPDATE entity_names SET name_kind = 'former', valid_to = $2 WHERE entity_id = $1 AND name_kind = 'registered'",
        entity.entity_id, now,
    )
    await conn.execute(
        "INSERT INTO entity_names (entity_id, name, name_kind, valid_from, source) VALUES ($1, $2, 'registered', $3, $4)",
        entity.entity_id, new_name, now, source,
    )
    await conn.execute(
        "UPDATE entities SET name = $2, name_key = $3, updated_at = $4, changed_at = clock_timestamp(), version = version + 1"
        " WHERE entity_id = $1",
        entity.entity_id, new_name, name_key, now,
    )


async def add_alias(conn: asyncpg.Connection, entity_id: str, alias: str, now: dt.datetime, source: str) -> bool:
    exists = await conn.fetchval("SELECT 1 FROM entity_names WHERE entity_id = $1 AND name = $2", entity_id, alias)
    if exists:
        return False
    await conn.execute(
        "INSERT INTO entity_names (entity_id, name, name_kind, valid_from, source) VALUES ($1, $2, 'alias', $3, $4)",
        entity_id, alias, now, source,
    )
    await conn.execute("UPDATE entities SET changed_at = clock_timestamp(), version = version + 1 WHERE entity_id = $1", entity_id)
    return True


async def entity_names(conn: asyncpg.Connection, entity_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT name, name_kind, valid_from, valid_to FROM entity_names WHERE entity_id = $1 ORDER BY valid_from, id", entity_id
    )


async def change_horizon(conn: asyncpg.Connection) -> dt.datetime:
    """A time before which every row not yet visible was written: now, or the start of the
    oldest transaction still open (a row it writes gets a later `changed_at`)."""
    return await conn.fetchval(
        """
        SELECT least(clock_timestamp(), coalesce(min(xact_start), clock_timestamp()))
        FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
        """
    )


async def changed_entity_versions(conn: asyncpg.Connection, since: dt.datetime | None) -> list[asyncpg.Record]:
    """(entity id, version, changed_at) of the entities changed at or after `since` (all when None)."""
    return await conn.fetch(
        "SELECT entity_id, version, changed_at FROM entities WHERE $1::timestamptz IS NULL OR changed_at >= $1",
        since,
    )


async def entities_with_names(conn: asyncpg.Connection, entity_ids: Sequence[str]) -> list[asyncpg.Record]:
    """The entities with all their names, for the name index."""
    return await conn.fetch(
        """
        SELECT e.entity_id, e.credit_code, e.kind, e.version,
               array_agg(n.name ORDER BY n.id) AS names, array_agg(n.name_kind ORDER BY n.id) AS kinds
        FROM entities e JOIN entity_names n USING (entity_id)
        WHERE e.entity_id = ANY($1::text[])
        GROUP BY e.entity_id
        """,
        list(entity_ids),
    )


# -- records -------------------------------------------------------------------------

async def record_by_decision_no(conn: asyncpg.Connection, decision_no: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM records WHERE decision_no = $1 FOR UPDATE", decision_no)


async def record_by_id(conn: asyncpg.Connection, record_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    return _decoded(await conn.fetchrow("SELECT * FROM records WHERE record_id = $1" + (" FOR UPDATE" if lock else ""),
                                        record_id), "party")


async def insert_record(conn: asyncpg.Connection, values: dict[str, Any]) -> None:
    cols = list(values)
    await conn.execute(
        f"INSERT INTO records ({', '.join(cols)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(cols)))})",
        *values.values(),
    )


def facts(row: asyncpg.Record) -> RecordFacts:
    label = row["decision_no"].removeprefix("referral:")
    return RecordFacts(row["record_id"], row["kind"], row["category"], row["decided_on"], row["heavy"], row["intentional"],
                       row["status"], row["bureau"], label)


async def entity_record_facts(conn: asyncpg.Connection, entity_id: str) -> list[RecordFacts]:
    rows = await conn.fetch(
        "SELECT record_id, kind, category, decided_on, heavy, intentional, status, bureau, decision_no"
        " FROM records WHERE entity_id = $1 ORDER BY decided_on, record_id",
        entity_id,
    )
    return [facts(r) for r in rows]


async def end_record(conn: asyncpg.Connection, record_id: str, status: str, reason: str, now: dt.datetime) -> bool:
    """active → expired | repaired | revoked; False when it was no longer active."""
    done = await conn.fetchval(
        """
        UPDATE records SET status = $2, ended_at = $4, end_reason = $3, changed_at = clock_timestamp(), version = version + 1
        WHERE record_id = $1 AND status = 'active' RETURNING true
        """,
        record_id, status, reason, now,
    )
    return bool(done)


async def mark_disclosed(conn: asyncpg.Connection, record_id: str, now: dt.datetime) -> bool:
    done = await conn.fetchval(
        "UPDATE records SET disclosed_at = $2, changed_at = clock_timestamp(), version = version + 1"
        " WHERE record_id = $1 AND disclosed_at IS NULL AND status = 'active' RETURNING true",
        record_id, now,
    )
    return bool(done)


# -- listings ------------------------------------------------------------------------

async def entity_listings(conn: asyncpg.Connection, entity_id: str) -> list[ListingFacts]:
    rows = await conn.fetch(
        """
        SELECT l.listing_id, l.rule_id, l.status, l.listed_at,
               coalesce(array_agg(t.record_id) FILTER (WHERE t.record_id IS NOT NULL), '{}') AS triggering
        FROM listings l LEFT JOIN listing_triggers t USING (listing_id)
        WHERE l.entity_id = $1 GROUP BY l.listing_id ORDER BY l.listed_at
        """,
        entity_id,
    )
    return [ListingFacts(r["listing_id"], r["rule_id"], r["status"], r["listed_at"], tuple(r["triggering"])) for r in rows]


async def insert_listing(conn: asyncpg.Connection, values: dict[str, Any], triggers: Sequence[str]) -> None:
    cols = list(values)
    await conn.execute(
        f"INSERT INTO listings ({', '.join(cols)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(cols)))})",
        *values.values(),
    )
    await conn.execute(
        "INSERT INTO listing_triggers (listing_id, record_id, rule_id) SELECT $1, r, $3 FROM unnest($2::text[]) AS r",
        values["listing_id"], list(triggers), values["rule_id"],
    )


async def listing_by_id(conn: asyncpg.Connection, listing_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM listings WHERE listing_id = $1" + (" FOR UPDATE" if lock else ""), listing_id)


async def delist(conn: asyncpg.Connection, listing_id: str, reason: str, now: dt.datetime, application_id: str | None = None) -> bool:
    done = await conn.fetchval(
        """
        UPDATE listings SET status = 'delisted', delisted_at = $3, delist_reason = $2, application_id = $4,
               changed_at = clock_timestamp(), version = version + 1
        WHERE listing_id = $1 AND status = 'listed' RETURNING true
        """,
        listing_id, reason, now, application_id,
    )
    return bool(done)


async def active_listings_with_record(conn: asyncpg.Connection, record_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT l.* FROM listings l JOIN listing_triggers t USING (listing_id)
        WHERE t.record_id = $1 AND l.status = 'listed' FOR UPDATE OF l
        """,
        record_id,
    )


# -- applications ------------------------------------------------------------------

async def insert_application(conn: asyncpg.Connection, values: dict[str, Any]) -> None:
    values = {k: _json_text(v) if k in ("applicant", "declaration") else v for k, v in values.items()}
    cols = list(values)
    await conn.execute(
        f"INSERT INTO applications ({', '.join(cols)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(cols)))})",
        *values.values(),
    )


async def pending_application(conn: asyncpg.Connection, kind: str, target_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM applications WHERE kind = $1 AND target_id = $2 AND status = 'pending'", kind, target_id)


async def application_by_id(conn: asyncpg.Connection, application_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    return _decoded(await conn.fetchrow(
        "SELECT * FROM applications WHERE application_id = $1" + (" FOR UPDATE" if lock else ""), application_id
    ), "applicant", "declaration")


async def decide_application(conn: asyncpg.Connection, application_id: str, status: str, by: str, reason: str,
                             now: dt.datetime) -> None:
    await conn.execute(
        "UPDATE applications SET status = $2, decided_at = $5, decided_by = $3, decision_reason = $4 WHERE application_id = $1",
        application_id, status, by, reason, now,
    )


# -- queries -------------------------------------------------------------------------

async def entity_by_key(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT entity_id, credit_code, kind, name, first_seen_at, updated_at FROM entities WHERE credit_code = $1 OR entity_id = $1"
        " LIMIT 1",
        key,
    )


async def active_records(conn: asyncpg.Connection, entity_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT record_id, kind, decision_no, bureau, category, penalty_types, fine_amount, confiscated_amount, decided_on,
               heavy, heavy_rules, severity, disclosure_due_on, disclosed_at, publicity_min_on, publicity_max_on, case_id
        FROM records WHERE entity_id = $1 AND status = 'active' ORDER BY decided_on DESC, record_id
        """,
        entity_id,
    )


async def active_listings(conn: asyncpg.Connection, entity_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT listing_id, rule_id, rule_version, citation, reason, authority, listed_at, expires_on, early_removal,
               early_removal_on, measures
        FROM listings WHERE entity_id = $1 AND status = 'listed' ORDER BY listed_at
        """,
        entity_id,
    )


async def status_by_codes(conn: asyncpg.Connection, codes: Sequence[str]) -> list[asyncpg.Record]:
    """One row per known code: the entity, its active listing rules and whether it has an active (heavy) record."""
    return await conn.fetch(
        """
        WITH e AS MATERIALIZED (SELECT e.entity_id, e.credit_code, e.name
                                FROM unnest($1::text[]) AS c(code) JOIN entities e ON e.credit_code = c.code),
        l AS (SELECT entity_id, array_agg(rule_id ORDER BY listed_at) AS rules, min(expires_on) AS until
              FROM listings WHERE status = 'listed' AND entity_id IN (SELECT entity_id FROM e) GROUP BY entity_id),
        r AS (SELECT entity_id, bool_or(heavy) AS heavy
              FROM records WHERE status = 'active' AND entity_id IN (SELECT entity_id FROM e) GROUP BY entity_id)
        SELECT e.credit_code, e.entity_id, e.name, coalesce(l.rules, '{}') AS listing_rules, l.until AS listed_until,
               r.entity_id IS NOT NULL AS has_records, coalesce(r.heavy, false) AS has_heavy
        FROM e LEFT JOIN l USING (entity_id) LEFT JOIN r USING (entity_id)
        """,
        list(codes),
    )


async def status_by_entity_ids(conn: asyncpg.Connection, entity_ids: Sequence[str]) -> dict[str, tuple[list[str], bool, bool]]:
    rows = await conn.fetch(
        """
        WITH l AS (SELECT entity_id, array_agg(rule_id) AS rules FROM listings
                   WHERE status = 'listed' AND entity_id = ANY($1::text[]) GROUP BY entity_id),
        r AS (SELECT entity_id, bool_or(heavy) AS heavy FROM records
              WHERE status = 'active' AND entity_id = ANY($1::text[]) GROUP BY entity_id)
        SELECT e AS entity_id, coalesce(l.rules, '{}') AS rules, r.entity_id IS NOT NULL AS has_records,
               coalesce(r.heavy, false) AS has_heavy
        FROM unnest($1::text[]) AS e LEFT JOIN l ON l.entity_id = e LEFT JOIN r ON r.entity_id = e
        """,
        list(entity_ids),
    )
    return {r["entity_id"]: (list(r["rules"]), r["has_records"], r["has_heavy"]) for r in rows}


async def feed_penalties(conn: asyncpg.Connection, after: tuple[dt.datetime, str] | None, limit: int) -> list[dict[str, Any]]:
    return [_decoded(r, "party") for r in await conn.fetch(
        """
        SELECT record_id, decision_no, party, violation, legal_basis, penalty_types, content, fine_amount, confiscated_amount,
               decided_on, bureau, publicity_max_on, disclosed_at
        FROM records
        WHERE disclosed_at IS NOT NULL AND status = 'active' AND kind = 'penalty'
          AND ($1::timestamptz IS NULL OR (disclosed_at, record_id) > ($1, $2))
        ORDER BY disclosed_at, record_id LIMIT $3
        """,
        after[0] if after else None, after[1] if after else "", limit,
    )]


async def feed_listings(conn: asyncpg.Connection, after: tuple[dt.datetime, str] | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT l.listing_id, l.rule_id, l.reason, l.authority, l.listed_at, l.expires_on, e.name, e.credit_code, e.kind
        FROM listings l JOIN entities e USING (entity_id)
        WHERE l.status = 'listed' AND ($1::timestamptz IS NULL OR (l.listed_at, l.listing_id) > ($1, $2))
        ORDER BY l.listed_at, l.listing_id LIMIT $3
        """,
        after[0] if after else None, after[1] if after else "", limit,
    )


async def export_changes(conn: asyncpg.Connection, since: dt.datetime, limit: int) -> list[dict[str, Any]]:
    """Penalty records and listings changed at or after `since` (for the platform export)."""
    return [_decoded(r, "party") for r in await conn.fetch(
        """
        SELECT * FROM (
            SELECT 'penalty' AS item, r.record_id AS id, r.version, r.changed_at, r.status, r.end_reason AS status_reason,
                   r.disclosed_at IS NOT NULL AS published, r.decision_no, r.party, r.violation, r.legal_basis,
                   r.penalty_types, r.content, r.fine_amount, r.confiscated_amount, r.decided_on, r.bureau,
                   r.publicity_max_on, r.disclosed_at, NULL::text AS rule_id, NULL::text AS reason,
                   NULL::timestamptz AS listed_at, NULL::date AS expires_on
            FROM records r WHERE r.kind = 'penalty' AND r.disclosed_at IS NOT NULL AND r.changed_at >= $1
            UNION ALL
            SELECT 'listing', l.listing_id, l.version, l.changed_at, l.status, l.delist_reason,
                   true, NULL, jsonb_build_object('kind', e.kind, 'credit_code', e.credit_code, 'name', e.name),
                   NULL, NULL, NULL, NULL, NULL, NULL, NULL, l.authority, NULL, NULL, l.rule_id, l.reason, l.listed_at,
                   l.expires_on
            FROM listings l JOIN entities e USING (entity_id) WHERE l.changed_at >= $1
        ) x ORDER BY changed_at, id LIMIT $2
        """,
        since, limit,
    )]


# -- scheduler -----------------------------------------------------------------------

async def due_for_disclosure(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT r.record_id, r.decision_no, r.entity_id, e.credit_code, r.disclosure_due_at, r.disclosure_due_on
        FROM records r JOIN entities e USING (entity_id)
        WHERE r.disclose AND r.disclosed_at IS NULL AND r.status = 'active'
        ORDER BY r.disclosure_due_at LIMIT $1 FOR UPDATE OF r SKIP LOCKED
        """,
        limit,
    )


async def due_for_expiry(conn: asyncpg.Connection, now: dt.datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT r.record_id, r.entity_id, e.credit_code, r.publicity_max_on, r.decision_no
        FROM records r JOIN entities e USING (entity_id)
        WHERE r.status = 'active' AND r.publicity_max_until < $1
        ORDER BY r.publicity_max_until LIMIT $2 FOR UPDATE OF r SKIP LOCKED
        """,
        now, limit,
    )


async def listings_due_to_end(conn: asyncpg.Connection, now: dt.datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT l.listing_id, l.entity_id, e.credit_code, l.rule_id
        FROM listings l JOIN entities e USING (entity_id)
        WHERE l.status = 'listed' AND l.expires_at < $1
        ORDER BY l.expires_at LIMIT $2 FOR UPDATE OF l SKIP LOCKED
        """,
        now, limit,
    )


async def gauge_figures(conn: asyncpg.Connection, now: dt.datetime) -> dict[str, Any]:
    records = await conn.fetch(
        "SELECT kind, severity, count(*) AS n FROM records WHERE status = 'active' GROUP BY kind, severity"
    )
    disclosures = await conn.fetchrow(
        """
        SELECT count(*) FILTER (WHERE disclosure_due_at >= $1) AS due,
               count(*) FILTER (WHERE disclosure_due_at < $1) AS overdue
        FROM records WHERE disclose AND disclosed_at IS NULL AND status = 'active'
        """,
        now,
    )
    listed = await conn.fetchval("SELECT count(DISTINCT entity_id) FROM listings WHERE status = 'listed'")
    listings = await conn.fetch("SELECT rule_id, count(*) AS n FROM listings WHERE status = 'listed' GROUP BY rule_id")
    applications = await conn.fetch("SELECT kind, status, count(*) AS n FROM applications GROUP BY kind, status")
    return {
        "records": [(r["kind"], r["severity"], r["n"]) for r in records],
        "disclosures_due": disclosures["due"],
        "disclosures_overdue": disclosures["overdue"],
        "blacklisted_entities": listed,
        "listings": [(r["rule_id"], r["n"]) for r in listings],
        "applications": [(r["kind"], r["status"], r["n"]) for r in applications],
    }


# -- set-based: a whole consumer batch of decisions in a constant number of statements -------

def _json_text(value: Any) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return format(v, "f")
        if isinstance(v, (dt.datetime, dt.date)):
            return v.isoformat()
        if isinstance(v, (tuple, set, frozenset)):
            return list(v)
        raise TypeError(f"cannot store {type(v).__name__}")

    return json.dumps(value, default=plain, ensure_ascii=False, separators=(",", ":"))


async def insert_rows(conn: asyncpg.Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Many rows of `table` in one statement (``jsonb_populate_recordset``): every row names the
    same columns; the columns no row names take their defaults."""
    if not rows:
        return
    if table not in {"records", "listings", "entities"}:
        raise ValueError(f"insert_rows: {table}")
    cols = ", ".join(rows[0])
    await conn.execute(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM jsonb_populate_recordset(NULL::{table}, $1::text::jsonb)",
        _json_text(list(rows)),
    )


async def lock_keys(conn: asyncpg.Connection, keys: Sequence[str]) -> None:
    """Transaction advisory locks on `keys`, taken in key order (two batches cannot deadlock)."""
    if keys:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(k)) FROM (SELECT DISTINCT unnest($1::text[]) AS k ORDER BY 1) s",
                           list(keys))


async def records_by_decision_nos(conn: asyncpg.Connection, decision_nos: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM records WHERE decision_no = ANY($1::text[]) ORDER BY decision_no FOR UPDATE", list(decision_nos)
    )


async def entities_matching(conn: asyncpg.Connection, *, codes: Sequence[str], person_hashes: Sequence[str],
                            name_keys: Sequence[str], entity_ids: Sequence[str]) -> list[asyncpg.Record]:
    """Every entity a batch may resolve a party to (by code, by person, codeless by name, by id),
    locked in entity-id order."""
    return await conn.fetch(
        """
        SELECT entity_id, credit_code, kind, name, name_key, person_hash, first_seen_at FROM entities
        WHERE credit_code = ANY($1::text[]) OR person_hash = ANY($2::text[])
           OR (credit_code IS NULL AND name_key = ANY($3::text[])) OR entity_id = ANY($4::text[])
        ORDER BY entity_id FOR UPDATE
        """,
        list(codes), list(person_hashes), list(name_keys), list(entity_ids),
    )


async def record_facts_of(conn: asyncpg.Connection, entity_ids: Sequence[str]) -> list[tuple[str, RecordFacts]]:
    rows = await conn.fetch(
        "SELECT entity_id, record_id, kind, category, decided_on, heavy, intentional, status, bureau, decision_no"
        " FROM records WHERE entity_id = ANY($1::text[]) ORDER BY decided_on, record_id",
        list(entity_ids),
    )
    return [(r["entity_id"], facts(r)) for r in rows]


async def listings_of(conn: asyncpg.Connection, entity_ids: Sequence[str]) -> list[tuple[str, ListingFacts]]:
    rows = await conn.fetch(
        """
        SELECT l.entity_id, l.listing_id, l.rule_id, l.status, l.listed_at,
               coalesce(array_agg(t.record_id) FILTER (WHERE t.record_id IS NOT NULL), '{}') AS triggering
        FROM listings l LEFT JOIN listing_triggers t USING (listing_id)
        WHERE l.entity_id = ANY($1::text[]) GROUP BY l.listing_id ORDER BY l.listed_at, l.listing_id
        """,
        list(entity_ids),
    )
    return [(r["entity_id"], ListingFacts(r["listing_id"], r["rule_id"], r["status"], r["listed_at"], tuple(r["triggering"])))
            for r in rows]


@dataclass
class EntityChange:
    """What a batch changed on one existing (or new) entity: a code taken, renames in order."""

    entity_id: str
    credit_code: str | None = None
    name: str | None = None
    name_key: str | None = None
    updated_at: dt.datetime | None = None
    bumps: int = 0


async def insert_entity_names(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, str, dt.datetime, dt.datetime | None, str]]) -> None:
    """(entity_id, name, name_kind, valid_from, valid_to, source) rows, in order."""
    if rows:
        await conn.execute(
            "INSERT INTO entity_names (entity_id, name, name_kind, valid_from, valid_to, source)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[])",
            *(list(col) for col in zip(*rows)),
        )


async def retire_registered_names(conn: asyncpg.Connection, retired: Sequence[tuple[str, dt.datetime]]) -> None:
    """The registered name of each (entity, when) becomes a former name from `when` (a rename)."""
    if retired:
        await conn.execute(
            "UPDATE entity_names n SET name_kind = 'former', valid_to = u.at FROM unnest($1::text[], $2::timestamptz[]) AS u(e, at)"
            " WHERE n.entity_id = u.e AND n.name_kind = 'registered'",
            [e for e, _ in retired], [at for _, at in retired],
        )


async def apply_entity_changes(conn: asyncpg.Connection, changes: Sequence[EntityChange]) -> None:
    if changes:
        await conn.execute(
            """
            UPDATE entities e SET credit_code = coalesce(u.code, e.credit_code), name = coalesce(u.name, e.name),
                   name_key = coalesce(u.name_key, e.name_key), updated_at = u.at, changed_at = clock_timestamp(),
                   version = e.version + u.bumps
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[]) AS u(id, code, name, name_key, at, bumps)
            WHERE e.entity_id = u.id
            """,
            [c.entity_id for c in changes], [c.credit_code for c in changes], [c.name for c in changes],
            [c.name_key for c in changes], [c.updated_at for c in changes], [c.bumps for c in changes],
        )


async def insert_listing_triggers(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, str]]) -> None:
    """(listing_id, record_id, rule_id) rows."""
    if rows:
        await conn.execute(
            "INSERT INTO listing_triggers (listing_id, record_id, rule_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])",
            *(list(col) for col in zip(*rows)),
        )


async def revoke_records(conn: asyncpg.Connection, rows: Sequence[tuple[str, dt.datetime, str]]) -> None:
    """(record_id, when, reason): the records are revoked."""
    if rows:
        await conn.execute(
            "UPDATE records r SET status = 'revoked', ended_at = u.at, end_reason = u.reason, changed_at = clock_timestamp(),"
            " version = r.version + 1 FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS u(id, at, reason)"
            " WHERE r.record_id = u.id",
            *(list(col) for col in zip(*rows)),
        )


async def delist_many(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, dt.datetime, str | None]]) -> None:
    """(listing_id, reason, when, application_id): listings already known to be listed end."""
    if rows:
        await conn.execute(
            "UPDATE listings l SET status = 'delisted', delisted_at = u.at, delist_reason = u.reason, application_id = u.app,"
            " changed_at = clock_timestamp(), version = l.version + 1"
            " FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) AS u(id, reason, at, app)"
            " WHERE l.listing_id = u.id AND l.status = 'listed'",
            *(list(col) for col in zip(*rows)),
        )
