"""Composition root: settings → logging → pool → parts → run. Migrations are
``shuangda migrate``'s job, never done here."""
from __future__ import annotations

import asyncio
import logging

from services.notify.runtime import run
from services.notify.settings import NotifySettings
from services.notify.wiring import SERVICE, build
from shared.config import settings_summary
from shared.db import create_pool
from shared.logging import configure_logging
from shared.runtime.service import run_service


async def main() -> None:
    settings = NotifySettings()
    configure_logging(SERVICE, settings.log_level)
    logging.getLogger(__name__).info("starting", extra={"settings": settings_summary(settings)})
    pool = await create_pool(settings.dsn, settings.schema, max_size=settings.pool_max_size)
    try:
        parts = build(settings, pool)
        try:
            await run_service(SERVICE, app=parts.app, host=settings.http_host, port=settings.http_port, loops=parts.loops)
        finally:
            await parts.close()
    finally:
        await pool.close()


if __name__ == "__main__":
    run(main())
