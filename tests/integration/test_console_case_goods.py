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
from tests.support.console import console_stack, csrf_of, hidden_fields, sign_in
from tests.support.routing import case_opened

pytestmark = pytest.mark.stack
MINE = "market_regulation@610402"
OTHER = "public_security@610402"  # trademarks: the police co-operate on the case
ITEMS = [{"description": "假冒运动鞋", "quantity": "120", "unit": "双", "declared_value": "36000.00"}]


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


async def test_a_bureau_registers_hands_over_and_asks_an_appraisal_from_the_case_page_and_sees_each_refusal() -> None:
    unique = uuid.uuid4().hex[:10]
    async with console_stack(unique, goods=True) as cs:
        w = cs.world
        case_id = f"A-{unique}"
        await w.open_cases(case_opened(case_id, category="trademarks", county="610402"))
        await stack.eventually(lambda: w.case_row(case_id), until=lambda r: r is not None and r["assignee"] == MINE,
                               what=f"{case_id} assigned to {MINE}")
        centre = f"centre-{unique}"
        await identity.issue_key(w.identity_schema, centre, "appraisal")
        await cs.create_account("alice", f"bureau@{MINE}")
        await cs.create_account("bob", "bureau@food_drug@610402")  # neither assigned nor co-operating
        await cs.create_account("boss", "office")
        page_path, lots_action = f"/cases/{case_id}", f"/cases/{case_id}/lots"
        lot_form = {"hazard": "perishable", "location": "市公物仓 冷库 2", "item0_description": "假冒奶粉",
                    "item0_quantity": "48", "item0_unit": "罐", "item0_value": "9600.00",
                    "item1_description": "", "item1_quantity": "", "item1_unit": "", "item1_value": ""}

        async with httpx.AsyncClient(base_url=cs.url) as alice:
            await sign_in(alice, "alice")
            page = await alice.get(page_path)
            for control in ("lot-hazard", "lot-location", "item0-description", "item0-quantity", "item0-unit",
                            "item0-value", "appraisal-kind", "appraisal-provider", "appraisal-subject"):
                assert f'<label for="{control}">' in page.text, control
            forged = await alice.post(lots_action, data={**lot_form, "csrf": "forged"})
            assert forged.status_code == 403
            bad = await alice.post(lots_action, data={**hidden_fields(page.text, lots_action), **lot_form,
                                                      "item0_quantity": "很多"})
            assert bad.status_code == 409 and 'data-testid="refusal"' in bad.text and "quantity" in bad.text, bad.text
            async def register() -> httpx.Response:  # a new request each time: custody may not know the case yet
                return await alice.post(lots_action, data={**hidden_fields(bad.text, lots_action), **lot_form,
                                                           "idem": str(uuid.uuid4())})

            made = await stack.eventually(register, until=lambda r: "unknown_case" not in r.text, what="custody knows the case")
            assert made.status_code == 303, made.text
            page = await alice.get(page_path)
            lot_id = re.search(r'<tr data-lot="(lot_[0-9a-f]{20})">', page.text).group(1)  # type: ignore[union-attr]
            assert "市公物仓 冷库 2" in page.text and "假冒奶粉 48 罐" in page.text

            handover = f"/cases/{case_id}/lots/{lot_id}/handover"
            handed = await alice.post(handover, data={**hidden_fields(page.text, handover), "to": "office@610400",
                                                      "purpose": "warehouse"})
            assert handed.status_code == 303, handed.text
            page = await alice.get(page_path)
            assert handover not in page.text, "nothing more to hand over while the goods are in transit"
            assert "office@610400" in page.text

            asks = f"/cases/{case_id}/appraisals"
            unknown = await alice.post(asks, data={**hidden_fields(page.text, asks), "kind": "authenticity",
                                                   "provider": "Not A Principal!", "subject": "假冒奶粉 48 罐"})
            assert unknown.status_code == 409 and 'data-testid="refusal"' in unknown.text and "provider" in unknown.text
            async def ask() -> httpx.Response:
                return await alice.post(asks, data={**hidden_fields(unknown.text, asks), "kind": "quality",
                                                    "provider": centre, "subject": "假冒奶粉 48 罐", "lot_id": lot_id,
                                                    "idem": str(uuid.uuid4())})

            asked = await stack.eventually(ask, until=lambda r: "unknown_case" not in r.text, what="appraisal knows the case")
            assert asked.status_code == 303, asked.text
            page = await alice.get(page_path)
            assert re.search(r'<tr data-appraisal="[^"]+">', page.text) and centre in page.text

        async with httpx.AsyncClient(base_url=cs.url) as bob:
            await sign_in(bob, "bob")
            csrf = csrf_of(await bob.get("/cases"))
            theirs = await bob.post(lots_action, data={**lot_form, "csrf": csrf, "idem": str(uuid.uuid4())})
            assert theirs.status_code == 404, "another bureau's case: routing says no, nothing reaches custody"

        async with httpx.AsyncClient(base_url=cs.url) as boss:
            await sign_in(boss, "boss")
            page = await boss.get(page_path)
            receive = f"/cases/{case_id}/lots/{lot_id}/receive"
            got = await boss.post(receive, data=hidden_fields(page.text, receive))
            assert got.status_code == 303, got.text
            again = await boss.post(receive, data={**hidden_fields(page.text, receive), "idem": str(uuid.uuid4())})
            assert again.status_code == 409 and 'data-testid="refusal"' in again.text, "received already: custody's reason"
            page = await boss.get(page_path)
            assert receive not in page.text and "待签收" not in page.text

        async with httpx.AsyncClient() as http:
            lots = (await http.get(f"{cs.settings.custody_url}/v1/lots", params={"case_id": case_id},
                                   headers={"Authorization": f"Bearer {await w.api_key(MINE)}"})).json()["lots"]
        assert [(lot["hazard"], lot["holder"], len(lot["chain"])) for lot in lots] == [("perishable", "office@610400", 1)]
