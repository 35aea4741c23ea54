"""Inspection for one test: its own schema, topics and identity schema, the service built by its
wiring with the outbox relay and the deadline watch running, and an HTTP client on the app."""
from __future__ import annotations

from typing import Any

from services.inspection import wiring
from services.inspection.settings import InspectionSettings
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
            "identity_cache_seconds": 0, "relay_poll_seconds": 0.2, "deadline_watch_seconds": 0.2, **overrides})
