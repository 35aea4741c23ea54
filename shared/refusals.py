"""The refusal a pure rule raises, and the HTTP edge that turns it into a problem document, for the
services whose commands come over HTTP one at a time (custody, appraisal, inspection): written once.

`Refused(field, reason, detail, forbidden=)` — the rule does not allow the command: 403 when the
caller is not the party the rule names (`forbidden`), 409 otherwise; the problem document's
``errors`` names the field and the reason. `NotFound(what, ident)` — 404.
`write_command` runs a use case under the Idempotency-Key rule (shared/idempotency.py) in one
transaction (shared/http.run_in_transaction) and answers with its JSON. The edge's shared pieces:
`StrictIn` (request bodies refuse unknown fields), the `CaseId`/`LotId` path and body shapes, and
`command_responses` (the OpenAPI responses every route of these services may give).

Importing this module loads no web framework: pure rules import `Refused` from it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

if TYPE_CHECKING:
    import asyncpg
    from fastapi import Request, Response

    from shared.runtime.uow import UnitOfWork

from pydantic import BaseModel, ConfigDict

from shared.text import CaseId, Ident

A = TypeVar("A")

__all__ = ["CaseId", "LotId", "NotFound", "Refused", "StrictIn", "command_responses", "write_command"]

#: a custody lot id (custody, appraisal); the case id is the shared one (shared.text.CaseId)
LotId = Ident(r"lot_[0-9a-f]{20}", max_len=24, what="lot id")


class StrictIn(BaseModel):
    """A request body: an unknown field is a 422 naming it."""

    model_config = ConfigDict(extra="forbid")


def command_responses(not_found: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of every route: authentication's, 404 (`not_found`), 409 refusals, 422."""
    from shared.http import problem_response
    from shared.identity.http import AUTH_RESPONSES

    return {**AUTH_RESPONSES, 404: problem_response(not_found),
            409: problem_response("The rules refuse the command (the reason is named)"),
            422: problem_response("A field failed validation")}


class Refused(Exception):
    """A command the rules do not allow: `field` and `reason` say why (409, or 403 when `forbidden`)."""

    def __init__(self, field: str, reason: str, detail: str, *, forbidden: bool = False) -> None:
        super().__init__(f"{field}: {reason}: {detail}")
        self.field, self.reason, self.detail, self.forbidden = field, reason, detail, forbidden


class NotFound(LookupError):
    """No such thing the caller may see (404); with `field`, the problem document names it and `reason`."""

    def __init__(self, what: str, ident: str, *, field: str | None = None, reason: str = "not_found") -> None:
        super().__init__(f"no {what} {ident}")
        self.what, self.ident, self.field, self.reason = what, ident, field, reason


async def write_command(pool: "asyncpg.Pool", request: "Request", *, service: str, caller_id: str, actor: A,
                        party: str, key: str | None, status: int,
                        work: "Callable[[UnitOfWork, A], Awaitable[Any]]") -> "Response":
    """Run `work(uow, actor)` once per Idempotency-Key (same key and request → the first answer
    replayed; another request → 409) and answer `status` with its JSON; refusals become problems."""
    from shared.http import ProblemError, run_in_transaction
    from shared.idempotency import checked_key, idempotent, replay_response, request_fingerprint

    key = checked_key(key)
    fingerprint = request_fingerprint(request.method, request.url.path, await request.body())

    async def run(uow: "UnitOfWork") -> tuple[int, Any]:
        try:
            return status, await work(uow, actor)
        except Refused as exc:
            raise ProblemError(403 if exc.forbidden else 409, "Refused", exc.detail,
                               errors=[{"field": exc.field, "reason": exc.reason, "detail": exc.detail}],
                               reason=exc.reason) from None
        except NotFound as exc:
            named = {"errors": [{"field": exc.field, "reason": exc.reason, "detail": str(exc)}],
                     "reason": exc.reason} if exc.field else {}
            raise ProblemError(404, "Not found", str(exc), **named) from None

    code, text, replayed = await run_in_transaction(
        pool, lambda uow: idempotent(uow, caller_id, key, fingerprint, run), source=f"/{service}", actor=party)
    return replay_response(code, text, replayed)
