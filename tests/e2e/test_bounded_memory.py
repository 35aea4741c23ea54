"""Bounded memory under abuse (issue 12 §8): 20,000 requests with random credentials — bearer
tokens, X-API-Key values and legacy-looking keys, each never seen before — spread over the four
running services. Every answer is a 401 problem document, and no service's resident memory
grows by more than a fixed bound: every cache keyed by caller input (the identity lookups, the
rate-limit buckets) is bounded."""
from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.stack

REQUESTS = 20_000
CONCURRENCY = 16
#: how much a service's resident memory may grow while the flood runs (its caches are bounded:
#: what remains is the allocator's high-water mark and the metrics' bounded label sets). Measured
#: 2026-12-07: +1 to +3 MB per service (intake 89→92, routing 110→113, notify 91→92, credit 94→96)
GROWTH_BOUND_MB = 15

TARGETS = {
    "intake": "/v1/complaints/SD0000000000",  # (Open311 answers GeoReport errors, not problem documents)
    "routing": "/v1/cases",
    "notify": "/v1/deliveries",
    "credit": "/v1/entities:search?q=abc",
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def random_credential(i: int) -> dict[str, str]:
    token = secrets.token_urlsafe(24 + i % 40)
    form = i % 3
    if form == 0:
        return {"authorization": f"Bearer {token}"}
    if form == 1:
        return {"x-api-key": f"sdk_{secrets.token_hex(8)}{token}"}
    return {"x-api-key": f"{secrets.token_hex(12)}.{token}"}


async def test_twenty_thousand_random_credentials_get_401_and_no_service_grows_beyond_a_bound(e2e: Any) -> None:
    assert set(e2e.pids) >= set(TARGETS)
    before = {name: rss_mb(e2e.pids[name]) for name in TARGETS}
    statuses: dict[str, dict[int, int]] = {name: {} for name in TARGETS}
    names = sorted(TARGETS)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(REQUESTS):
        queue.put_nowait(i)
    peak = dict(before)

    async def worker() -> None:
        async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                name = names[i % len(names)]
                r = await http.get(e2e.iso.url(name) + TARGETS[name], headers=random_credential(i))
                statuses[name][r.status_code] = statuses[name].get(r.status_code, 0) + 1
                if r.status_code == 401:
                    assert r.headers["content-type"].startswith("application/problem+json")
                if i % 1000 == 0:
                    peak[name] = max(peak[name], rss_mb(e2e.pids[name]))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    after = {name: rss_mb(e2e.pids[name]) for name in TARGETS}
    for name in TARGETS:
        assert statuses[name] == {401: REQUESTS // len(names)}, (name, statuses[name])
        grown = max(after[name], peak[name]) - before[name]
        assert grown < GROWTH_BOUND_MB, (f"{name}: {before[name]:.0f} MB → peak {peak[name]:.0f}, "
                                         f"after {after[name]:.0f} MB")
