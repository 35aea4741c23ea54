"""Inspection's HTTP API. A bureau (``cases:act``) uploads its enterprise pool and inspector
roster, draws plans, records and publishes results, for its own bureau; the office reads every
plan. The public part (``/v1/public/…``, no key, rate-limited per address) is the "一公开": each
plan with its seed and pool versions, the pool versions themselves (so anyone can re-run the
draw), the published results and the enterprises' quality commitments. Writes take an
Idempotency-Key; refusals are problem documents naming the field and the reason."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Awaitable, Callable, Literal

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from pydantic import Field, field_validator

from shared import deadline_watch as watch
from shared.http import ProblemError, create_app, problem_response
from shared.identifiers import IdentifierError, is_personal_name, mask_name, parse_uscc, uscc_party_kind
from shared.identity.http import Authenticator
from shared.identity.model import Principal
from shared.openapi import install_problem_schema
from shared.reference import UnknownCode
from shared.reference.categories import category as known_category
from shared.reference.counties import resolve_county
from shared.refusals import StrictIn, command_responses, write_command
from shared.runtime.uow import UnitOfWork
from shared.text import Ident, PageLimit, PageOffset, SaneDate, Text
from shared.workdays import SHANGHAI

from services.inspection.adapters import postgres as db
from services.inspection.app.inspections import Actor, Inspections, pool_id
from services.inspection.domain.draw import Commitment, Enterprise, Inspector, Scope
from services.inspection.domain.tasks import Task

SERVICE = "inspection"
TITLE = "Shuangda inspection: random inspections (双随机、一公开)"
PlanId = Ident(r"insp_[0-9a-f]{20}", max_len=25, what="plan id")
InspectorId = Ident(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}", max_len=40, what="inspector id")
BureauId = Ident(r"[a-z][a-z_]{1,40}@\d{6}", max_len=48, what="bureau")
Seed = Ident(r"[0-9A-Za-z_-]{16,128}", max_len=128, what="seed")
#: the public paths (rate-limited per address and per key by the wiring)
PUBLIC_PATHS = ("/v1/public/",)

RESPONSES = command_responses("No such plan or pool version, or not one the caller may see")


def _uscc(v: str) -> str:
    try:
        return parse_uscc(v)
    except IdentifierError as exc:
        raise ValueError(str(exc)) from None


def _county(v: str) -> str:
    try:
        return resolve_county(v).code
    except UnknownCode as exc:
        raise ValueError(str(exc)) from None


def _category(v: str) -> str:
    try:
        return known_category(v).id
    except UnknownCode as exc:
        raise ValueError(str(exc)) from None


class CommitmentIn(StrictIn):
    committed_on: SaneDate
    text: Text(1000)  # type: ignore[valid-type]


class EnterpriseIn(StrictIn):
    """The bureau's attributes of one enterprise: what the registry lacks (its risk grade and
    quality commitment). Name, county and category are the registry's; given here they are
    checked and kept with the upload, but the draw takes the registry's."""

    credit_code: str = Field(max_length=40)
    name: Text(200, required=False) = ""  # type: ignore[valid-type]
    county: str | None = Field(default=None, max_length=16)
    category: str | None = Field(default=None, max_length=64)
    risk: Literal["low", "medium", "high"] = "medium"
    commitment: CommitmentIn | None = None

    @field_validator("credit_code")
    @classmethod
    def _code(cls, v: str) -> str:
        return _uscc(v)

    @field_validator("county")
    @classmethod
    def _in_city(cls, v: str | None) -> str | None:
        return None if v is None else _county(v)

    @field_validator("category")
    @classmethod
    def _known(cls, v: str | None) -> str | None:
        return None if v is None else _category(v)


class InspectorIn(StrictIn):
    inspector_id: InspectorId  # type: ignore[valid-type]
    name: Text(60)  # type: ignore[valid-type]
    conflicts: list[str] = Field(default_factory=list, max_length=500, description="credit codes of 回避")

    @field_validator("conflicts")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        return [_uscc(c) for c in v]


class EnterprisePool(StrictIn):
    entries: list[EnterpriseIn] = Field(min_length=1, max_length=20_000)


class InspectorRoster(StrictIn):
    entries: list[InspectorIn] = Field(min_length=1, max_length=5_000)


class ScopeIn(StrictIn):
    category: str | None = Field(default=None, max_length=64)
    county: str | None = Field(default=None, max_length=16)
    risks: list[Literal["low", "medium", "high"]] = Field(default_factory=list, max_length=3)
    quality_commitment: bool | None = None

    @field_validator("category")
    @classmethod
    def _known(cls, v: str | None) -> str | None:
        return None if v is None else _category(v)

    @field_validator("county")
    @classmethod
    def _in_city(cls, v: str | None) -> str | None:
        return None if v is None else _county(v)


class DrawPlan(StrictIn):
    title: Text(200)  # type: ignore[valid-type]
    scope: ScopeIn
    sample_size: int | None = Field(default=None, ge=1, le=20_000)
    sample_rate: Decimal | None = Field(default=None, gt=0, le=1, max_digits=5, decimal_places=4)
    inspectors_per_target: int = Field(default=2, ge=1, le=10)
    seed: Seed | None = Field(default=None, description="published with the plan; drawn at random when absent")  # type: ignore[valid-type]


class RecordResult(StrictIn):
    credit_code: str = Field(max_length=40)
    result: Literal["no_problem", "problems_found", "referred_to_case"]
    findings: Text(2000, required=False) = ""  # type: ignore[valid-type]
    inspected_by: list[InspectorId] = Field(min_length=1, max_length=10)  # type: ignore[valid-type]
    correction_reason: Text(500, required=False) | None = Field(  # type: ignore[valid-type]
        default=None, description="given when the result corrects one already recorded or published")

    @field_validator("credit_code")
    @classmethod
    def _code(cls, v: str) -> str:
        return _uscc(v)


def public_name(credit_code: str, name: str) -> str:
    """A name as the public part shows it: a 个体工商户 known by its operator's own name by its surname
    (as credit publishes it; names drawn from the registry arrive masked already, masking is idempotent)."""
    return mask_name(name) if name and is_personal_name(uscc_party_kind(credit_code), name) else name


def actor_of(p: Principal) -> Actor:
    return Actor(party=p.bureau or p.principal_id, person=p.principal_id)


def task_view(t: Task, *, public: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"credit_code": t.credit_code, "name": t.name, "county": t.county, "category": t.category}
    if public:
        out["name"] = public_name(t.credit_code, t.name)
        return out | {"result": t.result, "findings": t.findings,
                      "published_at": t.published_at.isoformat() if t.published_at else None}
    return out | {"inspectors": list(t.inspectors), "state": t.state, "result": t.result, "findings": t.findings,
                  "inspected_by": list(t.inspected_by), "revision": t.revision,
                  "recorded_at": t.recorded_at.isoformat() if t.recorded_at else None,
                  "published_at": t.published_at.isoformat() if t.published_at else None}


def plan_view(plan: dict[str, Any], tasks: list[Task], *, public: bool = False) -> dict[str, Any]:
    out = {
        "plan_id": plan["plan_id"], "bureau": plan["bureau"], "title": plan["title"], "scope": plan["scope"],
        "sample_size": plan["sample_size"],
        "sample_rate": None if plan["sample_rate"] is None else str(plan["sample_rate"]),
        "inspectors_per_target": plan["inspectors_per_target"], "seed": plan["seed"],
        "enterprise_pool": {"pool_id": plan["enterprise_pool"], "version": plan["enterprise_version"]},
        "inspector_roster": {"pool_id": plan["inspector_pool"], "version": plan["inspector_version"]},
        "eligible": plan["eligible"], "drawn_at": plan["drawn_at"].isoformat(),
        "draw_rule": "services/inspection/domain/draw.py: targets by sha256(seed|target|code), "
                     "inspectors by sha256(seed|inspector|code|id) without conflicts",
    }
    if public:
        return out | {"targets": [task_view(t, public=True) | {"published": t.state == "published"} for t in tasks]}
    return out | {"tasks": [task_view(t) for t in tasks]}


def build_app(*, pool: asyncpg.Pool, inspections: Inspections, auth: Authenticator,
              body_limit: int | Callable[[str], int], rate_limits: Any,
              readiness: list[Callable[[], Awaitable[bool]]]) -> FastAPI:
    app = create_app(SERVICE, title=TITLE, readiness=readiness, body_limit=body_limit, rate_limits=rate_limits,
                     description="Random inspections: versioned enterprise pools and inspector rosters, a reproducible "
                                 "seeded draw, results, and their publication with the enterprises' quality commitments.")
    api = APIRouter(prefix="/v1", responses=RESPONSES)
    bureau_dep, reader = auth.require("cases:act"), auth.require("cases:read")
    Key = Header(default=None, alias="Idempotency-Key")

    async def write(request: Request, caller: Principal, key: str | None, status: int,
                    work: Callable[[UnitOfWork, Actor], Awaitable[Any]]) -> Response:
        if caller.bureau is None:
            raise ProblemError(403, "Forbidden", "a bureau runs its random inspections",
                               errors=[{"field": "caller", "reason": "not_a_bureau", "detail": "a bureau's key"}])
        actor = actor_of(caller)
        return await write_command(pool, request, service=SERVICE, caller_id=caller.principal_id, actor=actor,
                                   party=actor.party, key=key, status=status, work=work)

    @api.put("/pools/enterprises", status_code=201,
             summary="A new version of the bureau's enterprise attributes: risk grades and quality commitments")
    async def put_enterprises(request: Request, body: EnterprisePool, caller: Principal = Depends(bureau_dep),
                              idempotency_key: str | None = Key) -> Response:
        entries = [Enterprise(e.credit_code, e.name, e.county or "", e.category or "", e.risk,
                              Commitment(e.commitment.committed_on.isoformat(), e.commitment.text) if e.commitment else None)
                   for e in body.entries]
        return await write(request, caller, idempotency_key, 201,
                           lambda uow, a: inspections.upload_pool(uow, a, "attributes", entries))

    @api.put("/pools/inspectors", status_code=201, summary="A new version of the bureau's inspector roster")
    async def put_inspectors(request: Request, body: InspectorRoster, caller: Principal = Depends(bureau_dep),
                             idempotency_key: str | None = Key) -> Response:
        entries = [Inspector(i.inspector_id, i.name, tuple(sorted(set(i.conflicts)))) for i in body.entries]
        return await write(request, caller, idempotency_key, 201,
                           lambda uow, a: inspections.upload_pool(uow, a, "inspectors", entries))

    @api.post("/plans", status_code=201, summary="Draw a plan: targets and inspectors at random, from a published seed")
    async def draw_plan(request: Request, body: DrawPlan, caller: Principal = Depends(bureau_dep),
                        idempotency_key: str | None = Key) -> Response:
        scope = Scope(body.scope.category, body.scope.county, tuple(body.scope.risks), body.scope.quality_commitment)

        async def work(uow: UnitOfWork, a: Actor) -> dict[str, Any]:
            plan = await inspections.draw_plan(uow, a, title=body.title, scope=scope, sample_size=body.sample_size,
                                               sample_rate=body.sample_rate,
                                               inspectors_per_target=body.inspectors_per_target, seed=body.seed)
            return plan_view(plan, plan.pop("tasks"))
        return await write(request, caller, idempotency_key, 201, work)

    @api.get("/plans/{plan_id}", summary="A plan with its tasks (its bureau and the office)")
    async def read_plan(plan_id: PlanId, caller: Principal = Depends(reader)) -> dict[str, Any]:  # type: ignore[valid-type]
        async with pool.acquire() as conn:
            plan = await db.plan(conn, plan_id)
            tasks = await db.tasks(conn, plan_id) if plan else []
            deadlines = await watch.deadlines_of(conn, [plan_id]) if plan else []
        if plan is None or not (caller.can("cases:read-all") or caller.bureau == plan["bureau"]):
            raise ProblemError(404, "Not found", f"no plan {plan_id} the caller may see")
        return plan_view(plan, tasks) | {"deadlines": [
            {"credit_code": d["deadline_id"].split(":")[1]} | watch.deadline_view(d) for d in deadlines]}

    @api.post("/plans/{plan_id}/results", summary="Record a target's result (a violation goes to intake as a lead)")
    async def record(request: Request, plan_id: PlanId, body: RecordResult,  # type: ignore[valid-type]
                     caller: Principal = Depends(bureau_dep), idempotency_key: str | None = Key) -> Response:
        async def work(uow: UnitOfWork, a: Actor) -> dict[str, Any]:
            return task_view(await inspections.record(uow, a, plan_id, credit_code=body.credit_code, result=body.result,
                                                      findings=body.findings, inspected_by=tuple(body.inspected_by),
                                                      correction_reason=body.correction_reason))
        return await write(request, caller, idempotency_key, 200, work)

    @api.post("/plans/{plan_id}:publish", summary="Publish every recorded result of the plan")
    async def publish(request: Request, plan_id: PlanId, caller: Principal = Depends(bureau_dep),  # type: ignore[valid-type]
                      idempotency_key: str | None = Key) -> Response:
        async def work(uow: UnitOfWork, a: Actor) -> dict[str, Any]:
            done = await inspections.publish(uow, a, plan_id)
            return {"plan_id": plan_id, "published": [task_view(t, public=True) for t in done]}
        return await write(request, caller, idempotency_key, 200, work)

    @api.get("/reports/inspections", summary="Per bureau: plans, targets, results by kind, published, breaches (office)")
    async def inspections_report(since: SaneDate, until: SaneDate,
                                 caller: Principal = Depends(auth.require("cases:read-all"))) -> dict[str, Any]:
        start = dt.datetime.combine(since, dt.time(), SHANGHAI)
        end = dt.datetime.combine(until, dt.time(), SHANGHAI) + dt.timedelta(days=1)
        return {"since": since.isoformat(), "until": until.isoformat(), "bureaus": await db.report(pool, start, end)}

    # --- 一公开: the public part, no key, rate-limited -------------------------------------------
    public = APIRouter(prefix="/v1/public", tags=["public"],
                       responses={404: RESPONSES[404], 422: RESPONSES[422],
                                  429: problem_response("Too many requests from this address (Retry-After)")})

    @public.get("/plans/{plan_id}", summary="A plan as published: scope, seed, pool versions, targets, results")
    async def public_plan(plan_id: PlanId) -> dict[str, Any]:  # type: ignore[valid-type]
        async with pool.acquire() as conn:
            plan = await db.plan(conn, plan_id)
            tasks = await db.tasks(conn, plan_id) if plan else []
            e_row = await db.pool(conn, plan["enterprise_pool"], plan["enterprise_version"]) if plan else None
            i_row = await db.pool(conn, plan["inspector_pool"], plan["inspector_version"]) if plan else None
        if plan is None or e_row is None or i_row is None:
            raise ProblemError(404, "Not found", f"no plan {plan_id}")
        view = plan_view(plan, tasks, public=True)
        view["enterprise_pool"]["digest"], view["inspector_roster"]["digest"] = e_row["digest"], i_row["digest"]
        for t in view["targets"]:
            if not t.pop("published"):
                t["result"] = t["findings"] = t["published_at"] = None
        return view

    @public.get("/pools/{kind}/{bureau}/{version}", summary="A pool version, as the draw used it (to re-run the draw)")
    async def public_pool(kind: Literal["enterprises", "inspectors"], bureau: BureauId, version: int = 0) -> dict[str, Any]:  # type: ignore[valid-type]
        row = await db.pool(pool, pool_id(kind, bureau), version)
        if row is None:
            raise ProblemError(404, "Not found", f"no version {version} of {pool_id(kind, bureau)}")
        # the entries as the draw used them (their digest): names drawn from the registry are published as credit shows them
        return {"pool_id": row["pool_id"], "version": row["version"], "digest": row["digest"], "size": row["size"],
                "created_at": row["created_at"].isoformat(), "entries": json.loads(row["entries"])}

    @public.get("/results", summary="Published results, newest first")
    async def public_results(bureau: BureauId | None = None, credit_code: str | None = None,  # type: ignore[valid-type]
                             limit: PageLimit(200) = 50, offset: PageOffset = 0) -> dict[str, Any]:  # type: ignore[valid-type]
        code = None
        if credit_code is not None:
            try:
                code = parse_uscc(credit_code)
            except IdentifierError as exc:
                raise ProblemError(422, "Request failed validation", str(exc),
                                   errors=[{"field": "credit_code", "reason": "invalid", "detail": str(exc)}]) from None
        rows = await db.published(pool, bureau=bureau, credit_code=code, limit=limit, offset=offset)
        return {"results": [{**r, "name": public_name(r["credit_code"], r["name"]),
                             "published_at": r["published_at"].isoformat()} for r in rows]}

    @public.get("/commitments", summary="A bureau's enterprises with a quality commitment, and their published results")
    async def public_commitments(bureau: BureauId) -> dict[str, Any]:  # type: ignore[valid-type]
        async with pool.acquire() as conn:
            row = await db.pool(conn, pool_id("attributes", bureau))
            if row is None:
                return {"bureau": bureau, "pool_version": None, "enterprises": []}
            committed = [e for e in db.enterprises(row) if e.commitment is not None]
            names = await db.registry_names(conn, [e.credit_code for e in committed])
            results = await db.published(conn, bureau=bureau, credit_code=None, limit=10_000, offset=0)
        by_code: dict[str, list[dict[str, Any]]] = {}
        for r in results:
            by_code.setdefault(r["credit_code"], []).append(
                {"plan_id": r["plan_id"], "result": r["result"], "findings": r["findings"],
                 "published_at": r["published_at"].isoformat()})
        return {"bureau": bureau, "pool_version": row["version"], "enterprises": [
            {"credit_code": e.credit_code, "name": public_name(e.credit_code, names.get(e.credit_code, e.name)),
             "county": e.county,
             "category": e.category,
             "commitment": {"committed_on": e.commitment.committed_on, "text": e.commitment.text},
             "results": by_code.get(e.credit_code, [])} for e in committed if e.commitment]}

    app.include_router(api)
    app.include_router(public)
    install_problem_schema(app)
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, built without any connection (for docs/openapi/inspection.json)."""
    from shared.clock import WallClock
    from shared.workdays import default_calendar

    inspections = Inspections(clock=WallClock(), topic="inspection", lead_topic="ingress.inspection",
                              calendar=default_calendar())
    return build_app(pool=None, inspections=inspections, auth=Authenticator(None), body_limit=64 * 1024,  # type: ignore[arg-type]
                     rate_limits=None, readiness=[]).openapi()
