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
        self._opened: set[tuple[str, str, tuple[str, ...], int]] = set()

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

    async def open_case(self, case_id: str, bureau: str | None = None, *, co_bureaus: tuple[str, ...] = (),
                        assignment_no: int = 1) -> str:
        """Routing's ``case.assigned`` of `case_id` to `bureau` (default: this world's bureau) on the
        world's case topic, then wait until the running service consumed it (its event id in the
        service's inbox; shared/case_bureaus.py): the case a bureau registers goods on or asks an
        appraisal for. The same assignment twice is published once. Call it inside `running`."""
        import datetime as dt

        from shared.contracts.cases import Suspect
        from shared.contracts.routing import CaseAssigned
        from shared.db import connect
        from shared.envelope import new_envelope
        from tests.support import stack

        bureau = bureau or self.bureau()
        if (case_id, bureau, co_bureaus, assignment_no) in self._opened:
            return case_id
        btype, division = bureau.split("@")
        event = CaseAssigned(case_id=case_id, assignment_no=assignment_no, assigned_at=dt.datetime.now(dt.timezone.utc),
                             bureau=bureau, bureau_type=btype, jurisdiction=division, level="county",
                             co_bureaus=list(co_bureaus), category="trademarks", county=division, counties=[division],
                             origin="report", suspect=Suspect(name="某商行"), directory_version="t", rules_version="t")
        env = new_envelope(type=CaseAssigned.EVENT_TYPE, source="/tests", subject=case_id, correlationid=case_id)
        await stack.produce(self.settings.case_routing_topic,
                            [stack.event_record(event, type=CaseAssigned.EVENT_TYPE, key=case_id, envelope=env)])

        async def consumed() -> bool:
            conn = await connect(self.settings.dsn, self.settings.schema)
            try:
                return bool(await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", env.id))
            finally:
                await conn.close()

        await stack.eventually(consumed, until=bool, what=f"{self.service} consumed case {case_id}'s assignment")
        self._opened.add((case_id, bureau, co_bureaus, assignment_no))
        return case_id

    @contextlib.asynccontextmanager
    async def running(self, clock: Clock | None = None) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
        async with running_service(type(self).build, self.settings, base_url=f"http://{self.service}",
                                   clock=clock) as (parts, http):
            yield http, parts
