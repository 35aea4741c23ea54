"""The one FastAPI dependency every service authenticates through.

    auth = Authenticator(directory)
    @router.post("/v1/complaints")
    async def file(..., caller: Principal = Depends(auth.require("complaints:write"))): ...

A missing or bad key is a 401 problem document, a missing scope a 403; both
name what was expected. The security schemes (bearer and ``X-API-Key``) appear
in the service's OpenAPI document through `fastapi.security`.
"""
from __future__ import annotations

from typing import Awaitable, Callable

from fastapi import Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from shared.http import ProblemError
from shared.identity.model import Principal
from shared.identity.store import IdentityDirectory

_bearer = HTTPBearer(auto_error=False, scheme_name="bearerKey", description="Authorization: Bearer <API key>")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey", description="X-API-Key: <API key>")

#: the OpenAPI responses every authenticated route may give (merge into a route's `responses`)
AUTH_RESPONSES = {
    401: {"description": "No valid API key (send Authorization: Bearer <key> or X-API-Key)",
          "content": {"application/problem+json": {}}},
    403: {"description": "The key lacks the scope this operation needs", "content": {"application/problem+json": {}}},
}


class Authenticator:
    def __init__(self, directory: IdentityDirectory) -> None:
        self.directory = directory

    async def principal(
        self,
        bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
        api_key: str | None = Security(_api_key),
    ) -> Principal:
        token = bearer.credentials if bearer is not None else api_key
        found = await self.directory.authenticate(token) if token else None
        if found is None:
            raise ProblemError(401, "Unauthorized", "send a valid API key: Authorization: Bearer <key> or X-API-Key: <key>")
        return found

    def require(self, *scopes: str) -> Callable[..., Awaitable[Principal]]:
        """A dependency that yields the caller, or refuses one that lacks any of `scopes`."""

        async def check(
            bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
            api_key: str | None = Security(_api_key),
        ) -> Principal:
            caller = await self.principal(bearer, api_key)
            missing = [s for s in scopes if not caller.can(s)]
            if missing:
                raise ProblemError(403, "Forbidden", f"this key lacks the scope {', '.join(missing)}")
            return caller

        return check


def holds_scope(directory: IdentityDirectory, scope: str) -> Callable[[str], Awaitable[bool]]:
    """Whether a credential (an ``Authorization`` or ``X-API-Key`` value) is an active principal's that
    holds `scope`: ``shared.ratelimit.RateLimits(relay=holds_scope(directory, "clients:relay"))``."""

    async def check(credential: str) -> bool:
        token = credential[7:].strip() if credential[:7].lower() == "bearer " else credential.strip()
        found = await directory.authenticate(token) if token else None
        return found is not None and found.can(scope)

    return check
