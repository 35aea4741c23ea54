"""Each bureau's ``egress.<bureau>`` topic, created on first use (cached per process)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping

from shared.topics import TopicSpec, egress, ensure_topics

log = logging.getLogger(__name__)


class EgressTopics:
    def __init__(self, bootstrap: str, *, prefix: str = "", create: bool = True, replication_factor: int = 1,
                 kafka_options: Mapping[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.create = create
        self.replication_factor = replication_factor
        self.kafka_options = dict(kafka_options or {})
        self._known: set[str] = set()
        self._lock = asyncio.Lock()
        self._listed = False

    def name(self, bureau: str) -> str:
        return self.prefix + egress(bureau).name

    def spec(self, bureau: str) -> TopicSpec:
        spec = egress(bureau)
        return TopicSpec(self.name(bureau), spec.key, spec.description, partitions=spec.partitions,
                         retention_ms=spec.retention_ms, has_dlq=False)

    async def ensure(self, bureau: str) -> str:
        """The bureau's egress topic name, created if it does not exist yet.

        The first call lists the broker's topics once; after that only a bureau
        never seen before costs a round trip to the broker."""
        name = self.name(bureau)
        if name in self._known or not self.create:
            return name
        async with self._lock:
            if not self._listed:
                self._known.update(await self._existing())
                self._listed = True
            if name not in self._known:
                created = await ensure_topics(self.bootstrap, [self.spec(bureau)], replication_factor=self.replication_factor,
                                              **self.kafka_options)
                if created:
                    log.info("created egress topic %s", name)
                self._known.add(name)
        return name

    async def _existing(self) -> set[str]:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="shuangda-routing-egress", **self.kafka_options)
        await admin.start()
        try:
            prefix = self.prefix + "egress."
            return {t for t in await admin.list_topics() if t.startswith(prefix)}
        finally:
            await admin.close()
