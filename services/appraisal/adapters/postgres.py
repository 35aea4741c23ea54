"""Appraisal's SQL: requests with their result, the turnaround report. Every function runs on the
caller's connection (inside its transaction for writes)."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import asyncpg

from services.appraisal.domain.appraisals import Appraisal, Report, Result


def _result_json(r: Result | None) -> str | None:
    if r is None:
        return None
    return json.dumps({"verdict": r.verdict, "valuation": None if r.valuation is None else str(r.valuation),
                       "report": {"doc_no": r.report.doc_no, "title": r.report.title, "uri": r.report.uri,
                                  "sha256": r.report.sha256},
                       "summary": r.summary, "evidential_weight": r.evidential_weight,
                       "reported_at": r.reported_at.isoformat(), "reported_by": r.reported_by}, ensure_ascii=False)


def _appraisal(r: asyncpg.Record) -> Appraisal:
    res = json.loads(r["result"]) if r["result"] else None
    result = None if res is None else Result(
        res["verdict"], None if res["valuation"] is None else Decimal(res["valuation"]), Report(**res["report"]),
        res["summary"], res["evidential_weight"], dt.datetime.fromisoformat(res["reported_at"]), res["reported_by"])
    return Appraisal(r["appraisal_id"], r["case_id"], r["bureau"], r["kind"], r["provider"], r["provider_kind"],
                     r["subject"], r["requested_at"], r["requested_by"], r["state"], r["lot_id"], r["wanted_by"],
                     r["accepted_at"], r["samples_at"], r["closed_at"], r["reason"], result)


async def insert(conn: asyncpg.Connection, a: Appraisal) -> None:
    await conn.execute(
        "INSERT INTO appraisals (appraisal_id, case_id, bureau, kind, provider, provider_kind, subject, lot_id, wanted_by,"
        " state, requested_at, requested_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
        a.appraisal_id, a.case_id, a.bureau, a.kind, a.provider, a.provider_kind, a.subject, a.lot_id, a.wanted_by,
        a.state, a.requested_at, a.requested_by)


async def lock(conn: asyncpg.Connection, appraisal_id: str) -> Appraisal | None:
    r = await conn.fetchrow("SELECT * FROM appraisals WHERE appraisal_id = $1 FOR UPDATE", appraisal_id)
    return _appraisal(r) if r else None


async def read(conn: asyncpg.Connection | asyncpg.Pool, appraisal_id: str) -> Appraisal | None:
    r = await conn.fetchrow("SELECT * FROM appraisals WHERE appraisal_id = $1", appraisal_id)
    return _appraisal(r) if r else None


async def of_case(conn: asyncpg.Connection | asyncpg.Pool, case_id: str) -> list[Appraisal]:
    rows = await conn.fetch("SELECT * FROM appraisals WHERE case_id = $1 ORDER BY requested_at, appraisal_id", case_id)
    return [_appraisal(r) for r in rows]


async def lock_awaiting_samples(conn: asyncpg.Connection, keys: list[tuple[str, str, str]]) -> list[tuple[int, Appraisal]]:
    """For each (case id, provider, lot id), the oldest accepted appraisal of that case by that
    provider, of that lot or of no named lot, locked; returned with the key's index."""
    rows = await conn.fetch(
        "SELECT k.n, a.* FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(case_id, provider, lot_id, n)"
        " CROSS JOIN LATERAL (SELECT * FROM appraisals a WHERE a.case_id = k.case_id AND a.provider = k.provider"
        "  AND a.state = 'accepted' AND (a.lot_id IS NULL OR a.lot_id = k.lot_id)"
        "  ORDER BY a.requested_at, a.appraisal_id LIMIT 1 FOR UPDATE) a ORDER BY k.n",
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])
    return [(r["n"] - 1, _appraisal(r)) for r in rows]


async def save(conn: asyncpg.Connection, a: Appraisal) -> None:
    await conn.execute(
        "UPDATE appraisals SET state = $2, lot_id = $3, accepted_at = $4, samples_at = $5, closed_at = $6, reason = $7,"
        " result = $8::jsonb WHERE appraisal_id = $1",
        a.appraisal_id, a.state, a.lot_id, a.accepted_at, a.samples_at, a.closed_at, a.reason, _result_json(a.result))


async def turnaround(conn: asyncpg.Connection | asyncpg.Pool, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """Per provider kind and appraisal kind, of the requests made in [since, until): how many, how
    many reported / refused / open, the median and longest hours from request to result, and how
    many result deadlines were breached."""
    rows = await conn.fetch(
        "SELECT a.provider_kind, a.kind, count(*) AS requested,"
        "  count(*) FILTER (WHERE a.state = 'reported') AS reported,"
        "  count(*) FILTER (WHERE a.state = 'refused') AS refused,"
        "  count(*) FILTER (WHERE a.state IN ('requested', 'accepted', 'samples_received')) AS open,"
        "  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.closed_at - a.requested_at) / 3600)"
        "    FILTER (WHERE a.state = 'reported') AS median_hours,"
        "  max(extract(epoch FROM a.closed_at - a.requested_at) / 3600) FILTER (WHERE a.state = 'reported') AS max_hours,"
        "  count(d.deadline_id) FILTER (WHERE d.breached_sent) AS result_breached"
        " FROM appraisals a LEFT JOIN deadlines d ON d.subject = a.appraisal_id AND d.kind = 'appraisal_result'"
        " WHERE a.requested_at >= $1 AND a.requested_at < $2 GROUP BY 1, 2 ORDER BY 1, 2", since, until)
    return [{k: (round(float(v), 2) if k.endswith("_hours") and v is not None else v) for k, v in dict(r).items()}
            for r in rows]
