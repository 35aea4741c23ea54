"""Composition of the standalone early-warning worker (``python -m services.routing.warnings``):
the faust app (run in the service's asyncio loop) and an HTTP app with /metrics, /healthz and
/readyz on ``SHUANGDA_ROUTING_WARNINGS_HTTP_PORT`` (8012). Its topics are routing's internal
ones (`services.routing.wiring.prepare`, run by ``shuangda migrate``)."""
from __future__ import annotations

import asyncio

import asyncpg

from shared.clock import Clock
from shared.http import create_app
from shared.runtime.service import Parts

from services.routing.settings import RoutingSettings
from services.routing.warnings.worker import build_app, running_loop

SERVICE = "routing-warnings"


async def build(settings: RoutingSettings, pool: asyncpg.Pool, *, clock: Clock | None = None) -> Parts:
    warnings = build_app(settings, loop=asyncio.get_running_loop(), clock=clock)

    async def faust_running() -> bool:
        return warnings.ok()

    app = create_app(SERVICE, title="Shuangda routing early warning", readiness=[faust_running])
    return Parts(app, [running_loop(warnings)], components={"warnings": warnings})
