"""Delivery state in Postgres (SQL lives here). Every function takes the
connection of the caller's transaction.

Claiming is ``FOR UPDATE SKIP LOCKED`` with a lease (``in_flight_until``) and a
claim token: several dispatchers can share the table, a crashed one's claims
come back when the lease expires, and an outcome is recorded only by the
holder of the claim (a delivery is recorded as delivered whoever reports it).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

import asyncpg

from services.notify.domain.planning import Complainant, DigestItem, PlannedDelivery
from shared.contracts.cases import Sealed


@dataclass(frozen=True)
class Claimed:
    """A delivery a dispatcher holds (state in_flight, its claim token)."""

    id: int
    message_id: str
    event_id: str
    event_type: str
    event_ids: tuple[str, ...]
    event_time: datetime
    case_id: str | None
    recipient: str
    channel: str
    rank: int
    critical: bool
    endpoint: str
    address: str
    subject: str
    body: str
    attempts: int
    give_up_at: datetime | None
    claim_token: str
    priority: int = 2

    @classmethod
    def from_row(cls, row: Any) -> "Claimed":
        return cls(
            id=row["id"], message_id=row["message_id"], event_id=row["event_id"], event_type=row["event_type"],
            event_ids=tuple(row["event_ids"] or ()), event_time=row["event_time"], case_id=row["case_id"],
            recipient=row["recipient"], channel=row["channel"], rank=row["rank"], critical=row["critical"],
            endpoint=row["endpoint"], address=row["address"], subject=row["subject"], body=row["body"],
            attempts=row["attempts"], give_up_at=row["give_up_at"], claim_token=row["claim_token"],
            priority=row["priority"],
        )


_CLAIMED_COLUMNS = """d.id, d.message_id, d.event_id, d.event_type, d.event_ids, d.event_time, d.case_id, d.recipient,
    d.channel, d.rank, d.critical, d.endpoint, d.address, d.subject, d.body, d.attempts, d.give_up_at, d.claim_token, d.priority"""


# -- planning (inside the consumer's transaction) -------------------------------------------

async def insert_deliveries(conn: asyncpg.Connection, deliveries: Sequence[PlannedDelivery], *, first_delay: float,
                            give_up_seconds: float) -> list[str]:
    """Insert planned deliveries in one statement; an existing (event, recipient, channel) is left alone
    (that unique key is what makes delivery once-only). Returns the event type of each new row."""
    if not deliveries:
        return []
    rows = await conn.fetch(
        """
        INSERT INTO deliveries (message_id, event_id, event_type, event_ids, event_time, case_id, recipient, channel,
                                rank, critical, endpoint, address, subject, body, state, due_at, give_up_at, priority)
        SELECT u.message_id, u.event_id, u.event_type,
               CASE WHEN u.event_ids = '' THEN '{}'::text[] ELSE string_to_array(u.event_ids, E'\\x1f') END,
               u.event_time, u.case_id, u.recipient, u.channel, u.rank, u.critical, u.endpoint, u.address, u.subject,
               u.body, u.state, now() + make_interval(secs => $16),
               CASE WHEN u.state = 'pending' THEN now() + make_interval(secs => $17) END, u.priority
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
                    $8::text[], $9::smallint[], $10::boolean[], $11::text[], $12::text[], $13::text[], $14::text[],
                    $15::text[], $18::smallint[])
             AS u(message_id, event_id, event_type, event_ids, event_time, case_id, recipient, channel, rank, critical,
                  endpoint, address, subject, body, state, priority)
        ON CONFLICT DO NOTHING
        RETURNING event_type
        """,
        [d.message_id for d in deliveries], [d.event_id for d in deliveries], [d.event_type for d in deliveries],
        ["\x1f".join(d.event_ids) for d in deliveries], [d.event_time for d in deliveries],
        [d.case_id for d in deliveries], [d.recipient for d in deliveries], [d.channel for d in deliveries],
        [d.rank for d in deliveries], [d.critical for d in deliveries], [d.endpoint for d in deliveries],
        [d.address for d in deliveries], [d.subject for d in deliveries], [d.body for d in deliveries],
        [d.initial_state for d in deliveries], float(first_delay), float(give_up_seconds),
        [d.priority for d in deliveries],
    )
    return [r["event_type"] for r in rows]


async def insert_digest_items(conn: asyncpg.Connection, items: Sequence[DigestItem]) -> list[str]:
    """Queue notices for their recipient's digest window (the window is aligned to the interval)."""
    if not items:
        return []
    rows = await conn.fetch(
        """
        INSERT INTO digest_items (recipient, event_id, event_type, case_id, event_time, window_start, window_end, item)
        SELECT u.recipient, u.event_id, u.event_type, u.case_id, u.event_time,
               to_timestamp(floor(extract(epoch FROM now()) / u.secs) * u.secs),
               to_timestamp(floor(extract(epoch FROM now()) / u.secs) * u.secs + u.secs),
               u.item::jsonb
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::float8[], $7::text[])
             AS u(recipient, event_id, event_type, case_id, event_time, secs, item)
        ON CONFLICT DO NOTHING
        RETURNING event_type
        """,
        [i.recipient for i in items], [i.event_id for i in items], [i.event_type for i in items],
        [i.case_id for i in items], [i.event_time for i in items], [float(i.interval_seconds) for i in items],
        [json.dumps(i.item, ensure_ascii=False) for i in items],
    )
    return [r["event_type"] for r in rows]


async def save_complainant(conn: asyncpg.Connection, case_id: str, complainant: Complainant, event_id: str) -> None:
    await conn.execute(
        """
        INSERT INTO complainants (case_id, recipient_id, phone, tracking_no, event_id)
        VALUES ($1, $2, $3::jsonb, $4, $5)
        ON CONFLICT (case_id, recipient_id) DO UPDATE SET tracking_no = coalesce(complainants.tracking_no, EXCLUDED.tracking_no)
        """,
        case_id, complainant.recipient_id, complainant.phone.model_dump_json(), complainant.tracking_no, event_id,
    )


async def save_complainants(conn: asyncpg.Connection, saved: Sequence[tuple[str, Complainant, str]]) -> None:
    """Keep many (case id, complainant, event id) in one statement; the first seen of a (case, complainant)
    wins, a later one only fills a missing tracking number."""
    first: dict[tuple[str, str], list[Any]] = {}
    for case_id, c, event_id in saved:
        row = first.get((case_id, c.recipient_id))
        if row is None:
            first[(case_id, c.recipient_id)] = [case_id, c.recipient_id, c.phone.model_dump_json(), c.tracking_no, event_id]
        elif row[3] is None:
            row[3] = c.tracking_no
    if not first:
        return
    rows = list(first.values())
    await conn.execute(
        """
        INSERT INTO complainants (case_id, recipient_id, phone, tracking_no, event_id)
        SELECT u.case_id, u.recipient_id, u.phone::jsonb, u.tracking_no, u.event_id
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
             AS u(case_id, recipient_id, phone, tracking_no, event_id)
        ON CONFLICT (case_id, recipient_id) DO UPDATE SET tracking_no = coalesce(complainants.tracking_no, EXCLUDED.tracking_no)
        """,
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows], [r[4] for r in rows],
    )


async def correct_complainants(conn: asyncpg.Connection, corrected: Sequence[tuple[str, Complainant]]) -> int:
    """A complainant's corrected phone (case id, the complainant as corrected, by tracking number) replaces
    the one kept for that tracking number, and the texts to them not yet sent (pending, or standby behind
    another channel) take the new number: one statement. The recipient id stays, so a notice is still
    planned once per complainant. Returns how many texts were redirected."""
    latest = {(case_id, c.tracking_no): c for case_id, c in corrected if c.tracking_no}
    if not latest:
        return 0
    keys = sorted(latest)
    return int(await conn.fetchval(
        """
        WITH c AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS c(case_id, tracking_no, phone)),
             kept AS (UPDATE complainants k SET phone = c.phone::jsonb FROM c
                      WHERE k.case_id = c.case_id AND k.tracking_no = c.tracking_no
                      RETURNING k.case_id, k.recipient_id, c.phone),
             moved AS (UPDATE deliveries d SET address = kept.phone FROM kept
                       WHERE d.case_id = kept.case_id AND d.recipient = kept.recipient_id AND d.channel = 'sms'
                         AND d.state IN ('pending', 'standby')
                       RETURNING 1)
        SELECT count(*) FROM moved
        """,
        [k[0] for k in keys], [k[1] for k in keys], [latest[k].phone.model_dump_json() for k in keys]))


async def complainants_of_cases(conn: asyncpg.Connection, case_ids: Sequence[str]) -> dict[str, list[Complainant]]:
    """The complainants kept for each of `case_ids`, in the order they were first seen (one query)."""
    if not case_ids:
        return {}
    rows = await conn.fetch(
        """SELECT case_id, recipient_id, phone::text AS phone, tracking_no FROM complainants
           WHERE case_id = ANY($1::text[]) ORDER BY case_id, created_at, recipient_id""",
        sorted(set(case_ids)),
    )
    out: dict[str, list[Complainant]] = {}
    for r in rows:
        out.setdefault(r["case_id"], []).append(
            Complainant(r["recipient_id"], Sealed.model_validate_json(r["phone"]), r["tracking_no"]))
    return out


async def complainants_of(conn: asyncpg.Connection, case_id: str) -> list[Complainant]:
    rows = await conn.fetch(
        "SELECT recipient_id, phone::text AS phone, tracking_no FROM complainants WHERE case_id = $1 ORDER BY created_at",
        case_id,
    )
    return [Complainant(r["recipient_id"], Sealed.model_validate_json(r["phone"]), r["tracking_no"]) for r in rows]


# -- dispatching ------------------------------------------------------------------------------

async def claim(
    conn: asyncpg.Connection, *, limit: int, per_endpoint: int, excluded: Sequence[str], busy: dict[str, int],
    caps: dict[str, int], lease_seconds: float, token: str, window: int | None = None,
    bulk_limit: int | None = None,
) -> list[Claimed]:
    """Claim up to `limit` due deliveries in one statement, in (priority, due_at, id) order, at most each
    endpoint's free slots (its cap minus `busy`), none for `excluded` endpoints (open circuits, paused or
    saturated). ``FOR UPDATE SKIP LOCKED``: several dispatchers can claim at once.

    Bulk rows (priority 2) never take an endpoint's last free slot (when its cap is above one): a critical
    notice or a complaint's arriving for the same bureau starts at once instead of waiting for one of the
    bulk sends in flight to that endpoint to finish.

    Only the first `window` due rows (by the claim index) are considered, so a claim costs the same however
    long the backlog is; its endpoint is not excluded, so a round claims something unless every slot left
    is one that bulk may not take (then a finishing send wakes the dispatcher).

    At most `bulk_limit` of the claimed rows are bulk (priority 2): the dispatcher passes what is left of
    its in-flight budget once the reserve for priority deliveries is set aside (`priority_reserve`), so a
    bulk backlog can never take the slots a complaint's or a critical notice needs."""
    names = sorted(set(busy) | set(caps))
    rows = await conn.fetch(
        f"""
        WITH candidates AS (
            SELECT id, endpoint, priority, due_at FROM deliveries
            WHERE state = 'pending' AND due_at <= now() AND NOT (endpoint = ANY($3::text[]))
            ORDER BY priority, due_at, id
            LIMIT $9
        ), ranked AS (
            SELECT id, endpoint, priority, due_at,
                   row_number() OVER (PARTITION BY endpoint ORDER BY priority, due_at, id) AS rn
            FROM candidates
        ), slots AS (
            SELECT * FROM unnest($4::text[], $5::int[], $6::int[]) AS s(endpoint, cap, busy)
        ), eligible AS (
            SELECT r.id, r.priority, r.due_at,
                   row_number() OVER (PARTITION BY r.priority >= 2 ORDER BY r.priority, r.due_at, r.id) AS class_rn
            FROM ranked r
            LEFT JOIN slots s ON s.endpoint = r.endpoint
            WHERE r.rn <= coalesce(s.cap, $2) - coalesce(s.busy, 0)
                          - CASE WHEN r.priority >= 2 AND coalesce(s.cap, $2) > 1 THEN 1 ELSE 0 END
        ), picked AS (
            SELECT d.id
            FROM deliveries d
            JOIN eligible e ON e.id = d.id
            WHERE (e.priority < 2 OR e.class_rn <= $10)
              AND d.state = 'pending' AND d.due_at <= now()
            ORDER BY e.priority, e.due_at, e.id
            LIMIT $1
            FOR UPDATE OF d SKIP LOCKED
        )
        UPDATE deliveries d
        SET state = 'in_flight', in_flight_until = now() + make_interval(secs => $7), claim_token = $8, updated_at = now()
        FROM picked
        WHERE d.id = picked.id
        RETURNING {_CLAIMED_COLUMNS}
        """,
        limit, per_endpoint, list(excluded), names, [caps.get(n, per_endpoint) for n in names],
        [busy.get(n, 0) for n in names], float(lease_seconds), token, window or max(4 * limit, 400),
        limit if bulk_limit is None else max(0, bulk_limit),
    )
    return sorted((Claimed.from_row(r) for r in rows), key=lambda c: (c.priority, c.id))


async def claim_expired_waiting(conn: asyncpg.Connection, *, endpoints: Sequence[str], lease_seconds: float,
                                token: str, limit: int = 500) -> list[Claimed]:
    """Claim pending deliveries of the given (unavailable) endpoints whose retry window has passed."""
    if not endpoints:
        return []
    rows = await conn.fetch(
        f"""
        WITH picked AS (
            SELECT id FROM deliveries
            WHERE state = 'pending' AND attempts > 0 AND give_up_at < now() AND endpoint = ANY($1::text[])
            ORDER BY id LIMIT $4
            FOR UPDATE SKIP LOCKED
        )
        UPDATE deliveries d
        SET state = 'in_flight', in_flight_until = now() + make_interval(secs => $2), claim_token = $3, updated_at = now()
        FROM picked WHERE d.id = picked.id
        RETURNING {_CLAIMED_COLUMNS}
        """,
        list(endpoints), float(lease_seconds), token, limit,
    )
    return [Claimed.from_row(r) for r in rows]


async def release(conn: asyncpg.Connection, ids: Iterable[int], token: str) -> None:
    """Give claimed deliveries back untouched (no attempt was made)."""
    await conn.execute(
        """UPDATE deliveries SET state = 'pending', in_flight_until = NULL, claim_token = NULL, updated_at = now()
           WHERE id = ANY($1::bigint[]) AND claim_token = $2 AND state = 'in_flight'""",
        list(ids), token,
    )


async def next_due_in(conn: asyncpg.Connection, excluded: Sequence[str]) -> float | None:
    """Seconds until the next pending delivery is due (negative if overdue), None if there is none."""
    value = await conn.fetchval(
        """SELECT extract(epoch FROM min(due_at) - now()) FROM deliveries
           WHERE state = 'pending' AND NOT (endpoint = ANY($1::text[]))""",
        list(excluded),
    )
    return float(value) if value is not None else None


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    n: int
    started_at: datetime
    result: str
    status: int | None
    detail: str


@dataclass(frozen=True)
class Update:
    """The outcome of one attempt to write on its row (delivered or a retry)."""

    claimed: Claimed
    attempts: int
    result: str
    status: int | None
    endpoint: str
    address: str
    detail: str = ""
    delay: float = 0.0


async def record_attempts(conn: asyncpg.Connection, attempts: Sequence[Attempt]) -> None:
    """Every attempt of a batch of outcomes, in one statement."""
    if not attempts:
        return
    await conn.execute(
        """INSERT INTO delivery_attempts (delivery_id, series, n, started_at, result, status, detail)
           SELECT u.id, d.series, u.n, u.started_at, u.result, u.status, u.detail
           FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::text[], $5::int[], $6::text[])
                AS u(id, n, started_at, result, status, detail)
           JOIN deliveries d ON d.id = u.id
           ON CONFLICT DO NOTHING""",
        [a.delivery_id for a in attempts], [a.n for a in attempts], [a.started_at for a in attempts],
        [a.result for a in attempts], [a.status for a in attempts], [a.detail[:500] for a in attempts],
    )


async def mark_delivered_many(conn: asyncpg.Connection, updates: Sequence[Update]) -> set[int]:
    """Record deliveries in one statement (whoever holds the claim: it happened); returns the ids newly
    recorded (one recorded before is left alone)."""
    if not updates:
        return set()
    rows = await conn.fetch(
        """
        UPDATE deliveries d SET state = 'delivered', attempts = greatest(d.attempts, u.attempts), last_result = u.result,
               last_status = u.status, last_error = NULL, in_flight_until = NULL, claim_token = NULL,
               finished_at = now(), updated_at = now(), endpoint = u.endpoint, address = u.address
        FROM unnest($1::bigint[], $2::int[], $3::text[], $4::int[], $5::text[], $6::text[])
             AS u(id, attempts, result, status, endpoint, address)
        WHERE d.id = u.id AND d.state IN ('pending', 'in_flight')
        RETURNING d.id
        """,
        [u.claimed.id for u in updates], [u.attempts for u in updates], [u.result for u in updates],
        [u.status for u in updates], [u.endpoint for u in updates], [u.address for u in updates],
    )
    return {r["id"] for r in rows}


async def schedule_retries(conn: asyncpg.Connection, updates: Sequence[Update]) -> set[int]:
    """Put deliveries back in the queue after `delay`, in one statement; only the claim holder may.
    Returns the ids rescheduled."""
    if not updates:
        return set()
    rows = await conn.fetch(
        """
        UPDATE deliveries d SET state = 'pending', attempts = u.attempts, due_at = now() + make_interval(secs => u.delay),
               last_result = u.result, last_status = u.status, last_error = u.detail, in_flight_until = NULL,
               claim_token = NULL, updated_at = now(), endpoint = u.endpoint, address = u.address
        FROM unnest($1::bigint[], $2::text[], $3::int[], $4::float8[], $5::text[], $6::int[], $7::text[], $8::text[],
                    $9::text[])
             AS u(id, token, attempts, delay, result, status, detail, endpoint, address)
        WHERE d.id = u.id AND d.claim_token = u.token AND d.state = 'in_flight'
        RETURNING d.id
        """,
        [u.claimed.id for u in updates], [u.claimed.claim_token for u in updates], [u.attempts for u in updates],
        [float(u.delay) for u in updates], [u.result for u in updates], [u.status for u in updates],
        [u.detail[:500] for u in updates], [u.endpoint for u in updates], [u.address for u in updates],
    )
    return {r["id"] for r in rows}


async def record_attempt(conn: asyncpg.Connection, delivery_id: int, n: int, started_at: datetime, result: str,
                         status: int | None, detail: str) -> None:
    await conn.execute(
        """INSERT INTO delivery_attempts (delivery_id, series, n, started_at, result, status, detail)
           SELECT $1, series, $2, $3, $4, $5, $6 FROM deliveries WHERE id = $1 ON CONFLICT DO NOTHING""",
        delivery_id, n, started_at, result, status, detail[:500],
    )


async def mark_delivered(conn: asyncpg.Connection, c: Claimed, *, attempts: int, result: str, status: int | None,
                         endpoint: str, address: str) -> bool:
    """Record the delivery (whoever holds the claim: it happened). False if it was recorded before."""
    row = await conn.fetchval(
        """
        UPDATE deliveries SET state = 'delivered', attempts = greatest(attempts, $2), last_result = $3, last_status = $4,
               last_error = NULL, in_flight_until = NULL, claim_token = NULL, finished_at = now(), updated_at = now(),
               endpoint = $5, address = $6
        WHERE id = $1 AND state IN ('pending', 'in_flight')
        RETURNING true
        """,
        c.id, attempts, result, status, endpoint, address,
    )
    return bool(row)


async def schedule_retry(conn: asyncpg.Connection, c: Claimed, *, attempts: int, delay: float, result: str,
                         status: int | None, detail: str, endpoint: str, address: str) -> bool:
    row = await conn.fetchval(
        """
        UPDATE deliveries SET state = 'pending', attempts = $3, due_at = now() + make_interval(secs => $4),
               last_result = $5, last_status = $6, last_error = $7, in_flight_until = NULL, claim_token = NULL,
               updated_at = now(), endpoint = $8, address = $9
        WHERE id = $1 AND claim_token = $2 AND state = 'in_flight'
        RETURNING true
        """,
        c.id, c.claim_token, attempts, float(delay), result, status, detail[:500], endpoint, address,
    )
    return bool(row)


async def mark_finished(conn: asyncpg.Connection, c: Claimed, *, state: str, attempts: int, result: str,
                        status: int | None, detail: str) -> bool:
    """End a delivery without success (state failed or disabled); only the claim holder may."""
    row = await conn.fetchval(
        """
        UPDATE deliveries SET state = $3, attempts = $4, last_result = $5, last_status = $6, last_error = $7,
               in_flight_until = NULL, claim_token = NULL, finished_at = now(), updated_at = now()
        WHERE id = $1 AND claim_token = $2 AND state = 'in_flight'
        RETURNING true
        """,
        c.id, c.claim_token, state, attempts, result, status, detail[:500],
    )
    return bool(row)


async def activate_fallback(conn: asyncpg.Connection, c: Claimed, *, give_up_seconds: float) -> str | None:
    """Put the recipient's next standby channel for this event in the queue; return its channel."""
    return await conn.fetchval(
        """
        UPDATE deliveries SET state = 'pending', due_at = now(), give_up_at = now() + make_interval(secs => $4),
               updated_at = now()
        WHERE id = (
            SELECT id FROM deliveries
            WHERE event_id = $1 AND recipient = $2 AND state = 'standby' AND rank > $3
            ORDER BY rank LIMIT 1
            FOR UPDATE
        )
        RETURNING channel
        """,
        c.event_id, c.recipient, c.rank, float(give_up_seconds),
    )


async def disable_endpoint(conn: asyncpg.Connection, endpoint: str, channel: str, reason: str) -> None:
    await conn.execute(
        """
        INSERT INTO endpoints (endpoint, channel, disabled_at, disabled_reason) VALUES ($1, $2, now(), $3)
        ON CONFLICT (endpoint) DO UPDATE SET disabled_at = coalesce(endpoints.disabled_at, now()),
               disabled_reason = EXCLUDED.disabled_reason, updated_at = now()
        """,
        endpoint, channel, reason,
    )


async def disabled_endpoints(conn: asyncpg.Connection) -> set[str]:
    return {r["endpoint"] for r in await conn.fetch("SELECT endpoint FROM endpoints WHERE disabled_at IS NOT NULL")}


async def enable_endpoint(conn: asyncpg.Connection, endpoint: str) -> bool:
    return bool(await conn.fetchval(
        """UPDATE endpoints SET disabled_at = NULL, disabled_reason = NULL, updated_at = now()
           WHERE endpoint = $1 AND disabled_at IS NOT NULL RETURNING true""",
        endpoint,
    ))


async def expire_leases(conn: asyncpg.Connection) -> list[str]:
    """Take back in-flight deliveries whose lease ran out (their dispatcher died); return their channels."""
    rows = await conn.fetch(
        """UPDATE deliveries SET state = 'pending', in_flight_until = NULL, claim_token = NULL, updated_at = now()
           WHERE state = 'in_flight' AND in_flight_until < now()
           RETURNING channel"""
    )
    return [r["channel"] for r in rows]


async def backlog(conn: asyncpg.Connection) -> dict[str, tuple[int, float]]:
    rows = await conn.fetch(
        """SELECT channel, count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age
           FROM deliveries WHERE state IN ('pending', 'in_flight') GROUP BY channel"""
    )
    return {r["channel"]: (int(r["n"]), float(r["age"])) for r in rows}


async def digest_items_waiting(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM digest_items WHERE digest_id IS NULL"))


async def prune(conn: asyncpg.Connection, keep_seconds: float) -> int:
    deleted = await conn.fetchval(
        """WITH gone AS (DELETE FROM deliveries WHERE finished_at < now() - make_interval(secs => $1) RETURNING 1)
           SELECT count(*) FROM gone""",
        float(keep_seconds),
    )
    await conn.execute(
        "DELETE FROM digest_items WHERE digest_id IS NOT NULL AND created_at < now() - make_interval(secs => $1)",
        float(keep_seconds),
    )
    return int(deleted or 0)


# -- digests ------------------------------------------------------------------------------------

async def due_digest_windows(conn: asyncpg.Connection, limit: int = 100) -> list[tuple[str, datetime, datetime]]:
    rows = await conn.fetch(
        """SELECT recipient, window_start, max(window_end) AS window_end FROM digest_items
           WHERE digest_id IS NULL AND window_end <= now()
           GROUP BY recipient, window_start ORDER BY window_start LIMIT $1""",
        limit,
    )
    return [(r["recipient"], r["window_start"], r["window_end"]) for r in rows]


async def take_digest_items(conn: asyncpg.Connection, recipient: str, window_start: datetime) -> list[tuple[int, dict[str, Any]]]:
    rows = await conn.fetch(
        """SELECT id, item::text AS item FROM digest_items
           WHERE recipient = $1 AND window_start = $2 AND digest_id IS NULL
           ORDER BY event_time, id
           FOR UPDATE SKIP LOCKED""",
        recipient, window_start,
    )
    return [(r["id"], json.loads(r["item"])) for r in rows]


async def mark_digested(conn: asyncpg.Connection, ids: Sequence[int], digest_id: str) -> None:
    await conn.execute("UPDATE digest_items SET digest_id = $2 WHERE id = ANY($1::bigint[])", list(ids), digest_id)


# -- operators (CLI and the notify:admin HTTP API) -------------------------------------------------

async def list_deliveries(conn: asyncpg.Connection, *, state: str | None, recipient: str | None, limit: int) -> list[Any]:
    return await conn.fetch(
        """SELECT id, message_id, event_type, case_id, recipient, channel, rank, state, attempts, due_at,
                  last_result, last_status, last_error, created_at, finished_at
           FROM deliveries
           WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR recipient = $2)
           ORDER BY id DESC LIMIT $3""",
        state, recipient, limit,
    )


async def requeue(conn: asyncpg.Connection, ref: str, *, give_up_seconds: float) -> int:
    """Put failed or disabled deliveries (by id or message id) back in the queue with a fresh schedule."""
    return int(await conn.fetchval(
        """WITH r AS (
               UPDATE deliveries SET state = 'pending', attempts = 0, series = series + 1, due_at = now(), finished_at = NULL,
                      give_up_at = now() + make_interval(secs => $2), updated_at = now()
               WHERE (message_id = $1 OR id::text = $1) AND state IN ('failed', 'disabled')
               RETURNING 1)
           SELECT count(*) FROM r""",
        ref, float(give_up_seconds),
    ))


async def status_summary(conn: asyncpg.Connection) -> list[Any]:
    return await conn.fetch(
        """SELECT channel, state, count(*) AS n, min(created_at) AS oldest FROM deliveries
           GROUP BY channel, state ORDER BY channel, state"""
    )


async def list_endpoints(conn: asyncpg.Connection) -> list[Any]:
    return await conn.fetch("SELECT endpoint, channel, disabled_at, disabled_reason FROM endpoints ORDER BY endpoint")


async def delivery(conn: asyncpg.Connection, ref: str) -> Any | None:
    """One delivery by id or message id (no content, no address), or None."""
    return await conn.fetchrow(
        """SELECT id, message_id, event_id, event_type, event_ids, case_id, recipient, channel, rank, critical, priority,
                  endpoint, state, attempts, series, due_at, give_up_at, last_result, last_status, last_error,
                  created_at, finished_at
           FROM deliveries WHERE message_id = $1 OR id::text = $1""",
        ref,
    )


async def attempts_of(conn: asyncpg.Connection, delivery_id: int) -> list[Any]:
    return await conn.fetch(
        """SELECT series, n, started_at, finished_at, result, status, detail FROM delivery_attempts
           WHERE delivery_id = $1 ORDER BY series, n""",
        delivery_id,
    )


# -- resending (issue 16 §6): a new attempt series of the same message ------------------------------

#: states a delivery may be resent from: finished ones (a queued or standby one will be sent anyway)
RESENDABLE = ("delivered", "failed", "disabled")
#: states an endpoint's recover puts back in the queue: what did not arrive
RECOVERABLE = ("failed", "disabled")

_NEW_SERIES = """state = 'pending', series = d.series + 1, attempts = 0, due_at = now(), finished_at = NULL,
               give_up_at = now() + make_interval(secs => $2), in_flight_until = NULL, claim_token = NULL,
               updated_at = now()"""


def _ref(ref: str) -> tuple[int | None, str | None]:
    """A delivery reference (digits or msg_…) as (id, message id), so the lookup uses an index."""
    return (int(ref), None) if ref.isdigit() else (None, ref)


async def resend(conn: asyncpg.Connection, ref: str, *, give_up_seconds: float, actor: str) -> Any | None:
    """Resend one delivery (by id or message id) as a new attempt series, if it is finished; records who asked.
    One statement. Returns (id, message_id, state before, series, resent) or None if there is no such delivery."""
    delivery_id, message_id = _ref(ref)
    return await conn.fetchrow(
        f"""
        WITH target AS (
            SELECT id, message_id, state FROM deliveries
            WHERE ($1::bigint IS NOT NULL AND id = $1) OR ($3::text IS NOT NULL AND message_id = $3)
            FOR UPDATE
        ), resent AS (
            UPDATE deliveries d SET {_NEW_SERIES}
            FROM target t WHERE d.id = t.id AND t.state = ANY($4::text[])
            RETURNING d.id, d.series
        ), audited AS (
            INSERT INTO resends (actor, kind, delivery_id, resent)
            SELECT $5, 'message', r.id, 1 FROM resent r
            RETURNING id
        )
        SELECT t.id, t.message_id, t.state AS state_before, r.series, r.id IS NOT NULL AS resent
        FROM target t LEFT JOIN resent r ON r.id = t.id
        """,
        delivery_id, float(give_up_seconds), message_id, list(RESENDABLE), actor,
    )


async def recover(conn: asyncpg.Connection, endpoint: str, since: datetime, *, give_up_seconds: float,
                  actor: str) -> int:
    """Resend, as new attempt series, every delivery to `endpoint` created at or after `since` that did not
    arrive (failed, disabled); records who asked. One statement; returns how many."""
    return int(await conn.fetchval(
        f"""
        WITH resent AS (
            UPDATE deliveries d SET {_NEW_SERIES}
            WHERE d.endpoint = $1 AND d.created_at >= $3 AND d.state = ANY($4::text[])
            RETURNING d.id
        ), audited AS (
            INSERT INTO resends (actor, kind, endpoint, since, resent)
            SELECT $5, 'recover', $1, $3, count(*) FROM resent
            RETURNING resent
        )
        SELECT resent FROM audited
        """,
        endpoint, float(give_up_seconds), since, list(RECOVERABLE), actor,
    ))


async def endpoint_overview(conn: asyncpg.Connection) -> list[Any]:
    """Every endpoint notify has deliveries for or has disabled, with its deliveries by state (one statement)."""
    return await conn.fetch(
        """
        WITH counts AS (
            SELECT endpoint, min(channel) AS channel, count(*) FILTER (WHERE state IN ('pending', 'in_flight')) AS queued,
                   count(*) FILTER (WHERE state = 'delivered') AS delivered,
                   count(*) FILTER (WHERE state IN ('failed', 'disabled')) AS failed,
                   max(created_at) AS last_created_at
            FROM deliveries WHERE state <> 'standby' GROUP BY endpoint
        )
        SELECT coalesce(c.endpoint, e.endpoint) AS endpoint, coalesce(c.channel, e.channel) AS channel,
               e.disabled_at, e.disabled_reason, coalesce(c.queued, 0) AS queued,
               coalesce(c.delivered, 0) AS delivered, coalesce(c.failed, 0) AS failed, c.last_created_at
        FROM counts c FULL JOIN endpoints e ON e.endpoint = c.endpoint
        ORDER BY 1
        """
    )


async def resends_of(conn: asyncpg.Connection, delivery_id: int) -> list[Any]:
    """Who resent this delivery, when (its own resends; recovers are listed per endpoint)."""
    return await conn.fetch(
        "SELECT actor, at FROM resends WHERE delivery_id = $1 AND kind = 'message' ORDER BY id", delivery_id)
