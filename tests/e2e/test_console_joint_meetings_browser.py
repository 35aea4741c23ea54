"""The office's joint-meeting proposals (联席会议, issue 16 §2) in a real browser (Debian's chromium
through Playwright), with routing on a real socket, Kafka and Postgres: the overview links to the
proposals; the office convenes one and dismisses another, whose dismissal without a reason is
refused with routing's reason and then succeeds when a reason is given (the form shown again
carries a new Idempotency-Key: the refused one stays bound to the refused request); a decision
from a stale page is refused because the case is already decided; a bureau cannot open the page.
Each decision is one ``case.joint-meeting-decided`` on routing's topic."""
from __future__ import annotations

import json
import uuid
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio

from tests.support import stack
from tests.support.console import ConsoleStack, SHOTS, browser_signed_in, chromium_browser, console_stack
from tests.support.routing import case_opened

pytestmark = pytest.mark.stack

DECIDED = "shuangda.case.joint-meeting-decided.v1"
MINE = "market_regulation@610402"


@pytest_asyncio.fixture(scope="module")
async def world() -> AsyncIterator[dict[str, Any]]:
    unique = uuid.uuid4().hex[:10]
    async with console_stack(unique, login_rate_burst=50) as cs:
        w = cs.world
        # cross-border cases over two counties: routing's rules propose a joint meeting for each
        convene, dismiss, stale = (f"{p}-{unique}" for p in ("JC", "JD", "JS"))
        await w.open_cases(*(case_opened(c, category="cross_border", counties=["610402", "610481"])
                             for c in (convene, dismiss, stale)))
        for case_id in (convene, dismiss, stale):
            await stack.eventually(lambda c=case_id: w.case_row(c),
                                   until=lambda r: r is not None and r["joint_meeting_proposed"],
                                   what=f"{case_id}'s joint meeting proposed")
        await cs.create_account("boss", "office")
        await cs.create_account("alice", f"bureau@{MINE}")
        async with chromium_browser() as browser:
            yield {"cs": cs, "browser": browser, "convene": convene, "dismiss": dismiss, "stale": stale}


async def signed_in(world: dict[str, Any], username: str) -> Any:
    return await browser_signed_in(world["browser"], world["cs"].url, username)


def row(page: Any, case_id: str) -> Any:
    return page.locator(f"tr[data-case='{case_id}']")


async def decisions(cs: ConsoleStack, case_id: str, expect: int) -> list[dict[str, Any]]:
    """The `case.joint-meeting-decided` events of the case on routing's topic, once `expect` are there."""
    def mine(records: list[Any]) -> list[Any]:
        return [r for r in records if r.key == case_id.encode() and stack.header(r, "ce_type") == DECIDED]
    records = await stack.eventually(lambda: stack.read_all(cs.world.routing_topic), until=lambda rs: len(mine(rs)) >= expect,
                                     what=f"{DECIDED} of {case_id}")
    return [json.loads(r.value) for r in mine(records)]


async def test_the_office_follows_the_overview_to_the_proposals_and_convenes_a_joint_meeting(world: dict[str, Any]) -> None:
    from playwright.async_api import expect

    cs: ConsoleStack = world["cs"]
    page = await signed_in(world, "boss")
    await page.get_by_test_id("joint-meetings-link").click()
    await page.wait_for_load_state()
    assert page.url.endswith("/office/joint-meetings")
    for case_id in (world["convene"], world["dismiss"], world["stale"]):
        await expect(row(page, case_id).get_by_test_id("jm-decision")).to_contain_text("待决定")
    await page.screenshot(path=str(SHOTS / "office-joint-meetings.png"), full_page=True)
    mine = row(page, world["convene"])
    await mine.get_by_label("会议说明（可选）").fill("跨区县联合执法，公安提前介入")
    await mine.get_by_role("button", name="召开联席会议").click()
    await page.wait_for_load_state()
    await expect(page.get_by_test_id("decided")).to_contain_text("已决定召开")
    decided = row(page, world["convene"]).get_by_test_id("jm-decision")
    await expect(decided).to_contain_text("召开 — 跨区县联合执法，公安提前介入")
    assert await row(page, world["convene"]).locator("form").count() == 0, "decided once: no more forms"
    [event] = await decisions(cs, world["convene"], 1)
    assert event["decision"] == "convene" and event["decided_by"] == "console.boss", "decided with the person's own principal"
    await page.context.close()


async def test_a_dismissal_without_a_reason_shows_routings_refusal_and_the_retry_with_a_reason_succeeds(world: dict[str, Any]) -> None:
    from playwright.async_api import expect

    cs: ConsoleStack = world["cs"]
    page = await signed_in(world, "boss")
    await page.goto(f"{cs.url}/office/joint-meetings")
    mine = row(page, world["dismiss"])
    first_key = await mine.locator("form:has(input[value='dismiss']) input[name='idem']").input_value()
    await mine.get_by_label("不予召开的理由").fill("   ")  # passes the browser's `required`; routing strips it
    async with page.expect_response(lambda r: r.request.method == "POST") as posted:
        await mine.get_by_role("button", name="不予召开").click()
    assert (await posted.value).status == 422
    await page.wait_for_load_state()
    refusal = page.get_by_test_id("refusal")
    await expect(refusal).to_contain_text("操作被拒绝")
    await expect(refusal).to_contain_text(world["dismiss"])
    await expect(refusal).to_contain_text("reason")
    await expect(row(page, world["dismiss"]).get_by_test_id("jm-decision")).to_contain_text("待决定")

    mine = row(page, world["dismiss"])
    assert await mine.locator("form:has(input[value='dismiss']) input[name='idem']").input_value() != first_key
    await mine.get_by_label("不予召开的理由").fill("已由市场监管局单独处理，无需会商")
    await mine.get_by_role("button", name="不予召开").click()
    await page.wait_for_load_state()
    await expect(page.get_by_test_id("decided")).to_contain_text("不予召开")
    await expect(row(page, world["dismiss"]).get_by_test_id("jm-decision")).to_contain_text(
        "不予召开 — 已由市场监管局单独处理，无需会商")
    [event] = await decisions(cs, world["dismiss"], 1)
    assert event["decision"] == "dismiss" and event["reason"] == "已由市场监管局单独处理，无需会商"
    await page.context.close()


async def test_a_decision_from_a_stale_page_is_refused_as_already_decided(world: dict[str, Any]) -> None:
    from playwright.async_api import expect

    cs: ConsoleStack = world["cs"]
    stale, fresh = await signed_in(world, "boss"), await signed_in(world, "boss")
    await stale.goto(f"{cs.url}/office/joint-meetings")
    await fresh.goto(f"{cs.url}/office/joint-meetings")
    await row(fresh, world["stale"]).get_by_role("button", name="召开联席会议").click()
    await fresh.wait_for_load_state()
    await expect(row(fresh, world["stale"]).get_by_test_id("jm-decision").locator("strong")).to_have_text("召开")

    await row(stale, world["stale"]).get_by_label("不予召开的理由").fill("另一位同事的旧页面")
    await row(stale, world["stale"]).get_by_role("button", name="不予召开").click()
    await stale.wait_for_load_state()
    await expect(stale.get_by_test_id("refusal")).to_contain_text(world["stale"])
    await expect(stale.get_by_test_id("refusal")).to_contain_text("already decided")
    await expect(row(stale, world["stale"]).get_by_test_id("jm-decision").locator("strong")).to_have_text("召开")
    [event] = await decisions(cs, world["stale"], 1)
    assert event["decision"] == "convene", "the first decision stands"
    await stale.context.close()
    await fresh.context.close()


async def test_the_page_is_in_english_on_request_and_closed_to_a_bureau(world: dict[str, Any]) -> None:
    from playwright.async_api import expect

    cs: ConsoleStack = world["cs"]
    page = await signed_in(world, "boss")
    await page.goto(f"{cs.url}/office/joint-meetings?lang=en")
    await expect(page.locator("h1")).to_have_text("Joint-meeting proposals")
    await page.context.close()
    page = await signed_in(world, "alice")
    response = await page.goto(f"{cs.url}/office/joint-meetings")
    assert response.status == 403
    await expect(page.get_by_test_id("message")).to_contain_text("无权访问")
    await page.context.close()
