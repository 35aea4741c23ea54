"""The shape the harnesses of custody, appraisal and inspection share: one test's unique names
(schema, topics, group, identity schema, a division of its own), keys for principals of any
kind, and the service started by its wiring through `tests.support.service.running_service`
(every loop of role ``all``: consumer, outbox relay, deadline watch …) with an HTTP client."""
from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator, Awaitable, Callable

import httpx

from shared.clock import Clock
from tests.support import identity
from tests.support.service import running_service


class ServiceWorld:
    #: set by each harness: the service's name, its wiring's `build` and `prepare`, and the bureau type keys default to
    service: str
    build: Callable[..., Any]
    prepare: Callable[[Any], Awaitable[None]]
    default_bureau_type: str = "market_regulation"

    def __init__(self, unique: str, *, identity_schema: str | None = None) -> None:
        self.unique = unique
        self.division = str(100000 + int(unique[:8], 16) % 900000)
        self.identity_schema = identity_schema or f"identity_{unique}"

    settings: Any

    async def create(self, *, with_identity: bool = True) -> None:
        await type(self).prepare(self.settings)
        if with_identity:
            await identity.identity_schema(self.unique)

    def bureau(self, bureau_type: str | None = None) -> str:
        return f"{bureau_type or self.default_bureau_type}@{self.division}"

    async def key(self, kind: str, bureau_type: str | None = None, principal_id: str | None = None,
                  **options: Any) -> dict[str, str]:
        """An Authorization header for a new principal of `kind` (a bureau kind acts for `bureau_type@division`)."""
        bureau = self.bureau(bureau_type) if bureau_type else None
        token = await identity.issue_key(self.identity_schema, principal_id or bureau or f"{kind}-{self.unique}", kind,
                                         bureau=bureau, **options)
        return {"authorization": f"Bearer {token}"}

    @contextlib.asynccontextmanager
    async def running(self, clock: Clock | None = None) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
        async with running_service(type(self).build, self.settings, base_url=f"http://{self.service}",
                                   clock=clock) as (parts, http):
            yield http, parts
