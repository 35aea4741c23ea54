"""What credit's routers share: their dependencies, who the caller is, the clean-input check,
and the one way a POST runs (idempotent, one transaction, a refusal as a problem document)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Awaitable, Callable

import asyncpg
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from shared.clock import Clock
from shared.http import PROBLEM_JSON, ProblemError, run_in_transaction
from shared.idempotency import checked_key, idempotent, request_fingerprint
from shared.identity.http import AUTH_RESPONSES, Authenticator
from shared.identity.model import Principal
from shared.openapi import problems as problem_responses
from shared.runtime import UnitOfWork

from services.credit.adapters.hygiene import problems
from services.credit.adapters.search import IndexRefresher
from services.credit.app.context import Credit, Outcome
from services.credit.app.entities import Search
from services.credit.domain.model import Bureau
from services.credit.domain.search import NameIndex

ReadinessCheck = Callable[[], Awaitable[bool]]
REFUSAL_STATUS = {"not_decider_of_record": 403, "not_a_bureau": 403, "unknown_decision": 404,
                  "decision_no_taken": 409, "already_revoked": 409}
VALIDATION = "https://shuangda.example/problems/validation"

#: OpenAPI responses of authenticated routes that only read
READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    **problem_responses(401, 403, 503, {404: "No such record, listing, application or entity",
                                        422: "A field or parameter failed validation (named in errors[])"}),
}
#: OpenAPI responses of authenticated routes (a router's default: its POSTs take a body and an Idempotency-Key)
RESPONSES: dict[int | str, dict[str, Any]] = {
    **READ_RESPONSES,
    **problem_responses(413, {
        400: "Malformed request: a body that is not JSON, or a header the server cannot parse",
        409: "Refused: the state does not allow it, or the Idempotency-Key was used for another request"}),
}
#: a POST that takes a body but no Idempotency-Key
BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    **READ_RESPONSES,
    **problem_responses(413, {400: "Malformed request: a body that is not JSON, or a header the server cannot parse"}),
}
#: OpenAPI responses of the public routes (no key; rate-limited per address)
PUBLIC_RESPONSES: dict[int | str, dict[str, Any]] = problem_responses(422, 429, 503)


@dataclass
class HttpDeps:
    pool: asyncpg.Pool
    credit: Credit
    index: NameIndex
    refresher: IndexRefresher
    auth: Authenticator
    clock: Clock
    check_max_codes: int = 1000
    body_limit: int | Callable[[str], int] = 64 * 1024
    #: shared.ratelimit.RateLimits for the public paths (PUBLIC_PATHS); None: no limit (tests)
    rate_limits: Any = None
    readiness: list[ReadinessCheck] = field(default_factory=list)
    search: Search = field(init=False)

    def __post_init__(self) -> None:
        self.search = Search(self.index, self.refresher.counts if self.refresher is not None else None)


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def json_response(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable(body), status_code=status)


def bureau_of(caller: Principal) -> Bureau:
    """The bureau a caller acts for (its principal's type@division), or 403."""
    btype, sep, division = (caller.bureau or "").partition("@")
    if not sep:
        raise ProblemError(403, "Forbidden", "only a bureau may do this (the key's principal names no bureau)")
    return Bureau(caller.principal_id, btype, division)


def any_scope(auth: Authenticator, *scopes: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, if it holds at least one of `scopes` (else 403)."""

    async def check(caller: Principal = _principal(auth)) -> Principal:
        if not any(caller.can(s) for s in scopes):
            raise ProblemError(403, "Forbidden", f"this key lacks the scope {' or '.join(scopes)}")
        return caller

    return check


def _principal(auth: Authenticator) -> Any:
    from fastapi import Depends

    return Depends(auth.principal)


def clean(*pairs: tuple[str, Any] | tuple[str, Any, int]) -> None:
    """Refuse (422, naming every field) text that is not clean and dates out of range; `pairs` are
    (field, value[, max length after NFKC]) — a body model, a path or a query parameter."""
    errors = []
    for prefix, value, *limit in pairs:
        for name, reason, detail in problems(value, prefix, limit[0] if limit else None):
            errors.append({"field": name, "reason": reason, "detail": detail})
    if errors:
        raise ProblemError(422, "Request failed validation", f"{len(errors)} invalid field(s)", errors=errors,
                           type_=VALIDATION)


def refusal(outcome: Outcome) -> tuple[int, dict[str, Any]]:
    assert outcome.reason is not None
    status = REFUSAL_STATUS.get(outcome.reason, 409)
    return status, {"type": "https://shuangda.example/problems/credit-refused", "title": "Refused", "status": status,
                    "detail": outcome.detail, "reason": outcome.reason}


async def write(deps: HttpDeps, request: Request, caller: Principal, idempotency_key: str | None,
                work: Callable[[UnitOfWork], Awaitable[tuple[int, Any]]], *, actor: str | None = None) -> Response:
    """Run one POST: in one transaction (retried on deadlocks), once per Idempotency-Key (the same
    key and request replay the first answer; the key with another request is a 409). `work`
    returns the status and body — a refusal's body is its problem document, stored like any answer."""
    key = checked_key(idempotency_key)
    fingerprint = request_fingerprint(request.method, request.url.path, await request.body())

    async def jsonable_work(uow: UnitOfWork) -> tuple[int, Any]:
        status, body = await work(uow)
        return status, jsonable(body)

    async def run(uow: UnitOfWork) -> tuple[int, str, bool]:
        return await idempotent(uow, caller.principal_id, key, fingerprint, jsonable_work)

    status, text, replayed = await run_in_transaction(deps.pool, run, source=deps.credit.source,
                                                       actor=actor or caller.principal_id)
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(text.encode("utf-8"), status_code=status, headers=headers,
                    media_type=PROBLEM_JSON if status >= 400 else "application/json")
