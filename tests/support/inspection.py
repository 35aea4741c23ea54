"""Inspection for one test: its own schema, topics and identity schema, the service built by its
wiring with the outbox relay and the deadline watch running, and an HTTP client on the app."""
from __future__ import annotations

from typing import Any

from services.inspection import wiring
from services.inspection.settings import InspectionSettings
from shared.db import connect
from shared.identifiers import uscc_check_character
from tests.support.world import ServiceWorld


def credit_code(division: str, n: int) -> str:
    """A valid unified social credit code registered in `division`."""
    first = f"91{division}MA{n:07d}"
    return first + uscc_check_character(first)


class InspectionWorld(ServiceWorld):
    service, build, prepare = "inspection", staticmethod(wiring.build), staticmethod(wiring.prepare)
    default_bureau_type = "forestry"

    def __init__(self, unique: str, **overrides: Any) -> None:
        super().__init__(unique)
        self.settings = InspectionSettings(**{
            "dev": True, "schema": f"inspection_{unique}", "inspection_topic": f"test.inspection.{unique}",
            "lead_topic": f"test.ingress-inspection.{unique}", "identity_schema": self.identity_schema,
            "credit_topic": f"test.credit.{unique}", "consumer_group": f"inspection-{unique}", "consumer_poll_ms": 100,
            "identity_cache_seconds": 0, "relay_poll_seconds": 0.2, "deadline_watch_seconds": 0.2, **overrides})

    async def register(self, entries: list[dict[str, Any]], *, version: int = 1, status: str = "registered") -> None:
        """Credit's `entity-registered` events for `entries` (credit_code, name, county, category) on the
        world's credit topic, then wait until the running service holds them in its registry. Call it
        inside `running`."""
        import datetime as dt

        from shared.contracts.credit import EntityRegistered
        from tests.support import stack

        events = [EntityRegistered(credit_code=e["credit_code"], name=e["name"], kind="organisation", county=e["county"],
                                   categories=[e["category"]], status=status, version=version,  # type: ignore[arg-type]
                                   registered_by=f"market_regulation@{e['county']}",
                                   changed_at=dt.datetime.now(dt.timezone.utc)) for e in entries]
        await stack.produce(self.settings.credit_topic, [stack.event_record(e, type=e.EVENT_TYPE, key=e.credit_code)
                                                         for e in events])
        codes = [e["credit_code"] for e in entries]

        async def held() -> int:
            conn = await connect(stack.dsn(), self.settings.schema)
            try:
                return int(await conn.fetchval("SELECT count(*) FROM registry WHERE credit_code = ANY($1::text[])"
                                               " AND version >= $2", codes, version))
            finally:
                await conn.close()

        await stack.eventually(held, until=lambda n: n == len(set(codes)), what="the registrations in inspection's registry")
