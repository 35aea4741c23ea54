"""Routing's aggregate reads for people: the office's live overview and assessment (考核), and the
public status of a complaint by tracking number + the last 4 digits of the complainant's phone.

- ``GET /v1/overview`` and ``GET /v1/overview/assessment`` need ``cases:read-all`` (or the office's
  own bureau, as reading every case does): counts only, no case content beyond ids, every query
  grouped by bounded dimensions or LIMITed (adapters/postgres_overview.py).
- ``GET /v1/worklist`` (``cases:read``): the caller's cases (the office: all) by next open deadline
  (an index of open deadlines in due order: migration 0003), then the newest without one; the
  police's: the cases whose referral went to them, with the referral's state.
- ``GET /v1/cases/{case_id}/complainant`` (``cases:read``; the case's assignee or the office): the
  complainant's sealed fields, for the console's audited unmasking (routing holds no PII key).
- ``GET /v1/supervision`` (a procuratorate's key): the referrals whose supervision was asked of it.
- ``POST /v1/status`` needs ``cases:read`` (the console's public reader ``console.public`` has it, a
  bureau's key too). It is a public path: rate-limited per client address and per key
  (``ServiceSettings.public_rate_limits``, before authentication). The console calls it for every
  citizen through its one key, so a caller holding ``clients:relay`` (``console.public``) is a trusted
  relay: its ``X-Client-Address`` names the citizen's address, and each such address gets its own
  budget instead of the key's one (shared/ratelimit.py); any other caller's header is ignored. The second factor travels in the
  body, never in a URL or a log. An unknown tracking number and a wrong second factor give the same
  404, so the answer does not tell which of the two was wrong; the read-out is masked (name and phone
  as routing keeps them). Failed checks are limited per tracking number and per address (the
  citizen's, for the relay) across every instance (shared/second_factor.py: 429 with Retry-After).
"""
from __future__ import annotations

import datetime as dt
import hmac
import json
import re
from typing import Any, Callable
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from shared import keyset
from shared.http import ProblemError
from shared.identity.http import AUTH_RESPONSES, Authenticator
from shared.identity.model import Principal
from shared.openapi import problems
from shared.second_factor import Limited, Limits, SecondFactorGuard, client_address, limited_problem
from shared.text import CASE_ID_PATTERN, CaseId, TrackingNo

from services.routing.adapters import postgres_overview as sql
from services.routing.adapters.hygiene import CaseIdPath
from services.routing.domain.referral import POLICE_INVOLVED

#: the paths public_rate_limits guards (wiring)
PUBLIC_PATHS = ("/v1/status",)
#: a caller holding it (the console's public reader) is a trusted relay: its X-Client-Address is honoured
RELAY_SCOPE = "clients:relay"
SHANGHAI = ZoneInfo("Asia/Shanghai")
#: "approaching": an open deadline due within this
SOON = dt.timedelta(hours=24)
#: the hotspot window and how many pairs are listed
HOTSPOT_WINDOW = dt.timedelta(hours=24)
HOTSPOTS = 10
#: the longest assessment period, in days
MAX_PERIOD_DAYS = 366
_LAST4 = re.compile(r"^\d{4}$")
RESPONSES: dict[int | str, dict[str, Any]] = {**AUTH_RESPONSES, **problems(401, 403, 404, 422, 429, 503)}


class Count(BaseModel):
    key: str = Field(description="the state, county code, bureau (type@division) or category")
    total: int
    open: int = Field(description="of them assigned or accepted")


class CountyDeadlines(BaseModel):
    county: str
    breached: int
    approaching: int


class UrgentDeadline(BaseModel):
    case_id: CaseId  # type: ignore[valid-type]
    kind: str
    bureau: str
    due_at: dt.datetime
    citation: str
    rule_id: str
    county: str
    category: str


class Hotspot(BaseModel):
    county: str
    category: str
    cases: int


class Overview(BaseModel):
    as_of: dt.datetime
    cases_by_state: list[Count]
    cases_by_county: list[Count]
    cases_by_bureau: list[Count]
    cases_by_category: list[Count]
    deadlines_breached: int = Field(description="open deadlines past due")
    deadlines_approaching: int = Field(description="open deadlines due within 24 h")
    deadlines_by_county: list[CountyDeadlines]
    urgent_deadlines: list[UrgentDeadline] = Field(description="the 20 open deadlines due soonest, breached first")
    hotspots: list[Hotspot] = Field(description="(county, category) with the most cases opened in the last 24 h")
    referral_funnel: dict[str, int] = Field(description="referrals by state")
    joint_meetings_proposed: int = Field(description="open cases with a joint meeting proposed")


class AssessmentRow(BaseModel):
    key: str = Field(description="county code or bureau")
    opened: int
    answered: int = Field(description="accepted or refused")
    answered_in_time: int = Field(description="answered by the acknowledgement deadline")
    refused: int
    closed: int
    deadlines_breached: int = Field(description="deadlines past due while open, flagged breached, or met late")
    cases_breached: int
    mean_answer_hours: float | None
    surveys: int = Field(default=0, description="complainants' satisfaction answers (12315's 满意度)")
    mean_score: float | None = Field(default=None, description="their mean score, 1-5")
    reopened: int = Field(default=0, description="cases the answers reopened")


class Assessment(BaseModel):
    start: dt.date
    end: dt.date = Field(description="inclusive; days are Asia/Shanghai days")
    as_of: dt.datetime
    by_county: list[AssessmentRow]
    by_bureau: list[AssessmentRow]


class StatusQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    tracking_no: TrackingNo = Field(description="as intake issued it, e.g. SD261207-7KQ3M9XW")  # type: ignore[valid-type]
    last4: str = Field(pattern=r"^\d{4}$", description="the last 4 digits of the phone the complainant gave")


class PublicStatus(BaseModel):
    tracking_no: TrackingNo  # type: ignore[valid-type]
    state: str
    bureau: str
    category: str
    county: str
    opened_at: dt.datetime
    acknowledged_at: dt.datetime | None
    closed_at: dt.datetime | None
    outcome: str | None
    next_kind: str | None
    next_due_at: dt.datetime | None
    next_citation: str | None
    name_masked: str | None
    phone_masked: str | None


class SupervisionRequest(BaseModel):
    referral_id: str
    case_id: CaseId  # type: ignore[valid-type]
    state: str
    agency: str
    police: str
    basis: dict[str, Any]
    category: str
    county: str
    created_at: dt.datetime
    updated_at: dt.datetime


def second_factor_matches(phone_masked: str | None, last4: str) -> bool:
    """The last 4 digits typed against the masked phone (its last 4 are in clear). No phone → never."""
    if not phone_masked or not _LAST4.match(last4):
        return False
    return hmac.compare_digest(phone_masked[-4:].encode(), last4.encode())


def day_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in Asia/Shanghai, as instants."""
    return (dt.datetime.combine(start, dt.time(), SHANGHAI),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), SHANGHAI))


def rollup(cells: list[Any]) -> tuple[dict[str, list[Count]], list[tuple[str, str, int]], int]:
    """The overview's figures from the case counts per (state, county, bureau, category) cell: per
    dimension the cases (all, open) largest first; the (county, category) pairs with cases opened in
    the hotspot window, most first; and the open cases with a joint meeting proposed."""
    dims: dict[str, dict[str, list[int]]] = {k: {} for k in ("state", "county_label", "assignee", "category")}
    recent: dict[tuple[str, str], int] = {}
    meetings = 0
    for c in cells:
        is_open = c["state"] in sql.OPEN_STATES
        for name, groups in dims.items():
            tally = groups.setdefault(c[name], [0, 0])
            tally[0] += c["total"]
            tally[1] += c["total"] if is_open else 0
        if c["recent"]:
            pair = (c["county_label"], c["category"])
            recent[pair] = recent.get(pair, 0) + c["recent"]
        meetings += c["joint_meetings"] if is_open else 0
    counts = {name: sorted((Count(key=k, total=t, open=o) for k, (t, o) in groups.items()),
                           key=lambda n: (-n.total, n.key)) for name, groups in dims.items()}
    hot = sorted(((county, category, n) for (county, category), n in recent.items()), key=lambda h: (-h[2], h[0], h[1]))
    return counts, hot, meetings


def _rows(records: list[Any], flag: str, key: str) -> list[AssessmentRow]:
    out = []
    for r in records:
        if bool(r["by_county"]) != (flag == "county"):
            continue
        hours = r["mean_answer_hours"]
        out.append(AssessmentRow(key=r[key], opened=r["opened"], answered=r["answered"],
                                 answered_in_time=r["answered_in_time"], refused=r["refused"], closed=r["closed"],
                                 deadlines_breached=int(r["deadlines_breached"]), cases_breached=r["cases_breached"],
                                 mean_answer_hours=None if hours is None else round(float(hours), 2),
                                 surveys=int(r["surveys"]), reopened=int(r["reopened"]),
                                 mean_score=None if r["mean_score"] is None else round(float(r["mean_score"]), 2)))
    return sorted(out, key=lambda row: row.key)


class WorkItem(BaseModel):
    case_id: CaseId  # type: ignore[valid-type]
    category: str
    county: str
    bureau: str
    level: str
    state: str
    opened_at: dt.datetime
    tracking_no: TrackingNo | None  # type: ignore[valid-type]
    outcome: str | None
    next_kind: str | None
    next_due_at: dt.datetime | None
    next_citation: str | None
    next_rule_id: str | None
    referral_state: str | None = Field(default=None, description="the police's worklist: the referral's state")


class Worklist(BaseModel):
    items: list[WorkItem]
    limit: int
    next_cursor: str | None = Field(default=None, description="the next page (`cursor=`); none: this is the last")
    prev_cursor: str | None = Field(default=None, description="the previous page (`cursor=`); none: this is the first")


#: a worklist position: direction (n: after, p: before), section (d: with an open deadline, r: the
#: rest), the item's key time (next due / opened) and case id
def _cursor(direction: str, item: Any) -> str:
    section = "d" if item["next_due_at"] is not None else "r"
    at = item["next_due_at"] if section == "d" else item["opened_at"]
    return keyset.encode(direction, section, at.isoformat(), item["case_id"])


def _uncursor(text: str) -> tuple[bool, str, sql.Key]:
    try:
        direction, section, at, case_id = keyset.decode(text, 4)
        when = dt.datetime.fromisoformat(at)
        if direction not in ("n", "p") or section not in ("d", "r") or when.tzinfo is None \
                or not re.match(CASE_ID_PATTERN, case_id):
            raise keyset.BadCursor(text)
    except ValueError:  # BadCursor, or a time that is none
        raise ProblemError(400, "Bad cursor", "cursor: not a cursor returned by this worklist",
                           errors=[{"field": "cursor", "reason": "bad_cursor",
                                    "detail": "not a cursor returned by this worklist"}]) from None
    return direction == "n", section, (when, case_id)


async def _worklist_page(conn: asyncpg.Connection, bureau: str | None, limit: int,
                         position: tuple[bool, str, sql.Key] | None) -> tuple[list[Any], str | None, str | None]:
    """One page of the worklist (keyset: the cases with an open deadline by (next due, case id), then
    the others by (opened, case id) descending) and its next/previous cursors. At most 3 queries: a
    page may span the two sections, and a previous page that reaches the start is the first page."""
    forward, section, key = position if position is not None else (True, "d", None)
    if forward:
        rows = list(await sql.worklist_due(conn, bureau, limit + 1, key)) if section == "d" else []
        if len(rows) <= limit:
            rows += await sql.worklist_rest(conn, bureau, limit + 1 - len(rows), key if section == "r" else None)
        page = rows[:limit]
        nxt = _cursor("n", page[-1]) if len(rows) > limit else None
        prev = _cursor("p", page[0]) if position is not None and page else None
        return page, nxt, prev
    rows = list(await sql.worklist_rest(conn, bureau, limit + 1, key, forward=False)) if section == "r" else []
    if len(rows) <= limit:
        rows += await sql.worklist_due(conn, bureau, limit + 1 - len(rows), key if section == "d" else None,
                                       forward=False)
    if len(rows) <= limit:  # the start is reached: that is the first page
        return await _worklist_page(conn, bureau, limit, None)
    page = rows[:limit][::-1]
    return page, _cursor("n", page[-1]), _cursor("p", page[0])


class SealedComplainant(BaseModel):
    """The complainant's personal data as intake sealed it (AES-GCM, shared.pii): only a holder of the
    PII keys opens it — the console does, for a person who states why, and audits it."""

    case_id: CaseId  # type: ignore[valid-type]
    name: dict[str, Any] | None
    phone: dict[str, Any] | None
    id_number: dict[str, Any] | None


def build_overview_router(*, pool: asyncpg.Pool, auth: Authenticator, router: Any,
                          second_factor: Limits | None = None) -> APIRouter:
    """`router`: routing's `app.router.Router` (its office, clock and visibility rule); None only
    when building the OpenAPI document. `second_factor`: the status lookup's attempt limits."""
    api = APIRouter(prefix="/v1", responses=RESPONSES)
    reader = auth.require("cases:read")
    guard = SecondFactorGuard(pool, service="routing", limits=second_factor or Limits())

    def office() -> str:
        return str(router.office)

    def now() -> dt.datetime:
        return router.clock.now()  # type: ignore[no-any-return]

    def office_only(caller: Principal = Depends(reader)) -> Principal:
        if not (caller.can("cases:read-all") or (caller.bureau is not None and caller.bureau == office())):
            raise ProblemError(403, "Forbidden", "the overview is the office's (cases:read-all)")
        return caller

    @api.get("/overview", tags=["overview"], response_model=Overview,
             summary="The office's live overview: cases, deadlines, hotspots, referrals")
    async def overview(caller: Principal = Depends(office_only)) -> Overview:
        at = now()
        async with pool.acquire() as conn, conn.transaction():
            await sql.read_only(conn)
            counts = await sql.case_counts(conn, at - HOTSPOT_WINDOW)
            per_county = await sql.deadline_counts(conn, at, SOON)
            urgent = await sql.urgent_deadlines(conn, at, SOON, 20)
            funnel = await sql.referral_funnel(conn)
        dims, hot, meetings = rollup(counts)
        return Overview(
            as_of=at,
            cases_by_state=dims["state"],
            cases_by_county=dims["county_label"],
            cases_by_bureau=dims["assignee"],
            cases_by_category=dims["category"],
            deadlines_breached=sum(r["breached"] for r in per_county),
            deadlines_approaching=sum(r["approaching"] for r in per_county),
            deadlines_by_county=[CountyDeadlines(county=r["county_label"], breached=r["breached"],
                                                 approaching=r["approaching"]) for r in per_county],
            urgent_deadlines=[UrgentDeadline(case_id=r["case_id"], kind=r["kind"], bureau=r["bureau"], due_at=r["due_at"],
                                             citation=r["citation"], rule_id=r["rule_id"], county=r["county_label"],
                                             category=r["category"]) for r in urgent],
            hotspots=[Hotspot(county=county, category=category, cases=n) for county, category, n in hot[:HOTSPOTS]],
            referral_funnel={r["state"]: r["referrals"] for r in funnel},
            joint_meetings_proposed=meetings,
        )

    @api.get("/overview/assessment", tags=["overview"], response_model=Assessment,
             summary="The assessment (考核) per county and bureau of the cases opened in a period")
    async def assessment(start: dt.date = Query(description="first day (Asia/Shanghai)"),
                         end: dt.date = Query(description="last day, inclusive (Asia/Shanghai)"),
                         caller: Principal = Depends(office_only)) -> Assessment:
        if end < start or (end - start).days >= MAX_PERIOD_DAYS or start.year < 1990 or end.year > 2100:
            raise ProblemError(422, "Request failed validation",
                               f"start <= end, at most {MAX_PERIOD_DAYS} days, between 1990 and 2100",
                               errors=[{"field": "end", "reason": "bad_period", "detail": "start <= end, at most "
                                        f"{MAX_PERIOD_DAYS} days"}])
        at = now()
        lo, hi = day_bounds(start, end)
        async with pool.acquire() as conn, conn.transaction():
            await sql.read_only(conn)
            records = await sql.assessment(conn, lo, hi, at)
        return Assessment(start=start, end=end, as_of=at, by_county=_rows(records, "county", "county_label"),
                          by_bureau=_rows(records, "bureau", "assignee"))

    @api.post("/status", tags=["public"], response_model=PublicStatus,
              responses=problems({404: "No complaint with this tracking number and these digits (either wrong)",
                                  429: "Too many failed checks of this tracking number or from this address"}),
              summary="A complaint's status by tracking number + the last 4 phone digits (masked; rate-limited)")
    async def status(request: Request, query: StatusQuery, caller: Principal = Depends(reader)) -> PublicStatus:
        found: dict[str, Any] = {}

        async def verify() -> bool:
            row = found["row"] = await sql.status_by_tracking_no(pool, query.tracking_no)
            return row is not None and second_factor_matches(row["phone_masked"], query.last4)

        try:
            matched = await guard.check(tracking_no=query.tracking_no, verify=verify,
                                        address=client_address(request, relayed=caller.can(RELAY_SCOPE)))
        except Limited as exc:
            raise limited_problem(exc) from None
        if not matched:
            raise ProblemError(404, "Not found", "no complaint with this tracking number and these digits")
        row = found["row"]
        return PublicStatus(tracking_no=row["tracking_no"], state=row["state"], bureau=row["assignee"],
                            category=row["category"], county=row["county"], opened_at=row["opened_at"],
                            acknowledged_at=row["acknowledged_at"], closed_at=row["closed_at"], outcome=row["outcome"],
                            next_kind=row["next_kind"], next_due_at=row["next_due_at"],
                            next_citation=row["next_citation"], name_masked=row["name_masked"],
                            phone_masked=row["phone_masked"])

    @api.get("/worklist", tags=["cases"], response_model=Worklist,
             summary="The caller's cases by next open legal deadline (the office: every case), then the newest others")
    async def worklist(caller: Principal = Depends(reader),
                       limit: int = Query(100, ge=1, le=500, description="cases"),
                       cursor: str | None = Query(None, max_length=keyset.MAX_CURSOR,
                                                  description="a `next_cursor` or `prev_cursor` of an earlier page")
                       ) -> Worklist:
        position = _uncursor(cursor) if cursor else None
        everything = caller.can("cases:read-all") or caller.bureau == office()
        if not everything and not caller.bureau:
            raise ProblemError(403, "Forbidden", "only a bureau or the office has a worklist")
        bureau = None if everything else caller.bureau
        if caller.kind == "police" and not everything:  # a few referrals: one page, no cursors
            rows = await sql.worklist_referrals(pool, str(bureau), sorted(POLICE_INVOLVED), limit)
            return Worklist(limit=limit, items=[WorkItem(**{**dict(r), "bureau": r["assignee"]}) for r in rows])
        async with pool.acquire() as conn, conn.transaction():
            await sql.read_only(conn)
            page, nxt, prev = await _worklist_page(conn, bureau, limit, position)
        return Worklist(limit=limit, next_cursor=nxt, prev_cursor=prev,
                        items=[WorkItem(**{**dict(r), "bureau": r["assignee"]}) for r in page])

    @api.get("/cases/{case_id}/complainant", tags=["cases"], response_model=SealedComplainant,
             summary="The complainant's sealed personal data (the assignee and the office; 404 otherwise)")
    async def sealed_complainant(case_id: CaseIdPath, caller: Principal = Depends(reader)) -> SealedComplainant:
        everything = caller.can("cases:read-all") or caller.bureau == office()
        viewer = office() if everything else caller.bureau
        async with pool.acquire() as conn:
            found = await router.visible_case(conn, viewer, case_id) if viewer else None
        # the police see a referred case, not the complainant: only its assignee and the office
        if found is None or not (everything or found[0].assignee == viewer) or found[0].complainant is None:
            raise ProblemError(404, "Not found", f"no complainant of case {case_id!r} for {viewer}")
        c = found[0].complainant

        def dump(v: Any) -> dict[str, Any] | None:
            return None if v is None else v.model_dump(mode="json")

        return SealedComplainant(case_id=case_id, name=dump(c.name), phone=dump(c.phone), id_number=dump(c.id_number))

    @api.get("/supervision", tags=["referrals"], response_model=list[SupervisionRequest],
             summary="The procuratorate's supervision requests (referrals the police refused), newest 200")
    async def supervision(caller: Principal = Depends(reader)) -> list[SupervisionRequest]:
        if caller.kind != "procuratorate" or not caller.bureau:
            raise ProblemError(403, "Forbidden", "supervision requests are the procuratorate's")
        rows = await sql.supervision_requests(pool, caller.bureau, 200)
        return [SupervisionRequest(**{**dict(r), "basis": json.loads(r["basis"])}) for r in rows]

    return api
