"""Notify's operators' API on the real stack (issues 12 and 13): every operation
authenticates through the one identity store (401 without a key, 403 without
``notify:admin``), shows delivery state and the directory, re-reads the directory
on request, and answers hostile input in any parameter with a 4xx problem
document — never a 5xx, never a dropped connection."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
import pytest_asyncio

from shared.contracts.routing import CaseAssigned
from shared.http import PROBLEM_JSON, serve
from shared.webhooks import generate_secret
from tests.support import stack
from tests.support.hostile import ENCODED, hostile_requests, operations
from tests.support.identity import issue_key, revoke
from tests.support.notify import HttpSink, NotifyWorld, free_port, probe, record_for, sample

pytestmark = pytest.mark.stack

BUREAU = "market_regulation@610402"


@dataclass
class Api:
    world: NotifyWorld
    url: str
    sink: HttpSink
    parts: Any
    operator: dict[str, str]
    bureau: dict[str, str]
    operator_id: str


def directory(sink: HttpSink, version: str) -> dict[str, Any]:
    return {"version": version, "recipients": [
        {"match": "market_regulation@*", "webhook": {"url": sink.url("/hooks/mr"), "secret": generate_secret()}}]}


@pytest_asyncio.fixture(scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    unique = uuid.uuid4().hex[:10]
    world = NotifyWorld(unique, tmp_path_factory.mktemp("notify-http"))
    await world.create(stack.dsn(), stack.bootstrap())
    sink = await HttpSink().start()
    world.write_directory(directory(sink, "v1"))
    operator_id = f"ops-{unique}"
    operator = await issue_key(world.identity_schema, operator_id, "ops")
    bureau = await issue_key(world.identity_schema, f"{BUREAU}-{unique}", "bureau", bureau=BUREAU)
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
            yield Api(world, url, sink, parts, {"Authorization": f"Bearer {operator}"}, {"X-API-Key": bureau},
                      operator_id)
            stop.set()
            await server
    finally:
        await sink.stop()


def is_problem(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith(PROBLEM_JSON)


async def test_without_a_key_every_operation_answers_401_with_a_problem_document(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        openapi = (await client.get("/openapi.json")).json()
        ops = list(operations(openapi))
        assert len(ops) >= 6, "the document lists notify's operations"
        for method, path, _ in ops:
            target = path.replace("{delivery}", "1")
            for headers in ({}, {"Authorization": "Bearer sd1_nope_nope"}, {"X-API-Key": "x" * 300},
                            {"Authorization": "Basic Zm9vOmJhcg=="}):
                response = await client.request(method, target, headers=headers)
                assert response.status_code == 401 and is_problem(response), (method, target, headers, response.text)


async def test_a_bureau_key_without_notify_admin_is_refused_with_403(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        response = await client.get("/v1/status", headers=api.bureau)
        assert response.status_code == 403 and is_problem(response)
        assert "notify:admin" in response.json()["detail"]


async def test_an_operator_sees_a_delivery_its_attempts_and_the_counts_once_it_is_delivered(api: Api) -> None:
    case_id = f"C-{uuid.uuid4().hex[:8]}"
    await stack.produce(api.world.topics["routing_topic"],
                        [record_for(sample(CaseAssigned, case_id=case_id, bureau=BUREAU, co_bureaus=[]))])
    await stack.eventually(probe(lambda: [r for r in api.sink.on("/hooks/mr") if case_id.encode() in r.body]),
                           until=bool, what="the webhook delivered")
    async with httpx.AsyncClient(base_url=api.url, headers=api.operator) as client:
        async def delivered() -> list[dict[str, Any]]:
            found = (await client.get("/v1/deliveries", params={"recipient": BUREAU, "state": "delivered"})).json()
            return [d for d in found if d["case_id"] == case_id]

        [summary] = await stack.eventually(delivered, until=lambda d: len(d) == 1, what="the delivery listed")
        assert summary["channel"] == "webhook" and summary["attempts"] == 1
        one = (await client.get(f"/v1/deliveries/{summary['message_id']}")).json()
        assert one["id"] == summary["id"] and one["state"] == "delivered"
        assert [(a["n"], a["result"]) for a in one["attempt_log"]] == [(1, "2xx")]
        assert "body" not in one and "address" not in one, "no content and no address is shown"
        by_id = await client.get(f"/v1/deliveries/{summary['id']}")
        assert by_id.json()["message_id"] == summary["message_id"]
        missing = await client.get("/v1/deliveries/msg_" + "0" * 32)
        assert missing.status_code == 404 and is_problem(missing)
        status = (await client.get("/v1/status")).json()
        assert any(s["channel"] == "webhook" and s["state"] == "delivered" and s["count"] >= 1
                   for s in status["deliveries"])
        assert status["directory"]["version"] in ("v1", "v2", "v3")
        endpoints = await client.get("/v1/endpoints")
        assert endpoints.status_code == 200 and isinstance(endpoints.json(), list)


async def test_an_operator_reloads_the_directory_and_an_invalid_file_leaves_the_one_in_force(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=api.operator) as client:
        api.world.write_directory(directory(api.sink, "v2"))
        reloaded = await client.post("/v1/directory:reload")
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["directory"]["version"] == "v2"
        api.world.directory_path.write_text("version: v3\nrecipients: [{match: 42}]\n", encoding="utf-8")
        refused = await client.post("/v1/directory:reload")
        assert refused.status_code == 422 and is_problem(refused)
        assert refused.json()["version_in_force"] == "v2"
        assert str(api.world.directory_path) not in refused.text, "the server's file path is not shown"
        assert (await client.get("/v1/directory")).json()["version"] == "v2"
        api.world.write_directory(directory(api.sink, "v2"))


async def test_hostile_values_in_every_parameter_get_a_4xx_problem_and_never_a_5xx_or_a_dropped_connection(
        api: Api) -> None:
    server_errors: list[tuple[str, str, int]] = []
    dropped: list[tuple[str, str, str]] = []
    not_problems: list[tuple[str, str, int]] = []
    sent = 0
    async with httpx.AsyncClient(base_url=api.url, headers=api.operator, timeout=10) as client:
        openapi = (await client.get("/openapi.json")).json()
        for method, target in hostile_requests(openapi):
            sent += 1
            try:
                response = await client.request(method, target)
            except httpx.TransportError as exc:
                dropped.append((method, target[:80], type(exc).__name__))
                continue
            if response.status_code >= 500:
                server_errors.append((method, target[:80], response.status_code))
            elif response.status_code >= 400 and not is_problem(response):
                not_problems.append((method, target[:80], response.status_code))
        # bodies where none is expected, and one over the limit: refused before anything reads them
        for body in (b"\x00" * 10, b"{" * 1000, b"A" * (2 * 1024 * 1024)):
            sent += 1
            response = await client.post("/v1/directory:reload", content=body,
                                         headers={"content-type": "application/json"})
            assert response.status_code in (200, 413, 422), response.text
            if response.status_code >= 400:
                assert is_problem(response)
    parameters = sum(1 for _, _, op in operations(openapi) for p in op.get("parameters", []) if p["in"] in ("path", "query"))
    assert parameters >= 4 and sent >= parameters * len(ENCODED), "every value went into every parameter"
    assert server_errors == [] and dropped == [] and not_problems == []


MALFORMED_HEADERS = (b"Authorization: Bearer \x00", b"X-API-Key: \x7f", b"X-API-Key: \xff\xfe",
                     b"Idempotency-Key: \x01\x02", b"Content-Length: 12x", b"Content-Length: -1",
                     b"X-API-Key: " + b"A" * 20_000)


async def raw_answer(api: Api, header: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(api.url.rsplit(":", 1)[1]))
    writer.write(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n" + header + b"\r\nConnection: close\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), timeout=10)
    writer.close()
    return answer


async def test_malformed_headers_get_a_4xx_and_never_a_5xx_or_a_dropped_connection(api: Api) -> None:
    for header in MALFORMED_HEADERS:
        answer = await raw_answer(api, header)
        assert answer.startswith(b"HTTP/1.1 4"), (header[:40], answer[:200])


async def test_a_malformed_header_is_answered_with_a_problem_document(api: Api) -> None:
    for header in MALFORMED_HEADERS:
        answer = await raw_answer(api, header)
        assert PROBLEM_JSON.encode() in answer.split(b"\r\n\r\n", 1)[0].lower(), (header[:40], answer[:200])


async def test_a_revoked_operator_key_stops_working_within_the_cache_bound(api: Api) -> None:
    unique = uuid.uuid4().hex[:6]
    token = await issue_key(api.world.identity_schema, f"ops-r-{unique}", "ops")
    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {token}"}) as client:
        assert (await client.get("/v1/directory")).status_code == 200
        assert await revoke(api.world.identity_schema, f"ops-r-{unique}")

        async def answer() -> int:
            return (await client.get("/v1/directory")).status_code

        await stack.eventually(answer, until=lambda s: s == 401, timeout=5, what="the revoked key refused")


async def test_schemathesis_finds_no_server_error_in_notify_s_openapi(api: Api, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{api.url}/openapi.json",
        "--checks", "not_a_server_error", "--header", f"Authorization: {api.operator['Authorization']}",
        "--max-examples", "30", "--workers", "1", "--seed", "20250601", "--generation-database", "none",
        "--no-color", "--report", "junit", "--report-dir", str(tmp_path),
    ]
    completed = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=600,
                                        cwd=tmp_path)
    output = completed.stdout[-6000:] + completed.stderr[-2000:]
    assert completed.returncode == 0, output
    assert "Tested: 8" in output, "every operation was exercised"
