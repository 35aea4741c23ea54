"""An in-process harness for intake's integration tests and benchmarks: a
world of unique names (schema, identity schema, case topic, consumer group,
ingress clients) on the real broker and database, and intake's parts running in this event
loop. It lives under tests/ so the product does not ship it."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import Any, AsyncIterator

import httpx

from shared.clock import Clock
from services.intake.settings import IntakeSettings
from services.intake.wiring import build, prepare
from shared.runtime.service import Parts
from shared.db import connect
from shared.identity import store as identity_store
from shared.topics import ensure_topics, ingress
from tests.support import identity
from tests.support.service import running_service


class IntakeWorld:
    """Names unique to one test: schema ``intake_<u>``, identity schema ``identity_<u>`` (the one
    identity store's, for this world's callers), case topic ``test.case.intake.<u>``, group
    ``intake-<u>``, and clients ``t<u>-<name>`` whose ingress topics only this world consumes."""

    def __init__(self, unique: str, **settings: Any) -> None:
        self.unique = unique
        self.schema = f"intake_{unique}"
        self.identity_schema = f"identity_{unique}"
        self.case_topic = f"test.case.intake.{unique}"
        self.group = f"intake-{unique}"
        self.prefix = f"t{unique}"
        self.overrides = settings

    def settings(self, **extra: Any) -> IntakeSettings:
        values: dict[str, Any] = dict(
            dev=True, schema=self.schema, identity_schema=self.identity_schema, case_topic=self.case_topic, consumer_group=self.group,
            ingress_pattern=rf"ingress\.{self.prefix}-[a-z0-9_-]+", consumer_poll_ms=50, relay_poll_seconds=0.5,
            identity_cache_seconds=0.5, routing_topic=f"test.case.routing.{self.unique}",
        )
        values.update(self.overrides)
        values.update(extra)
        return IntakeSettings(**values)

    def env(self, **extra: str) -> dict[str, str]:
        """The same world as environment variables, for a service started as a subprocess."""
        s = self.settings()
        env = {
            "SHUANGDA_INTAKE_SCHEMA": s.schema, "SHUANGDA_INTAKE_IDENTITY_SCHEMA": s.identity_schema,
            "SHUANGDA_INTAKE_CASE_TOPIC": s.case_topic,
            "SHUANGDA_INTAKE_CONSUMER_GROUP": s.consumer_group, "SHUANGDA_INTAKE_INGRESS_PATTERN": s.ingress_pattern,
            "SHUANGDA_INTAKE_CONSUMER_POLL_MS": str(s.consumer_poll_ms),
            "SHUANGDA_INTAKE_RELAY_POLL_SECONDS": str(s.relay_poll_seconds),
            "SHUANGDA_INTAKE_IDENTITY_CACHE_SECONDS": str(s.identity_cache_seconds),
            "SHUANGDA_INTAKE_ROUTING_TOPIC": s.routing_topic,
        }
        env.update(extra)
        return env

    def client_id(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def ingress_topic(self, name: str) -> str:
        return ingress(self.client_id(name)).name

    async def create(self) -> None:
        await prepare(self.settings())
        assert await identity.identity_schema(self.unique) == self.identity_schema

    async def add_client(self, name: str, kind: str, scopes: list[str], *, topic: bool = True) -> str:
        """Register `t<u>-<name>` in the world's identity store (and its ingress topic); returns the API key.
        A bureau back end acts for a bureau; which one does not matter to intake."""
        client_id = self.client_id(name)
        if topic:
            spec = ingress(client_id)
            await ensure_topics(self.settings().kafka, [replace(spec, partitions=1)])
        bureau = "market_regulation@610402" if kind == "bureau" else None
        return await identity.issue_key(self.identity_schema, client_id, kind, scopes=tuple(scopes), bureau=bureau)

    async def revoke(self, name: str) -> bool:
        return await identity.revoke(self.identity_schema, self.client_id(name))

    async def add_legacy_client(self, name: str, kind: str, scopes: list[str]) -> str:
        """A client of intake's former key store (its ``clients`` table, still migrated): an
        ``sdk_<key id>_<secret>`` key stored as the SHA-256 of the whole key, exactly as intake issued
        them before the identity store. Returns the key; `import_legacy_keys` carries it over."""
        import hashlib
        import secrets

        key_id = "".join(secrets.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(12))
        key = f"sdk_{key_id}_{secrets.token_urlsafe(32)}"
        rows = await self.fetch(
            "INSERT INTO clients (client_id, kind, scopes, key_id, key_hash) VALUES ($1, $2, $3, $4, $5) RETURNING 1",
            self.client_id(name), kind, scopes, key_id, hashlib.sha256(key.encode()).digest())
        assert rows
        return key

    async def import_legacy_keys(self) -> dict[str, int]:
        """What ``shuangda migrate`` does: the former stores' keys into the world's identity store."""
        s = self.settings()
        conn = await connect(s.dsn, self.identity_schema)
        try:
            return await identity_store.import_legacy_keys(conn, {"intake": self.schema})
        finally:
            await conn.close()

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        s = self.settings()
        conn = await connect(s.dsn, s.schema)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()


@dataclass
class Running:
    parts: Parts
    http: httpx.AsyncClient
    settings: IntakeSettings


@contextlib.asynccontextmanager
async def running_intake(world: IntakeWorld, *, clock: Clock | None = None, consume: bool = True,
                         **settings: Any) -> AsyncIterator[Running]:
    """Intake's consumer, relay and HTTP app (through an in-process ASGI client) in this loop."""
    cfg = world.settings(**settings)

    def loops(parts: Parts) -> list[Any]:
        return [parts.relay.run] + ([parts.consumer.run] if consume else [])

    async with running_service(build, cfg, base_url="http://intake.test", clock=clock, loops=loops) as (parts, http):
        yield Running(parts, http, cfg)
