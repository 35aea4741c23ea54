"""The case page's forms in a real browser (Debian's chromium through Playwright), with routing and
credit running on real sockets, Kafka and Postgres: a bureau proposes a referral, its head approves
it, it goes to the police with the package and the police's list shows it; a bureau decides a
penalty that reaches credit and the public finds it on /disclosures by name and by credit code (a
natural person masked); it records the outcome; the head's rejection of a referral over a criminal
threshold followed by a penalty shows up as a 以罚代刑 alert on the office's overview; and refused
commands show the reason. Screenshots of the new pages go to docs/console/."""
from __future__ import annotations

import uuid
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio

from tests.support import stack
from tests.support.console import ConsoleStack, SHOTS, browser_page, browser_signed_in, chromium_browser, console_stack
from tests.support.credit import CODE
from tests.support.routing import case_opened

pytestmark = pytest.mark.stack

MINE = "market_regulation@610402"
#: over the criminal threshold of 假冒注册商标罪 (routing proposes the referral by itself)
OVER = {"illegal_turnover": 90000}


@pytest_asyncio.fixture(scope="module")
async def world() -> AsyncIterator[dict[str, Any]]:
    unique = uuid.uuid4().hex[:10]
    # credit sends a 以罚代刑 alert at once (no grace) so the overview can show it without waiting; the
    # public search's per-address limit (the lookup's rate) is lifted: the tests poll it from one address
    async with console_stack(unique, login_rate_burst=50, lookup_rate_per_second=100.0, lookup_rate_burst=1000, credit=True,
                             credit_overrides={"substitution_grace_seconds": 0}) as cs:
        w = cs.world
        suspect, fined, person, rejected, below = (f"{p}-{unique}" for p in ("S", "F", "N", "X", "B"))
        await w.open_cases(case_opened(suspect, category="trademarks", county="610402"),
                           case_opened(fined, category="trademarks", county="610402"),
                           case_opened(person, category="false_advertising", county="610402"),
                           case_opened(rejected, category="trademarks", county="610402", figures=OVER),
                           case_opened(below, category="trademarks", county="610402"))
        for case_id in (suspect, fined, person, rejected, below):
            await stack.eventually(lambda c=case_id: w.case_row(c), until=lambda r: r is not None and r["assignee"] == MINE,
                                   what=f"{case_id} assigned to {MINE}")
        await stack.eventually(lambda: w.fetch("SELECT 1 FROM referrals WHERE case_id = $1", rejected),
                               until=bool, what=f"{rejected}'s referral proposed")
        agency = {"Authorization": f"Bearer {await w.api_key(MINE)}"}
        for case_id in (fined, person, rejected, below):  # the forms below need an accepted case
            r = await cs.routing.http.post(f"/v1/cases/{case_id}/acknowledge", headers=agency, json={"decision": "accept"})
            assert r.status_code == 200, r.text
        await cs.create_account("alice", f"bureau@{MINE}")
        await cs.create_account("boss", "office")
        await cs.create_account("cop", "police@610402")
        async with chromium_browser() as browser:
            yield {"cs": cs, "browser": browser, "unique": unique, "suspect": suspect, "fined": fined,
                   "person": person, "rejected": rejected, "below": below}


async def new_page(world: dict[str, Any], *, width: int = 1100) -> Any:
    return await browser_page(world["browser"], width=width)


async def signed_in(world: dict[str, Any], username: str) -> Any:
    return await browser_signed_in(world["browser"], world["cs"].url, username)


async def click(page: Any, name: str) -> None:
    await page.get_by_role("button", name=name, exact=True).click()
    await page.wait_for_load_state()


async def fill_penalty(page: Any, *, decision_no: str, kind: str, name: str, credit_code: str = "",
                       resident_id: str = "", fine: str = "5000") -> None:
    await page.locator("#pen_decision_no").fill(decision_no)
    await page.get_by_label("当事人类型").select_option(kind)
    await page.get_by_label("当事人名称").fill(name)
    await page.get_by_label("统一社会信用代码").fill(credit_code)
    await page.locator("#resident_id").fill(resident_id)
    await page.get_by_label("违法事实").fill("销售侵犯注册商标专用权的商品")
    await page.get_by_label("处罚依据（每行一条）").fill("《商标法》第六十条第二款")
    await page.get_by_label("罚款", exact=True).check()
    await page.get_by_label("罚款金额（元）").fill(fine)


async def test_a_bureau_proposes_a_referral_its_head_approves_it_and_the_police_see_it_with_the_package(world: dict[str, Any]) -> None:
    cs: ConsoleStack = world["cs"]
    case_id = world["suspect"]
    page = await signed_in(world, "alice")
    await page.goto(f"{cs.url}/cases/{case_id}")
    await click(page, "受理")
    assert await page.get_by_test_id("state").inner_text() == "已受理"
    assert await page.get_by_test_id("referral").count() == 0
    await page.get_by_label("移送理由").fill("涉嫌假冒注册商标，货值待鉴定")  # an IP case: on reasonable suspicion
    await click(page, "提出移送公安")
    assert await page.get_by_test_id("referral-state").inner_text() == "已提出"
    await click(page, "批准移送")
    assert await page.get_by_test_id("referral-state").inner_text() == "负责人已批准"
    await page.screenshot(path=str(SHOTS / "bureau-referral-package.png"), full_page=True)
    await page.get_by_label("移送书文号").fill(f"咸市监移〔2026〕{world['unique'][:4]}号")
    await page.get_by_label("调查报告文号").fill("R-1")
    await page.get_by_label("涉案物品清单文号").fill("L-1")
    await page.get_by_label("检验/鉴定报告文号（每行一个）").fill("T-1\nT-2")
    await click(page, "移送公安")
    assert await page.get_by_test_id("referral-state").inner_text() == "已移送公安"
    await page.context.close()
    police = await signed_in(world, "cop")
    row = police.locator(f"tr[data-case='{case_id}']")
    assert "已移送公安" in await row.inner_text()
    await police.get_by_role("link", name=case_id).click()
    assert await police.get_by_test_id("referral-state").inner_text() == "已移送公安"
    await police.context.close()


async def test_a_refused_referral_decision_and_a_refused_penalty_show_the_reason_and_change_nothing(world: dict[str, Any]) -> None:
    cs: ConsoleStack = world["cs"]
    page = await signed_in(world, "alice")
    await page.goto(f"{cs.url}/cases/{world['rejected']}")
    assert await page.get_by_test_id("referral-state").inner_text() == "已提出"
    await click(page, "不批准")  # a decision not to transfer without a reason
    refusal = await page.get_by_test_id("refusal").inner_text()
    assert "操作被拒绝" in refusal and "reason" in refusal
    assert await page.get_by_test_id("referral-state").inner_text() == "已提出"
    await fill_penalty(page, decision_no=f"BAD-{world['unique']}", kind="organisation", name="某某商贸有限公司",
                       credit_code="91110000600037341X")  # a wrong check character
    await click(page, "报送处罚决定")
    refusal = await page.get_by_test_id("refusal").inner_text()
    assert "操作被拒绝" in refusal and "credit_code" in refusal
    await page.screenshot(path=str(SHOTS / "bureau-refusal.png"), full_page=True)
    assert await page.get_by_test_id("penalty-recorded").count() == 0
    await page.context.close()


async def search(world: dict[str, Any], page: Any, query: str) -> str:
    await page.goto(f"{world['cs'].url}/disclosures")
    await page.get_by_label("名称或统一社会信用代码").fill(query)
    await click(page, "查询")
    return await page.locator("main").inner_text()


async def test_a_penalty_reaches_credit_and_the_public_finds_it_by_name_and_by_credit_code(world: dict[str, Any]) -> None:
    cs: ConsoleStack = world["cs"]
    name = f"咸阳{world['unique'][:6]}商贸有限公司"
    page = await signed_in(world, "alice")
    await page.goto(f"{cs.url}/cases/{world['fined']}")
    await fill_penalty(page, decision_no=f"咸市监罚〔2026〕{world['unique'][:6]}号", kind="organisation", name=name,
                       credit_code=CODE)
    await click(page, "报送处罚决定")
    assert "信用系统已记录处罚" in await page.get_by_test_id("penalty-recorded").inner_text()
    # then the bureau closes the case with that outcome
    await page.get_by_label("办理结果").select_option("penalty_decided")
    await page.locator("#outcome_decision_no").fill(f"咸市监罚〔2026〕{world['unique'][:6]}号")
    await page.get_by_label("罚没金额（元）").fill("5000")
    await click(page, "办结案件")
    assert await page.get_by_test_id("state").inner_text() == "已办结"
    await page.context.close()

    public = await new_page(world)
    by_name = await stack.eventually(lambda: search(world, public, name[2:8]), until=lambda text: name in text,
                                     what="the penalty in the public search by name", timeout=90)
    assert "查询结果: 1" in by_name
    await public.screenshot(path=str(SHOTS / "public-disclosures.png"), full_page=True)
    assert name in await search(world, public, CODE.lower())  # the code as typed, case folded
    await public.context.close()


async def test_a_natural_persons_penalty_is_published_with_the_name_and_id_masked(world: dict[str, Any]) -> None:
    cs: ConsoleStack = world["cs"]
    page = await signed_in(world, "alice")
    await page.goto(f"{cs.url}/cases/{world['person']}")
    await fill_penalty(page, decision_no=f"咸市监罚〔2026〕N{world['unique'][:6]}号", kind="natural_person",
                       name="欧阳锋", resident_id="11010519491231002X", fine="800")
    await click(page, "报送处罚决定")
    assert "信用系统已记录处罚" in await page.get_by_test_id("penalty-recorded").inner_text()
    await page.context.close()
    public = await new_page(world)
    decision_no = f"N{world['unique'][:6]}"
    found = await stack.eventually(lambda: search(world, public, "欧"), until=lambda text: decision_no in text,
                                   what="the natural person's penalty in the public search", timeout=90)
    assert "欧阳锋" not in found and "11010519491231002X" not in found and "欧**" in found
    assert "查询结果: 0" in await search(world, public, "欧阳锋")  # the clear name is nowhere to be found
    await public.context.close()


async def test_a_penalty_after_the_head_rejected_the_referral_shows_a_substitution_alert_on_the_office_overview(world: dict[str, Any]) -> None:
    cs: ConsoleStack = world["cs"]
    case_id = world["rejected"]
    decision_no = f"咸市监罚〔2026〕X{world['unique'][:6]}号"
    page = await signed_in(world, "alice")
    await page.goto(f"{cs.url}/cases/{case_id}")
    await page.locator("#referral_decision_reason").fill("负责人认为情节轻微，不移送")
    await click(page, "不批准")
    assert await page.get_by_test_id("referral-state").inner_text() == "负责人未批准"
    await stack.eventually(lambda: credit_referral_state(cs, case_id), until=lambda s: s == "rejected",
                           what="credit followed the rejected referral")
    await fill_penalty(page, decision_no=decision_no, kind="organisation", name=f"秦都{world['unique'][:6]}商行有限公司",
                       credit_code="91350100M000100Y43", fine="20000")
    await click(page, "报送处罚决定")
    assert "信用系统已记录处罚" in await page.get_by_test_id("penalty-recorded").inner_text()
    await page.context.close()

    office = await signed_in(world, "boss")

    async def alerts() -> str:
        await office.goto(f"{cs.url}/office")
        return await office.get_by_test_id("alerts").inner_text()

    shown = await stack.eventually(alerts, until=lambda text: decision_no in text, what="the 以罚代刑 alert on the overview",
                                   timeout=90)
    assert case_id in shown
    assert int(await office.get_by_test_id("substitution-alerts").inner_text()) >= 1
    await office.get_by_test_id("alerts").screenshot(path=str(SHOTS / "office-alerts.png"))
    await office.context.close()


async def credit_referral_state(cs: ConsoleStack, case_id: str) -> str | None:
    from shared.db import connect

    conn = await connect(cs.settings.dsn, f"credit_{cs.world.unique}")
    try:
        return await conn.fetchval("SELECT state FROM case_referrals WHERE case_id = $1", case_id)
    finally:
        await conn.close()
