"""Credit's HTTP API (FastAPI). See docs/credit.md for the full reference.

Authenticated (``Authorization: Bearer <client id>.<secret>``; keys are stored
hashed and compared in constant time; the acting bureau is the key's bureau):

- bureaus: ``POST /v1/penalties``, ``POST /v1/penalties:revoke``,
  ``POST /v1/records/{id}:disclose``, ``POST /v1/applications/{id}:decide``;
- every client: ``GET /v1/entities/{code}``, ``POST /v1/entities:check``,
  ``GET /v1/entities:search``, ``GET /v1/records/{id}``, ``GET /v1/applications/{id}``;
- portal, office, bureaus: ``POST /v1/applications`` (repair, early removal);
- platform, office: ``GET /v1/exports/platform`` (docs/credit-export-format.md).

Public: ``GET /v1/disclosures`` (JSON or CSV, masked) and ``GET /v1/measures``.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Awaitable, Callable, Literal

import asyncpg
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from shared.clock import Clock
from shared.contracts.penalty import PenaltyDecided, PenaltyRevoked
from shared.http import ProblemError, create_app
from shared.identifiers import IdentifierError, parse_uscc
from shared.reference import UnknownCode, bureau_type, city, resolve_county
from shared.runtime import unit_of_work
from shared.workdays import SHANGHAI

from services.credit import metrics
from services.credit.adapters import postgres as db
from services.credit.adapters.search import IndexRefresher
from services.credit.domain.applications import Declaration
from services.credit.domain.disclosure import project, to_csv
from services.credit.domain.measures import applicable
from services.credit.domain.search import NameIndex
from services.credit.handlers import ApplicationError, Credit, Outcome

SERVICE = "credit"
REFUSAL_STATUS = {"not_decider_of_record": 403, "not_a_bureau": 403, "unknown_decision": 404,
                  "decision_no_taken": 409, "already_revoked": 409}
ReadinessCheck = Callable[[], Awaitable[bool]]
#: how long a search result's status may be reused (seconds); screening uses :check, which is always current
SEARCH_STATUS_TTL = 2.0


class ClientDirectory:
    """API key → client, cached for `ttl` seconds (a revoked key works at most that long)."""

    def __init__(self, pool: asyncpg.Pool, ttl: float) -> None:
        self.pool, self.ttl = pool, ttl
        self._cache: dict[str, tuple[float, db.Client | None, str]] = {}

    async def authenticate(self, token: str) -> db.Client | None:
        client_id, sep, secret = token.partition(".")
        if not sep or not client_id or not secret:
            return None
        hit = self._cache.get(client_id)
        if hit is None or time.monotonic() - hit[0] > self.ttl:
            async with self.pool.acquire() as conn:
                found = await db.get_client(conn, client_id)
            hit = (time.monotonic(), found[0] if found else None, found[1] if found else "")
            self._cache[client_id] = hit
        _, client, key_hash = hit
        if client is None or not db.secret_matches(secret, key_hash):
            return None
        return client


@dataclass
class HttpDeps:
    pool: asyncpg.Pool
    credit: Credit
    index: NameIndex
    refresher: IndexRefresher
    clients: ClientDirectory
    clock: Clock
    check_max_codes: int = 1000
    readiness: list[ReadinessCheck] = field(default_factory=list)


# -- request bodies ------------------------------------------------------------------------

class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    codes: list[str] = Field(min_length=1, description="unified social credit codes (full-width accepted)")


class Applicant(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200, description="who applies (the enterprise or its agent)")
    contact: str | None = Field(default=None, max_length=200)


class ApplicationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["repair", "early_removal"]
    target_id: str = Field(min_length=1, max_length=64, description="record id (repair) or listing id (early removal)")
    obligations_met: bool = Field(description="the legal obligations are performed (fine paid, conduct corrected)")
    commitment_signed: bool = Field(description="a credit commitment (信用承诺书) is signed")
    applicant: Applicant


class ApplicationDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    approve: bool
    reason: str = Field(default="", max_length=2000)


# -- helpers -------------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(_jsonable(body), status_code=status)


def bureau_display(bureau_id: str) -> str:
    """``market_regulation@610402`` → 秦都区市场监督管理局 (falls back to the id)."""
    btype, _, division = bureau_id.partition("@")
    try:
        name = bureau_type(btype).name_zh
    except UnknownCode:
        return bureau_id
    the_city = city()
    if division in the_city.city_level_codes or division == the_city.code:
        return the_city.name_zh + name
    try:
        return resolve_county(division).name_zh + name
    except (UnknownCode, ValueError):
        return name


def _cursor(at: dt.datetime, ident: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{ident}".encode()).decode().rstrip("=")


def _uncursor(text: str | None) -> tuple[dt.datetime, str] | None:
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        at, _, ident = raw.partition("|")
        return dt.datetime.fromisoformat(at), ident
    except (ValueError, UnicodeDecodeError):
        raise ProblemError(422, "Invalid cursor", "after: not a cursor returned by this feed") from None


def penalty_row(r: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    party = r["party"]
    return {
        "record_id": r["record_id"], "decision_no": r["decision_no"], "party_name": party.get("name"),
        "party_kind": party.get("kind"), "credit_code": party.get("credit_code"),
        "legal_representative": party.get("legal_representative"), "resident_id_masked": party.get("resident_id_masked"),
        "violation": r["violation"], "legal_basis": list(r["legal_basis"]), "penalty_types": list(r["penalty_types"]),
        "content": r["content"], "fine_amount": r["fine_amount"], "confiscated_amount": r["confiscated_amount"],
        "decided_on": r["decided_on"], "bureau": bureau_display(r["bureau"]), "bureau_id": r["bureau"],
        "publicity_until": r["publicity_max_on"], "disclosed_at": r["disclosed_at"],
    }


def listing_row(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "listing_id": r["listing_id"], "party_name": r["name"], "credit_code": r["credit_code"], "rule_id": r["rule_id"],
        "reason": r["reason"], "authority": bureau_display(r["authority"]), "listed_at": r["listed_at"],
        "expires_on": r["expires_on"],
    }


def _problem_from(outcome: Outcome) -> ProblemError:
    assert outcome.reason is not None
    return ProblemError(REFUSAL_STATUS.get(outcome.reason, 409), "Refused", outcome.detail, reason=outcome.reason,
                        type="https://shuangda.example/problems/credit-refused")


def _app_error(exc: ApplicationError) -> ProblemError:
    return ProblemError(exc.status, "Not possible", exc.detail, reason=exc.reason)


def build_app(deps: HttpDeps) -> FastAPI:
    app = create_app(SERVICE, title="Shuangda credit: penalties, credit records, blacklist, joint punishment",
                     readiness=deps.readiness)
    credit = deps.credit
    book = credit.book
    #: entity id → (valid until, status) for search results (the check and entity endpoints never cache)
    status_cache: dict[str, tuple[float, str]] = {}

    async def client(request: Request) -> db.Client:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
        found = await deps.clients.authenticate(token) if token else None
        if found is None:
            raise ProblemError(401, "Unauthorised", "a valid API key is required (Authorization: Bearer <key>)")
        return found

    def role(*allowed: str) -> Callable[..., Awaitable[db.Client]]:
        async def check(c: db.Client = Depends(client)) -> db.Client:
            if c.role not in allowed:
                raise ProblemError(403, "Forbidden", f"a {c.role} client may not do this (needs {' or '.join(allowed)})")
            return c

        return check

    def bureau_of(c: db.Client):  # noqa: ANN202
        b = c.bureau
        if b is None:
            raise ProblemError(403, "Forbidden", "only a bureau may do this")
        return b

    # -- penalty decisions ---------------------------------------------------------------

    @app.post("/v1/penalties", status_code=201, tags=["penalties"])
    async def decide(cmd: PenaltyDecided, c: db.Client = Depends(role("bureau"))) -> JSONResponse:
        b = bureau_of(c)
        async with unit_of_work(deps.pool, source=credit.source, actor=b.id) as uow:
            outcome = await credit.decide(uow, b, cmd, source_event_id=None)
        if outcome.status == "refused":
            raise _problem_from(outcome)
        body = {"status": outcome.status, "record_id": outcome.record_id, "entity": outcome.entity_key, **outcome.facts}
        return _json(body, 201 if outcome.status == "recorded" else 200)

    @app.post("/v1/penalties:revoke", tags=["penalties"])
    async def revoke(cmd: PenaltyRevoked, c: db.Client = Depends(role("bureau"))) -> JSONResponse:
        b = bureau_of(c)
        async with unit_of_work(deps.pool, source=credit.source, actor=b.id) as uow:
            outcome = await credit.revoke(uow, b, cmd, source_event_id=None)
        if outcome.status == "refused":
            raise _problem_from(outcome)
        return _json({"status": outcome.status, "record_id": outcome.record_id, "entity": outcome.entity_key})

    @app.post("/v1/records/{record_id}:disclose", tags=["penalties"])
    async def disclose(record_id: str, c: db.Client = Depends(role("bureau"))) -> JSONResponse:
        b = bureau_of(c)
        try:
            async with unit_of_work(deps.pool, source=credit.source, actor=b.id) as uow:
                status = await credit.disclose_by_bureau(uow, b, record_id)
        except ApplicationError as exc:
            raise _app_error(exc) from None
        return _json({"record_id": record_id, "status": status})

    @app.get("/v1/records/{record_id}", tags=["records"])
    async def get_record(record_id: str, _: db.Client = Depends(client)) -> JSONResponse:
        async with deps.pool.acquire() as conn:
            r = await db.record_by_id(conn, record_id)
        if r is None:
            raise ProblemError(404, "Not found", f"no record {record_id}")
        body = {k: r[k] for k in ("record_id", "kind", "decision_no", "bureau", "category", "penalty_types", "fine_amount",
                                  "confiscated_amount", "decided_on", "heavy", "heavy_rules", "severity", "repairable",
                                  "disclose", "disclosure_due_on", "disclosure_provisional", "disclosed_at",
                                  "publicity_min_on", "publicity_max_on", "status", "ended_at", "end_reason", "party",
                                  "rules_version", "case_id", "created_at")}
        return _json(body)

    # -- applications --------------------------------------------------------------------

    @app.post("/v1/applications", status_code=201, tags=["applications"])
    async def apply(req: ApplicationRequest, c: db.Client = Depends(role("portal", "office", "bureau"))) -> JSONResponse:
        try:
            async with unit_of_work(deps.pool, source=credit.source, actor=c.client_id) as uow:
                body = await credit.submit_application(
                    uow, submitted_by=c.client_id, kind=req.kind, target_id=req.target_id,
                    declaration=Declaration(req.obligations_met, req.commitment_signed),
                    applicant=req.applicant.model_dump(),
                )
        except ApplicationError as exc:
            raise _app_error(exc) from None
        return _json(body, 201)

    @app.post("/v1/applications/{application_id}:decide", tags=["applications"])
    async def decide_application(application_id: str, req: ApplicationDecision,
                                 c: db.Client = Depends(role("bureau"))) -> JSONResponse:
        b = bureau_of(c)
        try:
            async with unit_of_work(deps.pool, source=credit.source, actor=b.id) as uow:
                body = await credit.decide_application(uow, b, application_id, approve=req.approve, reason=req.reason)
        except ApplicationError as exc:
            raise _app_error(exc) from None
        return _json(body)

    @app.get("/v1/applications/{application_id}", tags=["applications"])
    async def get_application(application_id: str, _: db.Client = Depends(client)) -> JSONResponse:
        async with deps.pool.acquire() as conn:
            r = await db.application_by_id(conn, application_id)
        if r is None:
            raise ProblemError(404, "Not found", f"no application {application_id}")
        return _json({k: r[k] for k in r.keys() if k not in ("applicant",)})

    # -- queries -------------------------------------------------------------------------

    @app.get("/v1/entities:search", tags=["queries"])
    async def search(q: str = Query(min_length=1, max_length=200), limit: int = Query(10, ge=1, le=50),
                     min_score: float = Query(50.0, ge=0, le=100), _: db.Client = Depends(client)) -> JSONResponse:
        started = time.perf_counter()
        candidates = []
        try:
            code = parse_uscc(q)
        except IdentifierError:
            code = None
        if code is not None:
            async with deps.pool.acquire() as conn:
                e = await db.entity_by_key(conn, code)
            if e is not None:
                candidates.append({"entity_id": e["entity_id"], "credit_code": code, "name": e["name"], "matched_name": code,
                                   "matched_name_kind": "credit_code", "score": 100.0,
                                   "explanation": ["the query is this entity's unified social credit code"]})
        else:
            for cand in deps.index.search(q, limit=limit, min_score=min_score):
                candidates.append({"entity_id": cand.entity_id, "credit_code": cand.credit_code, "name": cand.name,
                                   "matched_name": cand.matched_name, "matched_name_kind": cand.matched_name_kind,
                                   "score": cand.score, "explanation": list(cand.explanation)})
        if candidates:
            now = time.monotonic()
            missing = [c["entity_id"] for c in candidates if status_cache.get(c["entity_id"], (0.0, ""))[0] < now]
            if missing:
                async with deps.pool.acquire() as conn:
                    found = await db.status_by_entity_ids(conn, missing)
                for entity_id, (rules, has_records, _heavy) in found.items():
                    label = "blacklisted" if rules else "has_records" if has_records else "clear"
                    status_cache[entity_id] = (now + SEARCH_STATUS_TTL, label)
                if len(status_cache) > 50_000:
                    status_cache.clear()
            for cand in candidates:
                cand["status"] = status_cache.get(cand["entity_id"], (0.0, "clear"))[1]
        metrics.QUERY_DURATION.labels("search").observe(time.perf_counter() - started)
        return _json({"query": q, "candidates": candidates, "index_size": len(deps.index)})

    @app.post("/v1/entities:check", tags=["queries"])
    async def check(req: CheckRequest, _: db.Client = Depends(client)) -> JSONResponse:
        started = time.perf_counter()
        if len(req.codes) > deps.check_max_codes:
            raise ProblemError(422, "Too many codes", f"at most {deps.check_max_codes} codes per request, got {len(req.codes)}")
        results: list[dict[str, Any]] = []
        valid: dict[str, int] = {}
        for i, raw in enumerate(req.codes):
            try:
                code = parse_uscc(raw)
            except IdentifierError as exc:
                results.append({"code": raw, "valid": False, "reason": exc.reason, "detail": exc.message})
                continue
            valid[code] = i
            results.append({"code": code, "valid": True})
        today = deps.clock.now().astimezone(SHANGHAI).date()
        async with deps.pool.acquire() as conn:
            rows = await db.status_by_codes(conn, list(valid))
        found = {r["credit_code"]: r for r in rows}
        measures_for: dict[tuple[tuple[str, ...], bool], list[str]] = {}
        listed = with_records = 0
        for item in results:
            if not item["valid"]:
                continue
            r = found.get(item["code"])
            if r is None:
                item.update(known=False, status="clear", listed=False, measures=[])
                continue
            rules = tuple(r["listing_rules"])
            key = (rules, r["has_heavy"])
            if key not in measures_for:
                measures_for[key] = [m.id for m in applicable(book, listing_rules=rules, has_heavy_record=r["has_heavy"],
                                                               today=today)]
            status = "blacklisted" if rules else "has_records" if r["has_records"] else "clear"
            listed += bool(rules)
            with_records += bool(r["has_records"])
            until = r["listed_until"]
            item.update(known=True, name=r["name"], status=status, listed=bool(rules), listing_rules=list(rules),
                        listed_until=until.isoformat() if until else None, measures=measures_for[key])
        metrics.QUERY_DURATION.labels("check").observe(time.perf_counter() - started)
        return JSONResponse({"as_of": deps.clock.now().isoformat(), "results": results,
                             "summary": {"checked": len(results), "invalid": len(results) - len(valid), "listed": listed,
                                         "with_records": with_records}})

    @app.get("/v1/entities/{code}", tags=["queries"])
    async def entity(code: str, _: db.Client = Depends(client)) -> JSONResponse:
        started = time.perf_counter()
        key = code
        if not code.startswith("ent-"):
            try:
                key = parse_uscc(code)
            except IdentifierError as exc:
                raise ProblemError(422, "Invalid credit code", exc.message, reason=exc.reason) from None
        async with deps.pool.acquire() as conn:
            e = await db.entity_by_key(conn, key)
            if e is None:
                raise ProblemError(404, "Not found", f"no credit record for {key}")
            names = await db.entity_names(conn, e["entity_id"])
            records = await db.active_records(conn, e["entity_id"])
            listings = await db.active_listings(conn, e["entity_id"])
        today = deps.clock.now().astimezone(SHANGHAI).date()
        rules = [li["rule_id"] for li in listings]
        measures = applicable(book, listing_rules=rules, has_heavy_record=any(r["heavy"] for r in records), today=today)
        body = {
            "entity_id": e["entity_id"], "credit_code": e["credit_code"], "name": e["name"], "kind": e["kind"],
            "status": "blacklisted" if listings else "has_records" if records else "clear",
            "names": [dict(n) for n in names],
            "records": [dict(r) | {"bureau_name": bureau_display(r["bureau"])} for r in records],
            "listings": [dict(li) | {"authority_name": bureau_display(li["authority"])} for li in listings],
            "measures": [m.__dict__ for m in measures],
            "as_of": deps.clock.now(),
        }
        metrics.QUERY_DURATION.labels("entity").observe(time.perf_counter() - started)
        return _json(body)

    # -- public --------------------------------------------------------------------------

    @app.get("/v1/measures", tags=["public"])
    async def measures() -> JSONResponse:
        t = book.measures
        return _json({"version": t.version, "citation": t.citation,
                      "departments": [d.model_dump() for d in t.departments],
                      "measures": [m.model_dump() for m in t.measures]})

    @app.get("/v1/disclosures", tags=["public"])
    async def disclosures(kind: Literal["penalty", "listing"] = "penalty", format: Literal["json", "csv"] = "json",
                          after: str | None = None, limit: int = Query(200, ge=1, le=5000),
                          labels: Literal["keys", "zh"] = "keys") -> Response:
        cursor = _uncursor(after)
        async with deps.pool.acquire() as conn:
            if kind == "penalty":
                rows = await db.feed_penalties(conn, cursor, limit)
                items = [penalty_row(r) for r in rows]
                fields = book.disclosure.penalty_fields
                last = (rows[-1]["disclosed_at"], rows[-1]["record_id"]) if rows else None
            else:
                rows = await db.feed_listings(conn, cursor, limit)
                items = [listing_row(r) for r in rows]
                fields = book.disclosure.listing_fields
                last = (rows[-1]["listed_at"], rows[-1]["listing_id"]) if rows else None
        published = [project(i, fields) for i in items]
        nxt = _cursor(*last) if last and len(rows) == limit else None
        if format == "csv":
            headers = {"content-disposition": f'attachment; filename="shuangda-{kind}-disclosures.csv"'}
            if nxt:
                headers["x-next-cursor"] = nxt
            return Response(to_csv(published, fields, labels=labels == "zh"), media_type="text/csv; charset=utf-8",
                            headers=headers)
        return _json({"kind": kind, "fields": [f.model_dump() for f in fields], "items": published, "next": nxt})

    @app.get("/v1/exports/platform", tags=["export"])
    async def export(since: dt.datetime = Query(description="ISO 8601 instant; the `next_since` of the previous page"),
                     format: Literal["ndjson", "csv"] = "ndjson", limit: int = Query(1000, ge=1, le=10_000),
                     _: db.Client = Depends(role("platform", "office"))) -> Response:
        if since.tzinfo is None:
            raise ProblemError(422, "Invalid since", "since: give a UTC offset (e.g. 2025-01-01T00:00:00Z)")
        async with deps.pool.acquire() as conn:
            rows = await db.export_changes(conn, since, limit)
            server_now = await conn.fetchval("SELECT clock_timestamp()")
        lines = [export_line(r) for r in rows]
        if len(rows) == limit:
            next_since = rows[-1]["changed_at"]
        else:
            next_since = max(since, server_now - EXPORT_OVERLAP)
        headers = {"x-next-since": next_since.isoformat()}
        if format == "csv":
            return Response(export_csv(lines), media_type="text/csv; charset=utf-8", headers=headers)
        body = "".join(json.dumps(_jsonable(line), ensure_ascii=False) + "\n" for line in lines)
        return Response(body, media_type="application/x-ndjson", headers=headers)

    return app


#: the export's next page starts this long before "now", so rows committed late are never missed
EXPORT_OVERLAP = dt.timedelta(seconds=120)

EXPORT_COLUMNS = (
    "op", "item", "id", "version", "changed_at", "status", "status_reason", "decision_no", "party_name", "party_kind",
    "credit_code", "legal_representative", "resident_id_masked", "violation", "legal_basis", "penalty_types", "content",
    "fine_amount_wan", "confiscated_amount_wan", "decided_on", "authority", "publicity_until", "published_at", "rule_id",
    "reason", "listed_at", "expires_on",
)


def _wan(amount: Decimal | None) -> Decimal | None:
    return None if amount is None else (amount / Decimal(10000)).quantize(Decimal("0.000001"))


def export_line(r: asyncpg.Record) -> dict[str, Any]:
    party = r["party"] or {}
    live = r["status"] in ("active", "listed") and r["published"]
    return {
        "op": "publish" if live else "withdraw", "item": r["item"], "id": r["id"], "version": r["version"],
        "changed_at": r["changed_at"], "status": r["status"], "status_reason": r["status_reason"],
        "decision_no": r["decision_no"], "party_name": party.get("name"), "party_kind": party.get("kind"),
        "credit_code": party.get("credit_code"), "legal_representative": party.get("legal_representative"),
        "resident_id_masked": party.get("resident_id_masked"), "violation": r["violation"],
        "legal_basis": list(r["legal_basis"] or []), "penalty_types": list(r["penalty_types"] or []), "content": r["content"],
        "fine_amount_wan": _wan(r["fine_amount"]), "confiscated_amount_wan": _wan(r["confiscated_amount"]),
        "decided_on": r["decided_on"], "authority": bureau_display(r["bureau"]) if r["bureau"] else None,
        "publicity_until": r["publicity_max_on"], "published_at": r["disclosed_at"], "rule_id": r["rule_id"],
        "reason": r["reason"], "listed_at": r["listed_at"], "expires_on": r["expires_on"],
    }


def export_csv(lines: list[dict[str, Any]]) -> str:
    from services.credit.rules import PublishedField

    fields = [PublishedField(key=c, label_zh=c) for c in EXPORT_COLUMNS]
    return to_csv(lines, fields)
