"""Routing's public status lookup through the console's one key, on the real broker and database: the
console's public reader holds ``clients:relay``, so routing limits each citizen's address it names in
X-Client-Address (shared/ratelimit.py), not the key; another caller's header is ignored."""
from __future__ import annotations

import uuid

import pytest

from shared.contracts.cases import Complainant
from tests.support import stack
from tests.support.identity import issue_key
from tests.support.routing import RoutingWorld, case_opened

pytestmark = pytest.mark.stack
MINE = "market_regulation@610402"


async def test_each_citizen_the_console_relays_gets_their_own_status_budget_and_another_callers_header_is_ignored() -> None:
    unique = uuid.uuid4().hex[:10]
    world = RoutingWorld(unique, bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await world.create_topics()
    tracking = f"SD261207-{unique[:8].upper().translate(str.maketrans('ILOU', '1100'))}"
    async with world.running(public_rate_burst=3, public_rate_per_second=0.01) as svc:  # 3 reads, then 429
        opened = case_opened(f"A-{unique}", category="false_advertising", county="610402").model_copy(
            update={"tracking_no": tracking, "complainant": Complainant(name_masked="张*", phone_masked="*******4321")})
        await world.open_cases(opened)
        await stack.eventually(lambda: world.case_row(f"A-{unique}"), until=lambda r: r is not None, what="assigned")
        console = await issue_key(await world.identity(), "console.public", "public_api",
                                  scopes=("cases:read", "clients:relay"))
        bureau = await world.api_key(MINE)
        body = {"tracking_no": tracking, "last4": "4321"}

        async def ask(key: str, address: str | None) -> tuple[int, str | None]:
            headers = {"Authorization": f"Bearer {key}", **({"X-Client-Address": address} if address else {})}
            r = await svc.http.post("/v1/status", headers=headers, json=body)
            return r.status_code, r.headers.get("retry-after")

        # one citizen spends their 3 reads, more than the key's budget would allow everyone together
        first = [await ask(console, "203.0.113.7") for _ in range(4)]
        assert [s for s, _ in first[:3]] == [200, 200, 200], first
        assert first[3][0] == 429 and int(first[3][1] or 0) >= 1, first
        # another citizen, through the same key and the same peer, still gets answers (and their own 3)
        second = [await ask(console, "2001:db8::42") for _ in range(3)]
        assert [s for s, _ in second] == [200, 200, 200], second
        assert (await ask(console, "203.0.113.7"))[0] == 429

        # a bureau's key is no relay: its header is ignored, so the in-process client's one peer address
        # counts, of whose 3 tokens the relayed reads took one (the first, before the console's key was
        # known to be a relay's): each made-up address changes nothing
        spoofed = [await ask(bureau, f"198.51.100.{n}") for n in range(1, 5)]
        assert [s for s, _ in spoofed] == [200, 200, 429, 429], spoofed
        assert int(spoofed[2][1] or 0) >= 1
