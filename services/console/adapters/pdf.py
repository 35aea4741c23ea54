"""The assessment as PDF: the system's chromium prints the standalone HTML report (Playwright for
Python drives it through ``executable_path``; no browser is downloaded). One print at a time; the
browser starts for the print and stops after it, so an idle console holds no browser."""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Awaitable, Callable

_ONE_AT_A_TIME = asyncio.Lock()


def find_chromium(configured: str | None) -> Path | None:
    """The configured browser, else ``chromium`` (Debian) or ``chromium-browser`` on PATH, else None."""
    for candidate in ([configured] if configured else ["chromium", "chromium-browser"]):
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found:
            return Path(found)
    return None


def printer(executable: Path, *, timeout_seconds: float = 30.0) -> Callable[[str], Awaitable[bytes]]:
    async def to_pdf(html: str) -> bytes:
        from playwright.async_api import async_playwright

        async with _ONE_AT_A_TIME, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(executable), args=["--no-sandbox", "--disable-gpu"])
            try:
                page = await browser.new_page()
                # the report is self-contained (inline CSS, no links to load): nothing may be fetched
                await page.route("**/*", lambda route: route.abort())
                await page.set_content(html, wait_until="load", timeout=timeout_seconds * 1000)
                return await page.pdf(format="A4", landscape=True, print_background=True,
                                      margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"})
            finally:
                await browser.close()

    return to_pdf
