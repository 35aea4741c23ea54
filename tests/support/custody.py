"""Custody for one test: its own schema, topics, group and identity schema, the service built by its
wiring with the consumer, the outbox relay and the deadline watch running, and an HTTP client on the app."""
from __future__ import annotations

import tempfile
from pathlib import Path

from services.custody import wiring
from services.custody.settings import CustodySettings
from tests.support.world import ServiceWorld


class CustodyWorld(ServiceWorld):
    service, build, prepare = "custody", staticmethod(wiring.build), staticmethod(wiring.prepare)

    def __init__(self, unique: str, *, case_routing_topic: str | None = None) -> None:
        super().__init__(unique)
        self.settings = CustodySettings(dev=True, schema=f"custody_{unique}", custody_topic=f"test.custody.{unique}",
                                        referral_topic=f"test.referral.{unique}", case_routing_topic=case_routing_topic or f"test.case.routing.{unique}",
                                        consumer_group=f"custody-{unique}",
                                        identity_schema=self.identity_schema, identity_cache_seconds=0,
                                        relay_poll_seconds=0.2, deadline_watch_seconds=0.2,
                                        files_dir=Path(tempfile.mkdtemp(prefix=f"custody-files-{unique}-")))
