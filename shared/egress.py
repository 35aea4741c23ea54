"""Each bureau's ``egress.<bureau>`` topic — and each appraisal provider's ``egress.<provider>``
(appraisal, docs/appraisal.md) — created on first use (cached per process). Routing and appraisal
both write such topics; this is the one implementation.

The broker is never called inside a database transaction. Writers ask
`ready(bureaus)` (a lookup in the cache) before they write an event whose copy
goes to a bureau's topic; when a topic is not known to exist they raise
`EgressNotReady`, which rolls their transaction back, and `prepare` creates the
topics outside any transaction before the work is tried again. So the relay
never finds an outbox row naming a topic that does not exist (the broker does
not create topics on demand: a send to a missing topic would stall the relay).

- the consumer: `EgressNotReady` is a transient error, so the runtime rolls the
  batch back and retries it after a backoff; `schedule` has already started
  the creation in the background by then;
- the HTTP API and the deadline watch: `Router.outside_transaction` catches it,
  awaits `prepare` and runs the transaction again.

`warm` lists the broker's egress topics once when the service's loops start (never
while it is built), so a process that restarts does not need a retry for every
bureau it already has a topic for. Every admin client comes from the one
`KafkaConnection` (`settings.kafka`).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable, Iterable

from shared.kafka import KafkaConnection
from shared.runtime.errors import KafkaError  # the runtime's transient-error family (retriable=True)
from shared.topics import TopicSpec, egress, ensure_topics

log = logging.getLogger(__name__)


class EgressNotReady(KafkaError):
    """Some bureaus' egress topics are not known to exist yet: roll back, `prepare` them, try again."""

    retriable = True  # the runtime treats it as transient: the batch is retried, never dead-lettered

    def __init__(self, bureaus: Iterable[str]) -> None:
        self.bureaus = sorted(set(bureaus))
        super().__init__(f"egress topics not ready for {', '.join(self.bureaus)}")


class EgressTopics:
    def __init__(self, kafka: KafkaConnection, *, prefix: str = "", create: bool = True,
                 replication_factor: int = 1, service: str = "routing",
                 spec_of: Callable[[str], TopicSpec] = egress) -> None:
        self.kafka = kafka
        self.service = service
        self.spec_of = spec_of  # egress(bureau), or provider_egress(provider) for appraisal
        self.prefix = prefix
        self.create = create
        self.replication_factor = replication_factor
        self._known: set[str] = set()
        self._lock = asyncio.Lock()
        self._listed = False
        self._pending: asyncio.Task[None] | None = None
        self._names: dict[str, str] = {}

    def name(self, bureau: str) -> str:
        name = self._names.get(bureau)
        if name is None:
            name = self._names[bureau] = self.prefix + self.spec_of(bureau).name
        return name

    def spec(self, bureau: str) -> TopicSpec:
        spec = self.spec_of(bureau)
        return TopicSpec(self.name(bureau), spec.key, spec.description, partitions=spec.partitions,
                         retention_ms=spec.retention_ms, has_dlq=False)

    def missing(self, bureaus: Iterable[str]) -> list[str]:
        """The bureaus whose egress topic is not known to exist (a cache lookup, no I/O)."""
        if not self.create:
            return []
        return sorted({b for b in bureaus if self.name(b) not in self._known})

    def ready(self, bureaus: Iterable[str]) -> None:
        """Raise `EgressNotReady` (after starting their creation in the background) unless every
        bureau's topic is known to exist. Call it inside a transaction before writing anything."""
        missing = self.missing(bureaus)
        if missing:
            self.schedule(missing)
            raise EgressNotReady(missing)

    def schedule(self, bureaus: Iterable[str]) -> None:
        """Start creating the bureaus' topics in the background (one creation at a time)."""
        if self._pending is not None and not self._pending.done():
            return  # the retry after it finishes schedules whatever is still missing
        wanted = list(bureaus)

        async def run() -> None:
            try:
                await self.prepare(wanted)
            except Exception as exc:  # the retry schedules it again
                log.warning("egress topics for %s not created yet: %s", ", ".join(wanted), exc)

        self._pending = asyncio.get_running_loop().create_task(run(), name=f"{self.service}-egress-topics")

    async def prepare(self, bureaus: Iterable[str]) -> None:
        """Make sure the bureaus' egress topics exist (outside any transaction). The first call lists
        the broker's topics once; after that only a bureau never seen before costs a broker round trip."""
        if not self.create:
            return
        async with self._lock:
            if not self._listed:
                self._known.update(await self._existing())
                self._listed = True
            missing = sorted({b for b in bureaus if self.name(b) not in self._known})
            if missing:
                created = await ensure_topics(self.kafka, [self.spec(b) for b in missing],
                                              replication_factor=self.replication_factor)
                if created:
                    log.info("created egress topic(s) %s", ", ".join(created))
                self._known.update(self.name(b) for b in missing)

    async def warm(self) -> None:
        """List the egress topics that exist (at start-up); a failure only means later retries."""
        try:
            await self.prepare(())
        except Exception as exc:
            log.warning("could not list egress topics at start-up (%s); they are listed on first use", exc)

    async def warm_loop(self, stop: asyncio.Event) -> None:
        """A service loop that lists the egress topics once, as the service starts, and ends."""
        if not stop.is_set():
            await self.warm()

    async def ensure(self, bureau: str) -> str:
        """The bureau's egress topic name, created if it does not exist yet (outside a transaction)."""
        await self.prepare([bureau])
        return self.name(bureau)

    async def _existing(self) -> set[str]:
        admin = self.kafka.admin(client_id=f"shuangda-{self.service}-egress")
        await admin.start()
        try:
            prefix = self.prefix + "egress."
            return {t for t in await admin.list_topics() if t.startswith(prefix)}
        finally:
            await admin.close()
