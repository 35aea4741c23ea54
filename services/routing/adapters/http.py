"""Routing's HTTP API for bureaus and the office (authenticated by API key).

``Authorization: Bearer sdk_…`` (or ``X-API-Key: sdk_…``) names the bureau;
nothing in a body or query does. A bureau lists and reads its own cases (and
the cases whose referral went to it, for the police); the office reads all.
A case a caller may not see answers 404, whether or not it exists.

Commands answer 200 with the events they caused, or a problem document with
the refusal reason (also published as ``case.command-refused``): 404 when the
caller is not the case's assignee (or the referral's police), 409 otherwise.
An ``Idempotency-Key`` header makes a retried command a no-op.
"""
from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, create_model

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
from shared.http import ProblemError
from shared.runtime import unit_of_work
from services.routing.adapters import keys, postgres as repo
from services.routing.core import Router
from services.routing.domain.case import Case, Referral

#: refusals that must not reveal whether the case exists or what state it is in
_HIDDEN = {"unknown_case", "not_assignee", "not_police_of_referral"}


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


def build_router(*, pool: asyncpg.Pool, router: Router, source: str, list_limit_max: int) -> APIRouter:
    api = APIRouter(prefix="/v1")

    async def bureau(authorization: str | None = Header(default=None),
                     x_api_key: str | None = Header(default=None, alias="X-API-Key")) -> str:
        token = x_api_key
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer":
                token = value.strip()
        if not token:
            raise ProblemError(401, "Unauthorized", "an API key is required (Authorization: Bearer sdk_…)")
        found = await keys.authenticate(pool, token)
        if found is None:
            raise ProblemError(401, "Unauthorized", "the API key is unknown or revoked")
        return found

    @api.get("/me", summary="Which bureau this API key belongs to")
    async def me(actor: str = Depends(bureau)) -> dict[str, Any]:
        return {"bureau": actor, "office": actor == router.office}

    @api.get("/cases", summary="List the caller's cases (the office: all)")
    async def list_cases(
        actor: str = Depends(bureau),
        state: str | None = Query(default=None, pattern="^(assigned|accepted|closed|not_accepted)$"),
        limit: int = Query(default=50, ge=1),
        offset: int = Query(default=0, ge=0),
    ) -> dict[str, Any]:
        limit = min(limit, list_limit_max)
        rows = await repo.list_cases(pool, bureau=None if actor == router.office else actor, state=state,
                                     limit=limit, offset=offset)
        return {"items": [case_summary(r) for r in rows], "limit": limit, "offset": offset}

    @api.get("/cases/{case_id}", summary="Read one case (404 unless it is the caller's)")
    async def read_case(case_id: str, actor: str = Depends(bureau)) -> dict[str, Any]:
        async with pool.acquire() as conn:
            found = await router.visible_case(conn, actor, case_id)
            if found is None:
                raise ProblemError(404, "Not found", f"no case {case_id!r} for {actor}")
            case, referral = found
            deadlines = await repo.case_deadlines(conn, case_id)
        return case_detail(case, referral, deadlines)

    def command_route(path: str, command: type[BureauCommand], summary: str) -> None:
        body_model = _body_model(command)

        async def run(case_id: str, request: Request, body: body_model,  # type: ignore[valid-type]
                      actor: str = Depends(bureau),
                      idempotency_key: str | None = Header(default=None, alias="Idempotency-Key", max_length=200)) -> dict[str, Any]:
            cmd = command.model_validate({**body.model_dump(), "case_id": case_id})  # type: ignore[attr-defined]
            return await _execute(actor, cmd, idempotency_key)

        run.__name__ = f"command_{command.__name__}"
        run.__annotations__["body"] = body_model  # a real class: FastAPI cannot resolve a local name from a string
        api.post(path, summary=summary)(run)

    async def _execute(actor: str, cmd: BureauCommand, idempotency_key: str | None) -> dict[str, Any]:
        async def attempt() -> Any:
            async with unit_of_work(pool, source=source, actor=actor) as uow:
                if idempotency_key is not None:
                    fresh = await uow.conn.fetchval(
                        "INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset)"
                        " VALUES ($1, $2, 'http', 0, 0) ON CONFLICT DO NOTHING RETURNING 1",
                        f"http:{actor}", idempotency_key,
                    )
                    if not fresh:
                        return None
                return await router.execute(uow, actor, cmd, idempotency_key)

        # one request = one transaction; a missing egress topic is created between attempts, never inside one
        fx = await router.outside_transaction(attempt)
        if fx is None:
            return {"case_id": cmd.case_id, "status": "duplicate", "events": []}
        if fx.refusal is not None:
            r = fx.refusal
            status = 404 if r.reason in _HIDDEN else 409
            detail = r.detail if status == 409 else f"no case {cmd.case_id!r} for {actor}"
            raise ProblemError(status, "Command refused" if status == 409 else "Not found", detail,
                               type_="https://shuangda.example/problems/command-refused", reason=r.reason,
                               command=r.command)
        return {
            "case_id": cmd.case_id, "status": "done",
            "events": [e.payload.EVENT_TYPE for e in fx.emissions],  # type: ignore[attr-defined]
            "state": fx.case.state if fx.case is not None else None,
            "referral_state": fx.referral.state if fx.referral is not None else None,
        }

    command_route("/cases/{case_id}/acknowledge", AcknowledgeCase, "Accept the case, or refuse it with a reason")
    command_route("/cases/{case_id}/transfer", RequestTransfer, "Transfer the case to another bureau")
    command_route("/cases/{case_id}/referral", ProposeReferral, "Propose a criminal referral")
    command_route("/cases/{case_id}/referral/decision", DecideReferral, "Agency head: approve or reject the referral")
    command_route("/cases/{case_id}/referral/transfer", TransferToPolice, "Transfer the referral to the police with the package")
    command_route("/cases/{case_id}/referral/police-decision", DecideCriminalCase, "Police: open a criminal case or refuse")
    command_route("/cases/{case_id}/referral/reconsideration", RequestReconsideration, "Ask the police to reconsider")
    command_route("/cases/{case_id}/referral/supervision", RequestSupervision, "Ask the procuratorate to supervise")
    command_route("/cases/{case_id}/referral/handover", HandOver, "Hand goods and files to the police")
    command_route("/cases/{case_id}/outcome", RecordOutcome, "Close the case with its outcome")
    return api
