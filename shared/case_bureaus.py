"""Which bureau a case belongs to, as a service that is not routing learns it (issue 15): routing's
``case.assigned`` events (first assignment, transfer, escalation — on ``case.routing`` and its
priority lane) folded into the service's own ``case_bureaus`` table, effectively once through the
shared runtime's inbox. Custody and appraisal refuse a command on a case they have not seen
assigned (404 ``unknown_case``) or one assigned to another bureau (403 ``not_the_case_bureau``),
each naming ``case_id``.

Why events and not a call to routing's HTTP API: no service calls another on a command's path
(routing down would stop every registration), the caller's own key cannot be forwarded, and the
table is kept by the same inbox/outbox runtime as every other consumer. The price is a short lag:
a case assigned a moment ago may not be known yet — the refusal says so, and the caller retries.

The table: ``case_bureaus(case_id, bureau, co_bureaus, assignment_no, assigned_at)``; each
service creates it in its own schema by its own migration (the DDL is `DDL` below). The highest
assignment number wins, so a replayed or reordered event never moves a case back. One statement
per consumer batch.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import asyncpg

from shared.contracts.routing import CaseAssigned
from shared.refusals import NotFound, Refused
from shared.runtime.routes import Binding, TopicRoute
from shared.runtime.uow import Message, UnitOfWork
from shared.topics import CASE_ROUTING, TopicSpec, both_lanes, lane_spec

#: the table's DDL, for each service's migration file (kept equal by tests/unit/test_case_bureaus_ddl.py)
DDL = """CREATE TABLE case_bureaus (
    case_id       text PRIMARY KEY,
    bureau        text NOT NULL,
    co_bureaus    text[] NOT NULL DEFAULT '{}',
    assignment_no integer NOT NULL,
    assigned_at   timestamptz NOT NULL
);
"""


def topic_specs(name: str) -> list[TopicSpec]:
    """Routing's case topic under `name` and its priority lane: routing's topics, which a consumer of
    them makes sure exist so that it can subscribe."""
    spec = replace(CASE_ROUTING, name=name)
    return [spec, lane_spec(spec)]


def routes(topic: str) -> list[TopicRoute]:
    """The routes of `topic` and its priority lane: ``case.assigned`` → ``case_bureaus``."""

    async def batch(messages: Sequence[Message[Any]], uow: UnitOfWork) -> dict[int, Exception]:
        latest: dict[str, CaseAssigned] = {}
        for m in messages:
            e: CaseAssigned = m.data
            if e.case_id not in latest or e.assignment_no > latest[e.case_id].assignment_no:
                latest[e.case_id] = e
        await save(uow.conn, list(latest.values()))
        return {}

    return [TopicRoute(topic=t, on_unknown="ignore", batch=batch,
                       bindings={CaseAssigned.EVENT_TYPE: Binding(CaseAssigned)}) for t in both_lanes(topic)]


async def save(conn: asyncpg.Connection, assigned: Sequence[CaseAssigned]) -> None:
    if not assigned:
        return
    await conn.execute(
        "INSERT INTO case_bureaus (case_id, bureau, co_bureaus, assignment_no, assigned_at) "
        "SELECT c, b, coalesce(string_to_array(nullif(co, ''), ' '), '{}'), n, t "
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[]) AS x(c, b, co, n, t) "
        "ON CONFLICT (case_id) DO UPDATE SET bureau = excluded.bureau, co_bureaus = excluded.co_bureaus, "
        "  assignment_no = excluded.assignment_no, assigned_at = excluded.assigned_at "
        "WHERE case_bureaus.assignment_no < excluded.assignment_no",
        [e.case_id for e in assigned], [e.bureau for e in assigned], [" ".join(e.co_bureaus) for e in assigned],
        [e.assignment_no for e in assigned], [e.assigned_at for e in assigned])


async def bureau_of(conn: asyncpg.Connection | asyncpg.Pool, case_id: str) -> tuple[str, tuple[str, ...]] | None:
    row = await conn.fetchrow("SELECT bureau, co_bureaus FROM case_bureaus WHERE case_id = $1", case_id)
    return None if row is None else (row["bureau"], tuple(row["co_bureaus"]))


async def check(conn: asyncpg.Connection, case_id: str, party: str, *, is_office: bool = False) -> str:
    """The case's lead bureau, when `party` may act on it: its lead bureau, a co-operating bureau or
    the office. Otherwise `NotFound` (404, never assigned as far as this service has seen) or
    `Refused` (403, another bureau's case), each naming ``case_id``."""
    found = await bureau_of(conn, case_id)
    if found is None:
        raise NotFound("case", case_id, field="case_id", reason="unknown_case")
    lead, co = found
    if not is_office and party != lead and party not in co:
        raise Refused("case_id", "not_the_case_bureau", f"case {case_id} is assigned to another bureau", forbidden=True)
    return lead
