"""Running routing against the real broker and database in tests and benchmarks (test support:
the product does not ship it).

`RoutingWorld` gives one test its own schema, consumer group and topic names
(intake topic, routing/referral/alert topics, ingress prefix, egress prefix),
so tests never see each other's records. ``async with world.running() as svc``
applies `wiring.prepare` (as ``shuangda migrate`` does), builds routing's `Parts`
with `wiring.build` and runs their loops in this process (the early-warning faust
app only when asked: ``warnings_embedded=True``); ``svc.http`` talks to the HTTP
app in-process. The sample events and the packaged rules for unit tests import
nothing that connects (aiokafka and asyncpg are imported where they are used).
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

from pydantic import BaseModel

from shared.clock import Clock
from shared.contracts.bureau_actions import BureauCommand
from shared.contracts.cases import CaseMerged, CaseOpened, Suspect
from shared.envelope import new_envelope
from services.routing.domain.bureaus import Bureau
from services.routing.settings import RoutingSettings


def tracking_no_for(key: str) -> str:
    """A tracking number of the shape intake issues, derived from `key` (a case id): unique per key."""
    import hashlib

    from services.intake.domain.tracking import new_tracking_no

    return new_tracking_no(dt.datetime(2026, 12, 7, 4, tzinfo=dt.timezone.utc), hashlib.sha256(key.encode()).digest())


def case_opened(case_id: str, *, category: str = "trademarks", county: str = "610402", origin: str = "complaint",
                opened_at: dt.datetime | None = None, figures: dict[str, Any] | None = None,
                counties: list[str] | None = None, suspect: Suspect | None = None) -> CaseOpened:
    return CaseOpened(
        case_id=case_id, opened_at=opened_at or dt.datetime.now(dt.timezone.utc), origin=origin,  # type: ignore[arg-type]
        channel="hotline", client_id="hotline-12315", category=category, county=county, counties=counties or [county],
        suspect=suspect or Suspect(name=f"shop of {case_id}"),
        figures={k: Decimal(str(v)) for k, v in (figures or {}).items()}, tracking_no=tracking_no_for(case_id),
        summary="test case",
    )


def case_merged(opened: CaseOpened, *, figures: dict[str, Any], reports_count: int = 2,
                counties: list[str] | None = None) -> CaseMerged:
    return CaseMerged(
        case_id=opened.case_id, merged_at=dt.datetime.now(dt.timezone.utc), origin=opened.origin, channel=opened.channel,
        client_id=opened.client_id, category=opened.category, county=opened.county,
        counties=counties or list(opened.counties), suspect=opened.suspect,
        figures={k: Decimal(str(v)) for k, v in figures.items()}, reports_count=reports_count,
    )


class RoutingWorld:
    """Names and helpers of one isolated routing instance."""

    def __init__(self, unique: str, *, bootstrap: str, dsn: str) -> None:
        self.unique = unique
        self.bootstrap = bootstrap
        self.dsn = dsn
        self.schema = f"routing_{unique}"
        self.intake_topic = f"t{unique}.case.intake"
        self.routing_topic = f"t{unique}.case.routing"
        self.referral_topic = f"t{unique}.referral.lifecycle"
        self.alert_topic = f"t{unique}.alert.hotspot"
        self.appraisal_topic = f"t{unique}.appraisal.lifecycle"
        self.ingress_prefix = f"t{unique}.ingress."
        self.egress_prefix = f"t{unique}."
        self.group = f"routing-{unique}"
        #: this world's own identity store (shared.identity), so principals never collide between tests
        self.identity_schema = f"identity_{unique}"
        self._identity_ready = False
        self._tokens: dict[str, str] = {}

    def settings(self, **overrides: Any) -> RoutingSettings:
        values: dict[str, Any] = dict(
            dev=True, kafka_bootstrap=self.bootstrap, pg_dsn=self.dsn, schema=self.schema,
            consumer_group=self.group, intake_topic=self.intake_topic, routing_topic=self.routing_topic,
            referral_topic=self.referral_topic, alert_topic=self.alert_topic, appraisal_topic=self.appraisal_topic,
            ingress_prefix=self.ingress_prefix,
            egress_prefix=self.egress_prefix, consumer_poll_ms=50, relay_poll_seconds=0.5, watch_interval_seconds=0.5,
            gauges_interval_seconds=1.0, warnings_app_id=f"routing-warnings-{self.unique}", warnings_embedded=False,
            identity_schema=self.identity_schema, identity_cache_seconds=1.0,
        )
        values.update(overrides)
        return RoutingSettings(**values)

    def env(self, **overrides: str) -> dict[str, str]:
        """The same configuration as environment variables, for a routing subprocess."""
        s = self.settings()
        env = {
            "SHUANGDA_ROUTING_SCHEMA": s.schema, "SHUANGDA_ROUTING_CONSUMER_GROUP": s.consumer_group,
            "SHUANGDA_ROUTING_INTAKE_TOPIC": s.intake_topic, "SHUANGDA_ROUTING_ROUTING_TOPIC": s.routing_topic,
            "SHUANGDA_ROUTING_REFERRAL_TOPIC": s.referral_topic, "SHUANGDA_ROUTING_ALERT_TOPIC": s.alert_topic,
            "SHUANGDA_ROUTING_APPRAISAL_TOPIC": s.appraisal_topic,
            "SHUANGDA_ROUTING_INGRESS_PREFIX": s.ingress_prefix, "SHUANGDA_ROUTING_EGRESS_PREFIX": s.egress_prefix,
            "SHUANGDA_ROUTING_CONSUMER_POLL_MS": "50", "SHUANGDA_ROUTING_RELAY_POLL_SECONDS": "0.5",
            "SHUANGDA_ROUTING_WATCH_INTERVAL_SECONDS": "0.5", "SHUANGDA_ROUTING_WARNINGS_APP_ID": s.warnings_app_id,
            "SHUANGDA_KAFKA_BOOTSTRAP": self.bootstrap, "SHUANGDA_PG_DSN": self.dsn,
            "SHUANGDA_IDENTITY_SCHEMA": self.identity_schema,
        }
        env.update(overrides)
        return env

    # -- topics -------------------------------------------------------------------------------

    def ingress_topic(self, bureau: str) -> str:
        return self.ingress_prefix + Bureau.parse(bureau).client_id

    def egress_topic(self, bureau: str) -> str:
        return self.egress_prefix + "egress." + Bureau.parse(bureau).client_id

    async def create_topics(self, *, bureaus: Sequence[str] = (), partitions: int = 3) -> None:
        from shared.topics import TopicSpec, ensure_topics, priority_lane

        specs = [TopicSpec(t, "case id", "test", partitions=partitions)
                 for t in (self.intake_topic, self.routing_topic, self.referral_topic, self.alert_topic,
                           self.appraisal_topic, priority_lane(self.intake_topic), priority_lane(self.routing_topic))]
        specs += [TopicSpec(self.ingress_topic(b), "case id", "test ingress", partitions=partitions) for b in bureaus]
        await ensure_topics(self.bootstrap, specs)

    async def publish(self, topic: str, *items: BaseModel, key_of: str = "case_id", actor: str | None = None) -> list[str]:
        """Publish payloads with CloudEvents headers; returns their event ids."""
        from shared.kafka import KafkaConnection

        producer = KafkaConnection(self.bootstrap).producer(acks="all", enable_idempotence=True, linger_ms=2)
        await producer.start()
        ids = []
        try:
            futures = []
            for item in items:
                key = getattr(item, key_of)
                env = new_envelope(type=type(item).EVENT_TYPE, source="/tests", subject=key, correlationid=key, actor=actor)  # type: ignore[attr-defined]
                ids.append(env.id)
                futures.append(await producer.send(topic, value=item.model_dump_json().encode(), key=key.encode(),
                                                   headers=env.to_headers()))
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        return ids

    async def open_cases(self, *events: CaseOpened | CaseMerged) -> list[str]:
        return await self.publish(self.intake_topic, *events)

    async def command_via_kafka(self, bureau: str, command: BureauCommand, *, claimed_actor: str | None = None) -> str:
        """A bureau's command on its own ingress topic (`claimed_actor` forges the actor header)."""
        return (await self.publish(self.ingress_topic(bureau), command, actor=claimed_actor))[0]

    # -- database -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def db(self) -> AsyncIterator[Any]:
        from shared.db import connect

        conn = await connect(self.dsn, self.schema)
        try:
            yield conn
        finally:
            await conn.close()

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        async with self.db() as conn:
            return await conn.fetch(sql, *args)

    async def case_row(self, case_id: str) -> Any:
        async with self.db() as conn:
            return await conn.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)

    async def identity(self) -> str:
        """This world's identity schema, migrated (once)."""
        if not self._identity_ready:
            from tests.support.identity import identity_schema

            assert await identity_schema(self.unique) == self.identity_schema
            self._identity_ready = True
        return self.identity_schema

    async def api_key(self, bureau: str, *, kind: str | None = None, scopes: Sequence[str] | None = None) -> str:
        """The key of the bureau's principal in this world's identity store (one per bureau, issued once):
        kind ``office``, ``police`` or ``procuratorate`` by the bureau's type, else ``bureau``; the office
        also gets ``cases:act`` (it directs escalated cases)."""
        if bureau not in self._tokens:
            from shared.identity.model import DEFAULT_SCOPES
            from tests.support.identity import issue_key

            kind = kind or bureau_kind(bureau)
            if scopes is None and kind == "office":
                scopes = (*DEFAULT_SCOPES["office"], "cases:act")
            self._tokens[bureau] = await issue_key(await self.identity(), bureau, kind, bureau=bureau,
                                                   **({"scopes": tuple(scopes)} if scopes is not None else {}))
        return self._tokens[bureau]

    async def legacy_key(self, bureau: str) -> str:
        """A key as routing's former store issued it (``sdk_<16 hex>_<secret>``, a SHA-256 of the secret in
        the routing schema's ``bureau_keys``), before ``shuangda migrate`` imported the legacy keys."""
        import hashlib
        import secrets

        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        async with self.db() as conn:
            await conn.execute("INSERT INTO bureau_keys (key_id, bureau, secret_hash, label) VALUES ($1, $2, $3, 'legacy')",
                               key_id, bureau, hashlib.sha256(secret.encode()).digest())
        return f"sdk_{key_id}_{secret}"

    async def import_legacy_keys(self) -> dict[str, int]:
        """What ``shuangda migrate`` does with the former key stores, for this world's schemas."""
        from shared.db import connect
        from shared.identity.store import import_legacy_keys

        conn = await connect(self.dsn, await self.identity())
        try:
            return await import_legacy_keys(conn, {"routing": self.schema})
        finally:
            await conn.close()

    async def prepare(self, **overrides: Any) -> RoutingSettings:
        """What ``shuangda migrate`` does for routing, for this world's names (once per world)."""
        from services.routing import wiring

        settings = self.settings(**overrides)
        if not getattr(self, "_prepared", False):
            await wiring.prepare(settings)
            self._prepared = True
        return settings

    @contextlib.asynccontextmanager
    async def running(self, *, clock: Clock | None = None, watch: bool = True, **overrides: Any) -> AsyncIterator["Running"]:
        from services.routing import wiring
        from tests.support.service import running_service

        settings = await self.prepare(**overrides)
        await self.identity()

        def loops(parts: Any) -> list[Any]:
            return [fn for fn in parts.loops if watch or fn != parts.watch.run]

        async with running_service(wiring.build, settings, base_url="http://routing", clock=clock, loops=loops) as (parts, http):
            yield Running(parts, http)


@dataclass
class Running:
    service: Any  # the Parts of services.routing.wiring.build: .router, .consumer, .relay, .watch …
    http: Any  # httpx.AsyncClient on the in-process HTTP app

    async def ready(self) -> bool:
        return self.service.consumer.ready


def bureau_kind(bureau: str) -> str:
    """The identity store's kind for a bureau id: the office, the police, the procuratorate, else a bureau."""
    btype = bureau.partition("@")[0]
    return {"office": "office", "public_security": "police", "procuratorate": "procuratorate"}.get(btype, "bureau")


def holiday_dir(tmp: Path) -> Path:
    d = tmp / "holidays"
    d.mkdir(parents=True, exist_ok=True)
    return d


def default_rules_and_reference(*, bureau_directory_path: Path | None = None,
                                holidays_dirs: list[Path] | None = None) -> tuple[Any, Any]:
    """The packaged routing rules and reference data (validated), for unit tests."""
    from services.routing.adapters.rules_file import load_checked
    from services.routing.settings import RULES_FILE

    return load_checked(RULES_FILE, bureau_directory_path=bureau_directory_path, holidays_dirs=holidays_dirs or [])


def context(now: dt.datetime, **kwargs: Any) -> Any:
    """A domain `Context` over the packaged rules and reference data at `now`."""
    from services.routing.domain.case import Context

    rules, ref = default_rules_and_reference(**kwargs)
    return Context(ref=ref, rules=rules, now=now)
