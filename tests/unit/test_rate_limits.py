"""Public and sign-in endpoints answer 429 with Retry-After per address and per credential, before
authentication or the body is read, and the buckets cannot grow memory under a flood of keys."""
from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import Header, HTTPException

from shared.http import create_app
from shared.ratelimit import Rate, RateLimits, TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_bucket_allows_its_burst_then_says_how_long_to_wait() -> None:
    clock = Clock()
    buckets = TokenBuckets(Rate(per_second=2, burst=3), now=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0, "another key has its own bucket"


def test_a_bucket_refills_at_its_rate_up_to_the_burst() -> None:
    clock = Clock()
    buckets = TokenBuckets(Rate(per_second=1, burst=2), now=clock)
    buckets.take("a"), buckets.take("a")
    clock.t += 1.0
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    clock.t += 3600
    assert [buckets.take("a") for _ in range(3)][:2] == [0.0, 0.0], "never more than the burst after a long pause"


def test_a_flood_of_new_keys_keeps_the_number_of_buckets_bounded() -> None:
    buckets = TokenBuckets(Rate(per_second=1, burst=1), max_keys=1000)
    for _ in range(20_000):
        buckets.take(uuid.uuid4().hex)
    assert len(buckets) == 1000


def _app(limits: RateLimits):  # noqa: ANN202
    app = create_app("test", title="test", rate_limits=limits, body_limit=100)

    @app.get("/public/things")
    async def public() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/public/login")
    async def login(authorization: str | None = Header(default=None)) -> dict[str, bool]:
        if authorization != "Bearer right":
            raise HTTPException(401, "wrong credentials")
        return {"ok": True}

    @app.get("/private")
    async def private() -> dict[str, bool]:
        return {"ok": True}

    return app


async def test_the_address_limit_answers_429_with_retry_after_on_limited_paths_only() -> None:
    app = _app(RateLimits(paths=("/public/",), per_address=Rate(per_second=0.5, burst=2)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 5000)),
                                 base_url="http://t") as http:
        codes = [(await http.get("/public/things")).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        refused = await http.get("/public/things")
        assert refused.status_code == 429 and refused.headers["retry-after"] == "2"
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["status"] == 429 and "address" in refused.json()["detail"]
        assert [(await http.get("/private")).status_code for _ in range(5)] == [200] * 5
    other = httpx.ASGITransport(app=app, client=("198.51.100.7", 5000))
    async with httpx.AsyncClient(transport=other, base_url="http://t") as http:
        assert (await http.get("/public/things")).status_code == 200, "another address has its own bucket"


async def test_guessing_credentials_is_limited_per_credential_before_authentication() -> None:
    app = _app(RateLimits(paths=("/public/",), per_key=Rate(per_second=0.1, burst=3)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        wrong = {"authorization": "Bearer wrong"}
        codes = [(await http.post("/public/login", headers=wrong)).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        assert (await http.post("/public/login", headers={"authorization": "Bearer right"})).status_code == 200


async def test_the_rate_limit_answers_before_the_body_limit_reads_a_body() -> None:
    app = _app(RateLimits(paths=("/public/",), per_address=Rate(per_second=0.01, burst=1)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.post("/public/login", content=b"x" * 1000)).status_code == 413
        assert (await http.post("/public/login", content=b"x" * 1000)).status_code == 429


def test_the_settings_give_one_rate_per_address_and_per_credential() -> None:
    from shared.config import ServiceSettings

    limits = ServiceSettings(public_rate_per_second=3, public_rate_burst=9).public_rate_limits(["/v1/disclosures"])
    assert limits.per_address == limits.per_key == Rate(3, 9) and limits.applies("/v1/disclosures?x")
    assert not limits.applies("/v1/penalties")


async def test_a_trusted_relay_is_limited_per_forwarded_address_and_asked_about_only_within_its_peers_budget() -> None:
    asked: list[str] = []

    async def relay(credential: str) -> bool:
        asked.append(credential)
        return credential == "Bearer relay"

    app = _app(RateLimits(paths=("/public/",), per_address=Rate(0.001, 2), per_key=Rate(0.001, 2), relay=relay))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        async def status(key: str, address: str | None) -> int:
            headers = {"Authorization": key, **({"X-Client-Address": address} if address else {})}
            return (await http.get("/public/things", headers=headers)).status_code

        assert [await status("Bearer relay", "203.0.113.1") for _ in range(3)] == [200, 200, 429]
        assert [await status("Bearer relay", "203.0.113.2") for _ in range(2)] == [200, 200]
        assert asked == ["Bearer relay"], "a relay found trusted is remembered"
        # the first relayed request took the peer's one token; a non-relay's header is ignored
        assert await status("Bearer other", "198.51.100.1") == 200
        assert await status("Bearer other", "198.51.100.2") == 429
        assert asked == ["Bearer relay", "Bearer other"], "over its peer's budget, a made-up key is not looked up"


async def test_a_relay_header_that_is_no_ip_address_or_a_failing_relay_check_limits_as_an_ordinary_caller() -> None:
    async def broken(credential: str) -> bool:
        raise OSError("identity store down")

    for relay, address in ((broken, "203.0.113.1"), (None, "203.0.113.1")):
        app = _app(RateLimits(paths=("/public/",), per_address=Rate(0.001, 1), relay=relay))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            first = await http.get("/public/things", headers={"Authorization": "Bearer k", "X-Client-Address": address})
            second = await http.get("/public/things", headers={"Authorization": "Bearer k", "X-Client-Address": "203.0.113.2"})
            assert (first.status_code, second.status_code) == (200, 429)

    async def trusting(credential: str) -> bool:
        return True

    app = _app(RateLimits(paths=("/public/",), per_address=Rate(0.001, 2), relay=trusting))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        codes = [(await http.get("/public/things", headers={"Authorization": "Bearer k", "X-Client-Address": bad})).status_code
                 for bad in ("not-an-address", "203.0.113.1, 10.0.0.1", "")]
        assert codes == [200, 200, 429], "an unusable header falls back to the peer address"
