"""The HTTP plumbing every service shares, on the real database: an Idempotency-Key bound to its
caller and request, the body limit answering before authentication, and problem documents."""
from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import Depends, Header, HTTPException, Request

from shared import idempotency
from shared.db import create_pool, migrate
from shared.http import create_app, run_in_transaction
from tests.support import stack

pytestmark = pytest.mark.stack


def _app(pool: Any, calls: list[str]) -> Any:
    app = create_app("test", title="test", body_limit=lambda path: 100 if path == "/small" else 10_000)

    async def caller(x_caller: str | None = Header(default=None)) -> str:
        if not x_caller:
            raise HTTPException(401, "who are you")
        return x_caller

    @app.post("/things/{name}")
    async def make(name: str, request: Request, who: str = Depends(caller),
                   key: str | None = Header(default=None, alias="Idempotency-Key")) -> Any:
        key = idempotency.checked_key(key)
        body = await request.body()
        fp = idempotency.request_fingerprint("POST", request.url.path, body)

        async def work(uow: Any) -> tuple[int, Any]:
            calls.append(name)
            return 201, {"made": name, "n": len(calls)}

        status, text, replayed = await run_in_transaction(
            pool, lambda uow: idempotency.idempotent(uow, who, key, fp, work), source="/test", actor=who)
        return idempotency.replay_response(status, text, replayed)

    @app.post("/small")
    async def small(who: str = Depends(caller)) -> Any:
        return {"ok": True}

    return app


@pytest.fixture
async def client(unique: str):  # noqa: ANN201
    schema = f"http_{unique}"
    await migrate(stack.dsn(), schema)
    pool = await create_pool(stack.dsn(), schema, max_size=4)
    calls: list[str] = []
    transport = httpx.ASGITransport(app=_app(pool, calls))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        http.calls = calls  # type: ignore[attr-defined]
        yield http
    await pool.close()


async def test_the_same_key_and_request_replays_the_first_response_and_does_the_work_once(client: Any) -> None:
    headers = {"x-caller": "bureau-a", "Idempotency-Key": "k-1"}
    first = await client.post("/things/a", headers=headers, content=b'{"x":1}')
    again = await client.post("/things/a", headers=headers, content=b'{"x":1}')
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
    assert client.calls == ["a"]


async def test_the_same_key_with_another_body_or_path_is_a_409_problem(client: Any) -> None:
    headers = {"x-caller": "bureau-a", "Idempotency-Key": "k-2"}
    assert (await client.post("/things/a", headers=headers, content=b'{"x":1}')).status_code == 201
    other_body = await client.post("/things/a", headers=headers, content=b'{"x":2}')
    other_path = await client.post("/things/b", headers=headers, content=b'{"x":1}')
    for response in (other_body, other_path):
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["title"] == "Idempotency-Key reused"
    assert client.calls == ["a"]


async def test_a_key_is_scoped_to_its_caller(client: Any) -> None:
    for who in ("bureau-a", "bureau-b"):
        response = await client.post("/things/a", headers={"x-caller": who, "Idempotency-Key": "shared"}, content=b"{}")
        assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert client.calls == ["a", "a"]


async def test_a_malformed_key_is_a_422_naming_the_header(client: Any) -> None:
    response = await client.post("/things/a", headers={"x-caller": "a", "Idempotency-Key": "x" * 201}, content=b"{}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert client.calls == []


async def test_an_oversized_body_is_a_413_before_authentication(client: Any) -> None:
    response = await client.post("/small", content=b"x" * 101)  # no credentials at all
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "100 bytes" in json.loads(response.content)["title"]
    assert (await client.post("/small", content=b"x" * 100)).status_code == 401
