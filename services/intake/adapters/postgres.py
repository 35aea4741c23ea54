"""Intake's SQL: merge slots, cases, reports and submissions (Idempotency-Keys are
shared.idempotency's). Every function takes the connection of the open
transaction (``uow.conn``) or the pool for reads outside one."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Mapping, Sequence

import asyncpg

from services.intake.domain.model import CaseState, Suspect

# -- cases and reports -------------------------------------------------------------------


def merge_digest(category: str, merge_key: str) -> bytes:
    return hashlib.sha256(f"{category}\x00{merge_key}".encode("utf-8")).digest()


#: one encoder for every value written (json.dumps with options builds a new encoder per call)
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def _figures_json(figures: Mapping[str, Decimal]) -> str:
    return _JSON({k: str(v) for k, v in figures.items()})


def _figures(raw: str | Mapping[str, Any]) -> dict[str, Decimal]:
    data = json.loads(raw) if isinstance(raw, str) else raw
    return {k: Decimal(v) for k, v in data.items()}


_SUSPECT_FIELDS = tuple(f.name for f in fields(Suspect))


def _suspect_json(s: Suspect) -> str:
    return _JSON({k: v for k in _SUSPECT_FIELDS if (v := getattr(s, k)) is not None})


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
        priority_lane=row["priority_lane"],
    )


async def claim_submissions(conn: asyncpg.Connection, claims: Sequence[tuple[str, str, str]]) -> set[tuple[str, str]]:
    """Claim every (client id, source id) for its new report id in one statement; returns the pairs
    claimed now (the others were claimed before: re-submissions).

    Pass each pair once, sorted, so that two transactions claiming overlapping sets wait for each
    other in one order and cannot deadlock. A pair being claimed by a concurrent transaction makes
    this statement wait until that one ends."""
    if not claims:
        return set()
    rows = await conn.fetch(
        """
        INSERT INTO submissions (client_id, source_id, report_id)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
        ON CONFLICT DO NOTHING
        RETURNING client_id, source_id
        """,
        [c[0] for c in claims], [c[1] for c in claims], [c[2] for c in claims],
    )
    return {(r["client_id"], r["source_id"]) for r in rows}


async def earlier_reports(conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredReport]:
    """The report first registered under each (client id, source id), in one query. A fresh
    statement, so it sees what a concurrent transaction `claim_submissions` waited for committed."""
    if not keys:
        return {}
    rows = await conn.fetch(
        f"""
        SELECT {_REPORT_COLUMNS}
        FROM unnest($1::text[], $2::text[]) AS k(client_id, source_id)
        JOIN submissions s ON s.client_id = k.client_id AND s.source_id = k.source_id
        JOIN reports r ON r.report_id = s.report_id
        JOIN cases c ON c.case_id = r.case_id
        """,
        [k[0] for k in keys], [k[1] for k in keys],
    )
    return {(r["client_id"], r["source_id"]): _report(r) for r in rows}


async def lock_slots(conn: asyncpg.Connection, slots: Sequence[tuple[bytes, str, str]]) -> dict[bytes, CaseState | None]:
    """Lock the merge slot of every (digest, category, merge key) — creating the new ones — and lock
    and read the case each points at; returns digest → that case (None when the slot has none).

    Pass each digest once, sorted by digest: every transaction then locks slots in one order, so two
    instances registering overlapping suspects cannot deadlock. Usually one round trip: ``FOR UPDATE``
    on a case returns its newest committed version even when the statement waited for the slot behind
    a transaction that changed it; a case *created* by that transaction is invisible to the statement's
    snapshot and is read (and locked) by one more query."""
    if not slots:
        return {}
    rows = await conn.fetch(
        """
        WITH slot AS (
            INSERT INTO merge_slots (merge_digest, category, merge_key)
            SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[])
            ON CONFLICT (merge_digest) DO UPDATE SET case_id = merge_slots.case_id
            RETURNING merge_digest, case_id
        )
        SELECT slot.merge_digest AS slot_digest, slot.case_id AS slot_case_id, c.*
        FROM slot LEFT JOIN LATERAL (SELECT * FROM cases WHERE cases.case_id = slot.case_id FOR UPDATE) c ON true
        """,
        [s[0] for s in slots], [s[1] for s in slots], [s[2] for s in slots],
    )
    found: dict[bytes, CaseState | None] = {}
    unseen: dict[str, bytes] = {}
    for row in rows:
        digest = bytes(row["slot_digest"])
        if row["slot_case_id"] is None:
            found[digest] = None
        elif row["case_id"] is not None:
            found[digest] = _case(row)
        else:
            unseen[row["slot_case_id"]] = digest
    if unseen:
        fresh = await conn.fetch("SELECT * FROM cases WHERE case_id = ANY($1::text[]) ORDER BY case_id FOR UPDATE",
                                 list(unseen))
        by_id = {r["case_id"]: _case(r) for r in fresh}
        for case_id, digest in unseen.items():
            found[digest] = by_id.get(case_id)
    return found


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
    #: the original description, sealed (`shared.contracts.cases.Sealed` as JSON), when the summary is not all of it
    description_sealed: dict[str, Any] | None = None


def _text_array(items: Sequence[str]) -> str:
    """A text[] literal (one element of a text[] parameter cannot itself be an array)."""
    return "{" + ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "}"


def _columns(rows: Sequence[Any], getters: Sequence[Any]) -> list[list[Any]]:
    return [[get(r) for r in rows] for get in getters]


_NEW_CASE = (
    lambda c: c.case_id, lambda c: c.merge_key, lambda c: c.category, lambda c: c.county,
    lambda c: _text_array(c.counties), lambda c: _suspect_json(c.suspect), lambda c: _figures_json(c.figures),
    lambda c: c.reports_count, lambda c: c.opened_at, lambda c: c.last_report_at,
)
_MERGED_CASE = (
    lambda c: c.case_id, lambda c: _text_array(c.counties), lambda c: _suspect_json(c.suspect),
    lambda c: _figures_json(c.figures), lambda c: c.reports_count, lambda c: c.last_report_at,
)
_REPORT = (
    lambda r: r.report_id, lambda r: r.case_id, lambda r: r.outcome, lambda r: r.origin, lambda r: r.channel,
    lambda r: r.client_id, lambda r: r.source_id, lambda r: r.tracking_no, lambda r: r.category, lambda r: r.county,
    lambda r: _suspect_json(r.suspect), lambda r: _figures_json(r.figures), lambda r: r.summary,
    lambda r: _JSON(r.complainant) if r.complainant is not None else None,
    lambda r: r.occurred_on, lambda r: r.observed_at, lambda r: _text_array(r.evidence_urls), lambda r: r.received_at,
    lambda r: _JSON(r.description_sealed) if r.description_sealed is not None else None,
)


async def save_registrations(conn: asyncpg.Connection, *, opened: Sequence[CaseState], merged: Sequence[CaseState],
                             slots: Mapping[bytes, str], reports: Sequence[ReportRow]) -> None:
    """One statement for a whole batch: the cases it opened (with their totals after the batch and their lane), the
    new totals of the open cases it merged into, the slots now pointing at a new case, and every report.
    The slots and cases must be locked already (`lock_slots`)."""
    if not reports:
        return
    await conn.execute(
        """
        WITH opened AS (
            INSERT INTO cases (case_id, merge_key, category, county, counties, suspect, figures, reports_count,
                               opened_at, last_report_at, priority_lane)
            SELECT u.case_id, u.merge_key, u.category, u.county, u.counties::text[], u.suspect::jsonb, u.figures::jsonb,
                   u.reports_count, u.opened_at, u.last_report_at, u.priority_lane
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[],
                        $9::timestamptz[], $10::timestamptz[], $38::boolean[])
                 AS u(case_id, merge_key, category, county, counties, suspect, figures, reports_count, opened_at,
                      last_report_at, priority_lane)
        ), merged AS (
            UPDATE cases SET counties = u.counties::text[], suspect = u.suspect::jsonb, figures = u.figures::jsonb,
                             reports_count = u.reports_count, last_report_at = u.last_report_at
            FROM unnest($11::text[], $12::text[], $13::text[], $14::text[], $15::int[], $16::timestamptz[])
                 AS u(case_id, counties, suspect, figures, reports_count, last_report_at)
            WHERE cases.case_id = u.case_id
        ), slot AS (
            UPDATE merge_slots SET case_id = u.case_id
            FROM unnest($17::bytea[], $18::text[]) AS u(merge_digest, case_id)
            WHERE merge_slots.merge_digest = u.merge_digest
        )
        INSERT INTO reports (report_id, case_id, outcome, origin, channel, client_id, source_id, tracking_no, category,
                             county, suspect, figures, summary, complainant, occurred_on, observed_at, evidence_urls,
                             received_at, description_sealed)
        SELECT u.report_id, u.case_id, u.outcome, u.origin, u.channel, u.client_id, u.source_id, u.tracking_no,
               u.category, u.county, u.suspect::jsonb, u.figures::jsonb, u.summary, u.complainant::jsonb, u.occurred_on,
               u.observed_at, u.evidence_urls::text[], u.received_at, u.description_sealed::jsonb
        FROM unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[],
                    $26::text[], $27::text[], $28::text[], $29::text[], $30::text[], $31::text[], $32::text[],
                    $33::date[], $34::timestamptz[], $35::text[], $36::timestamptz[], $37::text[])
             AS u(report_id, case_id, outcome, origin, channel, client_id, source_id, tracking_no, category, county,
                  suspect, figures, summary, complainant, occurred_on, observed_at, evidence_urls, received_at,
                  description_sealed)
        """,
        *_columns(opened, _NEW_CASE), *_columns(merged, _MERGED_CASE),
        list(slots.keys()), list(slots.values()), *_columns(reports, _REPORT), [c.priority_lane for c in opened],
    )


async def report_by_tracking_no(conn: asyncpg.Connection | asyncpg.Pool, tracking_no: str) -> StoredReport | None:
    row = await conn.fetchrow(
        f"SELECT {_REPORT_COLUMNS} FROM reports r JOIN cases c ON c.case_id = r.case_id WHERE r.tracking_no = $1", tracking_no
    )
    return _report(row) if row is not None else None


async def reports_of_client(conn: asyncpg.Connection | asyncpg.Pool, client_id: str, tracking_nos: list[str] | None,
                            category: str | None, start: datetime | None, end: datetime | None,
                            limit: int) -> list[StoredReport]:
    """A client's own complaints (Open311 GET requests): by tracking numbers, else received in
    [start, end]; optionally of one category; newest first, at most `limit` (index: migration 0007)."""
    rows = await conn.fetch(
        f"SELECT {_REPORT_COLUMNS} FROM reports r JOIN cases c ON c.case_id = r.case_id "
        "WHERE r.client_id = $1 AND r.tracking_no IS NOT NULL "
        "  AND ($2::text[] IS NULL OR r.tracking_no = ANY($2::text[])) AND ($3::text IS NULL OR r.category = $3) "
        "  AND ($4::timestamptz IS NULL OR r.received_at >= $4) AND ($5::timestamptz IS NULL OR r.received_at <= $5) "
        "ORDER BY r.received_at DESC LIMIT $6", client_id, tracking_nos, category, start, end, limit)
    return [_report(r) for r in rows]
