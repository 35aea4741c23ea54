"""OpenAPI pieces every service's document shares: the RFC 9457 ``Problem`` schema
that `shared.http.problem_response` refers to (``#/components/schemas/Problem``),
and the problem responses a route declares.

    app = create_app(...)
    install_problem_schema(app)
    @router.get("/v1/things/{id}", responses=problems(401, 403, 422, 503, {404: "no such thing"}))

Additive helper (the lead may fold it into `shared.http.create_app`)."""
from __future__ import annotations

from typing import Any, Mapping

from fastapi import FastAPI
from pydantic import BaseModel, Field

from shared.http import problem_response


class ProblemField(BaseModel):
    field: str = Field(description="dotted path of the bad field or parameter, e.g. limit, suspect.credit_code or leads.3.county")
    reason: str = Field(description="machine-readable code, e.g. missing, bad_check_character, string_pattern_mismatch")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem document (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemField] | None = None


#: what each status means when a route does not say more
DEFAULT_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request (e.g. a bad header)",
    401: "No valid API key (send Authorization: Bearer <key> or X-API-Key)",
    403: "The key lacks the scope this operation needs",
    404: "Not found",
    409: "Conflict (e.g. an Idempotency-Key used before with a different request)",
    413: "Request body too large",
    422: "Invalid parameters or fields, each named with the reason",
    429: "Too many requests; retry after Retry-After seconds",
    503: "A dependency (the database) is unavailable; retry after Retry-After seconds",
}


def problems(*statuses: int | Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for problem documents: statuses with the default description, or
    mappings of status → description."""
    out: dict[int | str, dict[str, Any]] = {}
    for item in statuses:
        pairs = item.items() if isinstance(item, Mapping) else [(item, DEFAULT_DESCRIPTIONS[item])]
        for status, description in pairs:
            out[status] = problem_response(description)
    return out


def install_problem_schema(app: FastAPI) -> None:
    """Make the app's OpenAPI document define ``Problem`` (and ``ProblemField``), which problem responses
    refer to, whether or not a route returns the model itself."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, schema in problem.pop("$defs", {}).items():
                schemas.setdefault(name, schema)
            schemas.setdefault("Problem", problem)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
