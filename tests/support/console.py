"""Running the console against a routing of its own on real sockets (test support: not shipped).

`console_stack(unique)` starts routing (`RoutingWorld`, in-process, HTTP on a free port) and the
console (`wiring.prepare` + `wiring.build`, HTTP on a free port) on the real Kafka and Postgres,
with their own schemas, topics and identity store (`routing_overrides`: routing's settings, e.g. its
public rate limit for a benchmark); `create_account` is what
``shuangda console accounts create`` does."""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
import socket
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any, AsyncIterator

from shared.db import connect, create_pool
from shared.http import serve
from shared.runtime.service import build_parts
from tests.support import stack
from tests.support.routing import Running, RoutingWorld

PASSWORD = "correct-horse-battery"


def csrf_of(page: Any) -> str:
    """The CSRF token a console page's form carries (an httpx response or its text)."""
    text = page if isinstance(page, str) else page.text
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, text
    return found.group(1)


def hidden_fields(html: str, action: str) -> dict[str, str]:
    """The hidden fields (csrf, idem …) of the form posting to `action` on a page."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.S)
    assert form, f"no form for {action}"
    return {name: unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(1))}


async def sign_in(client: Any, username: str, password: str = PASSWORD) -> None:
    """Sign `username` in on an httpx client at the console's URL (its cookies keep the session)."""
    form = await client.get("/login")
    r = await client.post("/login", data={"csrf": csrf_of(form), "username": username, "password": password})
    assert r.status_code == 303, r.text


#: where the browser tests save their screenshots: docs/console/ when SHUANGDA_UPDATE_SCREENSHOTS=1
#: (refreshing docs/console.md's images), else a temporary directory
SHOTS = (Path(__file__).resolve().parents[2] / "docs" / "console" if os.environ.get("SHUANGDA_UPDATE_SCREENSHOTS") == "1"
         else Path(tempfile.gettempdir()) / "shuangda-console-screenshots")


@contextlib.asynccontextmanager
async def chromium_browser() -> AsyncIterator[Any]:
    """Debian's chromium driven by Playwright for Python (`executable_path`: no browser download;
    `deploy.launcher.tools.chromium()` installs it when missing)."""
    from deploy.launcher import tools
    from playwright.async_api import async_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    chromium = str(tools.chromium())
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            await browser.close()


async def browser_page(browser: Any, *, width: int = 1100, height: int = 900) -> Any:
    """A new page in a context of its own (its own cookies), Chinese first as people use the console."""
    context = await browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    return await context.new_page()


async def browser_signed_in(browser: Any, url: str, username: str, *, width: int = 1100, height: int = 900,
                            password: str = PASSWORD) -> Any:
    """A page signed in as `username` through the sign-in form, on the page the sign-in led to."""
    page = await browser_page(browser, width=width, height=height)
    await page.goto(f"{url}/login")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_load_state()
    return page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ConsoleStack:
    world: RoutingWorld
    routing: Running
    settings: Any
    url: str
    parts: Any
    #: the services run beside it (``intake``: a tests.support.intake.Running), by name
    beside: dict[str, Any] = field(default_factory=dict)

    async def create_account(self, username: str, role: str, password: str = PASSWORD) -> None:
        from services.console.adapters.crypto import KeySeal
        from services.console.app.accounts import create_account
        from services.console.domain.accounts import parse_role

        s = self.settings
        console = await connect(s.dsn, s.schema)
        identity = await connect(s.dsn, s.identity_schema)
        try:
            await create_account(console, identity, KeySeal(s.secret), username=username, password=password,
                                 role=parse_role(role, office_bureau=s.office_bureau, city_division=s.city_division))
        finally:
            await console.close()
            await identity.close()


@contextlib.asynccontextmanager
async def console_stack(unique: str, *, routing_overrides: dict[str, Any] | None = None, credit: bool = False,
                        credit_overrides: dict[str, Any] | None = None, notify: Any = None, goods: bool = False,
                        intake: bool = False, inspection: bool = False, **overrides: Any) -> AsyncIterator[ConsoleStack]:
    """`credit`: run credit too (its own schema, the same identity store, following routing's referral
    topic; `credit_overrides`: its settings) and point the console at it and at its credit topic;
    `notify`: (a `tests.support.notify.NotifyWorld`, its settings) to run notify with, likewise;
    `goods`: run custody and appraisal (the same identity store) for the case page's goods and appraisals;
    `intake`: run intake (on routing's topics, the same identity store) for the public survey — as
    `beside["intake"]` (its Running: an in-process client for filing complaints) and `beside["intake_world"]`;
    `inspection`: run inspection (the same identity store) for the public inspection results —
    `beside["inspection"]` (an in-process client) and `beside["inspection_world"]`."""
    async with contextlib.AsyncExitStack() as services:
        urls: dict[str, str] = {"credit_url": "", "custody_url": "", "appraisal_url": "", "intake_url": "",
                                "inspection_url": ""}
        beside: dict[str, Any] = {}
        if intake:
            urls["intake_url"], ran = await services.enter_async_context(_intake(unique))
            beside.update(ran)
        if inspection:
            urls["inspection_url"], ran = await services.enter_async_context(_inspection(unique))
            beside.update(ran)
        if goods:
            urls["custody_url"], urls["appraisal_url"] = await services.enter_async_context(_goods(unique))
        if credit:
            urls["credit_url"], urls["credit_topic"] = await services.enter_async_context(
                _credit(unique, **(credit_overrides or {})))
        if notify is not None:
            urls["notify_url"] = await services.enter_async_context(_notify(notify))
        async with _console_stack(unique, routing_overrides=routing_overrides, **{**urls, **overrides}) as cs:
            cs.beside.update(beside)
            yield cs


@contextlib.asynccontextmanager
async def _served(app: Any) -> AsyncIterator[str]:
    stop = asyncio.Event()
    port = free_port()
    task = asyncio.create_task(serve(app, "127.0.0.1", port, stop))
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        async def up() -> bool:
            async with httpx.AsyncClient() as c:
                try:
                    return (await c.get(f"{url}/healthz")).status_code == 200
                except httpx.HTTPError:
                    return False

        await stack.eventually(up, until=bool, what=f"{url} listening", timeout=30)
        yield url
    finally:
        stop.set()
        await asyncio.wait([task], timeout=10)


@contextlib.asynccontextmanager
async def _credit(unique: str, **settings: Any) -> AsyncIterator[tuple[str, str]]:
    from tests.support.credit import CreditWorld

    # its identity schema is identity_<unique>, routing's and the console's; it follows routing's referrals
    world = CreditWorld(unique, referral_topic=f"t{unique}.referral.lifecycle", **settings)
    await world.create()
    async with world.running() as parts, _served(parts.app) as url:
        yield url, world.settings.credit_topic


@contextlib.asynccontextmanager
async def _goods(unique: str) -> AsyncIterator[tuple[str, str]]:
    from tests.support.appraisal import AppraisalWorld
    from tests.support.custody import CustodyWorld

    # identity_<unique>: routing's and the console's identity store; routing's case topic: whose each case is
    cases = f"t{unique}.case.routing"
    custody = CustodyWorld(unique, case_routing_topic=cases)
    appraisal = AppraisalWorld(unique, custody_topic=custody.settings.custody_topic, case_routing_topic=cases)
    await custody.create()
    await appraisal.create()
    async with custody.running() as (_c, cparts), appraisal.running() as (_a, aparts), \
            _served(cparts.app) as custody_url, _served(aparts.app) as appraisal_url:
        yield custody_url, appraisal_url


@contextlib.asynccontextmanager
async def _intake(unique: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    from tests.support.intake import IntakeWorld, running_intake

    routing = RoutingWorld(unique, bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await routing.create_topics()  # the console's routing world: the same names, created before intake follows them
    world = IntakeWorld(unique, case_topic=routing.intake_topic, routing_topic=routing.routing_topic)
    await world.create()
    async with running_intake(world) as running, _served(running.parts.app) as url:
        yield url, {"intake": running, "intake_world": world}


@contextlib.asynccontextmanager
async def _inspection(unique: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    from tests.support.inspection import InspectionWorld

    world = InspectionWorld(unique)  # identity_<unique>: routing's and the console's identity store
    await world.create()
    async with world.running() as (http, parts), _served(parts.app) as url:
        yield url, {"inspection": http, "inspection_world": world}


@contextlib.asynccontextmanager
async def _notify(notify: tuple[Any, Any]) -> AsyncIterator[str]:
    world, settings = notify
    async with world.running(settings) as parts, _served(parts.app) as url:
        yield url


@contextlib.asynccontextmanager
async def _console_stack(unique: str, *, routing_overrides: dict[str, Any] | None = None,
                         **overrides: Any) -> AsyncIterator[ConsoleStack]:
    from services.console import wiring
    from services.console.settings import ConsoleSettings

    world = RoutingWorld(unique, bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await world.create_topics()
    async with world.running(**(routing_overrides or {})) as routing:
        stop = asyncio.Event()
        rport, cport = free_port(), free_port()
        # a setting may name the console's own URL, chosen here: "{console}/login/oidc/callback"
        overrides = {k: v.replace("{console}", f"http://127.0.0.1:{cport}") if isinstance(v, str) else v
                     for k, v in overrides.items()}
        settings = ConsoleSettings(**{
            "dev": True, "pg_dsn": stack.dsn(), "kafka_bootstrap": stack.bootstrap(), "schema": f"console_{unique}",
            "identity_schema": world.identity_schema, "identity_cache_seconds": 1.0,
            "routing_url": f"http://127.0.0.1:{rport}", "credit_url": "", "cookie_secure": False, "dlq_topic_prefix": f"t{unique}.",
            **overrides})
        await wiring.prepare(settings)
        pool = await create_pool(settings.dsn, settings.schema, max_size=4)
        parts = await build_parts(wiring.build, settings, pool)
        tasks = [asyncio.create_task(serve(routing.service.app if hasattr(routing.service, "app") else routing.service,
                                           "127.0.0.1", rport, stop)),
                 asyncio.create_task(serve(parts.app, "127.0.0.1", cport, stop)),
                 *(asyncio.create_task(loop(stop)) for loop in parts.loops)]
        url = f"http://127.0.0.1:{cport}"
        try:
            import httpx

            async def up() -> bool:
                async with httpx.AsyncClient() as c:
                    try:
                        return (await c.get(f"{url}/readyz")).status_code == 200 and \
                            (await c.get(f"http://127.0.0.1:{rport}/healthz")).status_code == 200
                    except httpx.HTTPError:
                        return False

            await stack.eventually(up, until=bool, what="console and routing listening", timeout=30)
            yield ConsoleStack(world, routing, settings, url, parts)
        finally:
            stop.set()
            await asyncio.wait(tasks, timeout=10)
            for close in parts.closers:
                await close()
            await pool.close()
