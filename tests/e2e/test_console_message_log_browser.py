"""Ops' webhook message log (issue 16 §6) in a real browser (Debian's chromium through Playwright),
with notify and routing on real sockets, Kafka, Postgres and a real HTTP receiver: ops finds a
delivered message, resends it and watches its attempt log grow while the receiver gets it again
with the same webhook-id; an endpoint that keeps failing shows its circuit, and once it answers
again ops recovers what failed since a Beijing time, and the delivery arrives. Screenshots go to
docs/console/ (SHUANGDA_UPDATE_SCREENSHOTS=1)."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any, AsyncIterator
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from shared.contracts.routing import CaseAssigned
from shared.webhooks import generate_secret
from tests.support import stack
from tests.support.console import ConsoleStack, SHOTS, browser_signed_in, chromium_browser, console_stack
from tests.support.notify import HttpSink, NotifyWorld, probe, record_for, sample

pytestmark = pytest.mark.stack

MR = "market_regulation@610402"
CULTURE = "culture@610400"


@pytest_asyncio.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    unique = uuid.uuid4().hex[:10]
    sink = await HttpSink().start()
    try:
        nworld = NotifyWorld(unique, tmp_path_factory.mktemp("notify"))
        await nworld.create(stack.dsn(), stack.bootstrap())
        nworld.write_directory({"version": "v1", "recipients": [
            {"match": "market_regulation@*", "webhook": {"url": sink.url("/hooks/mr"), "secret": generate_secret()}},
            {"match": "culture@*", "webhook": {"url": sink.url("/hooks/rc"), "secret": generate_secret()}}]})
        nsettings = nworld.settings(stack.dsn(), stack.bootstrap(), identity_cache_seconds=1.0)
        async with console_stack(unique, login_rate_burst=50, notify=(nworld, nsettings)) as cs:
            await cs.create_account("opsy", "ops")
            async with chromium_browser() as browser:
                yield {"cs": cs, "browser": browser, "unique": unique, "sink": sink,
                       "routing_topic": nworld.topics["routing_topic"]}
    finally:
        await sink.stop()


async def signed_in(world: dict[str, Any], username: str) -> Any:
    return await browser_signed_in(world["browser"], world["cs"].url, username)


async def assigned(world: dict[str, Any], case_id: str, bureau: str) -> None:
    """Routing's `case.assigned` as notify reads it: one webhook to the bureau's endpoint."""
    await stack.produce(world["routing_topic"], [record_for(sample(CaseAssigned, case_id=case_id, bureau=bureau, co_bureaus=[]))])


def reloading(page: Any, read: Any) -> Any:
    """A probe for `stack.eventually`: reload the page, then read it."""
    async def run() -> Any:
        await page.reload()
        return await read()
    return run


async def test_ops_resends_a_delivered_message_and_sees_its_attempts_grow(world: dict[str, Any]) -> None:
    from playwright.async_api import expect

    sink: HttpSink = world["sink"]
    case_id = f"C-{world['unique'][:8]}"
    await assigned(world, case_id, MR)
    mine = probe(lambda: [r for r in sink.on("/hooks/mr") if case_id.encode() in r.body])
    [first] = await stack.eventually(mine, until=lambda r: len(r) == 1, what="the first delivery")
    message_id = first.headers["webhook-id"]

    page = await signed_in(world, "opsy")
    await page.get_by_role("link", name="消息投递记录").click()
    await page.get_by_label("投递状态").select_option("delivered")
    await page.get_by_role("button", name="显示").click()
    await page.wait_for_load_state()
    link = page.get_by_role("link", name=message_id)
    await stack.eventually(reloading(page, link.count), until=lambda n: n == 1, what="the message listed as delivered")
    await link.click()
    await page.wait_for_load_state()
    await expect(page.get_by_test_id("message-id")).to_have_text(message_id)
    await expect(page.get_by_test_id("delivery-state")).to_have_text("已送达")
    await expect(page.get_by_test_id("series")).to_have_text("0")
    attempts = page.get_by_test_id("attempts").locator("tbody tr")
    await expect(attempts).to_have_count(1)

    await page.get_by_role("button", name="重新投递").click()
    await page.wait_for_load_state()
    await expect(page.get_by_test_id("resent")).to_contain_text("已重新排队投递")
    # the message's attempt log grows by the resend's attempt (a new series: notify counts per series)
    await stack.eventually(reloading(page, attempts.count), until=lambda n: n == 2, what="the resend's attempt on the page")
    await expect(page.get_by_test_id("series")).to_have_text("1")
    await expect(attempts.nth(1)).to_contain_text("200")
    await expect(page.get_by_test_id("delivery-state")).to_have_text("已送达")
    await expect(page.get_by_test_id("resends")).to_contain_text("opsy")
    both = await stack.eventually(mine, until=lambda r: len(r) == 2, what="the resent message at the receiver")
    assert both[1].headers["webhook-id"] == message_id and both[1].body == first.body
    await page.screenshot(path=str(SHOTS / "ops-message.png"), full_page=True)
    await page.context.close()


async def test_ops_sees_a_failing_endpoints_circuit_and_recovers_its_deliveries_since_a_time(world: dict[str, Any]) -> None:
    from playwright.async_api import expect

    cs: ConsoleStack = world["cs"]
    sink: HttpSink = world["sink"]
    sink.script("/hooks/rc", then=500)
    before = dt.datetime.now(ZoneInfo("Asia/Shanghai")) - dt.timedelta(minutes=1)
    failing = f"F-{world['unique'][:8]}"
    await assigned(world, failing, CULTURE)

    page = await signed_in(world, "opsy")
    await page.goto(f"{cs.url}/ops/messages?state=failed")
    deliveries = page.get_by_test_id("deliveries")

    async def failed_listed() -> bool:
        return await deliveries.count() == 1 and failing in await deliveries.inner_text()

    await stack.eventually(reloading(page, failed_listed), until=bool, timeout=60, what="the failed delivery listed")
    endpoint = page.locator("tr[data-endpoint]").filter(has_text="/hooks/rc")
    # the circuit column: the failures in a row, and open / half-open once the breaker tripped
    await expect(endpoint.get_by_test_id("circuit")).to_contain_text(re.compile("连续失败|断开|半开"))
    await page.screenshot(path=str(SHOTS / "ops-message-log.png"), full_page=True)

    sink.script("/hooks/rc", then=200)
    await endpoint.get_by_label("自此时起补发（北京时间）").fill(before.strftime("%Y-%m-%dT%H:%M"))
    await endpoint.get_by_role("button", name="补发失败投递").click()
    await page.wait_for_load_state()
    await expect(page.get_by_test_id("recovered")).to_contain_text("已重新排队的投递数: 1")
    arrived = probe(lambda: [r for r in sink.on("/hooks/rc") if failing.encode() in r.body and r.status == 200])
    await stack.eventually(arrived, until=lambda r: len(r) == 1, what="the recovered delivery at the receiver")

    await page.goto(f"{cs.url}/ops/messages?state=delivered")
    row = page.locator("tr[data-delivery]").filter(has_text=failing)
    await stack.eventually(reloading(page, row.count), until=lambda n: n == 1, what="the recovered delivery listed as delivered")
    await page.context.close()
