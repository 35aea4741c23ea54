"""Tag ``listing-proceedings``: the steps before a listing takes effect (SAMR Order 44; issue 14 §2).

``POST /v1/listing-proceedings/{id}:{action}`` with action one of ``dismiss`` (a local-policy flag),
``weigh`` (art. 12), ``notify`` (art. 13: the notice served), ``statement`` (the party's statement,
hearing request or waiver), ``decide`` and ``approve`` (the level above); the acting bureau is the
key's principal's. ``GET /v1/listing-proceedings/{id}`` and ``GET /v1/entities/{code}/listing-proceedings``
read them. Every POST takes an Idempotency-Key; a field that is missing or wrong is a 422 problem naming it.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from shared.idempotency import DESCRIPTION as IDEMPOTENCY
from shared.identity.model import Principal
from shared.runtime import UnitOfWork

from services.credit.adapters.hygiene import PROCEEDING_ID
from services.credit.adapters.http.common import RESPONSES, HttpDeps, any_scope, bureau_of, clean, json_response, write
from services.credit.app import listing_steps
from services.credit.domain.listing_steps import Step

CODE = r"^[0-9A-HJ-NPQRTUWXY]{18}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(default="", max_length=2000, description="why, for the record (audit and event)")


class Dismiss(_Body):
    """A local-policy flag is not taken further (no Order 44 ground, or nothing to weigh)."""


class Weigh(_Body):
    serious: bool = Field(description="性质恶劣、情节严重、社会危害较大 (art. 12 para. 1)")
    intent_shown: bool = Field(description="false when the party proved there was no intent: no listing (art. 12 para. 2)")


class Notify(_Body):
    served_on: dt.date = Field(description="the day the prior notice (reasons, basis, rights) was served")


class Statement(_Body):
    kind: Literal["statement", "hearing_request", "waiver"] = Field(description="the party stated its case, asked for a hearing, or waived both")


class Decide(_Body):
    list: bool = Field(description="list the entity (then the level above consents where required) or not")
    hearing_held_on: dt.date | None = Field(default=None, description="required when the party asked for a hearing")


class Approve(_Body):
    approved: bool = Field(description="the level above consents to the listing, or refuses")


_STEPS: dict[str, tuple[type[_Body], str]] = {
    "dismiss": (Dismiss, "Dismiss a local-policy review flag"),
    "weigh": (Weigh, "Weigh the conduct (Order 44 art. 12)"),
    "notify": (Notify, "Record the prior notice served (art. 13); the party's periods start"),
    "statement": (Statement, "Record the party's statement, hearing request or waiver"),
    "decide": (Decide, "Decide to list or not, after the party's periods or once it has spoken"),
    "approve": (Approve, "The level above consents to (or refuses) the listing"),
}


def _step(action: str, body: _Body) -> Step:
    d: dict[str, Any] = body.model_dump()
    return Step(action=action, reason=d.get("reason", ""), serious=d.get("serious"),  # type: ignore[arg-type]
                intent_shown=d.get("intent_shown"), served_on=d.get("served_on"), statement_kind=d.get("kind"),
                list_entity=d.get("list"), hearing_held_on=d.get("hearing_held_on"), approved=d.get("approved"))


def router(deps: HttpDeps) -> APIRouter:
    r = APIRouter(tags=["listing-proceedings"], responses=RESPONSES)
    actors = any_scope(deps.auth, "penalties:write", "credit:manage")
    readers = any_scope(deps.auth, "credit:read", "credit:manage")

    def add(action: str, model: type[_Body], summary: str) -> None:
        async def step(req: model, request: Request,  # type: ignore[valid-type]
                       proceeding_id: str = Path(pattern=PROCEEDING_ID, max_length=24),
                       caller: Principal = Depends(actors),
                       idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=IDEMPOTENCY)) -> Response:
            clean(("", req))
            bureau = bureau_of(caller)

            async def work(uow: UnitOfWork) -> tuple[int, object]:
                return 200, await listing_steps.take_step(deps.credit, uow, bureau, proceeding_id, _step(action, req))

            return await write(deps, request, caller, idempotency_key, work, actor=bureau.id)

        step.__annotations__["req"] = model  # the body model of this action (annotations are strings here)
        r.add_api_route(f"/v1/listing-proceedings/{{proceeding_id}}:{action}", step, methods=["POST"], summary=summary,
                        name=f"listing_proceeding_{action}")

    for action, (model, summary) in _STEPS.items():
        add(action, model, summary)

    @r.get("/v1/listing-proceedings/{proceeding_id}", summary="A listing proceeding, its state, deadlines and steps")
    async def get_proceeding(proceeding_id: str = Path(pattern=PROCEEDING_ID, max_length=24),
                             _: Principal = Depends(readers)) -> JSONResponse:
        async with deps.pool.acquire() as conn:
            return json_response(await listing_steps.view(conn, proceeding_id))

    @r.get("/v1/entities/{code}/listing-proceedings", summary="An entity's listing proceedings and review flags")
    async def of_entity(code: str = Path(pattern=CODE, max_length=18), _: Principal = Depends(readers)) -> JSONResponse:
        async with deps.pool.acquire() as conn:
            return json_response({"proceedings": await listing_steps.of_entity(conn, code)})

    return r
