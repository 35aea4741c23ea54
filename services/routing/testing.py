"""Running routing against the real broker and database in tests and benchmarks.

`RoutingWorld` gives one test its own schema, consumer group and topic names
(intake topic, routing/referral/alert topics, ingress prefix, egress prefix),
so tests never see each other's records. ``async with world.running() as svc``
runs the consumer, relay, deadline watch and gauges in this process; ``svc.http``
talks to the HTTP app in-process.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from shared.clock import Clock
from shared.contracts.bureau_actions import BureauCommand
from shared.contracts.cases import CaseMerged, CaseOpened, Suspect
from shared.db import connect
from shared.envelope import new_envelope
from shared.topics import TopicSpec, ensure_topics
from services.routing.adapters import keys
from services.routing.domain.bureaus import Bureau
from services.routing.settings import RoutingSettings


def case_opened(case_id: str, *, category: str = "trademarks", county: str = "610402", origin: str = "complaint",
                opened_at: dt.datetime | None = None, figures: dict[str, Any] | None = None,
                counties: list[str] | None = None, suspect: Suspect | None = None) -> CaseOpened:
    return CaseOpened(
        case_id=case_id, opened_at=opened_at or dt.datetime.now(dt.timezone.utc), origin=origin,  # type: ignore[arg-type]
        channel="hotline", client_id="hotline-12315", category=category, county=county, counties=counties or [county],
        suspect=suspect or Suspect(name=f"shop of {case_id}"),
        figures={k: Decimal(str(v)) for k, v in (figures or {}).items()}, tracking_no=f"T-{case_id}",
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
        self.ingress_prefix = f"t{unique}.ingress."
        self.egress_prefix = f"t{unique}."
        self.group = f"routing-{unique}"

    def settings(self, **overrides: Any) -> RoutingSettings:
        values: dict[str, Any] = dict(
            dev=True, kafka_bootstrap=self.bootstrap, pg_dsn=self.dsn, schema=self.schema,
            consumer_group=self.group, intake_topic=self.intake_topic, routing_topic=self.routing_topic,
            referral_topic=self.referral_topic, alert_topic=self.alert_topic, ingress_prefix=self.ingress_prefix,
            egress_prefix=self.egress_prefix, consumer_poll_ms=50, relay_poll_seconds=0.5, watch_interval_seconds=0.5,
            gauges_interval_seconds=1.0, warnings_app_id=f"routing-warnings-{self.unique}",
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
            "SHUANGDA_ROUTING_INGRESS_PREFIX": s.ingress_prefix, "SHUANGDA_ROUTING_EGRESS_PREFIX": s.egress_prefix,
            "SHUANGDA_ROUTING_CONSUMER_POLL_MS": "50", "SHUANGDA_ROUTING_RELAY_POLL_SECONDS": "0.5",
            "SHUANGDA_ROUTING_WATCH_INTERVAL_SECONDS": "0.5", "SHUANGDA_ROUTING_WARNINGS_APP_ID": s.warnings_app_id,
            "SHUANGDA_KAFKA_BOOTSTRAP": self.bootstrap, "SHUANGDA_PG_DSN": self.dsn,
        }
        env.update(overrides)
        return env

    # -- topics -------------------------------------------------------------------------------

    def ingress_topic(self, bureau: str) -> str:
        return self.ingress_prefix + Bureau.parse(bureau).client_id

    def egress_topic(self, bureau: str) -> str:
        return self.egress_prefix + "egress." + Bureau.parse(bureau).client_id

    async def create_topics(self, *, bureaus: Sequence[str] = (), partitions: int = 3) -> None:
        specs = [TopicSpec(t, "case id", "test", partitions=partitions)
                 for t in (self.intake_topic, self.routing_topic, self.referral_topic, self.alert_topic)]
        specs += [TopicSpec(self.ingress_topic(b), "case id", "test ingress", partitions=partitions) for b in bureaus]
        await ensure_topics(self.bootstrap, specs)

    async def publish(self, topic: str, *items: BaseModel, key_of: str = "case_id", actor: str | None = None) -> list[str]:
        """Publish payloads with CloudEvents headers; returns their event ids."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, linger_ms=2)
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
    async def db(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await connect(self.dsn, self.schema)
        try:
            yield conn
        finally:
            await conn.close()

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self.db() as conn:
            return await conn.fetch(sql, *args)

    async def case_row(self, case_id: str) -> asyncpg.Record | None:
        async with self.db() as conn:
            return await conn.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)

    async def api_key(self, bureau: str) -> str:
        async with self.db() as conn:
            return (await keys.create_key(conn, bureau, label="test")).token

    @contextlib.asynccontextmanager
    async def running(self, *, clock: Clock | None = None, watch: bool = True, **overrides: Any) -> AsyncIterator["Running"]:
        from services.routing.__main__ import build

        service = await build(self.settings(**overrides), clock=clock)
        stop = asyncio.Event()
        loops = [service.consumer.run, service.relay.run, service.gauges.run] + ([service.watch.run] if watch else [])
        tasks = [asyncio.create_task(fn(stop)) for fn in loops]
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app), base_url="http://routing")
        try:
            yield Running(service, client)
        finally:
            stop.set()
            await client.aclose()
            await asyncio.wait(tasks, timeout=20)
            for t in tasks:
                if not t.done():
                    t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await service.pool.close()


@dataclass
class Running:
    service: Any  # services.routing.__main__.RoutingService
    http: httpx.AsyncClient

    async def ready(self) -> bool:
        return self.service.consumer.ready


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
