"""Composition root: settings → logging → schema → pool → parts → run."""
from __future__ import annotations

import asyncio
import logging

from services.intake.settings import IntakeSettings
from services.intake.wiring import SERVICE, build, prepare
from shared.config import settings_summary
from shared.db import create_pool
from shared.logging import configure_logging
from shared.runtime.service import run_service


async def main() -> None:
    settings = IntakeSettings()
    configure_logging(SERVICE, settings.log_level)
    logging.getLogger(__name__).info("starting", extra={"settings": settings_summary(settings)})
    if settings.migrate_on_start:
        await prepare(settings)
    pool = await create_pool(settings.dsn, settings.schema, max_size=settings.pool_max_size)
    try:
        parts = build(settings, pool)
        await run_service(SERVICE, app=parts.app, host=settings.http_host, port=settings.http_port, loops=parts.loops)
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
