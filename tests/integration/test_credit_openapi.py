"""Credit's API fuzzed as the others are (issue 12 §2): schemathesis over its OpenAPI document
finds no server error, no undocumented status code and no undocumented content type, and the
hostile corpus (tests/support/hostile.py) in every path and query parameter of every operation
gets a 4xx problem document (or an acceptable 2xx), never a 5xx or a dropped connection.
The committed document itself is checked by tests/unit/test_openapi_documents.py."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest

from shared.clock import ManualClock
from shared.http import PROBLEM_JSON, serve
from sim.stackenv import free_port
from tests.support import hostile, stack
from tests.support.credit import CreditWorld

pytestmark = pytest.mark.stack

UTC = dt.timezone.utc


@contextlib.asynccontextmanager
async def served(world: CreditWorld) -> AsyncIterator[str]:
    """Credit's app on a real port (uvicorn, as the service serves it)."""
    async with world.running(ManualClock(dt.datetime(2024, 3, 1, 2, tzinfo=UTC)), scheduler=False) as parts:
        port, stop = free_port(), asyncio.Event()
        server = asyncio.create_task(serve(parts.app, "127.0.0.1", port, stop))
        url = f"http://127.0.0.1:{port}"

        async def up() -> int:
            try:
                async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
                    return (await client.get("/healthz")).status_code
            except httpx.TransportError:
                return 0

        try:
            await stack.eventually(up, until=lambda status: status == 200, what="credit's HTTP server")
            yield url
        finally:
            stop.set()
            await server


async def test_schemathesis_finds_no_server_error_and_nothing_undocumented_in_credit_s_openapi(unique: str,
                                                                                              tmp_path: Path) -> None:
    world = CreditWorld(unique)
    await world.create()
    token = await world.add_bureau()
    async with served(world) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
            count = sum(1 for _ in hostile.operations((await client.get("/openapi.json")).json()))
        command = [
            str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}/openapi.json",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance",
            "--header", f"Authorization: Bearer {token}",
            "--max-examples", "25", "--workers", "1", "--seed", "20261207", "--generation-database", "none",
            "--no-color", "--report", "junit", "--report-dir", str(tmp_path),
        ]
        completed = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=900,
                                            cwd=tmp_path)
    output = completed.stdout[-8000:] + completed.stderr[-2000:]
    assert completed.returncode == 0, output
    assert count >= 13 and f"Tested: {count}" in output, ("every operation was exercised", output[-1500:])


async def test_the_hostile_corpus_in_every_credit_parameter_gets_a_4xx_problem_and_never_a_5xx(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    token = await world.add_bureau()
    async with served(world) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30,
                                     headers={"authorization": f"Bearer {token}"}) as client:
            openapi = (await client.get("/openapi.json")).json()
            server_errors, dropped, not_problems, sent = [], [], [], 0
            for method, target in hostile.hostile_requests(openapi):
                sent += 1
                try:
                    response = await client.request(method, target)
                except httpx.TransportError as exc:
                    dropped.append((method, target[:80], type(exc).__name__))
                    continue
                if response.status_code >= 500:
                    server_errors.append((method, target[:80], response.status_code, response.text[:200]))
                elif response.status_code >= 400 and not response.headers.get("content-type", "").startswith(PROBLEM_JSON):
                    not_problems.append((method, target[:80], response.status_code))
    assert sent > 1000
    assert server_errors == [] and dropped == [] and not_problems == []
