"""Composition root of the early-warning worker: ``python -m services.routing.warnings``.

settings → logging → the faust app (run in this asyncio loop) + an HTTP app with
/metrics, /healthz and /readyz on ``SHUANGDA_ROUTING_WARNINGS_HTTP_PORT`` (8012).
"""
from __future__ import annotations

import asyncio

from shared.http import create_app
from shared.logging import configure_logging
from shared.runtime.service import run_service
from shared.topics import ensure_topics
from services.routing.settings import RoutingSettings
from services.routing.warnings.worker import Warnings, embedded_loop

SERVICE = "routing-warnings"


async def main() -> None:
    settings = RoutingSettings()
    configure_logging(SERVICE, settings.log_level)
    if settings.migrate_on_start:
        await ensure_topics(settings.kafka_bootstrap, settings.internal_topics(),
                            replication_factor=settings.kafka_replication_factor, **settings.kafka_options())
    holder: dict[str, Warnings] = {}

    async def faust_running() -> bool:
        return "app" in holder and holder["app"].ok()

    app = create_app(SERVICE, title="Shuangda routing early warning", readiness=[faust_running])
    loop = embedded_loop(settings, on_start=lambda w: holder.__setitem__("app", w))
    await run_service(SERVICE, app=app, host=settings.http_host, port=settings.warnings_http_port, loops=[loop])


if __name__ == "__main__":
    asyncio.run(main())
