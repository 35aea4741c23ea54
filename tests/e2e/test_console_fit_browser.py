"""Fit for the people who use it (issue 16) in a real browser (Debian's chromium through Playwright):
a bureau's worklist and case page at a phone's width (390 × 844) without horizontal scrolling; the
acknowledge action reached with Tab and pressed with Enter; every form control of the console's
pages named by a label (``label[for]``, or aria-label/-labelledby); repeated wrong passwords lock
the account, the right one then refused too."""
from __future__ import annotations

import uuid
from typing import Any, AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.support import stack
from tests.support.console import PASSWORD, SHOTS, browser_page, browser_signed_in, chromium_browser, console_stack
from tests.support.routing import case_opened

pytestmark = pytest.mark.stack
MINE = "market_regulation@610402"
PHONE = {"width": 390, "height": 844}
#: the controls on the page a person can reach that no label names (hidden fields are not controls)
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map(e => e.id || e.name)"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest_asyncio.fixture(scope="module")
async def world() -> AsyncIterator[dict[str, Any]]:
    unique = uuid.uuid4().hex[:10]
    async with console_stack(unique, goods=True, login_rate_burst=50) as cs:
        w = cs.world
        shown, pressed = f"P-{unique}", f"K-{unique}"
        await w.open_cases(*(case_opened(c, category="trademarks", county="610402") for c in (shown, pressed)))
        for case_id in (shown, pressed):
            await stack.eventually(lambda c=case_id: w.case_row(c), until=lambda r: r is not None and r["assignee"] == MINE,
                                   what=f"{case_id} assigned to {MINE}")
        mine = {"Authorization": f"Bearer {await w.api_key(MINE)}"}
        async with httpx.AsyncClient() as http:
            async def register() -> httpx.Response:  # a lot, so the page also has its hand-over form
                return await http.post(f"{cs.settings.custody_url}/v1/lots", headers=mine, json={
                    "case_id": shown, "hazard": "ordinary", "location": "市公物仓 A-03",
                    "items": [{"description": "假冒运动鞋（型号 AJ-2026-XYZ-000123456789）", "quantity": "120",
                               "unit": "双", "declared_value": "36000.00"}]})

            lot = await stack.eventually(register, until=lambda r: r.status_code != 404, what="custody knows the case")
            assert lot.status_code == 201, lot.text
        await cs.create_account("alice", f"bureau@{MINE}")
        await cs.create_account("mallory", f"bureau@{MINE}")
        async with chromium_browser() as browser:
            yield {"cs": cs, "browser": browser, "shown": shown, "pressed": pressed}


async def test_the_worklist_and_the_case_page_fit_a_phone_without_horizontal_scrolling(world: dict[str, Any]) -> None:
    cs = world["cs"]
    page = await browser_signed_in(world["browser"], cs.url, "alice", **PHONE)
    assert world["shown"] in await page.get_by_test_id("cases").inner_text()
    assert await page.evaluate(OVERFLOW) <= 0, "the worklist scrolls sideways at 390 px"
    await page.get_by_role("link", name=world["shown"]).click()
    await page.wait_for_load_state()
    assert await page.get_by_test_id("lots").is_visible()
    assert await page.evaluate(OVERFLOW) <= 0, "the case page scrolls sideways at 390 px"
    await page.screenshot(path=str(SHOTS / "bureau-case-phone.png"), full_page=True)


async def test_the_acknowledge_action_is_reached_with_tab_and_pressed_with_enter(world: dict[str, Any]) -> None:
    cs = world["cs"]
    page = await browser_signed_in(world["browser"], cs.url, "alice")
    await page.goto(f"{cs.url}/cases/{world['pressed']}")
    assert await page.get_by_test_id("state").inner_text() == "待受理"
    for _ in range(200):
        await page.keyboard.press("Tab")
        focused = await page.evaluate("() => [document.activeElement.tagName, document.activeElement.textContent.trim()]")
        if focused == ["BUTTON", "受理"]:
            break
    else:
        raise AssertionError("Tab never reached the acknowledge button")
    await page.keyboard.press("Enter")
    await page.wait_for_load_state()
    await page.get_by_test_id("state").wait_for()
    assert await page.get_by_test_id("state").inner_text() == "已受理"


async def test_every_form_control_on_the_consoles_pages_has_a_label(world: dict[str, Any]) -> None:
    cs = world["cs"]
    public = await browser_page(world["browser"])
    for path in ("/login", "/lookup", "/disclosures", "/public/inspections", "/public/survey/SD261207-7KQ3M9XW"):
        await public.goto(f"{cs.url}{path}")
        assert await public.locator("input:not([type=hidden]), select, textarea").count() > 0, path
        assert await public.evaluate(UNLABELLED) == [], path
    phone = await browser_page(world["browser"], **PHONE)
    await phone.goto(f"{cs.url}/public/survey/SD261207-7KQ3M9XW")
    assert await phone.evaluate(OVERFLOW) <= 0, "the survey form scrolls sideways at 390 px"
    await phone.screenshot(path=str(SHOTS / "public-survey-phone.png"), full_page=True)
    page = await browser_signed_in(world["browser"], cs.url, "alice")
    for path in ("/cases", f"/cases/{world['shown']}"):
        await page.goto(f"{cs.url}{path}")
        assert await page.evaluate(UNLABELLED) == [], path
    # the case page's controls: the acknowledge reason, transfer, unmasking, a lot's hand-over, a new lot, an appraisal
    assert await page.locator("form input:not([type=hidden]), form select, form textarea").count() > 20


async def test_repeated_wrong_passwords_lock_the_account_and_the_right_one_is_then_refused(world: dict[str, Any]) -> None:
    cs = world["cs"]
    page = await browser_page(world["browser"])
    for _ in range(cs.settings.lockout_failures):
        await page.goto(f"{cs.url}/login")
        await page.get_by_label("用户名").fill("mallory")
        await page.get_by_label("密码").fill("not-the-password")
        async with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as sent:
            await page.get_by_role("button", name="登录").click()
        assert (await sent.value).status in (401, 423)
    await page.goto(f"{cs.url}/login")
    await page.get_by_label("用户名").fill("mallory")
    await page.get_by_label("密码").fill(PASSWORD)
    async with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as sent:
        await page.get_by_role("button", name="登录").click()
    assert (await sent.value).status == 423
    assert "锁定" in await page.get_by_role("alert").inner_text()
    assert page.url.endswith("/login"), "no session: still on the sign-in page"
