"""Hostile input on every route of routing's HTTP API (issue 12 §1): NUL bytes, control and
format characters, lone surrogates, blanks, 5,000-character strings, numbers past a bigint
and far-future dates — in every path parameter, every query parameter and every string field
of every command's body — get a 4xx problem document naming the field, never a 5xx. An
oversized body is refused (413) before authentication, and authentication comes before the
body is validated."""
from __future__ import annotations

import copy
import json
import uuid
from typing import Any, Iterator

import pytest

from tests.support import stack
from tests.support.hostile import hostile_requests
from tests.support.routing import RoutingWorld, case_opened

pytestmark = pytest.mark.stack

BUREAU = "market_regulation@610402"
#: a valid body for each command route (every string field filled, so each can be made hostile)
BODIES: dict[str, dict[str, Any]] = {
    "acknowledge": {"decision": "refuse", "reason": "out of our remit"},
    "transfer": {"to_bureau": "culture@610402", "reason": "piracy is culture's"},
    "referral": {"reason": "above the threshold"},
    "referral/decision": {"approve": False, "reason": "not enough evidence"},
    "referral/transfer": {"package": {"transfer_letter": {"doc_no": "咸市监移〔2025〕1号", "title": "移送函",
                                                          "uri": "https://files.example/1"},
                                      "test_reports": [{"doc_no": "检-1", "title": "检验报告"}]}},
    "referral/police-decision": {"decision": "refuse", "reason": "no crime", "police_case_no": "P-1"},
    "referral/reconsideration": {"reason": "please look again"},
    "referral/supervision": {"reason": "the refusal was wrong"},
    "referral/handover": {"goods_list": {"doc_no": "G-1"}, "files": [{"doc_no": "F-1", "title": "卷宗"}], "note": "all of it"},
    "outcome": {"outcome": "penalty_decided", "decision_no": "咸市监罚〔2025〕7号", "penalty_amount": "100.00",
                "detail": "fined"},
}
#: the brief's values, plus their neighbours; every string field of every body gets each of them
HOSTILE_TEXT = ("\u0000", "a\u0000b", "\ud800", " ", "\n", "x" * 5000, "9223372036854775808", "-1", "9999-12-31",
                "\x1b[31m", "\u202e", "\ufeff", "a\r\nb", "\x7f")
#: values a text field must refuse (422 naming it), whatever its length limit (a lone blank or newline is
#: stripped to an empty text, which the field's own rules then take or refuse)
REFUSED_TEXT = ("\u0000", "a\u0000b", "\ud800", "\x1b[31m", "\u202e", "\ufeff", "a\r\nb", "\x7f")


def world() -> RoutingWorld:
    return RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())


def string_leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from string_leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from string_leaves(v, (*path, i))
    elif isinstance(value, str):
        yield path


def replaced(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    target: Any = out
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return out


def field_name(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)  # as the problem document names it: files.0.title


def is_problem(response: Any) -> bool:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return False
    doc = response.json()
    return doc.get("status") == response.status_code and bool(doc.get("title"))


async def test_hostile_values_in_every_path_query_and_body_field_get_a_4xx_problem_never_a_5xx() -> None:
    w = world()
    await w.create_topics(bureaus=[BUREAU])
    case_id = f"C-{w.unique}"
    async with w.running(watch=False) as svc:
        await w.open_cases(case_opened(case_id, category="false_advertising"))
        token = await w.api_key(BUREAU, scopes=("cases:read", "cases:act", "referrals:act"))
        auth = {"Authorization": f"Bearer {token}"}
        openapi = svc.service.app.openapi()
        failures: list[str] = []
        seen = 0

        async def send(method: str, target: str, body: Any = None, *, raw: bytes | None = None) -> Any:
            nonlocal seen
            seen += 1
            content = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            headers = {**auth, **({"Content-Type": "application/json"} if content is not None else {})}
            r = await svc.http.request(method, target, headers=headers, content=content)
            if r.status_code >= 500 or (r.status_code >= 400 and not is_problem(r)):
                failures.append(f"{method} {target} {(content or b'')[:80]!r} → {r.status_code} {r.text[:200]}")
            return r

        # every path and query parameter of every operation (POSTs with a valid body)
        for method, target in hostile_requests(openapi, placeholder=case_id):
            suffix = target.split("?")[0].split("/v1/cases/", 1)[-1].split("/", 1)
            body = BODIES.get(suffix[1]) if method == "POST" and len(suffix) == 2 else None
            await send(method, target, body)

        # every string field of every command's body
        for route, body in BODIES.items():
            for leaf in string_leaves(body):
                for value in HOSTILE_TEXT:
                    # json.dumps writes a lone surrogate as the escape \ud800, which is what a caller can send
                    r = await send("POST", f"/v1/cases/{case_id}/{route}", replaced(body, leaf, value))
                    if value in REFUSED_TEXT and leaf[-1] not in ("decision", "outcome", "to_bureau"):
                        named = [e.get("field") for e in r.json().get("errors", [])] if r.status_code == 422 else []
                        if field_name(leaf) not in named:
                            failures.append(f"{route} {field_name(leaf)}={value!r}: {r.status_code} names {named}")

        # the brief's cases, named
        nul = await send("GET", "/v1/cases/%00")
        blank = await send("POST", "/v1/cases/%20/acknowledge", {"decision": "accept"})
        newline = await send("POST", "/v1/cases/a%0Ab/acknowledge", {"decision": "accept"})
        long_id = await send("GET", "/v1/cases/" + "A" * 65)
        huge_offset = await send("GET", "/v1/cases?offset=9223372036854775808")
        negative = await send("GET", "/v1/cases?limit=-1")
        not_utf8 = await send("POST", f"/v1/cases/{case_id}/acknowledge", raw=b'{"decision": "refuse", "reason": "\xff\xfe"}')

    assert not failures, f"{len(failures)} of {seen} hostile requests were not a 4xx problem:\n" + "\n".join(failures[:40])
    for r in (nul, blank, newline, long_id):
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["path.case_id"], r.text
    assert huge_offset.status_code == 422 and [e["field"] for e in huge_offset.json()["errors"]] == ["query.offset"]
    assert negative.status_code == 422 and [e["field"] for e in negative.json()["errors"]] == ["query.limit"]
    assert not_utf8.status_code in (400, 422)
    assert seen > 1000


async def test_an_oversized_body_is_refused_before_authentication_and_a_bad_key_before_the_body_is_read() -> None:
    w = world()
    await w.create_topics()
    async with w.running(watch=False) as svc:
        big = b'{"decision": "accept", "reason": "' + b"x" * (200 * 1024) + b'"}'
        oversized = await svc.http.post("/v1/cases/C-1/acknowledge", content=big,
                                        headers={"Content-Type": "application/json"})
        invalid_unauthenticated = await svc.http.post("/v1/cases/C-1/acknowledge", json={"decision": "\u0000" * 10})
        bad_key = await svc.http.post("/v1/cases/C-1/acknowledge", json={"nonsense": True},
                                      headers={"Authorization": "Bearer sd1_aaaaaaaaaaaaaaaa_" + "x" * 43})
        bad_idempotency_key = await svc.http.post(
            "/v1/cases/C-1/acknowledge", json={"decision": "accept"},
            headers={"Authorization": f"Bearer {await w.api_key(BUREAU)}", "Idempotency-Key": "x" * 201})
    assert oversized.status_code == 413 and is_problem(oversized)
    assert invalid_unauthenticated.status_code == 401 and is_problem(invalid_unauthenticated)
    assert bad_key.status_code == 401 and is_problem(bad_key)
    assert bad_idempotency_key.status_code == 422 and bad_idempotency_key.json()["errors"][0]["field"] == "Idempotency-Key"


def test_the_openapi_document_declares_both_key_schemes_and_the_problem_responses() -> None:
    import asyncio

    async def document() -> dict[str, Any]:
        from services.routing import wiring
        from shared.db import create_pool

        w = world()
        settings = w.settings()
        pool = await create_pool(settings.dsn, settings.schema, min_size=1, max_size=2)
        try:
            parts = await wiring.build(settings, pool)
            try:
                return parts.app.openapi()
            finally:
                for close in parts.closers:
                    await close()
        finally:
            await pool.close()

    doc = asyncio.run(document())
    assert {"bearerKey", "apiKey"} <= set(doc["components"]["securitySchemes"])
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert {"401", "403", "404", "422"} <= set(op["responses"]), (method, path)
            if method == "post" and path != "/v1/status":  # a read whose second factor stays out of the URL
                assert "409" in op["responses"], (method, path)
                assert any(p["name"] == "Idempotency-Key" for p in op["parameters"]), (method, path)


async def test_schemathesis_finds_no_server_error_and_no_dropped_connection_in_routings_openapi(tmp_path) -> None:
    import asyncio
    import socket
    import subprocess
    import sys
    from pathlib import Path

    import httpx

    from shared.http import serve

    w = world()
    await w.create_topics(bureaus=[BUREAU])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    async with w.running(watch=False) as svc:
        token = await w.api_key(BUREAU, scopes=("cases:read", "cases:act", "referrals:act"))
        stop = asyncio.Event()
        server = asyncio.create_task(serve(svc.service.app, "127.0.0.1", port, stop))
        url = f"http://127.0.0.1:{port}"
        try:
            async def up() -> int:
                try:
                    async with httpx.AsyncClient(base_url=url) as client:
                        return (await client.get("/healthz")).status_code
                except httpx.TransportError:
                    return 0

            await stack.eventually(up, until=lambda status: status == 200, what="routing's HTTP server")
            command = [
                str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}/openapi.json",
                "--checks", "not_a_server_error", "--header", f"Authorization: Bearer {token}",
                "--max-examples", "25", "--workers", "1", "--seed", "20261207", "--generation-database", "none",
                "--no-color", "--report", "junit", "--report-dir", str(tmp_path),
            ]
            completed = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=900,
                                                cwd=tmp_path)
        finally:
            stop.set()
            await server
    output = completed.stdout[-6000:] + completed.stderr[-2000:]
    assert completed.returncode == 0, output
    # 13 case operations + the console's reads (adapters/http_overview.py: overview, assessment, worklist, sealed complainant, supervision, status) + the joint meetings (list, decide)
    assert "Tested: 21" in output or "21 operations" in output or "21/21" in output, output[-1500:]
