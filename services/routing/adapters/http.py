"""Routing's HTTP API for bureaus, the police and the office.

Callers authenticate through the one identity store (`shared.identity.http.Authenticator`):
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. The acting bureau is the key's
principal's bureau (``type@division``); nothing in a body or query names it. Scopes:
``cases:read`` to read, ``cases:act`` for a bureau's commands, ``referrals:act`` for the
police's decision on a referral, ``cases:read-all`` (or being the office's own bureau) to
read every case. A bureau lists and reads its own cases (and the cases whose referral went
to it, for the police); a case a caller may not see answers 404, whether or not it exists.

Commands answer 200 with the events they caused, or a problem document with the refusal
reason (also published as ``case.command-refused``): 404 when the caller is not the case's
assignee (or the referral's police), 409 otherwise. An ``Idempotency-Key`` is bound to the
caller and to the request it first answered (`shared.idempotency`): the same request again
replays the first answer, the key with another request is a 409 problem.

Every id, text, paging value and date is checked at the edge (`adapters.hygiene`); the body
limit (413) is the app's (`create_app(body_limit=…)`), enforced before authentication, and
authentication runs before the body is validated.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Awaitable, Callable, Iterable, Literal

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from shared.contracts.bureau_actions import (
    AcknowledgeCase,
    BureauCommand,
    DecideCriminalCase,
    DecideReferral,
    HandOver,
    ProposeReferral,
    RecordOutcome,
    RequestReconsideration,
    RequestSupervision,
    RequestTransfer,
    TransferToPolice,
)
from shared.http import PROBLEM_JSON, ProblemError, create_app, run_in_transaction
from shared.idempotency import DESCRIPTION as IDEMPOTENCY
from shared.idempotency import checked_key, idempotent, request_fingerprint
from shared.identity.http import AUTH_RESPONSES, Authenticator
from shared.identity.model import Principal
from shared.openapi import install_problem_schema, problems
from shared.runtime import UnitOfWork
from shared.text import CaseId

from services.routing.adapters import postgres as repo
from shared.egress import EgressNotReady
from services.routing.adapters.http_overview import build_overview_router
from services.routing.adapters.hygiene import CaseIdPath, CaseState, Limit, Offset, require_clean
from services.routing.app.commands import answer
from services.routing.app.router import Router
from services.routing.domain.case import Case, Referral

SERVICE = "routing"
TITLE = "Shuangda routing"
DESCRIPTION = "Bureaus, the police and the office read and act on their cases (docs/routing.md)."
RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    **problems(401, 403, 422, 503, {404: "No such case for the caller (a case of another bureau looks the same)"}),
}
COMMAND_RESPONSES: dict[int | str, dict[str, Any]] = {
    **RESPONSES,
    **problems(413, {409: "Refused: the case's state does not allow it, or the Idempotency-Key was used for "
                          "another request"}),
}


def _body_model(command: type[BureauCommand]) -> type[BaseModel]:
    """The request body of a command: its fields without ``case_id`` (that is in the path)."""
    fields: dict[str, Any] = {name: (f.annotation, f) for name, f in command.model_fields.items() if name != "case_id"}
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{command.__name__}Body",
        __config__=ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True),
        __doc__=command.__doc__,
        **fields,
    )


def case_summary(row: Any) -> dict[str, Any]:
    return {
        "case_id": row["case_id"], "category": row["category"], "county": row["county"], "bureau": row["assignee"],
        "level": row["level"], "state": row["state"], "opened_at": row["opened_at"], "assigned_at": row["assigned_at"],
        "acknowledgement_due_at": row["ack_due_at"], "tracking_no": row["tracking_no"], "outcome": row["outcome"],
        "referral_state": row["referral_state"],
    }


def case_detail(case: Case, referral: Referral | None, deadlines: list[Any]) -> dict[str, Any]:
    return {
        "case_id": case.case_id, "origin": case.origin, "channel": case.channel, "category": case.category,
        "county": case.county, "counties": list(case.counties), "bureau": case.assignee, "level": case.level,
        "reasons": list(case.reasons), "co_bureaus": list(case.co_bureaus), "state": case.state,
        "assignment_no": case.assignment_no, "transfers": case.transfers, "opened_at": case.opened_at,
        "assigned_at": case.assigned_at, "acknowledged_at": case.acknowledged_at, "closed_at": case.closed_at,
        "outcome": case.outcome, "outcome_detail": case.outcome_detail, "tracking_no": case.tracking_no,
        "summary": case.summary, "suspect": case.suspect.model_dump(), "figures": {k: str(v) for k, v in case.figures.items()},
        "reports_count": case.reports_count,
        "complainant": ({"name_masked": case.complainant.name_masked, "phone_masked": case.complainant.phone_masked}
                        if case.complainant else None),
        "referral": None if referral is None else {
            "referral_id": referral.referral_id, "state": referral.state, "agency": referral.agency,
            "police": referral.police, "procuratorate": referral.procuratorate, "proposed_by": referral.proposed_by,
            "basis": referral.basis.model_dump(), "created_at": referral.created_at, "updated_at": referral.updated_at,
        },
        "deadlines": [
            {"deadline_id": d["deadline_id"], "kind": d["kind"], "bureau": d["bureau"], "due_at": d["due_at"],
             "due_date_local": d["due_date_local"], "provisional": d["provisional"], "state": d["state"],
             "breached": d["breached_sent"], "rule_id": d["rule_id"], "rule_version": d["rule_version"],
             "citation": d["citation"]}
            for d in deadlines
        ],
    }


REFUSED_TYPE = "https://shuangda.example/problems/joint-meeting"


class JointMeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    decision: Literal["convene", "dismiss"]
    reason: str | None = Field(default=None, max_length=2000,
                               description="required to dismiss: why no meeting is needed")


class JointMeetingDone(BaseModel):
    case_id: CaseId  # type: ignore[valid-type]
    decision: Literal["convene", "dismiss"]
    events: list[str]


class JointMeetingOut(BaseModel):
    case_id: CaseId  # type: ignore[valid-type]
    assignee: str
    co_bureaus: list[str]
    category: str
    county: str
    state: str
    opened_at: datetime
    decision: Literal["convene", "dismiss"] | None = Field(description="None while the office has not decided")
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None


class _TopicsMissing(Exception):
    """EgressNotReady carried out of `run_in_transaction` (which would answer 503 for it)."""

    def __init__(self, bureaus: list[str]) -> None:
        super().__init__(", ".join(bureaus))
        self.bureaus = bureaus


def bureau_of(caller: Principal) -> str:
    """The bureau a caller acts for (its principal's type@division), or 403."""
    if not caller.bureau:
        raise ProblemError(403, "Forbidden", "only a bureau, the police or the office may do this "
                                             "(the key's principal names no bureau)")
    return caller.bureau


def build_router(*, pool: asyncpg.Pool, router: Router, auth: Authenticator, source: str,
                 list_limit_max: int) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["cases"], responses=RESPONSES)
    reader = auth.require("cases:read")

    def sees_all(caller: Principal) -> bool:
        # legacy office keys (imported from routing's former store) are bureau keys of the office's bureau
        return caller.can("cases:read-all") or (caller.bureau is not None and caller.bureau == router.office)

    @api.get("/me", summary="Which bureau this API key acts for")
    async def me(caller: Principal = Depends(reader)) -> dict[str, Any]:
        return {"principal": caller.principal_id, "kind": caller.kind, "bureau": caller.bureau,
                "office": sees_all(caller), "scopes": sorted(caller.scopes)}

    @api.get("/cases", summary="List the caller's cases (the office: all)")
    async def list_cases(caller: Principal = Depends(reader), state: CaseState = None, limit: Limit = 50,
                         offset: Offset = 0) -> dict[str, Any]:
        everything = sees_all(caller)
        bureau = None if everything else bureau_of(caller)
        limit = min(limit, list_limit_max)
        rows = await repo.list_cases(pool, bureau=bureau, state=state, limit=limit, offset=offset)
        return {"items": [case_summary(r) for r in rows], "limit": limit, "offset": offset}

    @api.get("/cases/{case_id}", summary="Read one case (404 unless the caller may see it)")
    async def read_case(case_id: CaseIdPath, caller: Principal = Depends(reader)) -> dict[str, Any]:
        viewer = router.office if sees_all(caller) else bureau_of(caller)
        async with pool.acquire() as conn:
            found = await router.visible_case(conn, viewer, case_id)
            if found is None:
                raise ProblemError(404, "Not found", f"no case {case_id!r} for {viewer}")
            case, referral = found
            deadlines = await repo.case_deadlines(conn, case_id)
        return case_detail(case, referral, deadlines)

    def command_route(path: str, command: type[BureauCommand], summary: str, scope: str = "cases:act") -> None:
        body_model = _body_model(command)
        actor_of = auth.require(scope)

        async def run(request: Request, case_id: CaseIdPath, body: body_model,  # type: ignore[valid-type]
                      caller: Principal = Depends(actor_of),
                      idempotency_key: str | None = Header(default=None, alias="Idempotency-Key",
                                                           description=IDEMPOTENCY)) -> Response:
            require_clean(body)
            key = checked_key(idempotency_key)
            bureau = bureau_of(caller)
            cmd = command.model_validate({**body.model_dump(), "case_id": case_id})  # type: ignore[attr-defined]
            fingerprint = request_fingerprint(request.method, request.url.path, await request.body())
            status, text, replayed = await _execute(caller.principal_id, bureau, cmd, key, fingerprint)
            headers = {"Idempotent-Replayed": "true"} if replayed else {}
            return Response(text.encode("utf-8"), status_code=status, headers=headers,
                            media_type=PROBLEM_JSON if status >= 400 else "application/json")

        run.__name__ = f"command_{command.__name__}"
        run.__annotations__["body"] = body_model  # a real class: FastAPI cannot resolve a local name from a string
        api.post(path, summary=summary, responses=COMMAND_RESPONSES)(run)

    async def _execute(caller_id: str, bureau: str, cmd: BureauCommand, key: str | None,
                       fingerprint: bytes) -> tuple[int, str, bool]:
        async def work(uow: UnitOfWork) -> tuple[int, Any]:
            fx = await router.execute(uow, bureau, cmd, key)
            return answer(bureau, cmd, fx)

        async def once(uow: UnitOfWork) -> tuple[int, str, bool]:
            try:
                return await idempotent(uow, caller_id, key, fingerprint, work)
            except EgressNotReady as exc:
                raise _TopicsMissing(exc.bureaus) from None

        async def attempt() -> tuple[int, str, bool]:
            try:
                return await run_in_transaction(pool, once, source=source, actor=bureau)
            except _TopicsMissing as exc:
                raise EgressNotReady(exc.bureaus) from None

        # one request = one transaction; a missing egress topic is created between attempts, never inside one
        return await router.outside_transaction(attempt)

    command_route("/cases/{case_id}/acknowledge", AcknowledgeCase, "Accept the case, or refuse it with a reason")
    command_route("/cases/{case_id}/transfer", RequestTransfer, "Transfer the case to another bureau")
    command_route("/cases/{case_id}/referral", ProposeReferral, "Propose a criminal referral")
    command_route("/cases/{case_id}/referral/decision", DecideReferral, "Agency head: approve or reject the referral")
    command_route("/cases/{case_id}/referral/transfer", TransferToPolice, "Transfer the referral to the police with the package")
    command_route("/cases/{case_id}/referral/police-decision", DecideCriminalCase, "Police: open a criminal case or refuse",
                  scope="referrals:act")
    command_route("/cases/{case_id}/referral/reconsideration", RequestReconsideration, "Ask the police to reconsider")
    command_route("/cases/{case_id}/referral/supervision", RequestSupervision, "Ask the procuratorate to supervise")
    command_route("/cases/{case_id}/referral/handover", HandOver, "Hand goods and files to the police")
    command_route("/cases/{case_id}/outcome", RecordOutcome, "Close the case with its outcome")

    # -- joint meetings (issue 16 §2): the office convenes or dismisses a proposal --

    office_actor = auth.require("cases:act")

    @api.get("/joint-meetings", response_model=list[JointMeetingOut], tags=["joint meetings"],
             summary="Cases with a joint meeting proposed (undecided first) and the office's decision",
             responses=RESPONSES)
    async def joint_meetings(limit: Limit = 100, caller: Principal = Depends(reader)) -> Any:
        if bureau_of(caller) != router.office:
            raise ProblemError(403, "Forbidden", f"only the office ({router.office}) decides joint meetings")
        async with pool.acquire() as conn:
            return await router.joint_meetings(conn, min(limit, list_limit_max))

    @api.post("/cases/{case_id}/joint-meeting", tags=["joint meetings"], response_model=JointMeetingDone,
              summary="The office convenes the proposed joint meeting, or dismisses the proposal with a reason",
              responses={**COMMAND_RESPONSES, **problems(403)})
    async def decide_joint_meeting(request: Request, case_id: CaseIdPath, body: JointMeetingIn,
                                   caller: Principal = Depends(office_actor),
                                   idempotency_key: str | None = Header(default=None, alias="Idempotency-Key",
                                                                        description=IDEMPOTENCY)) -> Response:
        require_clean(body)
        key = checked_key(idempotency_key)
        actor = bureau_of(caller)
        if actor != router.office:
            raise ProblemError(403, "Forbidden", f"only the office ({router.office}) decides joint meetings")
        fingerprint = request_fingerprint(request.method, request.url.path, await request.body())

        async def work(uow: UnitOfWork) -> tuple[int, Any]:
            result = await router.decide_joint_meeting(uow, actor=actor, principal=caller.principal_id,
                                                       case_id=case_id, decision=body.decision, reason=body.reason)
            if isinstance(result, tuple):
                reason, detail = result
                status = 404 if reason == "unknown_case" else 422 if reason == "reason_required" else 409
                problem: dict[str, Any] = {"type": REFUSED_TYPE, "title": "Refused", "status": status,
                                           "detail": detail, "reason": reason}
                if reason == "reason_required":
                    problem["errors"] = [{"field": "reason", "reason": "required", "detail": detail}]
                return status, problem
            return 200, {"case_id": case_id, "decision": body.decision,
                         "events": [e.payload.EVENT_TYPE for e in result.emissions]}  # type: ignore[attr-defined]

        async def once(uow: UnitOfWork) -> tuple[int, str, bool]:
            try:
                return await idempotent(uow, caller.principal_id, key, fingerprint, work)
            except EgressNotReady as exc:
                raise _TopicsMissing(exc.bureaus) from None

        async def attempt() -> tuple[int, str, bool]:
            try:
                return await run_in_transaction(pool, once, source=source, actor=actor)
            except _TopicsMissing as exc:
                raise EgressNotReady(exc.bureaus) from None

        status, text, replayed = await router.outside_transaction(attempt)
        return Response(text.encode("utf-8"), status_code=status,
                        headers={"Idempotent-Replayed": "true"} if replayed else {},
                        media_type=PROBLEM_JSON if status >= 400 else "application/json")

    return api


def build_app(*, pool: asyncpg.Pool | None, router: Router | None, auth: Authenticator, source: str,
              list_limit_max: int, body_limit: int = 64 * 1024,
              readiness: Iterable[Callable[[], Awaitable[bool]]] = (), rate_limits: Any = None,
              second_factor: Any = None) -> FastAPI:
    app = create_app(SERVICE, title=TITLE, description=DESCRIPTION, readiness=readiness, body_limit=body_limit,
                     rate_limits=rate_limits)
    app.include_router(build_router(pool=pool, router=router, auth=auth, source=source,  # type: ignore[arg-type]
                                    list_limit_max=list_limit_max))
    # the office's overview and assessment, the public status by tracking number (adapters/http_overview.py)
    app.include_router(build_overview_router(pool=pool, auth=auth, router=router,  # type: ignore[arg-type]
                                             second_factor=second_factor))
    install_problem_schema(app)
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, built without any connection (for docs/openapi/routing.json)."""
    return build_app(pool=None, router=None, auth=Authenticator(None), source="/shuangda/routing",  # type: ignore[arg-type]
                     list_limit_max=500).openapi()
