"""Credit's HTTP API (FastAPI), one APIRouter per tag (docs/credit.md has the reference):

- ``penalties`` (bureaus, scope penalties:write): ``POST /v1/penalties``, ``POST /v1/penalties:revoke``,
  ``POST /v1/records/{id}:disclose``;
- ``records`` (credit:read): ``GET /v1/records/{id}``;
- ``applications``: ``POST /v1/applications`` (portal, office, bureaus), ``POST /v1/applications/{id}:decide``
  (the deciding bureau), ``GET /v1/applications/{id}``;
- ``listing-proceedings`` (the bureau, the office, the level above): ``POST /v1/listing-proceedings/{id}:<step>``
  (dismiss, weigh, notify, statement, decide, approve), ``GET /v1/listing-proceedings/{id}``,
  ``GET /v1/entities/{code}/listing-proceedings`` — the Order 44 steps before a listing takes effect;
- ``queries`` (credit:read; the search also credit:public): ``GET /v1/entities/{code}``,
  ``POST /v1/entities:check``, ``GET /v1/entities:search``;
- ``registry`` (the registration authority, registry:write): ``PUT /v1/registry/entities``;
- ``export`` (platforms, the office): ``GET /v1/exports/platform`` (docs/credit-export-format.md);
- ``public`` (no key): ``GET /v1/disclosures`` (JSON or CSV, masked), ``GET /v1/measures``.

Callers authenticate through the one identity store (`shared.identity.http.Authenticator`); the
acting bureau is the key's principal's bureau (type@division), never a payload field. Every POST
takes an ``Idempotency-Key`` (`shared.idempotency`). Every text, id and date is checked at the edge
(`adapters.hygiene`) and a refusal is a problem document naming the field; the use cases' errors
(`app.errors`) map to 403/404/409/422 problems here.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.http import create_app, problem
from shared.openapi import install_problem_schema

from services.credit.adapters.http import applications, disclosure, entities, export, listings, penalties, records, registry
from services.credit.adapters.http.common import HttpDeps
from services.credit.app.errors import Conflict, CreditError, Invalid, NotAllowed, NotFound

SERVICE = "credit"
_STATUS = {NotFound: 404, NotAllowed: 403, Conflict: 409, Invalid: 422}

__all__ = ["HttpDeps", "build_app"]


def build_app(deps: HttpDeps) -> FastAPI:
    app = create_app(SERVICE, title="Shuangda credit: penalties, credit records, blacklist, joint punishment",
                     readiness=deps.readiness, body_limit=deps.body_limit,
                     rate_limits=deps.rate_limits)

    @app.exception_handler(CreditError)
    async def _credit_error(_: Request, exc: CreditError) -> JSONResponse:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 409)
        if isinstance(exc, Invalid):
            return problem(422, "Request failed validation", "1 invalid field(s)",
                           type_="https://shuangda.example/problems/validation",
                           errors=[{"field": exc.field, "reason": exc.reason, "detail": exc.detail}])
        return problem(status, "Not possible", exc.detail, reason=exc.reason)

    for module in (penalties, records, applications, listings, entities, export, disclosure, registry):
        app.include_router(module.router(deps))
    install_problem_schema(app)
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, built without any connection (for docs/openapi/credit.json)."""
    from shared.clock import WallClock
    from shared.identity.http import Authenticator
    from shared.pii import Keyring
    from shared.workdays import default_calendar

    from services.credit.app.context import Credit, PersonHasher, Topics
    from services.credit.domain.search import NameIndex
    from services.credit.rules import load_rulebook

    clock = WallClock()
    credit = Credit(book=load_rulebook(None), calendar=default_calendar(), clock=clock, keyring=Keyring.development(),
                    hasher=PersonHasher("openapi"), topics=Topics(penalty="penalty", credit="credit"))
    deps = HttpDeps(pool=None, credit=credit, index=NameIndex(credit.analyser), refresher=None,  # type: ignore[arg-type]
                    auth=Authenticator(None), clock=clock)  # type: ignore[arg-type]
    return build_app(deps).openapi()
