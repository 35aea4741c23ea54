"""Resending from notify's message log on the real stack (issue 16 §6, after Svix's
resend and recover): an operator resends one delivery and a real receiver gets it a
second time with the same webhook-id and body; recovering an endpoint since a time
resends what did not arrive since then and nothing before; each command is
audited, bound to its Idempotency-Key and refused to keys without notify:resend;
hostile input is a 4xx problem naming the field; the endpoint list shows circuits."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, AsyncIterator

import httpx
import pytest
import pytest_asyncio

from shared.contracts.routing import CaseAssigned
from shared.http import PROBLEM_JSON, serve
from shared.webhooks import generate_secret
from tests.support import stack
from tests.support.identity import issue_key
from tests.support.notify import HttpSink, NotifyWorld, free_port, probe, record_for, sample

pytestmark = pytest.mark.stack

MR = "market_regulation@610402"
CULTURE = "culture@610400"


@dataclass
class Api:
    world: NotifyWorld
    url: str
    sink: HttpSink
    ops: dict[str, str]
    office: dict[str, str]
    ops_id: str


@pytest_asyncio.fixture(scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    unique = uuid.uuid4().hex[:10]
    world = NotifyWorld(unique, tmp_path_factory.mktemp("notify-resend"))
    await world.create(stack.dsn(), stack.bootstrap())
    sink = await HttpSink().start()
    world.write_directory({"version": "v1", "recipients": [
        {"match": "market_regulation@*", "webhook": {"url": sink.url("/hooks/mr"), "secret": generate_secret()}},
        {"match": "culture@*", "webhook": {"url": sink.url("/hooks/rc"), "secret": generate_secret()}}]})
    ops_id = f"ops-{unique}"
    ops = await issue_key(world.identity_schema, ops_id, "ops")
    office = await issue_key(world.identity_schema, f"office-{unique}", "office", bureau="office@610400")
    port = free_port()
    stop = asyncio.Event()
    try:
        async with world.running(world.settings(stack.dsn(), stack.bootstrap(), identity_cache_seconds=1.0)) as parts:
            server = asyncio.create_task(serve(parts.app, "127.0.0.1", port, stop))
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=url) as client:
                async def up() -> int:
                    try:
                        return (await client.get("/healthz")).status_code
                    except httpx.TransportError:
                        return 0
                await stack.eventually(up, until=lambda s: s == 200, what="notify's HTTP server")
            yield Api(world, url, sink, {"Authorization": f"Bearer {ops}"}, {"Authorization": f"Bearer {office}"},
                      ops_id)
            stop.set()
            await server
    finally:
        await sink.stop()


def is_problem(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith(PROBLEM_JSON)


async def assign(api: Api, bureau: str) -> str:
    case_id = f"C-{uuid.uuid4().hex[:8]}"
    await stack.produce(api.world.topics["routing_topic"],
                        [record_for(sample(CaseAssigned, case_id=case_id, bureau=bureau, co_bureaus=[]))])
    return case_id


def arrivals(api: Api, path: str, case_id: str) -> list[Any]:
    return [r for r in api.sink.on(path) if case_id.encode() in r.body]


async def delivery_of(client: httpx.AsyncClient, recipient: str, case_id: str, state: str) -> dict[str, Any]:
    async def found() -> list[dict[str, Any]]:
        listed = (await client.get("/v1/deliveries", params={"recipient": recipient, "state": state,
                                                            "limit": 500})).json()
        return [d for d in listed if d["case_id"] == case_id]

    [one] = await stack.eventually(found, until=lambda d: len(d) == 1, timeout=60, what=f"{case_id} {state}")
    return (await client.get(f"/v1/deliveries/{one['id']}")).json()


async def test_resending_a_delivered_message_reaches_the_receiver_again_with_the_same_webhook_id(api: Api) -> None:
    case_id = await assign(api, MR)
    async with httpx.AsyncClient(base_url=api.url, headers=api.ops) as client:
        first = await delivery_of(client, MR, case_id, "delivered")
        [original] = arrivals(api, "/hooks/mr", case_id)
        key = f"resend-{uuid.uuid4().hex}"
        resent = await client.post(f"/v1/deliveries/{first['message_id']}:resend", headers={"Idempotency-Key": key})
        assert resent.status_code == 202, resent.text
        assert resent.json() == {"id": first["id"], "message_id": first["message_id"], "state_before": "delivered",
                                 "series": 1, "state": "pending"}
        both = await stack.eventually(probe(lambda: arrivals(api, "/hooks/mr", case_id)), until=lambda r: len(r) == 2,
                                      what="the resent message at the receiver")
        again = both[1]
        assert again.headers["webhook-id"] == original.headers["webhook-id"] == first["message_id"]
        assert again.body == original.body, "the same message: receivers deduplicate on its webhook-id"
        after = await delivery_of(client, MR, case_id, "delivered")
        assert after["series"] == 1
        assert [(a["series"], a["n"], a["result"]) for a in after["attempt_log"]] == [(0, 1, "2xx"), (1, 1, "2xx")]
        assert [r["actor"] for r in after["resends"]] == [api.ops_id], "who resent it is recorded"

        replay = await client.post(f"/v1/deliveries/{first['message_id']}:resend", headers={"Idempotency-Key": key})
        assert replay.status_code == 202 and replay.headers.get("Idempotent-Replayed") == "true"
        assert replay.json() == resent.json()
        other = await assign(api, MR)
        second = await delivery_of(client, MR, other, "delivered")
        reused = await client.post(f"/v1/deliveries/{second['id']}:resend", headers={"Idempotency-Key": key})
        assert reused.status_code == 409 and is_problem(reused)
        await asyncio.sleep(1.0)  # a replay must not have sent it a third time
        assert len(arrivals(api, "/hooks/mr", case_id)) == 2
        assert len((await client.get(f"/v1/deliveries/{first['id']}")).json()["resends"]) == 1

    async with httpx.AsyncClient(base_url=api.url, headers=api.office) as office:
        refused = await office.post(f"/v1/deliveries/{first['id']}:resend")
        assert refused.status_code == 403 and is_problem(refused)
        assert "notify:resend" in refused.json()["detail"]
        assert (await office.get(f"/v1/deliveries/{first['id']}")).status_code == 200, "office still reads the log"


async def test_recovering_an_endpoint_resends_what_failed_since_the_time_and_nothing_before(api: Api) -> None:
    api.sink.script("/hooks/rc", then=500)
    async with httpx.AsyncClient(base_url=api.url, headers=api.ops) as client:
        before = await assign(api, CULTURE)
        old = await delivery_of(client, CULTURE, before, "failed")
        since = datetime.fromisoformat(old["created_at"]) + timedelta(milliseconds=1)
        await asyncio.sleep(0.05)
        later = [await assign(api, CULTURE) for _ in range(2)]
        failed = [await delivery_of(client, CULTURE, c, "failed") for c in later]
        assert all(datetime.fromisoformat(f["created_at"]) >= since for f in failed)
        endpoints = (await client.get("/v1/endpoints")).json()
        [endpoint] = [e for e in endpoints if e["endpoint"].endswith("/hooks/rc")]
        assert endpoint["id"] == old["endpoint_id"] and endpoint["failed"] >= 3
        assert endpoint["circuit"]["state"] in ("closed", "open", "half_open")
        assert endpoint["circuit"]["failures"] >= 1, "the breaker saw the failures"
        sent_before = {c: len(arrivals(api, "/hooks/rc", c)) for c in [before, *later]}

        api.sink.script("/hooks/rc", then=200)
        recovered = await client.post(f"/v1/endpoints/{endpoint['id']}:recover", json={"since": since.isoformat()},
                                      headers={"Idempotency-Key": f"recover-{uuid.uuid4().hex}"})
        assert recovered.status_code == 202, recovered.text
        assert recovered.json()["resent"] == 2
        for case_id, was in zip(later, failed):
            now = await delivery_of(client, CULTURE, case_id, "delivered")
            assert now["message_id"] == was["message_id"] and now["series"] == 1
            last = arrivals(api, "/hooks/rc", case_id)[-1]
            assert last.status == 200 and last.headers["webhook-id"] == was["message_id"]
        untouched = (await client.get(f"/v1/deliveries/{old['id']}")).json()
        assert untouched["state"] == "failed" and untouched["series"] == 0
        assert len(arrivals(api, "/hooks/rc", before)) == sent_before[before], "nothing before the time is resent"
        healed = [e for e in (await client.get("/v1/endpoints")).json() if e["id"] == endpoint["id"]]
        assert healed[0]["circuit"]["state"] == "closed" and healed[0]["circuit"]["failures"] == 0


async def test_a_delivery_still_queued_is_not_resent_and_unknown_ids_are_404(api: Api) -> None:
    api.sink.script("/hooks/mr", ["hang"], then=200, delay=0.0)
    async with httpx.AsyncClient(base_url=api.url, headers=api.ops) as client:
        missing = await client.post("/v1/deliveries/msg_" + "0" * 32 + ":resend")
        assert missing.status_code == 404 and is_problem(missing)
        nowhere = await client.post("/v1/endpoints/ep_" + "0" * 24 + ":recover",
                                    json={"since": "2026-01-01T00:00:00+00:00"})
        assert nowhere.status_code == 404 and is_problem(nowhere)
        case_id = await assign(api, MR)

        async def in_flight() -> list[dict[str, Any]]:
            listed = (await client.get("/v1/deliveries", params={"recipient": MR, "state": "in_flight"})).json()
            return [d for d in listed if d["case_id"] == case_id]

        [busy] = await stack.eventually(in_flight, until=lambda d: len(d) == 1, what="the delivery in flight")
        refused = await client.post(f"/v1/deliveries/{busy['id']}:resend")
        assert refused.status_code == 409 and is_problem(refused)
        assert refused.json()["state"] == "in_flight"
    api.sink.script("/hooks/mr", then=200)


@pytest.mark.parametrize("body, field", [
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-13-45T00:00:00+00:00"}, "since"),
    ({"since": "2026-06-01T00:00:00"}, "since"),                 # no UTC offset
    ({"since": "9999-12-31T23:59:59+00:00"}, "since"),           # in the future
    ({"since": "1" * 5000}, "since"),
    ({"since": "2026-06-01T00:00:00+00:00", "extra": 1}, "extra"),
    ({}, "since"),
])
async def test_a_hostile_recover_body_is_a_422_problem_naming_the_field(api: Api, body: dict[str, Any],
                                                                         field: str) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=api.ops) as client:
        response = await client.post("/v1/endpoints/ep_" + "a" * 24 + ":recover", json=body)
        assert response.status_code == 422 and is_problem(response), response.text
        assert field in str(response.json().get("errors")), response.text


@pytest.mark.parametrize("ref", ["1%00", "msg_%00abc", "x" * 40, "ep_%00", "-1", "1" * 30])
async def test_a_hostile_delivery_or_endpoint_id_is_a_422_problem(api: Api, ref: str) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=api.ops) as client:
        for target in (f"/v1/deliveries/{ref}:resend", f"/v1/endpoints/{ref}:recover"):
            response = await client.post(target, json={"since": "2026-01-01T00:00:00+00:00"})
            assert response.status_code == 422 and is_problem(response), (target, response.text)
