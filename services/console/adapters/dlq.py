"""Dead letters through the same shared functions as ``shuangda dlq`` (shared.runtime.dlq)."""
from __future__ import annotations

from typing import Any

from shared.runtime.dlq import dead_letter_topics, read_dead_letters, replay_selected


class DeadLetters:
    def __init__(self, bootstrap: str, prefix: str = "") -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix

    def allowed(self, topic: str) -> bool:
        return topic.endswith(".dlq") and topic.startswith(self.prefix)

    async def topics(self) -> list[str]:
        return await dead_letter_topics(self.bootstrap, self.prefix)

    async def letters(self, topic: str) -> list[dict[str, Any]]:
        return [{**d.summary(), "partition": d.partition} for d in await read_dead_letters(self.bootstrap, topic)]

    async def replay(self, topic: str, partition: int, offset: int) -> int:
        return await replay_selected(self.bootstrap, topic, positions={(partition, offset)})
