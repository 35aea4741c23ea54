"""Inspection's SQL: pool versions, plans with their tasks, the public feed. Every function runs on
the caller's connection (inside its transaction for writes)."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg

from services.inspection.domain.draw import Commitment, Enterprise, Inspector
from services.inspection.domain.tasks import Task


async def add_pool_version(conn: asyncpg.Connection, *, pool_id: str, bureau: str, kind: str, canonical: str,
                           digest: str, size: int, at: dt.datetime, by: str) -> int:
    """The pool's next version (serialised on the pool by an advisory lock of the transaction)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", pool_id)
    version = await conn.fetchval("SELECT coalesce(max(version), 0) + 1 FROM pools WHERE pool_id = $1", pool_id)
    await conn.execute(
        "INSERT INTO pools (pool_id, version, bureau, kind, entries, digest, size, created_at, created_by)"
        " VALUES ($1,$2,$3,$4,$5::jsonb,$6,$7,$8,$9)", pool_id, version, bureau, kind, canonical, digest, size, at, by)
    return int(version)


async def pool(conn: asyncpg.Connection | asyncpg.Pool, pool_id: str, version: int | None = None) -> asyncpg.Record | None:
    """A pool version (the latest without `version`)."""
    if version is None:
        return await conn.fetchrow("SELECT * FROM pools WHERE pool_id = $1 ORDER BY version DESC LIMIT 1", pool_id)
    return await conn.fetchrow("SELECT * FROM pools WHERE pool_id = $1 AND version = $2", pool_id, version)


def enterprises(row: asyncpg.Record) -> list[Enterprise]:
    return [Enterprise(e["credit_code"], e["name"], e["county"], e["category"], e["risk"],
                       Commitment(**e["commitment"]) if e["commitment"] else None) for e in json.loads(row["entries"])]


def inspectors(row: asyncpg.Record) -> list[Inspector]:
    return [Inspector(i["inspector_id"], i["name"], tuple(i["conflicts"])) for i in json.loads(row["entries"])]


async def insert_plan(conn: asyncpg.Connection, plan: dict[str, Any], tasks: list[Task]) -> None:
    await conn.execute(
        "INSERT INTO plans (plan_id, bureau, title, scope, sample_size, sample_rate, inspectors_per_target, seed,"
        " enterprise_pool, enterprise_version, inspector_pool, inspector_version, eligible, drawn_at, created_by)"
        " VALUES ($1,$2,$3,$4::jsonb,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
        plan["plan_id"], plan["bureau"], plan["title"], json.dumps(plan["scope"], ensure_ascii=False),
        plan["sample_size"], plan["sample_rate"], plan["inspectors_per_target"], plan["seed"],
        plan["enterprise_pool"], plan["enterprise_version"], plan["inspector_pool"], plan["inspector_version"],
        plan["eligible"], plan["drawn_at"], plan["created_by"])
    await conn.execute(
        "INSERT INTO tasks (plan_id, seq, credit_code, name, county, category, inspectors, state)"
        " SELECT $1, s, c, n, co, ca, string_to_array(i, ' '), 'assigned'"
        " FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(s, c, n, co, ca, i)",
        plan["plan_id"], list(range(1, len(tasks) + 1)), [t.credit_code for t in tasks], [t.name for t in tasks],
        [t.county for t in tasks], [t.category for t in tasks], [" ".join(t.inspectors) for t in tasks])


async def plan(conn: asyncpg.Connection | asyncpg.Pool, plan_id: str) -> dict[str, Any] | None:
    r = await conn.fetchrow("SELECT * FROM plans WHERE plan_id = $1", plan_id)
    if r is None:
        return None
    out = dict(r)
    out["scope"] = json.loads(out["scope"])
    return out


def _task(r: asyncpg.Record) -> Task:
    return Task(r["plan_id"], r["bureau"], r["credit_code"], r["name"], r["county"], r["category"],
                tuple(r["inspectors"]), r["state"], r["result"], r["findings"], tuple(r["inspected_by"]),
                r["recorded_at"], r["published_at"], r["revision"])


async def tasks(conn: asyncpg.Connection | asyncpg.Pool, plan_id: str, *, lock: bool = False,
                credit_code: str | None = None) -> list[Task]:
    rows = await conn.fetch(
        "SELECT t.*, p.bureau FROM tasks t JOIN plans p USING (plan_id) WHERE t.plan_id = $1"
        " AND ($2::text IS NULL OR t.credit_code = $2) ORDER BY t.seq" + (" FOR UPDATE OF t" if lock else ""),
        plan_id, credit_code)
    return [_task(r) for r in rows]


async def save_tasks(conn: asyncpg.Connection, found: list[Task]) -> None:
    await conn.execute(
        "UPDATE tasks t SET state = u.state, result = u.result, findings = u.findings,"
        " inspected_by = string_to_array(u.by, ' '), recorded_at = u.rec, published_at = u.pub, revision = u.rev"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],"
        " $8::timestamptz[], $9::int[]) AS u(plan_id, code, state, result, findings, by, rec, pub, rev)"
        " WHERE t.plan_id = u.plan_id AND t.credit_code = u.code",
        [t.plan_id for t in found], [t.credit_code for t in found], [t.state for t in found],
        [t.result for t in found], [t.findings for t in found], [" ".join(t.inspected_by) for t in found],
        [t.recorded_at for t in found], [t.published_at for t in found], [t.revision for t in found])


async def published(conn: asyncpg.Connection | asyncpg.Pool, *, bureau: str | None, credit_code: str | None,
                    limit: int, offset: int) -> list[dict[str, Any]]:
    """The public feed: published results, newest first."""
    rows = await conn.fetch(
        "SELECT t.plan_id, p.bureau, p.title, t.credit_code, t.name, t.county, t.category, t.result, t.findings,"
        " t.published_at FROM tasks t JOIN plans p USING (plan_id) WHERE t.state = 'published'"
        " AND ($1::text IS NULL OR p.bureau = $1) AND ($2::text IS NULL OR t.credit_code = $2)"
        " ORDER BY t.published_at DESC, t.plan_id, t.seq LIMIT $3 OFFSET $4", bureau, credit_code, limit, offset)
    return [dict(r) for r in rows]


async def report(conn: asyncpg.Connection | asyncpg.Pool, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """Per bureau, of the plans drawn in [since, until): plans, targets, results by kind, results
    published, and publication deadlines breached — the assessment report's inspection section."""
    rows = await conn.fetch(
        "SELECT p.bureau, count(DISTINCT p.plan_id) AS plans, count(t.credit_code) AS targets,"
        "  count(*) FILTER (WHERE t.state <> 'assigned') AS inspected,"
        "  count(*) FILTER (WHERE t.result = 'no_problem') AS no_problem,"
        "  count(*) FILTER (WHERE t.result = 'problems_found') AS problems_found,"
        "  count(*) FILTER (WHERE t.result = 'referred_to_case') AS referred_to_case,"
        "  count(*) FILTER (WHERE t.state = 'published') AS published,"
        "  (SELECT count(*) FROM deadlines d JOIN plans q ON q.plan_id = d.subject"
        "    WHERE q.bureau = p.bureau AND d.breached_sent AND q.drawn_at >= $1 AND q.drawn_at < $2) AS publication_breached"
        " FROM plans p JOIN tasks t USING (plan_id) WHERE p.drawn_at >= $1 AND p.drawn_at < $2"
        " GROUP BY p.bureau ORDER BY p.bureau", since, until)
    return [dict(r) for r in rows]


async def save_registrations(conn: asyncpg.Connection, found: list[Any]) -> None:
    """Credit's registrations (`EntityRegistered`), the higher version winning."""
    if not found:
        return
    await conn.execute(
        "INSERT INTO registry (credit_code, kind, name, county, categories, status, version, changed_at)"
        " SELECT c, k, n, co, string_to_array(ca, ' '), s, v, t"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::timestamptz[])"
        "   AS u(c, k, n, co, ca, s, v, t)"
        " ON CONFLICT (credit_code) DO UPDATE SET kind = excluded.kind, name = excluded.name, county = excluded.county,"
        " categories = excluded.categories, status = excluded.status, version = excluded.version,"
        " changed_at = excluded.changed_at WHERE registry.version < excluded.version",
        [e.credit_code for e in found], [e.kind for e in found], [e.name for e in found], [e.county for e in found],
        [" ".join(e.categories) for e in found], [e.status for e in found], [e.version for e in found],
        [e.changed_at for e in found])


async def registered(conn: asyncpg.Connection, *, county: str | None, category: str | None) -> list[asyncpg.Record]:
    """The registry's registered enterprises in a county (any, without one) and of a category (any)."""
    return await conn.fetch(
        "SELECT credit_code, name, county, categories FROM registry WHERE status = 'registered'"
        " AND ($1::text IS NULL OR county = $1) AND ($2::text IS NULL OR $2 = ANY(categories)) ORDER BY credit_code",
        county, category)


async def registry_names(conn: asyncpg.Connection | asyncpg.Pool, codes: list[str]) -> dict[str, str]:
    rows = await conn.fetch("SELECT credit_code, name FROM registry WHERE credit_code = ANY($1::text[])", codes)
    return {r["credit_code"]: r["name"] for r in rows}
