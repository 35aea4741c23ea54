"""Routing's status lookup limits failed second-factor checks across instances, on the real broker and
database (issue 15 §4, issue 12 §7; shared/second_factor.py): the failures are rows in Postgres, so two
instances share one budget per tracking number and one per address; at the limit even the right digits
get 429 with Retry-After, another complaint is still answered, and the checks are counted by outcome."""
from __future__ import annotations

import contextlib
import uuid

import pytest
from prometheus_client import REGISTRY

from shared.contracts.cases import Complainant
from tests.support import stack
from tests.support.identity import issue_key
from tests.support.routing import RoutingWorld, case_opened

pytestmark = pytest.mark.stack
CROCKFORD = str.maketrans("ILOU", "1100")


def checks(outcome: str) -> float:
    return sum(s.value for m in REGISTRY.collect() if m.name == "shuangda_second_factor_checks" for s in m.samples
               if s.name == "shuangda_second_factor_checks_total" and s.labels == {"service": "routing", "outcome": outcome})


async def test_failed_second_factor_checks_are_limited_per_tracking_number_and_per_address_across_two_instances() -> None:
    unique = uuid.uuid4().hex[:10]
    world = RoutingWorld(unique, bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await world.create_topics()
    limits = dict(second_factor_max_failures=3, second_factor_address_max_failures=5, public_rate_burst=1000)
    tracking = [f"SD261207-{(unique[:7] + str(i)).upper().translate(CROCKFORD)}" for i in range(3)]
    before = {o: checks(o) for o in ("matched", "failed", "limited")}
    async with contextlib.AsyncExitStack() as running:
        a = await running.enter_async_context(world.running(watch=False, **limits))
        b = await running.enter_async_context(world.running(watch=False, **limits))
        for i, t in enumerate(tracking):
            await world.open_cases(case_opened(f"F{i}-{unique}", category="false_advertising").model_copy(update={
                "tracking_no": t, "complainant": Complainant(name_masked="张*", phone_masked="*******4321")}))
        for i in range(len(tracking)):
            await stack.eventually(lambda: world.case_row(f"F{i}-{unique}"), until=lambda r: r is not None,
                                   what="assigned", timeout=60)
        console = await issue_key(await world.identity(), "console.public", "public_api",
                                  scopes=("cases:read", "clients:relay"))

        async def ask(svc, number: str, last4: str, address: str) -> tuple[int, str | None]:  # noqa: ANN001
            r = await svc.http.post("/v1/status", json={"tracking_no": number, "last4": last4},
                                    headers={"Authorization": f"Bearer {console}", "X-Client-Address": address})
            return r.status_code, r.headers.get("retry-after")

        assert (await ask(a, tracking[0], "4321", "203.0.113.1"))[0] == 200
        # three wrong guesses at one complaint from three citizens, spread over the two instances
        wrong = [await ask(svc, tracking[0], "0000", f"203.0.113.{n}") for n, svc in ((2, a), (3, b), (4, a))]
        assert [s for s, _ in wrong] == [404, 404, 404], wrong
        # the tracking number is at its limit on both instances, even for the right digits
        for svc in (b, a):
            status, retry = await ask(svc, tracking[0], "4321", "203.0.113.5")
            assert status == 429 and 1 <= int(retry or 0) <= 3600, (status, retry)
        # another complaint is still answered
        assert (await ask(b, tracking[1], "4321", "203.0.113.5"))[0] == 200

        # one address guessing at two other complaints: its 5 failures, then 429 for any tracking number
        guesses = [await ask(svc, tracking[1 + n % 2], f"{n:04d}", "198.51.100.9")
                   for n, svc in enumerate((a, b, a, b, a))]
        assert [s for s, _ in guesses] == [404] * 5, guesses
        status, retry = await ask(b, tracking[2], "4321", "198.51.100.9")
        assert status == 429 and int(retry or 0) >= 1
        limited = await b.http.post("/v1/status", json={"tracking_no": tracking[2], "last4": "4321"},
                                    headers={"Authorization": f"Bearer {console}", "X-Client-Address": "198.51.100.9"})
        assert limited.json()["errors"][0] == {"field": "last4", "reason": "too_many_attempts",
                                               "detail": limited.json()["errors"][0]["detail"]}
        # another citizen still reads that complaint
        assert (await ask(a, tracking[2], "4321", "198.51.100.10"))[0] == 200

    stored = await world.fetch("SELECT subject FROM second_factor_failures")
    assert len(stored) == 2 * 3 + 2 * 5, "each failure recorded for its tracking number and its address"
    assert not any(t in r["subject"] or "198.51" in r["subject"] for r in stored for t in tracking), "digests only"
    assert checks("matched") - before["matched"] == 3
    assert checks("failed") - before["failed"] == 8
    assert checks("limited") - before["limited"] == 4
