"""The SQL of routing's aggregate reads for people (the office's overview and assessment, the public
status by tracking number). Read-only; every query is bounded (grouped by bounded dimensions, or
LIMITed) and uses the indexes of migrations 0002_console_reads and 0003_console_worklist."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from shared import keyset

Conn = asyncpg.Connection | asyncpg.Pool
OPEN_STATES = ["assigned", "accepted"]
#: most groups a dimension answers (counties and bureau types are few; this only bounds a surprise)
MAX_GROUPS = 500
#: most (state, county, bureau, category) cells the overview's counts read
MAX_CELLS = 50_000


async def read_only(conn: asyncpg.Connection) -> None:
    """Inside the caller's transaction: read only, no JIT and no parallel workers — the planner's row
    estimates made JIT compilation alone cost more than a second, and a parallel plan starts worker
    processes for every page (~13 ms of a bureau's 23 ms worklist at 100k cases, far more on a busy
    machine), where a person's page should take one backend's time."""
    await conn.execute("SET TRANSACTION READ ONLY; SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0")


async def case_counts(conn: Conn, hot_since: datetime) -> list[asyncpg.Record]:
    """One index-only scan (index cases_overview): the cases per (state, county, bureau, category) —
    each with those opened since `hot_since` (hotspots) and those with a joint meeting proposed. The
    overview's dimensions are roll-ups of these few hundred cells (`http_overview.rollup`): one
    grouping of 100k rows instead of six (GROUPING SETS cost ~3x as much)."""
    return await conn.fetch(
        """
        SELECT state, county_label, assignee, category, count(*) AS total,
               count(*) FILTER (WHERE opened_at >= $2) AS recent,
               count(*) FILTER (WHERE joint_meeting_proposed) AS joint_meetings
        FROM cases
        GROUP BY state, county_label, assignee, category
        LIMIT $1
        """, MAX_CELLS, hot_since)


async def deadline_counts(conn: Conn, now: datetime, soon: timedelta) -> list[asyncpg.Record]:
    """Open deadlines breached (due) and approaching (due within `soon`), per county: index-only
    scans of deadlines_open_due (with its case id, migration 0009) and cases_overview (migration 0008)."""
    return await conn.fetch(
        """
        SELECT c.county_label,
               count(*) FILTER (WHERE d.due_at <= $1) AS breached,
               count(*) FILTER (WHERE d.due_at > $1 AND d.due_at <= $2) AS approaching
        FROM deadlines d JOIN cases c USING (case_id)
        WHERE d.state = 'open' AND d.due_at <= $2
        GROUP BY c.county_label ORDER BY c.county_label LIMIT $3
        """, now, now + soon, MAX_GROUPS)


async def urgent_deadlines(conn: Conn, now: datetime, soon: timedelta, limit: int) -> list[asyncpg.Record]:
    """The open deadlines due soonest (breached first), with their case and legal basis."""
    return await conn.fetch(
        """
        SELECT d.case_id, d.kind, d.bureau, d.due_at, d.citation, d.rule_id, c.county_label, c.category
        FROM deadlines d JOIN cases c USING (case_id)
        WHERE d.state = 'open' AND d.due_at <= $1
        ORDER BY d.due_at, d.deadline_id LIMIT $2
        """, now + soon, limit)


async def referral_funnel(conn: Conn) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT state, count(*) AS referrals FROM referrals GROUP BY state ORDER BY state LIMIT $1",
                            MAX_GROUPS)


async def assessment(conn: Conn, start: datetime, end: datetime, now: datetime) -> list[asyncpg.Record]:
    """Per county and per (current) bureau, the cases opened in [start, end): answered, answered in
    time, refused, closed, deadlines breached (an open one past due, one flagged breached, or one met
    late), cases with a breach, mean hours to answer; and the complainants' satisfaction (issue 15
    §4): survey answers, their mean score, and the cases they reopened."""
    return await conn.fetch(
        """
        WITH c AS (
            SELECT case_id, county_label, assignee, state, assigned_at, acknowledged_at, ack_due_at
            FROM cases WHERE opened_at >= $1 AND opened_at < $2
        ), d AS (
            SELECT d.case_id,
                   count(*) FILTER (WHERE d.breached_sent OR (d.state = 'open' AND d.due_at <= $3)
                                    OR (d.state = 'met' AND d.closed_at > d.due_at)) AS breached
            FROM deadlines d JOIN c USING (case_id) GROUP BY d.case_id
        ), s AS (
            SELECT s.case_id, count(*) AS answers, sum(s.score) AS score_sum,
                   count(*) FILTER (WHERE s.reopened) AS reopened
            FROM surveys s JOIN c USING (case_id) GROUP BY s.case_id
        )
        SELECT GROUPING(c.county_label) = 0 AS by_county, c.county_label, c.assignee,
               count(*) AS opened,
               count(*) FILTER (WHERE c.acknowledged_at IS NOT NULL) AS answered,
               count(*) FILTER (WHERE c.acknowledged_at IS NOT NULL
                                AND (c.ack_due_at IS NULL OR c.acknowledged_at <= c.ack_due_at)) AS answered_in_time,
               count(*) FILTER (WHERE c.state = 'not_accepted') AS refused,
               count(*) FILTER (WHERE c.state = 'closed') AS closed,
               coalesce(sum(d.breached), 0) AS deadlines_breached,
               count(*) FILTER (WHERE d.breached > 0) AS cases_breached,
               avg(extract(epoch FROM c.acknowledged_at - c.assigned_at)) / 3600.0 AS mean_answer_hours,
               coalesce(sum(s.answers), 0) AS surveys, sum(s.score_sum)::float / nullif(sum(s.answers), 0) AS mean_score,
               coalesce(sum(s.reopened), 0) AS reopened
        FROM c LEFT JOIN d USING (case_id) LEFT JOIN s USING (case_id)
        GROUP BY GROUPING SETS ((c.county_label), (c.assignee))
        LIMIT $4
        """, start, end, now, MAX_GROUPS * 2)


async def status_by_tracking_no(conn: Conn, tracking_no: str) -> asyncpg.Record | None:
    """The newest case of a tracking number with its masked complainant and next open deadline."""
    return await conn.fetchrow(
        """
        SELECT c.case_id, c.tracking_no, c.state, c.assignee, c.category, c.county, c.opened_at,
               c.acknowledged_at, c.closed_at, c.outcome,
               c.complainant->>'name_masked' AS name_masked, c.complainant->>'phone_masked' AS phone_masked,
               n.kind AS next_kind, n.due_at AS next_due_at, n.citation AS next_citation
        FROM cases c
        LEFT JOIN LATERAL (SELECT kind, due_at, citation FROM deadlines
                           WHERE case_id = c.case_id AND state = 'open' ORDER BY due_at LIMIT 1) n ON true
        WHERE c.tracking_no = $1
        ORDER BY c.opened_at DESC LIMIT 1
        """, tracking_no)


async def supervision_requests(conn: Conn, procuratorate: str, limit: int) -> list[asyncpg.Record]:
    """The referrals whose supervision was asked of `procuratorate`, newest first."""
    return await conn.fetch(
        """
        SELECT r.referral_id, r.case_id, r.state, r.agency, r.police, r.basis::text AS basis, r.created_at, r.updated_at,
               c.category, c.county
        FROM referrals r JOIN cases c USING (case_id)
        WHERE r.procuratorate = $1 AND r.state = 'supervision_requested'
        ORDER BY r.updated_at DESC, r.referral_id LIMIT $2
        """, procuratorate, limit)


_WORK_COLUMNS = "c.case_id, c.category, c.county, c.assignee, c.level, c.state, c.opened_at, c.tracking_no, c.outcome"
Key = tuple[datetime, str]


async def worklist_due(conn: Conn, bureau: str | None, limit: int, key: Key | None = None, *,
                       forward: bool = True) -> list[asyncpg.Record]:
    """The cases (of `bureau`, None: every case) with an open deadline, each once with its earliest
    open one, in (due, case id) order after `key` (backward: before it, in reverse order). Reads open
    deadlines in due order (index deadlines_open_due) and keeps a deadline only if no open deadline
    of its case comes before it (index deadlines_case), so a page is a LIMIT, never a sort of all."""
    args: list[Any] = [limit]
    where = ["d.state = 'open'",
             "NOT EXISTS (SELECT 1 FROM deadlines e WHERE e.case_id = d.case_id AND e.state = 'open' "
             "AND (e.due_at, e.deadline_id) < (d.due_at, d.deadline_id))"]
    if bureau:
        args.append(bureau)
        where.append(f"c.assignee = ${len(args)}")
    if key is not None:
        where.append(keyset.after(args, ("d.due_at", "d.case_id"), key, ascending=forward))
    order = "ASC" if forward else "DESC"
    return await conn.fetch(
        f"""
        SELECT {_WORK_COLUMNS},
               d.kind AS next_kind, d.due_at AS next_due_at, d.citation AS next_citation, d.rule_id AS next_rule_id
        FROM deadlines d JOIN cases c USING (case_id)
        WHERE {" AND ".join(where)}
        ORDER BY d.due_at {order}, d.case_id {order} LIMIT $1
        """, *args)


async def worklist_rest(conn: Conn, bureau: str | None, limit: int, key: Key | None = None, *,
                        forward: bool = True) -> list[asyncpg.Record]:
    """The cases without an open deadline (of `bureau`, None: every case), newest first — (opened,
    case id) descending after `key` (backward: before it, in reverse order)."""
    args: list[Any] = [limit]
    where = ["NOT EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = c.case_id AND d.state = 'open')"]
    if bureau:
        args.append(bureau)
        where.append(f"c.assignee = ${len(args)}")
    if key is not None:  # newest first: "after" is older
        where.append(keyset.after(args, ("c.opened_at", "c.case_id"), key, ascending=not forward))
    order = "DESC" if forward else "ASC"
    return await conn.fetch(
        f"""
        SELECT {_WORK_COLUMNS},
               NULL::text AS next_kind, NULL::timestamptz AS next_due_at, NULL::text AS next_citation,
               NULL::text AS next_rule_id
        FROM cases c
        WHERE {" AND ".join(where)}
        ORDER BY c.opened_at {order}, c.case_id {order} LIMIT $1
        """, *args)


async def worklist_referrals(conn: Conn, police: str, states: list[str], limit: int) -> list[asyncpg.Record]:
    """The cases whose referral went to `police` (in `states`), by their next open deadline."""
    return await conn.fetch(
        """
        SELECT c.case_id, c.category, c.county, c.assignee, c.level, c.state, c.opened_at, c.tracking_no, c.outcome,
               r.state AS referral_state, n.kind AS next_kind, n.due_at AS next_due_at, n.citation AS next_citation,
               n.rule_id AS next_rule_id
        FROM referrals r JOIN cases c USING (case_id)
        LEFT JOIN LATERAL (SELECT kind, due_at, citation, rule_id FROM deadlines
                           WHERE case_id = c.case_id AND state = 'open' ORDER BY due_at LIMIT 1) n ON true
        WHERE r.police = $1 AND r.state = ANY($2::text[])
        ORDER BY n.due_at NULLS LAST, r.updated_at DESC, c.case_id LIMIT $3
        """, police, states, limit)
