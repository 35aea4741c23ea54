"""Credit's public feed is rate-limited per address (issue 12 §7): beyond the burst the public gets
429 with Retry-After, before any database work, while keyed callers of other paths are not held up."""
from __future__ import annotations

import pytest

from tests.support.credit import CreditWorld, http

pytestmark = pytest.mark.stack


async def test_the_public_feed_answers_429_with_retry_after_beyond_the_burst(unique: str) -> None:
    world = CreditWorld(unique, public_rate_per_second=0.5, public_rate_burst=3)
    await world.create()
    market = await world.add_bureau()
    async with world.running() as parts:
        async with http(parts) as public:
            codes = [(await public.get("/v1/disclosures")).status_code for _ in range(4)]
            refused = await public.get("/v1/measures")
        async with http(parts, market) as client:
            keyed = [(await client.get("/v1/entities:search", params={"q": "咸阳"})).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["status"] == 429
    assert keyed == [200] * 5
