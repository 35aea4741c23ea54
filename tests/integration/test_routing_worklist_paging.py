"""Routing's GET /v1/worklist pages by keyset on the real broker and database: every case once, in
order, forwards and back, while cases arrive between pages; a hostile cursor is a 400 naming it."""
from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

import pytest

from tests.support import stack
from tests.support.routing import RoutingWorld, case_opened

pytestmark = pytest.mark.stack
OFFICE = "office@610400"
MINE = "market_regulation@610402"


def _key(item: dict[str, Any]) -> tuple[Any, ...]:
    """The worklist's order as a sortable key: cases with a deadline by (due, id), then the rest newest first."""
    if item["next_due_at"] is not None:
        return 0, dt.datetime.fromisoformat(item["next_due_at"]).timestamp(), item["case_id"]
    return 1, -dt.datetime.fromisoformat(item["opened_at"]).timestamp(), tuple(-ord(ch) for ch in item["case_id"])


async def _walk(svc: Any, headers: dict[str, str], limit: int, *, start: str | None = None,
                direction: str = "next_cursor", between: Any = None) -> list[list[dict[str, Any]]]:
    """Every page from `start` following `direction`; `between(pages read)` runs after each but the last."""
    pages, cursor = [], start
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await svc.http.get("/v1/worklist", headers=headers, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body["items"])
        assert len(pages) < 50, "the walk does not end"
        cursor = body[direction]
        if cursor is None:
            return pages
        if between is not None:
            await between(len(pages))


async def test_the_worklist_pages_by_next_deadline_then_the_rest_each_case_once_while_cases_arrive() -> None:
    unique = uuid.uuid4().hex[:10]
    world = RoutingWorld(unique, bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await world.create_topics()
    now = dt.datetime.now(dt.timezone.utc)
    async with world.running() as svc:
        ids = [f"P{i:02d}-{unique}" for i in range(13)]
        # spread the openings so the deadlines (computed from them) differ, two openings alike for a tie
        await world.open_cases(*(case_opened(c, county="610402", opened_at=now - dt.timedelta(hours=13 - min(i, 11)))
                                 for i, c in enumerate(ids)))
        for c in ids:
            await stack.eventually(lambda c=c: world.case_row(c), until=lambda r: r is not None, what=f"{c} assigned")
        async with world.db() as conn:  # three cases with no open deadline: the worklist's second section
            await conn.execute("UPDATE deadlines SET state = 'met', closed_at = now() WHERE case_id = ANY($1::text[])",
                               ids[:3])
        headers = {"Authorization": f"Bearer {await world.api_key(OFFICE)}"}

        arrived: list[str] = []

        async def arrive(page_no: int) -> None:
            # a case whose deadline sorts before every page already read, and one that sorts last: deadlines
            # counted in days can tie with the cases' own, and a tie is broken by case id, so the late case's
            # id must sort after theirs ("Z" > "P") and the early one's before ("E" < "P")
            early, late = f"E{page_no}-{unique}", f"Z{page_no}-{unique}"
            await world.open_cases(case_opened(early, opened_at=now - dt.timedelta(days=2)),
                                   case_opened(late, opened_at=now))
            for c in (early, late):
                await stack.eventually(lambda c=c: world.case_row(c), until=lambda r: r is not None, what=f"{c} assigned")
            arrived.extend((early, late))

        pages = await _walk(svc, headers, 5, between=arrive)
        seen = [i["case_id"] for p in pages for i in p]
        assert len(seen) == len(set(seen)), f"a case was listed twice: {seen}"
        assert set(ids) <= set(seen), f"cases were skipped: {set(ids) - set(seen)}"
        assert all(len(p) == 5 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 5
        flat = [i for p in pages for i in p]
        assert [_key(i) for i in flat] == sorted(_key(i) for i in flat), "the pages are not in worklist order"
        assert [i["case_id"] for i in flat[-3:]] == [ids[2], ids[1], ids[0]], "the cases without a deadline come last, newest first"
        assert arrived and not any(c.startswith("E") for c in seen), "a case arriving before the cursor moved a page"
        assert any(c.startswith("Z") for c in seen), "a case arriving after the cursor is not on a later page"

        # back from the last page: the same pages, each once, to the first (which has no previous)
        first = (await svc.http.get("/v1/worklist", headers=headers, params={"limit": 5})).json()
        assert first["prev_cursor"] is None and first["next_cursor"]
        cursors: list[str] = []
        forward = await _walk(svc, headers, 5, between=None)
        body = first
        while body["next_cursor"]:
            cursors.append(body["next_cursor"])
            body = (await svc.http.get("/v1/worklist", headers=headers,
                                       params={"limit": 5, "cursor": body["next_cursor"]})).json()
        assert body["items"] == forward[-1] and body["prev_cursor"]
        backward = await _walk(svc, headers, 5, start=body["prev_cursor"], direction="prev_cursor")
        assert list(reversed(backward)) == forward[:-1]

        # a bureau's worklist pages over its own cases only
        other = f"O-{unique}"
        await world.open_cases(case_opened(other, county="610404", category="online_piracy"))
        await stack.eventually(lambda: world.case_row(other), until=lambda r: r is not None, what="the other case")
        mine = {"Authorization": f"Bearer {await world.api_key(MINE)}"}
        own = [i for p in await _walk(svc, mine, 4) for i in p]
        assert own and {i["bureau"] for i in own} == {MINE} and other not in {i["case_id"] for i in own}


async def test_a_hostile_worklist_cursor_is_a_400_naming_the_cursor() -> None:
    unique = uuid.uuid4().hex[:10]
    world = RoutingWorld(unique, bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await world.create_topics()
    async with world.running() as svc:
        headers = {"Authorization": f"Bearer {await world.api_key(OFFICE)}"}

        def b64(value: Any) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

        hostile = ["not-a-cursor!", "%%%", b64({"a": 1}), b64(["n", "d", "2026-12-07T00:00:00+00:00"]),
                   b64(["x", "d", "2026-12-07T00:00:00+00:00", "c1"]), b64(["n", "d", "yesterday", "c1"]),
                   b64(["n", "d", "2026-12-07T00:00:00", "c1"]), b64(["n", "r", "2026-12-07T00:00:00+00:00", "c\x001"]),
                   b64(["n", "d", "2026-12-07T00:00:00+00:00", "' OR 1=1 --"]), "A" * 600]
        for cursor in hostile:
            r = await svc.http.get("/v1/worklist", headers=headers, params={"cursor": cursor})
            assert r.status_code in (400, 422), (cursor, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "cursor" in r.text, r.text
        for limit in (0, 501):
            assert (await svc.http.get("/v1/worklist", headers=headers, params={"limit": limit})).status_code == 422
        fine = await svc.http.get("/v1/worklist", headers=headers,
                                  params={"cursor": b64(["n", "d", "2026-12-07T00:00:00+00:00", "c1"])})
        assert fine.status_code == 200 and fine.json()["items"] == []
