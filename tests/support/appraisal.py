"""Appraisal for one test: its own schema, topics, group and identity schema, the service built by
its wiring with the consumer, the outbox relay and the deadline watch running, and an HTTP client."""
from __future__ import annotations

from services.appraisal import wiring
from services.appraisal.settings import AppraisalSettings
from tests.support.world import ServiceWorld


class AppraisalWorld(ServiceWorld):
    service, build, prepare = "appraisal", staticmethod(wiring.build), staticmethod(wiring.prepare)

    def __init__(self, unique: str, *, custody_topic: str | None = None, identity_schema: str | None = None,
                 case_routing_topic: str | None = None) -> None:
        super().__init__(unique, identity_schema=identity_schema)
        self.settings = AppraisalSettings(
            dev=True, schema=f"appraisal_{unique}", appraisal_topic=f"test.appraisal.{unique}",
            custody_topic=custody_topic or f"test.custody.{unique}", case_routing_topic=case_routing_topic or f"test.case.routing.{unique}",
            consumer_group=f"appraisal-{unique}", egress_prefix=f"t{unique}.",
            identity_schema=self.identity_schema, identity_cache_seconds=0, relay_poll_seconds=0.2,
            deadline_watch_seconds=0.2)
