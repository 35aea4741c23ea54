"""Credit on the real broker and database for tests: `CreditWorld` gives one test its own schema,
topics, consumer group, bureau division and identity schema, runs credit's parts in process, and
issues keys through the one identity store (shared.identity), as ``shuangda keys create`` does."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any, AsyncIterator

import asyncpg
import httpx

from services.credit.domain.model import Bureau
from services.credit.settings import CreditSettings
from services.credit.wiring import build, prepare
from shared.clock import Clock
from shared.contracts.penalty import PenaltyDecided
from shared.db import connect, create_pool
from shared.runtime.service import Parts
from shared.topics import TopicSpec, ensure_topics, ingress
from tests.support import identity, stack

CODE = "91110000600037341L"
OTHER_CODE = "91350100M000100Y43"

#: credit's former client roles as principals: (kind, scopes or None for the kind's, roles)
ROLES: dict[str, tuple[str, tuple[str, ...] | None, tuple[str, ...]]] = {
    "bureau": ("bureau", None, ()),
    "office": ("office", None, ()),
    "department": ("platform", ("credit:read",), ("credit:department",)),
    "portal": ("public_api", ("credit:public",), ()),
    "platform": ("platform", ("credit:read",), ("credit:platform",)),
}


class CreditWorld:
    """The topics, schema, group, bureau division and identity schema of one test's credit service."""

    def __init__(self, unique: str, **settings: Any) -> None:
        self.unique = unique
        self.division = str(100000 + int(unique[:8], 16) % 900000)
        self.schema = f"credit_{unique}"
        self.identity_schema = f"identity_{unique}"
        self.settings = CreditSettings(
            dev=True, schema=self.schema, consumer_group=f"credit-{unique}",
            ingress_pattern=r"ingress\.[a-z][a-z0-9_]*-" + re.escape(self.division),
            penalty_topic=f"test.penalty.{unique}",
            credit_topic=f"test.credit.{unique}", consumer_poll_ms=100, relay_poll_seconds=0.3,
            scheduler_interval_seconds=0.3, index_refresh_seconds=0.3, identity_schema=self.identity_schema,
            **({"identity_cache_seconds": 0, "referral_topic": f"test.referral.{unique}"} | settings),
        )

    def bureau(self, bureau_type: str = "market_regulation") -> str:
        return f"{bureau_type}@{self.division}"

    def bureau_of(self, bureau_type: str = "market_regulation") -> Bureau:
        return Bureau(self.bureau(bureau_type), bureau_type, self.division)

    def ingress(self, bureau_type: str = "market_regulation") -> str:
        return f"ingress.{bureau_type}-{self.division}"

    async def create(self) -> None:
        await ensure_topics(stack.bootstrap(), [
            ingress(f"market_regulation-{self.division}"), ingress(f"food_drug-{self.division}"),
            TopicSpec(self.settings.referral_topic, "case id", "test referrals"),
        ])
        await prepare(self.settings)
        await identity.identity_schema(self.unique)

    @contextlib.asynccontextmanager
    async def running(self, clock: Clock | None = None, *, scheduler: bool = True) -> AsyncIterator[Parts]:
        pool = await create_pool(self.settings.dsn, self.settings.schema, max_size=self.settings.pool_max_size)
        parts = await build(self.settings, pool, clock=clock)
        stop = asyncio.Event()
        loops = [parts.consumer.run, parts.relay.run, parts.refresher.run] + ([parts.scheduler.run] if scheduler else [])
        tasks = [asyncio.create_task(loop(stop)) for loop in loops]
        try:
            yield parts
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            for close in reversed(parts.closers):
                await close()
            await pool.close()

    async def conn(self) -> asyncpg.Connection:
        c = await connect(stack.dsn(), self.schema)
        await c.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        return c

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        c = await self.conn()
        try:
            return await c.fetch(sql, *args)
        finally:
            await c.close()

    async def add_client(self, principal_id: str, role: str, bureau_type: str | None = None) -> str:
        """A key for a caller in one of credit's former client roles (see `ROLES`)."""
        kind, scopes, roles = ROLES[role]
        bureau = f"{bureau_type or 'office'}@{self.division}" if role in ("bureau", "office") else None
        return await identity.issue_key(self.identity_schema, bureau or principal_id, kind, scopes=scopes, bureau=bureau,
                                        roles=roles)

    async def add_bureau(self, bureau_type: str = "market_regulation") -> str:
        return await self.add_client(self.bureau(bureau_type), "bureau", bureau_type)

    async def add_bureau_key(self, bureau_id: str) -> str:
        """A bureau key for any bureau id (type@division), e.g. the level above that consents to a listing."""
        kind, scopes, roles = ROLES["bureau"]
        return await identity.issue_key(self.identity_schema, bureau_id, kind, scopes=scopes, bureau=bureau_id, roles=roles)

    async def revoke(self, principal_id: str) -> bool:
        return await identity.revoke(self.identity_schema, principal_id)

    async def events(self, topic: str, until: Any = lambda evs: True, what: str = "events") -> list[tuple[str, dict[str, Any]]]:
        async def probe() -> list[tuple[str, dict[str, Any]]]:
            return [(stack.header(r, "ce_type") or "", json.loads(r.value)) for r in await stack.read_all(topic)]

        return await stack.eventually(probe, until=until, timeout=40, what=what)


def http(parts: Parts, key: str | None = None, **headers: str) -> httpx.AsyncClient:
    if key:
        headers["authorization"] = f"Bearer {key}"
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=parts.app), base_url="http://credit", headers=headers)


def decision(no: str, on: dt.date, *, code: str | None = CODE, name: str = "陕西省咸阳市华泰商贸有限公司",
             category: str = "trademarks", **extra: Any) -> PenaltyDecided:
    body: dict[str, Any] = dict(
        decision_no=no, party={"kind": "organisation", "credit_code": code, "name": name, "legal_representative": "王五"},
        category=category, violation="销售侵犯注册商标专用权的商品", legal_basis=["《商标法》第六十条第二款"],
        penalty_types=["fine", "confiscation_of_property"], content="没收侵权商品并处罚款", fine_amount=Decimal("50000.00"),
        decided_on=on,
    )
    body.update(extra)
    return PenaltyDecided.model_validate(body)


async def take_to_listing(parts: Parts, authority_key: str, approver_key: str | None, proceeding_id: str,
                          served_on: dt.date) -> dict[str, Any]:
    """Take a listing proceeding through Order 44's steps to `listed`: weighed serious with intent shown,
    the notice served on `served_on`, the party waiving its statement and hearing, the decision to list,
    and the level above's consent when it is required. Returns the last answer."""
    base = f"/v1/listing-proceedings/{proceeding_id}"
    async with http(parts, authority_key) as client:
        for action, payload in (("weigh", {"serious": True, "intent_shown": True, "reason": "多次售假"}),
                                ("notify", {"served_on": served_on.isoformat()}),
                                ("statement", {"kind": "waiver"}),
                                ("decide", {"list": True, "reason": "情节严重"})):
            answer = await client.post(f"{base}:{action}", json=payload)
            assert answer.status_code == 200, (action, answer.text)
        last = answer.json()
    if last["state"] == "approval":
        assert approver_key is not None, "the listing needs the level above's consent"
        async with http(parts, approver_key) as client:
            answer = await client.post(f"{base}:approve", json={"approved": True})
            assert answer.status_code == 200, answer.text
            last = answer.json()
    assert last["state"] == "listed", last
    return last


def types(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [t.removeprefix("shuangda.").removesuffix(".v1") for t, _ in events]
