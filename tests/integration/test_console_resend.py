"""The console's ops message log on the real stack with a real notify and a real receiver (issue 16
§6): ops resends one message from its page (CSRF-protected form) and the receiver gets it again with
the same webhook-id; the same form submitted twice resends once; recovering an endpoint since a time
resends what failed; the console's audit log names who did it; the endpoints show their circuits; a
reference smuggling a query through the URL never reaches notify as one (the adapter quotes it)."""
from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from zoneinfo import ZoneInfo

from shared.contracts.routing import CaseAssigned
from shared.db import connect
from shared.webhooks import generate_secret
from tests.support import stack
from tests.support.console import console_stack, csrf_of, hidden_fields, sign_in
from tests.support.notify import HttpSink, NotifyWorld, probe, record_for, sample

pytestmark = pytest.mark.stack
MR = "market_regulation@610402"
CULTURE = "culture@610400"


async def test_ops_resends_a_message_and_recovers_an_endpoint_from_the_console(tmp_path: Path) -> None:
    unique = uuid.uuid4().hex[:10]
    sink = await HttpSink().start()
    try:
        nworld = NotifyWorld(unique, tmp_path)
        await nworld.create(stack.dsn(), stack.bootstrap())
        nworld.write_directory({"version": "v1", "recipients": [
            {"match": "market_regulation@*", "webhook": {"url": sink.url("/hooks/mr"), "secret": generate_secret()}},
            {"match": "culture@*", "webhook": {"url": sink.url("/hooks/rc"), "secret": generate_secret()}}]})
        nsettings = nworld.settings(stack.dsn(), stack.bootstrap(), identity_cache_seconds=1.0)
        async with console_stack(unique, notify=(nworld, nsettings)) as cs:
            await cs.create_account("opsperson", "ops")
            await cs.create_account("bureauperson", f"bureau@{MR}")
            case_id = f"C-{unique[:8]}"
            await stack.produce(nworld.topics["routing_topic"],
                                [record_for(sample(CaseAssigned, case_id=case_id, bureau=MR, co_bureaus=[]))])
            mine = probe(lambda: [r for r in sink.on("/hooks/mr") if case_id.encode() in r.body])
            [first] = await stack.eventually(mine, until=lambda r: len(r) == 1, what="the first delivery")
            message_id = first.headers["webhook-id"]

            async with httpx.AsyncClient(base_url=cs.url) as client:
                await sign_in(client, "opsperson")

                async def delivered_row() -> list[str]:
                    page = (await client.get("/ops/messages", params={"state": "delivered"})).text
                    return re.findall(rf'<tr data-delivery="(\d+)"><td[^>]*><a href="[^"]+">{message_id}</a>', page)

                [delivery_id] = await stack.eventually(delivered_row, until=lambda r: len(r) == 1,
                                                       what="the delivery on the message log")
                page = await client.get(f"/ops/messages/{delivery_id}")
                assert page.status_code == 200 and 'data-testid="resend"' in page.text
                action = f"/ops/messages/{delivery_id}/resend"
                fields = hidden_fields(page.text, action)
                assert set(fields) == {"csrf", "idem"}

                forged = await client.post(action, data={**fields, "csrf": "forged"})
                assert forged.status_code == 403
                sent = await client.post(action, data=fields)
                assert sent.status_code == 303 and sent.headers["location"] == f"{action.rsplit('/', 1)[0]}?resent=1"
                both = await stack.eventually(mine, until=lambda r: len(r) == 2, what="the resent message")
                assert both[1].headers["webhook-id"] == message_id and both[1].body == first.body
                again = await client.post(action, data=fields)  # the same form twice: one resend
                assert again.status_code == 303
                shown = await client.get(f"/ops/messages/{delivery_id}")
                assert '<dd data-testid="series">1</dd>' in shown.text and "console.opsperson" in shown.text
                await asyncio.sleep(1.0)
                assert len(mine_now := [r for r in sink.on("/hooks/mr") if case_id.encode() in r.body]) == 2, mine_now

                smuggled = await client.get(f"/ops/messages/{delivery_id}%3Fstate%3Dfailed")
                assert smuggled.status_code == 404, "the reference is one quoted path part for notify"

                # recover: the culture endpoint fails until told otherwise
                sink.script("/hooks/rc", then=500)
                before = dt.datetime.now(ZoneInfo("Asia/Shanghai")) - dt.timedelta(minutes=1)
                failing = f"F-{unique[:8]}"
                await stack.produce(nworld.topics["routing_topic"],
                                    [record_for(sample(CaseAssigned, case_id=failing, bureau=CULTURE, co_bureaus=[]))])

                async def failed_listed() -> str:
                    return (await client.get("/ops/messages", params={"state": "failed"})).text

                listing = await stack.eventually(failed_listed, until=lambda t: failing in t, timeout=60,
                                                 what="the failed delivery listed")
                rows = re.findall(r'<tr data-endpoint="(ep_[0-9a-f]{24})"><td[^>]*>([^<]+)</td>', listing)
                [endpoint_id] = [e for e, name in rows if name.endswith("/hooks/rc")]
                assert re.search(rf'data-endpoint="{endpoint_id}".*?data-testid="circuit">[^<]*(失败|Failures|断开|半开)',
                                 listing, re.S), "the circuit column shows the endpoint's failures"
                sink.script("/hooks/rc", then=200)
                recover_action = f"/ops/endpoints/{endpoint_id}/recover"
                rfields = hidden_fields(listing, recover_action)
                bad = await client.post(recover_action, data={**rfields, "since": "not a time"})
                assert bad.status_code == 422
                recovered = await client.post(recover_action, data={**rfields, "since": before.strftime("%Y-%m-%dT%H:%M")})
                assert recovered.status_code == 303 and recovered.headers["location"] == "/ops/messages?recovered=1"
                ok = probe(lambda: [r for r in sink.on("/hooks/rc") if failing.encode() in r.body and r.status == 200])
                await stack.eventually(ok, until=lambda r: len(r) == 1, what="the recovered delivery arrived")

            async with httpx.AsyncClient(base_url=cs.url) as bureau:
                await sign_in(bureau, "bureauperson")
                refused = await bureau.post(action, data={"csrf": csrf_of(await bureau.get("/cases")),
                                                          "idem": str(uuid.uuid4())})
                assert refused.status_code == 403

            conn = await connect(stack.dsn(), cs.settings.schema)
            try:
                audited: list[Any] = await conn.fetch(
                    "SELECT kind, subject, actor FROM audit_log WHERE kind LIKE 'console.%' AND kind <> 'console.pii-unmasked'"
                    " ORDER BY seq")
            finally:
                await conn.close()
            assert [(a["kind"], a["actor"]) for a in audited] == [("console.message-resent", "opsperson"),
                                                                  ("console.endpoint-recovered", "opsperson")]
            assert audited[0]["subject"] == message_id and audited[1]["subject"] == endpoint_id
    finally:
        await sink.stop()
