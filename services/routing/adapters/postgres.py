"""Routing's tables over the connection of the open transaction (SQL lives here)."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Iterable, Sequence

import asyncpg

from shared.contracts.cases import Complainant, Suspect
from shared.contracts.referral import ThresholdBasis, TransferPackage
from services.routing.domain import referral as machine
from services.routing.domain.bureaus import bureau_type_of
from services.routing.domain.case import Case, DeadlineClose, Referral
from services.routing.domain.deadlines import DeadlineSpec

_CASE_COLUMNS = (
    "case_id, origin, channel, category, county, counties, suspect, suspect_key, figures, reports_count, tracking_no,"
    " summary, complainant, opened_at, assignee, assignee_type, level, reasons, co_bureaus, state, assignment_no,"
    " transfers, assigned_at, ack_due_at, directory_version, joint_meeting_proposed, acknowledged_at, closed_at,"
    " outcome, outcome_detail, county_label, priority_lane"
)
ACTIVE_REFERRAL_STATES = [s for s in machine.STATES if s not in machine.CLOSED]
POLICE_VISIBLE_STATES = sorted(machine.POLICE_INVOLVED)


def _figures_json(figures: dict[str, Decimal]) -> str:
    return json.dumps({k: str(v) for k, v in figures.items()})


def _case_args(case: Case, county_label: str) -> list[Any]:
    return [
        case.case_id, case.origin, case.channel, case.category, case.county, list(case.counties),
        case.suspect.model_dump_json(), case.suspect_key, _figures_json(case.figures), case.reports_count,
        case.tracking_no, case.summary, case.complainant.model_dump_json() if case.complainant else None,
        case.opened_at, case.assignee, bureau_type_of(case.assignee), case.level, list(case.reasons),
        list(case.co_bureaus), case.state, case.assignment_no, case.transfers, case.assigned_at, case.ack_due_at,
        case.directory_version, case.joint_meeting_proposed, case.acknowledged_at, case.closed_at, case.outcome,
        json.dumps(case.outcome_detail) if case.outcome_detail is not None else None, county_label,
        case.priority_lane,
    ]


def _case_json(case: Case, county_label: str | None = None) -> dict[str, Any]:
    """One case as a JSON object for `jsonb_to_recordset` (multi-row writes in one parameter)."""
    row: dict[str, Any] = {
        "case_id": case.case_id, "origin": case.origin, "channel": case.channel, "category": case.category,
        "county": case.county, "counties": list(case.counties), "suspect": case.suspect.model_dump(mode="json"),
        "suspect_key": case.suspect_key, "figures": {k: str(v) for k, v in case.figures.items()},
        "reports_count": case.reports_count, "tracking_no": case.tracking_no, "summary": case.summary,
        "complainant": case.complainant.model_dump(mode="json") if case.complainant else None,
        "opened_at": _ts(case.opened_at), "assignee": case.assignee, "assignee_type": bureau_type_of(case.assignee),
        "level": case.level, "reasons": list(case.reasons), "co_bureaus": list(case.co_bureaus), "state": case.state,
        "assignment_no": case.assignment_no, "transfers": case.transfers, "assigned_at": _ts(case.assigned_at),
        "ack_due_at": _ts(case.ack_due_at), "directory_version": case.directory_version,
        "joint_meeting_proposed": case.joint_meeting_proposed, "acknowledged_at": _ts(case.acknowledged_at),
        "closed_at": _ts(case.closed_at), "outcome": case.outcome, "outcome_detail": case.outcome_detail,
        "priority_lane": case.priority_lane,
    }
    if county_label is not None:
        row["county_label"] = county_label
    return row


def _ts(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_CASE_RECORD = (
    "case_id text, origin text, channel text, category text, county text, counties text[], suspect jsonb,"
    " suspect_key text, figures jsonb, reports_count integer, tracking_no text, summary text, complainant jsonb,"
    " opened_at timestamptz, assignee text, assignee_type text, level text, reasons text[], co_bureaus text[],"
    " state text, assignment_no integer, transfers integer, assigned_at timestamptz, ack_due_at timestamptz,"
    " directory_version text, joint_meeting_proposed boolean, acknowledged_at timestamptz, closed_at timestamptz,"
    " outcome text, outcome_detail jsonb, county_label text, priority_lane boolean"
)
_REFERRAL_RECORD = (
    "referral_id text, case_id text, seq integer, state text, agency text, police text, procuratorate text,"
    " proposed_by text, basis jsonb, package jsonb, created_at timestamptz, updated_at timestamptz"
)


def _referral_json(r: Referral) -> dict[str, Any]:
    return {
        "referral_id": r.referral_id, "case_id": r.case_id, "seq": r.seq, "state": r.state, "agency": r.agency,
        "police": r.police, "procuratorate": r.procuratorate, "proposed_by": r.proposed_by,
        "basis": r.basis.model_dump(mode="json"), "package": r.package.model_dump(mode="json") if r.package else None,
        "created_at": _ts(r.created_at), "updated_at": _ts(r.updated_at),
    }


def _case_from(row: asyncpg.Record) -> Case:
    complainant = row["complainant"]
    detail = row["outcome_detail"]
    return Case(
        case_id=row["case_id"], origin=row["origin"], channel=row["channel"], category=row["category"],
        county=row["county"], counties=tuple(row["counties"]), suspect=Suspect.model_validate_json(row["suspect"]),
        suspect_key=row["suspect_key"], figures={k: Decimal(v) for k, v in json.loads(row["figures"]).items()},
        reports_count=row["reports_count"], tracking_no=row["tracking_no"], summary=row["summary"],
        complainant=Complainant.model_validate_json(complainant) if complainant else None, opened_at=row["opened_at"],
        assignee=row["assignee"], level=row["level"], reasons=tuple(row["reasons"]), co_bureaus=tuple(row["co_bureaus"]),
        state=row["state"], assignment_no=row["assignment_no"], transfers=row["transfers"],
        assigned_at=row["assigned_at"], ack_due_at=row["ack_due_at"], directory_version=row["directory_version"],
        joint_meeting_proposed=row["joint_meeting_proposed"], acknowledged_at=row["acknowledged_at"],
        closed_at=row["closed_at"], outcome=row["outcome"], outcome_detail=json.loads(detail) if detail else None,
        priority_lane=row["priority_lane"],
    )


async def claim_case(conn: asyncpg.Connection, case_id: str, suspect_key: str | None, now: dt.datetime) -> tuple[bool, int]:
    """(whether the case is already known, how many cases its suspect had before), in one round trip;
    the suspect's count goes up only for a case not seen before."""
    row = await conn.fetchrow(
        """
        WITH known AS (SELECT 1 FROM cases WHERE case_id = $2),
        bumped AS (
            INSERT INTO suspects (suspect_key, cases, first_case, last_case, last_seen_at)
            SELECT $1, 1, $2, $2, $3 WHERE $1::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM known)
            ON CONFLICT (suspect_key) DO UPDATE SET cases = suspects.cases + 1, last_case = $2, last_seen_at = $3
            RETURNING cases
        )
        SELECT EXISTS (SELECT 1 FROM known) AS known, (SELECT cases FROM bumped) AS cases
        """,
        suspect_key, case_id, now,
    )
    return bool(row["known"]), max(0, int(row["cases"] or 1) - 1)


async def lock_cases(conn: asyncpg.Connection, case_ids: Sequence[str]) -> dict[str, Case]:
    """The known cases among `case_ids`, locked in case id order (so two writers never deadlock), in one round trip."""
    rows = await conn.fetch(
        f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id = ANY($1::text[]) ORDER BY case_id FOR UPDATE",
        sorted(set(case_ids)),
    )
    return {r["case_id"]: _case_from(r) for r in rows}


async def latest_referrals(conn: asyncpg.Connection, case_ids: Sequence[str]) -> dict[str, Referral]:
    """Each case's latest referral (the active one, if any), in one round trip."""
    if not case_ids:
        return {}
    rows = await conn.fetch(
        "SELECT DISTINCT ON (case_id) * FROM referrals WHERE case_id = ANY($1::text[]) ORDER BY case_id, seq DESC",
        sorted(set(case_ids)),
    )
    return {r["case_id"]: _referral_from(r) for r in rows}


async def appraisal_figures(conn: asyncpg.Connection, case_ids: Sequence[str]) -> dict[str, list[dict[str, Decimal]]]:
    """Each case's recorded appraisals' figures (``case_appraisals``), in one round trip."""
    out: dict[str, list[dict[str, Decimal]]] = {c: [] for c in case_ids}
    if not case_ids:
        return out
    rows = await conn.fetch("SELECT case_id, figures FROM case_appraisals WHERE case_id = ANY($1::text[])",
                            sorted(set(case_ids)))
    for r in rows:
        out[r["case_id"]].append({k: Decimal(v) for k, v in json.loads(r["figures"]).items()})
    return out


async def count_suspects(conn: asyncpg.Connection, claims: Sequence[tuple[str, str | None]], now: dt.datetime) -> list[int]:
    """Count new cases against their suspects in one statement; for each ``(case_id, suspect_key)``
    (in the order the cases are opened) how many cases that suspect had before it. The suspect rows
    are upserted in key order, so two writers lock them in the same order."""
    per_key: dict[str, list[str]] = {}
    for case_id, key in claims:
        if key is not None:
            per_key.setdefault(key, []).append(case_id)
    if not per_key:
        return [0 for _ in claims]
    keys = sorted(per_key)
    rows = await conn.fetch(
        """
        INSERT INTO suspects (suspect_key, cases, first_case, last_case, last_seen_at)
        SELECT k, n, f, l, $5 FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) AS u(k, n, f, l) ORDER BY k
        ON CONFLICT (suspect_key) DO UPDATE SET cases = suspects.cases + EXCLUDED.cases, last_case = EXCLUDED.last_case,
                                                last_seen_at = EXCLUDED.last_seen_at
        RETURNING suspect_key, cases
        """,
        keys, [len(per_key[k]) for k in keys], [per_key[k][0] for k in keys], [per_key[k][-1] for k in keys], now,
    )
    before = {r["suspect_key"]: int(r["cases"]) - len(per_key[r["suspect_key"]]) for r in rows}
    out, taken = [], {k: 0 for k in keys}
    for _, key in claims:
        if key is None:
            out.append(0)
            continue
        out.append(before[key] + taken[key])
        taken[key] += 1
    return out


_DEADLINE_COLUMNS = ("deadline_id, case_id, kind, bureau, subject, rule_id, rule_version, citation, starts_at, due_at,"
                     " due_date_local, warn_at, provisional")
_DEADLINE_UNNEST = ("unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],"
                    " $9::timestamptz[], $10::timestamptz[], $11::date[], $12::timestamptz[], $13::boolean[])")


def _deadline_arrays(specs: Sequence[DeadlineSpec]) -> list[list[Any]]:
    return [
        [s.deadline_id for s in specs], [s.case_id for s in specs], [s.kind for s in specs], [s.bureau for s in specs],
        [s.subject for s in specs], [s.rule_id for s in specs], [s.rule_version for s in specs],
        [s.citation for s in specs], [s.starts_at for s in specs], [s.due_at for s in specs],
        [s.due_date_local for s in specs], [s.warn_at for s in specs], [s.provisional for s in specs],
    ]


async def insert_case(conn: asyncpg.Connection, case: Case, county_label: str, deadlines: Sequence[DeadlineSpec] = ()) -> bool:
    """Insert a new case and its first deadlines in one statement; False if the case id is already known."""
    placeholders = ", ".join(f"${i}" for i in range(14, 46))
    inserted = await conn.fetchval(
        f"""
        WITH c AS (
            INSERT INTO cases ({_CASE_COLUMNS}) VALUES ({placeholders}) ON CONFLICT (case_id) DO NOTHING RETURNING 1
        ), d AS (
            INSERT INTO deadlines ({_DEADLINE_COLUMNS})
            SELECT * FROM {_DEADLINE_UNNEST} WHERE EXISTS (SELECT 1 FROM c)
            ON CONFLICT (deadline_id) DO NOTHING
        )
        SELECT count(*) FROM c
        """,
        *_deadline_arrays(deadlines), *_case_args(case, county_label),
    )
    return bool(inserted)


async def save_cases(conn: asyncpg.Connection, *, new: Sequence[tuple[Case, str]] = (), changed: Sequence[Case] = (),
                     referrals: Sequence[Referral] = (), deadlines: Sequence[DeadlineSpec] = ()) -> int:
    """Insert the new cases (with their county label), update the changed ones, upsert the referrals
    and insert the deadlines, in ONE statement whatever the number of cases; returns how many new
    cases were inserted (fewer than given means another writer got there first)."""
    updates = ", ".join(f"{c} = x.{c}" for c in (
        "counties", "figures", "reports_count", "assignee", "assignee_type", "level", "reasons", "state",
        "assignment_no", "transfers", "assigned_at", "ack_due_at", "directory_version", "joint_meeting_proposed",
        "acknowledged_at", "closed_at", "outcome", "outcome_detail"))
    inserted = await conn.fetchval(
        f"""
        WITH c AS (
            INSERT INTO cases ({_CASE_COLUMNS})
            SELECT {_CASE_COLUMNS} FROM jsonb_to_recordset($14::jsonb) AS x({_CASE_RECORD})
            ON CONFLICT (case_id) DO NOTHING RETURNING 1
        ), u AS (
            UPDATE cases SET {updates}, updated_at = now()
            FROM jsonb_to_recordset($15::jsonb) AS x({_CASE_RECORD}) WHERE cases.case_id = x.case_id
        ), r AS (
            INSERT INTO referrals (referral_id, case_id, seq, state, agency, police, procuratorate, proposed_by, basis,
                                   package, created_at, updated_at)
            SELECT * FROM jsonb_to_recordset($16::jsonb) AS x({_REFERRAL_RECORD})
            ON CONFLICT (referral_id) DO UPDATE SET state = EXCLUDED.state, package = EXCLUDED.package,
                                                    updated_at = EXCLUDED.updated_at
        ), d AS (
            INSERT INTO deadlines ({_DEADLINE_COLUMNS})
            SELECT * FROM {_DEADLINE_UNNEST}
            ON CONFLICT (deadline_id) DO NOTHING
        )
        SELECT count(*) FROM c
        """,
        *_deadline_arrays(deadlines),
        json.dumps([_case_json(case, label) for case, label in new]),
        json.dumps([_case_json(case) for case in changed]),
        json.dumps([_referral_json(r) for r in {r.referral_id: r for r in referrals}.values()]),
    )
    return int(inserted)


_NEW_DEADLINE_COLUMNS = ", ".join("n." + c.strip() for c in _DEADLINE_COLUMNS.split(","))


async def save_commands(conn: asyncpg.Connection, *, changed: Sequence[Case], referrals: Sequence[Referral],
                        closes: Sequence[DeadlineClose], deadlines: Sequence[tuple[DeadlineSpec, str | None]],
                        now: dt.datetime) -> None:
    """The writes of a batch of bureau commands in ONE statement, whatever the batch's size: update
    the changed cases, upsert the referrals, close the deadlines that were open before the batch
    (each by the first of `closes`, in batch order, that names it: a deadline closed once is no
    longer open for the next) and insert the deadlines the batch opened, each in its state at the
    end of the batch (``None``: still open; the caller has applied later closes to them). The
    statement's sub-queries all read the rows as they were before it, so a close never reaches a
    deadline this same batch opens."""
    updates = ", ".join(f"{c} = x.{c}" for c in (
        "counties", "figures", "reports_count", "assignee", "assignee_type", "level", "reasons", "state",
        "assignment_no", "transfers", "assigned_at", "ack_due_at", "directory_version", "joint_meeting_proposed",
        "acknowledged_at", "closed_at", "outcome", "outcome_detail"))
    specs = [spec for spec, _ in deadlines]
    await conn.execute(
        f"""
        WITH u AS (
            UPDATE cases SET {updates}, updated_at = now()
            FROM jsonb_to_recordset($14::jsonb) AS x({_CASE_RECORD}) WHERE cases.case_id = x.case_id
        ), r AS (
            INSERT INTO referrals (referral_id, case_id, seq, state, agency, police, procuratorate, proposed_by, basis,
                                   package, created_at, updated_at)
            SELECT * FROM jsonb_to_recordset($15::jsonb) AS x({_REFERRAL_RECORD})
            ON CONFLICT (referral_id) DO UPDATE SET state = EXCLUDED.state, package = EXCLUDED.package,
                                                    updated_at = EXCLUDED.updated_at
        ), closing AS (
            SELECT DISTINCT ON (d.deadline_id) d.deadline_id, c.state
            FROM unnest($16::int[], $17::text[], $18::text[], $19::text[]) AS c(ord, case_id, kinds, state)
            JOIN deadlines d ON d.case_id = c.case_id AND d.state = 'open'
                             AND (c.kinds IS NULL OR d.kind = ANY(string_to_array(c.kinds, ',')))
            ORDER BY d.deadline_id, c.ord
        ), c AS (
            UPDATE deadlines SET state = closing.state, closed_at = $21
            FROM closing WHERE deadlines.deadline_id = closing.deadline_id
        ), d AS (
            INSERT INTO deadlines ({_DEADLINE_COLUMNS}, state, closed_at)
            SELECT {_NEW_DEADLINE_COLUMNS}, coalesce(s.state, 'open'), CASE WHEN s.state IS NULL THEN NULL ELSE $21::timestamptz END
            FROM {_DEADLINE_UNNEST} WITH ORDINALITY AS n({_DEADLINE_COLUMNS}, ord)
            JOIN unnest($20::text[]) WITH ORDINALITY AS s(state, ord) USING (ord)
            ON CONFLICT (deadline_id) DO NOTHING
        )
        SELECT 1
        """,
        *_deadline_arrays(specs),
        json.dumps([_case_json(case) for case in changed]),
        json.dumps([_referral_json(r) for r in {r.referral_id: r for r in referrals}.values()]),
        list(range(len(closes))), [c.case_id for c in closes],
        [",".join(sorted(c.kinds)) if c.kinds is not None else None for c in closes], [c.state for c in closes],
        [state for _, state in deadlines], now,
    )


async def answered_surveys(conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (case id, tracking number) survey answers are recorded already, in one round trip."""
    if not keys:
        return set()
    rows = await conn.fetch(
        "SELECT s.case_id, s.tracking_no FROM surveys s"
        " JOIN unnest($1::text[], $2::text[]) AS k(case_id, tracking_no) USING (case_id, tracking_no)",
        [k[0] for k in keys], [k[1] for k in keys])
    return {(r["case_id"], r["tracking_no"]) for r in rows}


async def insert_surveys(conn: asyncpg.Connection, answers: Sequence[tuple[Any, bool]]) -> None:
    """Record survey answers (``CaseSurveyAnswered``, whether it reopened its case) in one statement;
    an answer already recorded is left as it is."""
    if not answers:
        return
    await conn.execute(
        "INSERT INTO surveys (case_id, tracking_no, score, resolved, reopened, answered_at)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::boolean[], $5::boolean[], $6::timestamptz[])"
        " ON CONFLICT DO NOTHING",
        [a.case_id for a, _ in answers], [a.tracking_no for a, _ in answers], [a.score for a, _ in answers],
        [a.resolved for a, _ in answers], [reopened for _, reopened in answers], [a.answered_at for a, _ in answers])


async def update_case(conn: asyncpg.Connection, case: Case) -> None:
    await conn.execute(
        """
        UPDATE cases SET counties = $2, figures = $3, reports_count = $4, assignee = $5, assignee_type = $6,
               level = $7, reasons = $8, state = $9, assignment_no = $10, transfers = $11, assigned_at = $12,
               ack_due_at = $13, directory_version = $14, joint_meeting_proposed = $15, acknowledged_at = $16,
               closed_at = $17, outcome = $18, outcome_detail = $19, updated_at = now()
        WHERE case_id = $1
        """,
        case.case_id, list(case.counties), _figures_json(case.figures), case.reports_count, case.assignee,
        bureau_type_of(case.assignee), case.level, list(case.reasons), case.state, case.assignment_no, case.transfers,
        case.assigned_at, case.ack_due_at, case.directory_version, case.joint_meeting_proposed, case.acknowledged_at,
        case.closed_at, case.outcome, json.dumps(case.outcome_detail) if case.outcome_detail is not None else None,
    )


async def load_case(conn: asyncpg.Connection, case_id: str, *, lock: bool = False) -> Case | None:
    row = await conn.fetchrow(
        f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id = $1" + (" FOR UPDATE" if lock else ""), case_id
    )
    return _case_from(row) if row else None


def _referral_from(row: asyncpg.Record) -> Referral:
    return Referral(
        referral_id=row["referral_id"], case_id=row["case_id"], seq=row["seq"], state=row["state"], agency=row["agency"],
        police=row["police"], procuratorate=row["procuratorate"], proposed_by=row["proposed_by"],
        basis=ThresholdBasis.model_validate_json(row["basis"]), created_at=row["created_at"], updated_at=row["updated_at"],
        package=TransferPackage.model_validate_json(row["package"]) if row["package"] else None,
    )


async def load_referral(conn: asyncpg.Connection, case_id: str) -> Referral | None:
    """The case's latest referral (the active one, if any)."""
    row = await conn.fetchrow("SELECT * FROM referrals WHERE case_id = $1 ORDER BY seq DESC LIMIT 1", case_id)
    return _referral_from(row) if row else None


async def save_referral(conn: asyncpg.Connection, r: Referral) -> None:
    await conn.execute(
        """
        INSERT INTO referrals (referral_id, case_id, seq, state, agency, police, procuratorate, proposed_by, basis,
                               package, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (referral_id) DO UPDATE SET state = EXCLUDED.state, package = EXCLUDED.package,
                                                updated_at = EXCLUDED.updated_at
        """,
        r.referral_id, r.case_id, r.seq, r.state, r.agency, r.police, r.procuratorate, r.proposed_by,
        r.basis.model_dump_json(), r.package.model_dump_json() if r.package else None, r.created_at, r.updated_at,
    )


async def insert_deadlines(conn: asyncpg.Connection, specs: Sequence[DeadlineSpec]) -> None:
    if not specs:
        return
    await conn.execute(
        f"INSERT INTO deadlines ({_DEADLINE_COLUMNS}) SELECT * FROM {_DEADLINE_UNNEST} ON CONFLICT (deadline_id) DO NOTHING",
        *_deadline_arrays(specs),
    )


async def close_deadlines(conn: asyncpg.Connection, closes: Iterable[DeadlineClose], now: dt.datetime) -> None:
    for c in closes:
        if c.kinds is None:
            await conn.execute(
                "UPDATE deadlines SET state = $2, closed_at = $3 WHERE case_id = $1 AND state = 'open'",
                c.case_id, c.state, now,
            )
        else:
            await conn.execute(
                "UPDATE deadlines SET state = $2, closed_at = $3 WHERE case_id = $1 AND state = 'open' AND kind = ANY($4::text[])",
                c.case_id, c.state, now, sorted(c.kinds),
            )


def spec_from(row: asyncpg.Record) -> DeadlineSpec:
    return DeadlineSpec(
        deadline_id=row["deadline_id"], case_id=row["case_id"], kind=row["kind"], bureau=row["bureau"],
        subject=row["subject"], rule_id=row["rule_id"], rule_version=row["rule_version"], citation=row["citation"],
        starts_at=row["starts_at"], due_at=row["due_at"], due_date_local=row["due_date_local"],
        provisional=row["provisional"], warn_at=row["warn_at"],
    )


async def case_deadlines(conn: asyncpg.Connection | asyncpg.Pool, case_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM deadlines WHERE case_id = $1 ORDER BY created_at, deadline_id", case_id)


# -- reads for the HTTP API ----------------------------------------------------------------------


async def list_cases(conn: asyncpg.Connection | asyncpg.Pool, *, bureau: str | None, state: str | None,
                     limit: int, offset: int) -> list[asyncpg.Record]:
    """Cases visible to `bureau` (None: all, for the office), newest first."""
    clauses, args = [], []
    if bureau is not None:
        args.append(bureau)
        args.append(POLICE_VISIBLE_STATES)
        clauses.append(
            f"(c.assignee = ${len(args) - 1} OR EXISTS (SELECT 1 FROM referrals r WHERE r.case_id = c.case_id"
            f" AND r.police = ${len(args) - 1} AND r.state = ANY(${len(args)}::text[])))"
        )
    if state is not None:
        args.append(state)
        clauses.append(f"c.state = ${len(args)}")
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    args.extend([limit, offset])
    return await conn.fetch(
        f"""
        SELECT c.case_id, c.category, c.county, c.assignee, c.level, c.state, c.opened_at, c.assigned_at,
               c.ack_due_at, c.tracking_no, c.outcome,
               (SELECT r.state FROM referrals r WHERE r.case_id = c.case_id ORDER BY r.seq DESC LIMIT 1) AS referral_state
        FROM cases c {where}
        ORDER BY c.opened_at DESC, c.case_id
        LIMIT ${len(args) - 1} OFFSET ${len(args)}
        """,
        *args,
    )


# -- gauges ----------------------------------------------------------------------------------------


async def open_case_counts(conn: asyncpg.Connection | asyncpg.Pool) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT c.assignee_type AS bureau, c.county_label AS county,
               CASE WHEN EXISTS (SELECT 1 FROM referrals r WHERE r.case_id = c.case_id AND r.state = ANY($1::text[]))
                    THEN 'in_referral' ELSE c.state END AS state,
               count(*) AS n
        FROM cases c WHERE c.state IN ('assigned', 'accepted')
        GROUP BY 1, 2, 3
        """,
        ACTIVE_REFERRAL_STATES,
    )


async def provisional_count(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM deadlines WHERE state = 'open' AND provisional"))


# -- joint meetings (issue 16 §2) -------------------------------------------------------------------

async def joint_meeting_decision(conn: asyncpg.Connection, case_id: str) -> str | None:
    """The office's decision on the case's proposed joint meeting, if it took one."""
    return await conn.fetchval("SELECT decision FROM joint_meetings WHERE case_id = $1", case_id)


async def record_joint_meeting(conn: asyncpg.Connection, event: Any) -> None:
    await conn.execute(
        "INSERT INTO joint_meetings (case_id, decision, reason, decided_by, decided_at) VALUES ($1, $2, $3, $4, $5)",
        event.case_id, event.decision, event.reason, event.decided_by, event.decided_at,
    )


async def joint_meetings(conn: asyncpg.Connection, open_states: list[str], limit: int) -> list[dict[str, Any]]:
    """Cases with a joint meeting proposed (open ones, or decided ones), undecided first, newest first."""
    rows = await conn.fetch(
        """SELECT c.case_id, c.assignee, c.co_bureaus, c.category, c.county, c.state, c.opened_at,
                  j.decision, j.reason, j.decided_by, j.decided_at
           FROM cases c LEFT JOIN joint_meetings j ON j.case_id = c.case_id
           WHERE c.joint_meeting_proposed AND (c.state = ANY($1::text[]) OR j.case_id IS NOT NULL)
           ORDER BY (j.case_id IS NOT NULL), c.opened_at DESC, c.case_id LIMIT $2""",
        open_states, limit,
    )
    return [{**dict(r), "co_bureaus": list(r["co_bureaus"] or [])} for r in rows]
