"""Composition root: settings → logging → schema → pool → parts → run."""
from __future__ import annotations

import asyncio
import logging

from shared.config import settings_summary
from shared.logging import configure_logging
from shared.runtime.service import run_service

from services.credit.settings import CreditSettings
from services.credit.wiring import SERVICE, build, open_pool, prepare


async def main() -> None:
    settings = CreditSettings()
    configure_logging(SERVICE, settings.log_level)
    logging.getLogger(__name__).info("starting", extra={"settings": settings_summary(settings)})
    if settings.migrate_on_start:
        await prepare(settings)
    pool = await open_pool(settings)
    try:
        parts = build(settings, pool)
        await run_service(SERVICE, app=parts.app, host=settings.http_host, port=settings.http_port, loops=parts.loops)
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
