"""Tag ``registry``: the registration authority (market regulation, scope registry:write) registers
enterprises in the entity registry, up to 5,000 a request (body limit
``SHUANGDA_CREDIT_REGISTRY_MAX_BODY_BYTES``)."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.idempotency import DESCRIPTION as IDEMPOTENCY
from shared.identifiers import IdentifierError, parse_uscc
from shared.identity.model import Principal
from shared.reference import UnknownCode, city
from shared.reference.categories import category as known_category
from shared.reference.counties import resolve_county
from shared.runtime import UnitOfWork

from services.credit.adapters.http.common import RESPONSES, HttpDeps, bureau_of, clean, write
from services.credit.app import registry
from services.credit.domain.registry import Registration

REGISTRY_PATH = "/v1/registry/entities"
MAX_ENTRIES = 5000


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credit_code: str = Field(max_length=40)
    name: str = Field(min_length=1, max_length=200)
    county: str = Field(max_length=16, description="GB/T 2260: a county of the city, or the city for city-level registrations")
    categories: list[str] = Field(min_length=1, max_length=20, description="reference categories of the business")
    status: Literal["registered", "deregistered"] = "registered"

    @field_validator("credit_code")
    @classmethod
    def _code(cls, v: str) -> str:
        try:
            return parse_uscc(v)
        except IdentifierError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("county")
    @classmethod
    def _county(cls, v: str) -> str:
        try:
            return resolve_county(v).code
        except UnknownCode as exc:
            if exc.reason == "city_level_code":
                return city().code
            raise ValueError(str(exc)) from None

    @field_validator("categories")
    @classmethod
    def _categories(cls, v: list[str]) -> list[str]:
        try:
            return sorted({known_category(c).id for c in v})
        except UnknownCode as exc:
            raise ValueError(str(exc)) from None


class Registrations(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entries: list[RegistrationIn] = Field(min_length=1, max_length=MAX_ENTRIES)


def router(deps: HttpDeps) -> APIRouter:
    r = APIRouter(tags=["registry"], responses=RESPONSES)
    writer = deps.auth.require("registry:write")

    @r.put(REGISTRY_PATH, summary="Register or update enterprises in the registry (the registration authority)")
    async def put_registrations(body: Registrations, request: Request, caller: Principal = Depends(writer),
                                idempotency_key: str | None = Header(None, alias="Idempotency-Key",
                                                                     description=IDEMPOTENCY)) -> Response:
        clean(("", body))
        bureau = bureau_of(caller)
        asked = [Registration(e.credit_code, "", e.name, e.county, tuple(e.categories), e.status) for e in body.entries]

        async def work(uow: UnitOfWork) -> tuple[int, object]:
            return 200, await registry.register(deps.credit, uow, bureau, asked)

        return await write(deps, request, caller, idempotency_key, work, actor=bureau.id)

    return r
