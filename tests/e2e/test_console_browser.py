"""The console in a real browser: Debian's chromium driven by Playwright for Python (no browser
download: `executable_path` points at the system's chromium, which `shuangda`'s setup installs).

The people click through as they would: a bureau signs in, sees only its own cases, accepts one and
sees its state change; another bureau cannot open that case by typing its URL; the office sees all
cases; the public lookup refuses a wrong second factor; ops replays a dead letter. Each role's main
page is saved as a screenshot for docs/console.md."""
from __future__ import annotations

import json
import uuid
from typing import Any, AsyncIterator

import httpx
import pytest
import pytest_asyncio

from shared.contracts.cases import Complainant
from shared.pii import Keyring
from shared.topics import TopicSpec, ensure_topics
from tests.support import stack
from tests.support.console import ConsoleStack, PASSWORD, SHOTS, browser_page, browser_signed_in, chromium_browser, console_stack
from tests.support.routing import case_opened

pytestmark = pytest.mark.stack

MINE = "market_regulation@610402"
POLICE = "public_security@610402"
#: intake seals with the PII keys; the console (dev mode) opens with the same development key
RING = Keyring.development()
DOCS = {"transfer_letter": {"doc_no": "咸市监移〔2026〕1号"}, "investigation_report": {"doc_no": "R-1"},
        "seized_goods_list": {"doc_no": "L-1"}, "test_reports": [{"doc_no": "T-1", "title": "鉴定报告"}]}


@pytest_asyncio.fixture(scope="module")
async def world() -> AsyncIterator[dict[str, Any]]:
    unique = uuid.uuid4().hex[:10]
    async with console_stack(unique, login_rate_burst=50) as cs:
        w = cs.world
        tracking = f"SD261207-{unique[:8].upper().translate(str.maketrans('ILOU', '1100'))}"
        mine1, mine2, theirs = f"A1-{unique}", f"A2-{unique}", f"B-{unique}"
        first = case_opened(mine1, category="false_advertising", county="610402").model_copy(
            update={"tracking_no": tracking, "complainant": Complainant(
                name=RING.seal("张三丰", field="name"), phone=RING.seal("13800004321", field="phone"),
                name_masked="张*", phone_masked="*******4321")})
        await w.open_cases(first, case_opened(mine2, category="false_advertising", county="610402"),
                           case_opened(theirs, category="online_piracy", county="610404"))
        for case_id in (mine1, mine2, theirs):
            await stack.eventually(lambda c=case_id: w.case_row(c), until=lambda r: r is not None, what=f"{case_id} assigned")
        other = (await w.case_row(theirs))["assignee"]
        assert other != MINE and (await w.case_row(mine1))["assignee"] == MINE
        # a case to transfer, and two referrals the agency sends to the police (the figures cross the threshold)
        moving, ref_open, ref_super = f"T-{unique}", f"R1-{unique}", f"R2-{unique}"
        await w.open_cases(case_opened(moving, category="false_advertising", county="610402"),
                           *(case_opened(c, category="trademarks", county="610402", figures={"illegal_turnover": 90000})
                             for c in (ref_open, ref_super)))
        agency = {"Authorization": f"Bearer {await w.api_key(MINE)}"}
        police = {"Authorization": f"Bearer {await w.api_key(POLICE)}"}
        for case_id in (ref_open, ref_super):
            await stack.eventually(lambda c=case_id: w.fetch("SELECT 1 FROM referrals WHERE case_id = $1", c),
                                   until=bool, what=f"{case_id}'s referral proposed")
            for path, body in (("acknowledge", {"decision": "accept"}), ("referral/decision", {"approve": True}),
                               ("referral/transfer", {"package": DOCS})):
                r = await cs.routing.http.post(f"/v1/cases/{case_id}/{path}", headers=agency, json=body)
                assert r.status_code == 200, r.text
        for path, headers, body in (("referral/police-decision", police, {"decision": "refuse", "reason": "情节显著轻微"}),
                                    ("referral/supervision", agency, {"reason": "提请检察院立案监督"})):
            r = await cs.routing.http.post(f"/v1/cases/{ref_super}/{path}", headers=headers, json=body)
            assert r.status_code == 200, r.text
        await cs.create_account("alice", f"bureau@{MINE}")
        await cs.create_account("bob", "bureau@" + other)
        await cs.create_account("boss", "office")
        await cs.create_account("opsy", "ops")
        await cs.create_account("cop", "police@610402")
        await cs.create_account("prosecutor", "procuratorate@610402")
        async with chromium_browser() as browser:  # Debian's chromium, installed when missing
            yield {"cs": cs, "browser": browser, "mine1": mine1, "mine2": mine2, "theirs": theirs,
                   "tracking": tracking, "unique": unique, "moving": moving, "other": other,
                   "ref_open": ref_open, "ref_super": ref_super}


async def signed_in(world: dict[str, Any], username: str, *, width: int = 1100) -> Any:
    return await browser_signed_in(world["browser"], world["cs"].url, username, width=width)


async def test_a_bureau_signs_in_sees_only_its_own_cases_accepts_one_and_sees_its_state_change(world: dict[str, Any]) -> None:
    page = await signed_in(world, "alice")
    table = page.get_by_test_id("cases")
    text = await table.inner_text()
    assert world["mine1"] in text and world["mine2"] in text and world["theirs"] not in text
    await page.screenshot(path=str(SHOTS / "bureau.png"), full_page=True)
    await page.get_by_role("link", name=world["mine1"]).click()
    assert await page.get_by_test_id("state").inner_text() == "待受理"
    await page.get_by_role("button", name="受理", exact=True).click()
    await page.wait_for_load_state()
    assert await page.get_by_test_id("state").inner_text() == "已受理"
    await page.goto(f"{world['cs'].url}/cases")
    row = page.locator(f"tr[data-case='{world['mine1']}']")
    assert "已受理" in await row.inner_text()
    await page.context.close()


async def test_a_refused_command_shows_routings_reason_and_changes_nothing(world: dict[str, Any]) -> None:
    page = await signed_in(world, "alice")
    await page.goto(f"{world['cs'].url}/cases/{world['mine2']}")
    await page.get_by_role("button", name="不予受理").click()  # refusing without a reason
    await page.wait_for_load_state()
    refusal = await page.get_by_test_id("refusal").inner_text()
    assert "操作被拒绝" in refusal and len(refusal) > len("操作被拒绝: ")
    assert await page.get_by_test_id("state").inner_text() == "待受理"
    await page.context.close()


async def test_another_bureau_cannot_open_that_case_even_by_typing_its_url(world: dict[str, Any]) -> None:
    page = await signed_in(world, "bob")
    assert world["mine1"] not in await page.locator("main").inner_text()
    response = await page.goto(f"{world['cs'].url}/cases/{world['mine1']}")
    assert response.status == 404
    assert "未找到该案件" in await page.get_by_test_id("message").inner_text()
    assert world["mine1"] not in await page.locator("main").inner_text()
    await page.context.close()


async def test_the_office_sees_all_cases(world: dict[str, Any]) -> None:
    page = await signed_in(world, "boss")
    await page.goto(f"{world['cs'].url}/cases")
    text = await page.get_by_test_id("cases").inner_text()
    for case_id in (world["mine1"], world["mine2"], world["theirs"]):
        assert case_id in text
    response = await page.goto(f"{world['cs'].url}/cases/{world['theirs']}")
    assert response.status == 200
    await page.context.close()


async def test_the_public_lookup_refuses_a_wrong_second_factor_and_answers_the_right_one(world: dict[str, Any]) -> None:
    page = await browser_page(world["browser"], width=390, height=844)
    await page.goto(f"{world['cs'].url}/lookup")
    await page.get_by_label("受理编号").fill(world["tracking"])
    await page.get_by_label("手机号后四位").fill("0000")
    await page.get_by_role("button", name="查询").click()
    await page.wait_for_load_state()
    assert "不正确" in await page.get_by_test_id("error").inner_text()
    assert await page.get_by_test_id("status").count() == 0
    await page.get_by_label("手机号后四位").fill("4321")
    await page.get_by_role("button", name="查询").click()
    await page.wait_for_load_state()
    status = await page.get_by_test_id("status").inner_text()
    assert world["tracking"] in status and MINE in status and "*******4321" in status
    await page.screenshot(path=str(SHOTS / "public-lookup-phone.png"), full_page=True)
    await page.context.close()


async def test_ops_replays_a_dead_letter(world: dict[str, Any]) -> None:
    origin = f"t{world['unique']}.ops.origin"
    await ensure_topics(stack.bootstrap(), [TopicSpec(origin, "k", "test", partitions=1)])
    key = f"poison-{world['unique']}"
    await stack.produce(origin + ".dlq", [(key, [("ce_id", key.encode()), ("ce_type", b"shuangda.test.v1"),
                                                  ("dlq-reason", b"schema"), ("dlq-detail", b"amount: not a number"),
                                                  ("dlq-origin-topic", origin.encode()),
                                                  ("dlq-origin-partition", b"0"), ("dlq-origin-offset", b"7")],
                                           b'{"amount": "x"}')])
    page = await signed_in(world, "opsy")
    await page.get_by_role("link", name=origin + ".dlq").click()
    assert "amount: not a number" in await page.get_by_test_id("letters").inner_text()
    await page.screenshot(path=str(SHOTS / "ops.png"), full_page=True)
    await page.get_by_role("button", name="重放").first.click()
    await page.wait_for_load_state()
    assert "1" in await page.get_by_test_id("replayed").inner_text()
    records = await stack.eventually(lambda: stack.read_all(origin), until=lambda rs: any(r.key == key.encode() for r in rs),
                                     what="the replayed record on its origin topic")
    replayed = next(r for r in records if r.key == key.encode())
    assert replayed.value == b'{"amount": "x"}'
    assert not any(k.startswith("dlq-") for k, _ in replayed.headers)
    await page.context.close()


async def test_pages_carry_a_content_security_policy_and_the_session_cookie_is_httponly_and_strict(world: dict[str, Any]) -> None:
    cs: ConsoleStack = world["cs"]
    async with httpx.AsyncClient(base_url=cs.url) as c:
        login = await c.get("/login")
        assert "Sign in" in (await c.get("/login?lang=en")).text and "登录" in login.text
        assert "default-src 'none'" in login.headers["content-security-policy"]
        csrf = login.cookies["sd_csrf"]
        forged = await c.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": "forged"})
        assert forged.status_code == 403
        ok = await c.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": csrf})
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        no_token = await c.post(f"/cases/{world['mine2']}/acknowledge", data={"decision": "accept"})
        assert no_token.status_code == 403


async def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(world: dict[str, Any]) -> None:
    cs: ConsoleStack = world["cs"]
    await cs.create_account("mallory-target", f"bureau@{MINE}")
    async with httpx.AsyncClient(base_url=cs.url) as c:
        csrf = (await c.get("/login")).cookies["sd_csrf"]
        answers = [(await c.post("/login", data={"username": "mallory-target", "password": f"wrong-{i}-xxxxxx",
                                                 "csrf": csrf})).status_code for i in range(5)]
        right = await c.post("/login", data={"username": "mallory-target", "password": PASSWORD, "csrf": csrf})
    assert answers == [401, 401, 401, 401, 423]
    assert right.status_code == 423


async def test_repeated_public_lookups_are_rate_limited(world: dict[str, Any]) -> None:
    cs: ConsoleStack = world["cs"]
    async with httpx.AsyncClient(base_url=cs.url) as c:
        csrf = (await c.get("/lookup")).cookies["sd_csrf"]
        codes = [(await c.post("/lookup", data={"tracking_no": world["tracking"], "last4": f"{i:04d}",
                                                "csrf": csrf})).status_code for i in range(12)]
    assert set(codes[:3]) == {404} and codes[-1] == 429


async def test_the_office_overview_counts_cases_by_county_and_shades_the_county_map_by_the_chosen_figure(world: dict[str, Any]) -> None:
    page = await signed_in(world, "boss")
    assert page.url.endswith("/office")
    assert "秦都区" in await page.get_by_test_id("by_county").inner_text()
    assert "已提请检察监督" in await page.get_by_test_id("funnel").inner_text()
    county_map = page.get_by_test_id("county-map")
    assert await county_map.locator("g[data-county]").count() == 14
    assert float(await county_map.locator("g[data-county='610402']").get_attribute("data-value")) >= 4
    await page.screenshot(path=str(SHOTS / "office.png"), full_page=True)
    await page.get_by_label("指标").select_option("approaching")
    await page.get_by_role("button", name="显示").click()
    await page.wait_for_load_state()
    assert "figure=approaching" in page.url
    assert await page.get_by_test_id("county-map").get_attribute("data-figure") == "approaching"
    await page.context.close()


async def test_the_office_assesses_counties_and_bureaus_for_a_period_and_downloads_it_as_csv_html_and_pdf(world: dict[str, Any]) -> None:
    page = await signed_in(world, "boss")
    await page.get_by_role("link", name="考核").first.click()
    await page.wait_for_load_state()
    county = page.get_by_test_id("assessment-county")
    row = county.locator("tr[data-key='610402']")
    assert "秦都区" in await row.inner_text()
    assert MINE in await page.get_by_test_id("assessment-bureau").inner_text()
    await page.screenshot(path=str(SHOTS / "office-assessment.png"), full_page=True)
    link = await page.get_by_role("link", name="CSV").get_attribute("href")
    csv = await page.context.request.get(f"{world['cs'].url}{link}")
    assert csv.status == 200 and "attachment" in csv.headers["content-disposition"]
    text = (await csv.body()).decode("utf-8")
    assert text.startswith("\ufeffscope,key,name,opened") and "county,610402,秦都区," in text and f"bureau,{MINE}," in text
    html = await page.context.request.get(f"{world['cs'].url}{await page.get_by_role('link', name='HTML').get_attribute('href')}")
    assert html.status == 200 and "秦都区" in (await html.body()).decode("utf-8")
    pdf = await page.context.request.get(f"{world['cs'].url}{await page.get_by_role('link', name='PDF').get_attribute('href')}")
    assert pdf.status == 200 and (await pdf.body()).startswith(b"%PDF")
    bad = await page.goto(f"{world['cs'].url}/office/assessment?start=2026-12-07&end=2026-01-01")
    assert bad.status == 422 and "日期范围无效" in await page.get_by_test_id("error").inner_text()
    await page.goto(f"{world['cs'].url}/office/map?figure=score")
    assert await page.get_by_test_id("county-map").locator("g[data-county='610402']").get_attribute("data-value")
    await page.context.close()


async def test_a_bureau_cannot_open_the_office_pages(world: dict[str, Any]) -> None:
    page = await signed_in(world, "alice")
    for path in ("/office", "/office/assessment", "/office/assessment.csv", "/office/map"):
        response = await page.goto(f"{world['cs'].url}{path}")
        assert response.status == 403, path
    await page.context.close()


async def test_the_case_page_shows_the_timeline_with_each_deadlines_legal_basis(world: dict[str, Any]) -> None:
    page = await signed_in(world, "boss")
    await page.goto(f"{world['cs'].url}/cases/{world['ref_open']}")
    timeline = await page.get_by_test_id("timeline").inner_text()
    for step in ("受理登记", "分派", "承办单位受理", "法定时限", "提出移送", "法律依据"):
        assert step in timeline, step
    await page.context.close()


async def test_a_bureau_transfers_a_case_with_a_reason_and_it_becomes_the_other_bureaus(world: dict[str, Any]) -> None:
    page = await signed_in(world, "alice")
    await page.goto(f"{world['cs'].url}/cases/{world['moving']}")
    await page.get_by_label("移交至").fill(world["other"])
    await page.get_by_label("移交理由").fill("不属于本单位管辖")
    await page.get_by_role("button", name="移交其他单位").click()
    await page.wait_for_load_state()
    assert world["moving"] not in await page.locator("main").inner_text()
    row = await stack.eventually(lambda: world["cs"].world.case_row(world["moving"]),
                                 until=lambda r: r["assignee"] == world["other"], what="the case transferred")
    assert row["transfers"] == 1
    await page.context.close()
    other = await signed_in(world, "bob")
    assert world["moving"] in await other.get_by_test_id("cases").inner_text()
    await other.context.close()


async def test_the_police_see_the_referrals_sent_to_them_and_open_a_criminal_case(world: dict[str, Any]) -> None:
    page = await signed_in(world, "cop")
    assert page.url.endswith("/referrals")
    listing = await page.get_by_test_id("cases").inner_text()
    assert world["ref_open"] in listing and world["mine1"] not in listing
    await page.screenshot(path=str(SHOTS / "police.png"), full_page=True)
    await page.get_by_role("link", name=world["ref_open"]).click()
    assert await page.get_by_test_id("referral-state").inner_text() == "已移送公安"
    await page.get_by_role("button", name="不予立案").click()  # refusing without a reason: routing says why not
    await page.wait_for_load_state()
    assert "操作被拒绝" in await page.get_by_test_id("refusal").inner_text()
    await page.get_by_label("刑事案件编号").fill("咸公刑立〔2026〕7号")
    await page.get_by_role("button", name="立案", exact=True).click()
    await page.wait_for_load_state()
    assert await page.get_by_test_id("referral-state").inner_text() == "公安已立案"
    await page.context.close()


async def test_the_procuratorate_sees_the_referrals_whose_supervision_is_asked(world: dict[str, Any]) -> None:
    page = await signed_in(world, "prosecutor")
    assert page.url.endswith("/supervision")
    text = await page.get_by_test_id("supervision").inner_text()
    assert world["ref_super"] in text and world["ref_open"] not in text and "已提请检察监督" in text
    await page.screenshot(path=str(SHOTS / "procuratorate.png"), full_page=True)
    response = await page.goto(f"{world['cs'].url}/cases/{world['mine1']}")
    assert response.status == 404
    await page.context.close()


async def test_unmasking_the_complainant_needs_a_stated_reason_and_is_written_to_the_audit_log(world: dict[str, Any]) -> None:
    cs: ConsoleStack = world["cs"]
    page = await signed_in(world, "alice")
    await page.goto(f"{cs.url}/cases/{world['mine1']}")
    assert "13800004321" not in await page.locator("main").inner_text()
    await page.get_by_role("button", name="查看完整个人信息").click()  # no reason: the form does not go
    assert await page.get_by_test_id("unmasked").count() == 0
    async with httpx.AsyncClient(base_url=cs.url, cookies=await cookies_of(page)) as c:  # nor past the form
        csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
        no_reason = await c.post(f"/cases/{world['mine1']}/unmask", data={"csrf": csrf, "reason": "  "})
        assert no_reason.status_code == 422 and "13800004321" not in no_reason.text
    await page.get_by_label("查看理由").fill("核实投诉人身份，电话回访")
    await page.get_by_role("button", name="查看完整个人信息").click()
    await page.wait_for_load_state()
    shown = await page.get_by_test_id("unmasked").inner_text()
    assert "13800004321" in shown and "张三丰" in shown
    rows = await audit_rows(cs)
    assert [(r["kind"], r["subject"], r["actor"]) for r in rows] == [("console.pii-unmasked", world["mine1"], "alice")]
    assert json.loads(rows[0]["body"])["reason"] == "核实投诉人身份，电话回访"
    await page.context.close()
    other = await signed_in(world, "bob")  # another bureau cannot, even by posting the form
    async with httpx.AsyncClient(base_url=cs.url, cookies=await cookies_of(other)) as c:
        await other.goto(f"{cs.url}/cases")
        csrf = await other.locator("input[name=csrf]").first.get_attribute("value")
        theirs = await c.post(f"/cases/{world['mine1']}/unmask", data={"csrf": csrf, "reason": "just curious"})
        assert theirs.status_code == 404 and "13800004321" not in theirs.text
    assert len(await audit_rows(cs)) == 1
    await other.context.close()


async def cookies_of(page: Any) -> dict[str, str]:
    return {c["name"]: c["value"] for c in await page.context.cookies()}


async def audit_rows(cs: ConsoleStack) -> list[Any]:
    from shared.db import connect

    conn = await connect(cs.settings.dsn, cs.settings.schema)
    try:
        return await conn.fetch("SELECT kind, subject, actor, body FROM audit_log ORDER BY seq")
    finally:
        await conn.close()
