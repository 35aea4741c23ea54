"""Custody's SQL: lots with their hand-overs, destruction plans, the cost report. Every function
runs on the caller's connection (inside its transaction for writes)."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import asyncpg

from services.custody.domain.lots import Decision, DestructionPlan, Handover, Item, Lot, StoredFile


def _items_json(items: tuple[Item, ...]) -> str:
    return json.dumps([{"description": i.description, "quantity": str(i.quantity), "unit": i.unit,
                        "declared_value": str(i.declared_value)} for i in items], ensure_ascii=False)


async def lock_lots(conn: asyncpg.Connection, lot_ids: list[str]) -> dict[str, Lot]:
    """The lots with their hand-overs, locked in id order (two writers never deadlock)."""
    rows = await conn.fetch("SELECT * FROM lots WHERE lot_id = ANY($1::text[]) ORDER BY lot_id FOR UPDATE", lot_ids)
    hand = await conn.fetch("SELECT * FROM handovers WHERE lot_id = ANY($1::text[]) ORDER BY lot_id, seq", lot_ids)
    by_lot = _handovers(hand)
    return {r["lot_id"]: _lot(r, by_lot.get(r["lot_id"], [])) for r in rows}


async def read_lot(conn: asyncpg.Connection, lot_id: str) -> Lot | None:
    row = await conn.fetchrow("SELECT * FROM lots WHERE lot_id = $1", lot_id)
    if row is None:
        return None
    hand = await conn.fetch("SELECT * FROM handovers WHERE lot_id = $1 ORDER BY seq", lot_id)
    return _lot(row, [Handover(h["seq"], h["from_party"], h["to_party"], h["purpose"], h["handed_at"], h["handed_by"],
                               h["received_at"], h["received_by"]) for h in hand])


def _handovers(rows: list[asyncpg.Record]) -> dict[str, list[Handover]]:
    by_lot: dict[str, list[Handover]] = {}
    for h in rows:
        by_lot.setdefault(h["lot_id"], []).append(Handover(
            h["seq"], h["from_party"], h["to_party"], h["purpose"], h["handed_at"], h["handed_by"],
            h["received_at"], h["received_by"]))
    return by_lot


def _lot(r: asyncpg.Record, handovers: list[Handover]) -> Lot:
    items = tuple(Item(i["description"], Decimal(i["quantity"]), i["unit"], Decimal(i["declared_value"]))
                  for i in json.loads(r["items"]))
    d = json.loads(r["decision"]) if r["decision"] else None
    decision = Decision(d["outcome"], d["document_no"], dt.date.fromisoformat(d["decided_on"]), d["decided_by"]) if d else None
    return Lot(r["lot_id"], r["case_id"], r["bureau"], r["hazard"], items, r["location"], r["holder"], r["state"],
               r["registered_at"], tuple(handovers), decision, r["disposed_outcome"], r["disposed_at"], r["plan_id"])


async def insert_lot(conn: asyncpg.Connection, lot: Lot) -> bool:
    """False when a lot with this id exists already."""
    done = await conn.execute(
        "INSERT INTO lots (lot_id, case_id, bureau, hazard, items, declared_value, location, holder, state, registered_at)"
        " VALUES ($1,$2,$3,$4,$5::jsonb,$6,$7,$8,$9,$10) ON CONFLICT (lot_id) DO NOTHING",
        lot.lot_id, lot.case_id, lot.bureau, lot.hazard, _items_json(lot.items), lot.declared_value, lot.location,
        lot.holder, lot.state, lot.registered_at)
    return done.endswith(" 1")


async def save_lots(conn: asyncpg.Connection, lots: list[Lot]) -> None:
    """Write the lots' state and their hand-overs: two statements for any number of lots."""
    if not lots:
        return
    await conn.execute(
        "UPDATE lots l SET holder = u.holder, state = u.state, decision = u.decision::jsonb,"
        " disposed_outcome = u.outcome, disposed_at = u.at, plan_id = u.plan"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[])"
        " AS u(lot_id, holder, state, decision, outcome, at, plan) WHERE l.lot_id = u.lot_id",
        [l.lot_id for l in lots], [l.holder for l in lots], [l.state for l in lots],
        [json.dumps({"outcome": l.decision.outcome, "document_no": l.decision.document_no,
                     "decided_on": l.decision.decided_on.isoformat(), "decided_by": l.decision.decided_by},
                    ensure_ascii=False) if l.decision else None for l in lots],
        [l.disposed_outcome for l in lots], [l.disposed_at for l in lots], [l.plan_id for l in lots])
    hs = [(l.lot_id, h) for l in lots for h in l.handovers]
    if hs:
        await conn.execute(
            "INSERT INTO handovers (lot_id, seq, from_party, to_party, purpose, handed_at, handed_by, received_at, received_by)"
            " SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],"
            " $7::text[], $8::timestamptz[], $9::text[])"
            " ON CONFLICT (lot_id, seq) DO UPDATE SET received_at = EXCLUDED.received_at, received_by = EXCLUDED.received_by",
            [x for x, _ in hs], [h.seq for _, h in hs], [h.from_party for _, h in hs], [h.to_party for _, h in hs],
            [h.purpose for _, h in hs], [h.handed_at for _, h in hs], [h.handed_by for _, h in hs],
            [h.received_at for _, h in hs], [h.received_by for _, h in hs])


async def insert_plan(conn: asyncpg.Connection, plan: DestructionPlan, at: dt.datetime) -> None:
    await conn.execute(
        "INSERT INTO destruction_plans (plan_id, bureau, lot_ids, scheduled_on, facility, witnesses, state, created_at)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        plan.plan_id, plan.bureau, list(plan.lot_ids), plan.scheduled_on, plan.facility, list(plan.witnesses),
        plan.state, at)


async def lock_plan(conn: asyncpg.Connection, plan_id: str) -> DestructionPlan | None:
    r = await conn.fetchrow("SELECT * FROM destruction_plans WHERE plan_id = $1 FOR UPDATE", plan_id)
    return _plan(r) if r else None


async def read_plan(conn: asyncpg.Connection, plan_id: str) -> DestructionPlan | None:
    r = await conn.fetchrow("SELECT * FROM destruction_plans WHERE plan_id = $1", plan_id)
    return _plan(r) if r else None


def _plan(r: asyncpg.Record) -> DestructionPlan:
    return DestructionPlan(r["plan_id"], r["bureau"], tuple(r["lot_ids"]), r["scheduled_on"], r["facility"],
                           tuple(r["witnesses"]), r["state"], r["approved_by"], r["environmental_cost"],
                           tuple(r["record_photos"]))


async def save_plan(conn: asyncpg.Connection, plan: DestructionPlan, at: dt.datetime) -> None:
    await conn.execute(
        "UPDATE destruction_plans SET state = $2, approved_by = $3, environmental_cost = $4, record_photos = $5,"
        " done_at = CASE WHEN $2 = 'done' THEN $6 ELSE done_at END WHERE plan_id = $1",
        plan.plan_id, plan.state, plan.approved_by, plan.environmental_cost, list(plan.record_photos), at)


async def read_lots_of_case(conn: asyncpg.Connection, case_id: str) -> list[Lot]:
    """A case's lots with their hand-overs, in id order: two queries whatever their number, nothing locked."""
    rows = await conn.fetch("SELECT * FROM lots WHERE case_id = $1 ORDER BY lot_id", case_id)
    hand = await conn.fetch("SELECT h.* FROM handovers h JOIN lots l ON l.lot_id = h.lot_id WHERE l.case_id = $1"
                            " ORDER BY h.lot_id, h.seq", case_id)
    by_lot = _handovers(hand)
    return [_lot(r, by_lot.get(r["lot_id"], [])) for r in rows]


async def lots_of_case(conn: asyncpg.Connection, case_id: str) -> list[str]:
    return [r["lot_id"] for r in await conn.fetch("SELECT lot_id FROM lots WHERE case_id = $1 ORDER BY lot_id", case_id)]


async def costs_by_bureau(conn: asyncpg.Connection, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """Per bureau: lots registered, their declared value, lots destroyed and the destruction plans' cost."""
    rows = await conn.fetch(
        "WITH reg AS (SELECT bureau, count(*) AS lots, sum(declared_value) AS value FROM lots"
        "             WHERE registered_at >= $1 AND registered_at < $2 GROUP BY bureau),"
        "     des AS (SELECT bureau, sum(cardinality(lot_ids)) AS destroyed, sum(environmental_cost) AS cost"
        "             FROM destruction_plans WHERE state = 'done' AND done_at >= $1 AND done_at < $2 GROUP BY bureau)"
        " SELECT coalesce(reg.bureau, des.bureau) AS bureau, coalesce(reg.lots, 0) AS lots,"
        "        coalesce(reg.value, 0) AS declared_value, coalesce(des.destroyed, 0) AS destroyed,"
        "        coalesce(des.cost, 0) AS destruction_cost"
        " FROM reg FULL JOIN des ON des.bureau = reg.bureau ORDER BY 1", since, until)
    return [dict(r) for r in rows]


async def lots_kept_during(conn: asyncpg.Connection, since: dt.datetime, until: dt.datetime) -> list[Lot]:
    """The lots registered before `until` and not disposed of before `since`, with their hand-overs
    (two round trips, whatever their number): those custody may have kept in the period."""
    rows = await conn.fetch(
        "SELECT * FROM lots WHERE registered_at < $2 AND (disposed_at IS NULL OR disposed_at >= $1) ORDER BY lot_id",
        since, until)
    ids = [r["lot_id"] for r in rows]
    hand = await conn.fetch("SELECT * FROM handovers WHERE lot_id = ANY($1::text[]) ORDER BY lot_id, seq", ids)
    by_lot = _handovers(hand)
    return [_lot(r, by_lot.get(r["lot_id"], [])) for r in rows]


async def record_police_cases(conn: asyncpg.Connection, rows: list[tuple[str, str, str, dt.datetime]]) -> None:
    """Cases the police opened (the first opening counts; a repeat changes nothing)."""
    await conn.execute(
        "INSERT INTO police_cases (case_id, referral_id, police, accepted_at)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) ON CONFLICT (case_id) DO NOTHING",
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])


async def police_case(conn: asyncpg.Connection, case_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM police_cases WHERE case_id = $1", case_id)


async def lots_of_cases(conn: asyncpg.Connection, case_ids: list[str]) -> list[Lot]:
    """The lots of the cases, locked in id order with their hand-overs."""
    ids = [r["lot_id"] for r in await conn.fetch(
        "SELECT lot_id FROM lots WHERE case_id = ANY($1::text[]) ORDER BY lot_id", case_ids)]
    found = await lock_lots(conn, ids)
    return [found[i] for i in ids if i in found]


FILE_COLUMNS = "owner, sha256, kind, content_type, size_bytes, removed, added_by, added_at"


async def insert_file(conn: asyncpg.Connection, f: StoredFile) -> tuple[bool, StoredFile]:
    """The file of its owner: True and `f` when new, else False and the record first kept."""
    row = await conn.fetchrow(
        f"INSERT INTO files ({FILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        f"ON CONFLICT (owner, sha256) DO NOTHING RETURNING {FILE_COLUMNS}",
        f.owner, f.sha256, f.kind, f.content_type, f.size_bytes, list(f.removed), f.added_by, f.added_at)
    if row is not None:
        return True, f
    first = await conn.fetchrow(f"SELECT {FILE_COLUMNS} FROM files WHERE owner = $1 AND sha256 = $2", f.owner, f.sha256)
    return False, _file(first)


async def files_of(conn: asyncpg.Connection | asyncpg.Pool, owner: str) -> list[StoredFile]:
    rows = await conn.fetch(f"SELECT {FILE_COLUMNS} FROM files WHERE owner = $1 ORDER BY added_at, sha256", owner)
    return [_file(r) for r in rows]


def _file(r: asyncpg.Record) -> StoredFile:
    return StoredFile(r["owner"], r["sha256"], r["kind"], r["content_type"], r["size_bytes"], tuple(r["removed"]),
                      r["added_by"], r["added_at"])
