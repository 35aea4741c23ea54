"""The case page shows the case's seized goods and appraisal requests (issue 16 §3) on the real stack:
routing, custody and appraisal on real sockets, one identity store. The console asks custody's
``GET /v1/lots?case_id=`` and appraisal's ``GET /v1/appraisals?case_id=`` with the person's key, so
those services decide what is shown: the bureau sees its own lot and appraisal but not another
bureau's lot on the same case; the office sees both; a service that is down leaves the page up."""
from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.support import identity, stack
from tests.support.console import PASSWORD, console_stack
from tests.support.routing import case_opened

pytestmark = pytest.mark.stack
MINE = "market_regulation@610402"
OTHER = "public_security@610402"  # trademarks: the police co-operate on the case
ITEMS = [{"description": "假冒运动鞋", "quantity": "120", "unit": "双", "declared_value": "36000.00"}]


async def sign_in(client: httpx.AsyncClient, username: str) -> None:
    form = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    r = await client.post("/login", data={"csrf": csrf.group(1), "username": username, "password": PASSWORD})
    assert r.status_code == 303, r.text


async def test_the_case_page_shows_the_lots_and_appraisals_the_person_may_see() -> None:
    unique = uuid.uuid4().hex[:10]
    async with console_stack(unique, goods=True) as cs:
        w = cs.world
        case_id = f"G-{unique}"
        await w.open_cases(case_opened(case_id, category="trademarks", county="610402"))
        await stack.eventually(lambda: w.case_row(case_id), until=lambda r: r is not None and r["assignee"] == MINE,
                               what=f"{case_id} assigned to {MINE}")
        mine = {"Authorization": f"Bearer {await w.api_key(MINE)}"}
        other = {"Authorization": f"Bearer {await w.api_key(OTHER)}"}
        centre = f"centre-{unique}"
        await identity.issue_key(w.identity_schema, centre, "appraisal")
        async with httpx.AsyncClient() as http:
            async def register() -> httpx.Response:
                return await http.post(f"{cs.settings.custody_url}/v1/lots", headers=mine, json={
                    "case_id": case_id, "hazard": "ordinary", "location": "市公物仓 A-03", "items": ITEMS})

            # custody learns the case's bureau from routing's case.assigned: until then 404 unknown_case
            lot = await stack.eventually(register, until=lambda r: r.status_code != 404, what="custody knows the case")
            assert lot.status_code == 201, lot.text
            theirs = await http.post(f"{cs.settings.custody_url}/v1/lots", headers=other,
                                     json={"case_id": case_id, "hazard": "ordinary", "location": "食药仓 2", "items": ITEMS})
            assert theirs.status_code == 201, theirs.text
            async def request() -> httpx.Response:
                return await http.post(f"{cs.settings.appraisal_url}/v1/appraisals", headers=mine, json={
                    "case_id": case_id, "kind": "authenticity", "provider": centre, "subject": "假冒运动鞋 120 双",
                    "lot_id": lot.json()["lot_id"]})

            asked = await stack.eventually(request, until=lambda r: r.status_code != 404, what="appraisal knows the case")
            assert asked.status_code == 201, asked.text
        lot_id, their_lot, appraisal_id = lot.json()["lot_id"], theirs.json()["lot_id"], asked.json()["appraisal_id"]
        await cs.create_account("alice", f"bureau@{MINE}")
        await cs.create_account("boss", "office")

        async with httpx.AsyncClient(base_url=cs.url) as alice:
            await sign_in(alice, "alice")
            page = await alice.get(f"/cases/{case_id}")
            assert page.status_code == 200, page.text
            assert f'<tr data-lot="{lot_id}">' in page.text and "市公物仓 A-03" in page.text and "假冒运动鞋 120 双" in page.text
            assert their_lot not in page.text, "custody shows another bureau's lot only to it and the office"
            assert f'<tr data-appraisal="{appraisal_id}">' in page.text and centre in page.text
        async with httpx.AsyncClient(base_url=cs.url) as boss:
            await sign_in(boss, "boss")
            page = await boss.get(f"/cases/{case_id}")
            assert page.status_code == 200 and lot_id in page.text and their_lot in page.text and appraisal_id in page.text


async def test_the_case_page_stays_up_when_custody_and_appraisal_do_not_answer() -> None:
    unique = uuid.uuid4().hex[:10]
    # nothing listens on these ports (a socket bound and closed just now)
    from tests.support.console import free_port

    down = {"custody_url": f"http://127.0.0.1:{free_port()}", "appraisal_url": f"http://127.0.0.1:{free_port()}"}
    async with console_stack(unique, **down) as cs:
        w = cs.world
        case_id = f"D-{unique}"
        await w.open_cases(case_opened(case_id, category="trademarks", county="610402"))
        await stack.eventually(lambda: w.case_row(case_id), until=lambda r: r is not None, what=f"{case_id} assigned")
        await cs.create_account("alice", f"bureau@{MINE}")
        async with httpx.AsyncClient(base_url=cs.url) as alice:
            await sign_in(alice, "alice")
            page = await alice.get(f"/cases/{case_id}")
            assert page.status_code == 200, page.text
            assert page.text.count("暂不可用") == 2 and 'data-testid="state"' in page.text
