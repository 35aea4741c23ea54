"""Intake's survey limits failed digits per citizen when a relay answers for them (the console's
``console.survey`` key holds ``clients:relay``): the address it names in X-Client-Address is the one
counted, so one citizen's wrong digits do not lock out the next one using the same console; a
caller without ``clients:relay`` is counted by its own address whatever header it sends."""
from __future__ import annotations

from typing import Any

import pytest

from tests.support.intake import IntakeWorld, running_intake

pytestmark = pytest.mark.stack
WRONG = {"last4": "0000", "score": 3, "resolved": True}


def bearer(key: str, address: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **({"X-Client-Address": address} if address else {})}


async def test_failed_survey_digits_count_the_relayed_citizens_address_only_for_a_relay(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    hotline = await world.add_client("hot", "hotline", ["complaints:write"], topic=False)
    relay = await world.add_client("relay", "public_api", ["complaints:write", "clients:relay"], topic=False)
    plain = await world.add_client("plain", "hotline", ["complaints:write"], topic=False)
    async with running_intake(world, consume=False, second_factor_address_max_failures=2,
                              second_factor_max_failures=1000) as intake:
        numbers = []
        for n in range(6):
            filed = await intake.http.post("/v1/complaints", headers=bearer(hotline), json={
                "category": "trademarks", "county": "610402", "description": f"假冒商品 {n}",
                "suspect": {"name": f"某店{unique}{n}"}, "complainant": {"name": "李四", "phone": "13912345678"}})
            assert filed.status_code == 201, filed.text
            numbers.append(filed.json()["tracking_no"])

        async def answer(key: str, n: int, address: str | None = None) -> Any:
            return await intake.http.post(f"/v1/complaints/{numbers[n]}/survey", headers=bearer(key, address), json=WRONG)

        assert [(await answer(relay, n, "203.0.113.7")).status_code for n in (0, 1, 2)] == [404, 404, 429]
        assert (await answer(relay, 3, "203.0.113.8")).status_code == 404, "another citizen is not locked out"
        # a caller without clients:relay: the header is ignored, its own address is counted
        assert [(await answer(plain, n, f"198.51.100.{n}")).status_code for n in (4, 5)] == [404, 404]
        assert (await answer(plain, 0, "198.51.100.99")).status_code == 429
